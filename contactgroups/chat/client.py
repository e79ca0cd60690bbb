"""A typed client for the Tencent Cloud Chat REST API: conversation groups, marks, conversations, accounts.

One method per endpoint, dataclasses in and out. Every call goes through one pipeline:

    validate (ValueError, nothing sent) -> wait for the rate limiter -> POST with an admin UserSig
    -> read the answer within the deadline and size limit -> parse it -> report a CallRecord to ``on_call``
    -> return, retry or raise a ChatError.

This module checks each request before it is sent and builds its body; ``transport`` sends it (and holds the
error and retry policy), ``types`` reads the answers. Chat's JSON field names (``From_Account``, ``ToGroupId``,
...) and its spelling quirks stay in this package.
"""

import time
from collections.abc import Callable, Mapping, Sequence

import requests

from contactgroups.chat import errors, protocol
from contactgroups.chat.config import ChatConfig
from contactgroups.chat.transport import Transport
from contactgroups.chat.types import (
    AccountStatus,
    CallRecord,
    ContactGroups,
    Conversation,
    ConversationState,
    CreateGroupResult,
    DeleteGroupResult,
    GroupInfo,
    ItemResult,
    ListCursor,
    MarkUpdate,
    RecentConversation,
    RecentConversationPage,
    UpdateGroupResult,
    as_int,
    contact_group_id,
)

# A paging loop that has not finished after this many pages is broken, not long.
MAX_PAGES = 10_000


def _require(messages: list[str], what: str) -> None:
    if messages:
        raise ValueError(f"{what}: {' '.join(messages)}")


def _check_owner(owner: str) -> None:
    _require(protocol.validate_user_id(owner), f"UserID {owner!r}")


def _check_nickname(user_id: str, nickname: str) -> None:
    _require(protocol.validate_nickname(nickname), f"Nickname of {user_id!r}")


def _check_new_group_name(name: str) -> None:
    _require(protocol.validate_group_name(name), f"Group name {name!r}")


def _check_existing_group_name(name: str) -> None:
    """A name that addresses a group Chat already has: it may have been made in an app, so only Chat's limits."""
    if not name:
        raise ValueError("A group name cannot be empty.")
    if protocol.utf8_length(name) > protocol.GROUP_NAME_MAX_BYTES:
        _require(protocol.validate_group_name(name), f"Group name {name!r}")


def _check_conversations(conversations: Sequence[Conversation], maximum: int, what: str) -> list[Conversation]:
    items = list(conversations)
    for conversation in items:
        if not isinstance(conversation, Conversation):
            raise TypeError(f"Expected a Conversation, got {conversation!r}.")
        _require(conversation.problems(), f"Conversation {conversation}")
    if len(items) > maximum:
        raise ValueError(f"{what} has {len(items)} conversations; Chat takes at most {maximum} in one request.")
    repeated = protocol.find_duplicates((conversation.type, conversation.target) for conversation in items)
    if repeated:
        names = ", ".join(str(Conversation(*key)) for key in repeated)
        raise ValueError(f"{what} names the same conversation more than once: {names}.")
    return items


def _check_user_ids(user_ids: Sequence[str]) -> list[str]:
    if isinstance(user_ids, str):
        raise TypeError("Pass a list of UserIDs, not one string.")
    unique = list(dict.fromkeys(user_ids))
    for user_id in unique:
        _check_owner(user_id)
    return unique


class ChatClient:
    """Calls one Chat app's REST API as its administrator.

    ``on_call`` receives a CallRecord after every HTTP attempt (each page, each retry); an exception it raises
    propagates. ``session`` replaces the pooled ``requests.Session`` the client makes. ``clock`` (seconds since
    the epoch) and ``sleep`` (used between retries) exist for tests. See ``transport`` for the error and
    retry policy.
    """

    def __init__(
        self,
        config: ChatConfig,
        *,
        on_call: Callable[[CallRecord], None] | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config
        self._transport = Transport(config, on_call=on_call, session=session, clock=clock, sleep=sleep)

    @property
    def on_call(self) -> Callable[[CallRecord], None] | None:
        return self._transport.on_call

    @on_call.setter
    def on_call(self, hook: Callable[[CallRecord], None] | None) -> None:
        self._transport.on_call = hook

    def admin_usersig(self) -> str:
        """The administrator's UserSig, made from the config and renewed well before it expires."""
        return self._transport.admin_usersig()

    def within(self, seconds: float):
        """A block in which every call this thread makes ends within ``seconds`` from now, each page and retry
        included: ``with client.within(1.5): client.get_contact_group(owner)``. Past it, ChatTooSlowError."""
        return self._transport.within(seconds)

    def __repr__(self) -> str:
        return (
            f"ChatClient(sdkappid={self.config.sdkappid}, admin_identifier={self.config.admin_identifier!r}, "
            f"api_base={self.config.api_base!r})"
        )

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "ChatClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------------- conversation groups

    def create_contact_group(
        self, owner: str, name: str, conversations: Sequence[Conversation] = ()
    ) -> CreateGroupResult:
        """Create ``owner``'s group ``name`` holding ``conversations`` (at most 100; none makes an empty group)."""
        _check_owner(owner)
        _check_new_group_name(name)
        items = _check_conversations(conversations, protocol.CONVERSATIONS_PER_REQUEST_MAX, "A new group")
        group = {"GroupName": name}
        if items:
            group["ContactItem"] = [conversation.to_json() for conversation in items]
        body = {"From_Account": owner, "GroupContactItem": [group]}

        def parse(answer: dict) -> CreateGroupResult:
            created = answer["GroupResultItem"][0]
            group_item = created["GroupItem"]
            return CreateGroupResult(
                group_name=str(group_item.get("GroupName", name)),
                group_id=contact_group_id(group_item["GroupId"]),
                results=[ItemResult.from_json(entry) for entry in created.get("ResultItem") or []],
            )

        return self._transport.call(protocol.CREATE_CONTACT_GROUP, body, parse)

    def rename_contact_group(self, owner: str, old_name: str, new_name: str) -> UpdateGroupResult:
        """Rename ``owner``'s group ``old_name`` (the name Chat has now) to ``new_name``."""
        _check_owner(owner)
        _check_existing_group_name(old_name)
        _check_new_group_name(new_name)
        if old_name == new_name:
            raise ValueError(f"The group is already named {new_name!r}.")
        body = {
            "From_Account": owner,
            "UpdateType": protocol.UPDATE_BY_GROUP,
            "UpdateGroup": {
                "UpdateGroupType": protocol.RENAME_GROUP, "OldGroupName": old_name, "NewGroupName": new_name,
            },
        }
        return self._transport.call(
            protocol.UPDATE_CONTACT_GROUP,
            body,
            lambda answer: UpdateGroupResult.from_answer(answer, new_name, old_name),
        )

    def update_contact_group(
        self,
        owner: str,
        name: str,
        add: Sequence[Conversation] = (),
        remove: Sequence[Conversation] = (),
    ) -> UpdateGroupResult:
        """Add ``add`` to and remove ``remove`` from ``owner``'s group ``name``: at most 100 in all, in one call."""
        _check_owner(owner)
        _check_existing_group_name(name)
        to_add = list(add)
        to_remove = list(remove)
        _check_conversations(to_add + to_remove, protocol.CONVERSATIONS_PER_REQUEST_MAX, "An update")
        if not to_add and not to_remove:
            raise ValueError("An update needs at least one conversation to add or remove.")
        operations = [(protocol.OPERATION_ADD, conversation) for conversation in to_add]
        operations += [(protocol.OPERATION_REMOVE, conversation) for conversation in to_remove]
        body = {
            "From_Account": owner,
            "UpdateType": protocol.UPDATE_BY_GROUP,
            "UpdateGroup": {
                "UpdateGroupType": protocol.CHANGE_MEMBERS,
                "OldGroupName": name,
                "ContactUpdateItem": [
                    {"ContactOptType": operation, "ContactItem": conversation.to_json()}
                    for operation, conversation in operations
                ],
            },
        }
        return self._transport.call(
            protocol.UPDATE_CONTACT_GROUP, body, lambda answer: UpdateGroupResult.from_answer(answer, name, name)
        )

    def del_contact_group(self, owner: str, name: str) -> DeleteGroupResult:
        """Delete ``owner``'s group ``name`` (the conversations themselves stay)."""
        _check_owner(owner)
        _check_existing_group_name(name)
        body = {"From_Account": owner, "GroupName": [name]}

        def parse(answer: dict) -> DeleteGroupResult:
            deleted = (answer.get("GroupItem") or [{}])[0]
            group_id = deleted.get("GroupId")
            return DeleteGroupResult(
                group_name=str(deleted.get("GroupName", name)),
                group_id=None if group_id is None else contact_group_id(group_id),
            )

        return self._transport.call(protocol.DEL_CONTACT_GROUP, body, parse)

    def get_contact_group(self, owner: str) -> ContactGroups:
        """All of ``owner``'s groups and grouped conversations, reading every page."""
        _check_owner(owner)
        groups: dict[int, GroupInfo] = {}
        states: dict[Conversation, ConversationState] = {}
        start = 0
        for _page in range(MAX_PAGES):
            body = {"From_Account": owner, "StartIndex": start}
            answer = self._transport.call(protocol.GET_CONTACT_GROUP, body)
            page = self._transport.parse(protocol.GET_CONTACT_GROUP, body, answer, ContactGroups.from_answer)
            for group in page.groups:
                groups[group.group_id] = group
            for state in page.conversations:
                states[state.conversation] = state
            if as_int(answer.get("CompleteFlag"), 1) == 1:
                break
            next_start = as_int(answer.get("NextStartIndex"))
            if next_start is None or next_start <= start:
                raise errors.ChatAnswerError(
                    f"Chat's paging of {protocol.GET_CONTACT_GROUP} did not advance (StartIndex {start}, "
                    f"NextStartIndex {answer.get('NextStartIndex')!r}).",
                    endpoint=protocol.GET_CONTACT_GROUP, request=body, response=answer,
                )
            start = next_start
        else:
            raise errors.ChatAnswerError(f"{protocol.GET_CONTACT_GROUP} did not finish in {MAX_PAGES} pages.",
                                         endpoint=protocol.GET_CONTACT_GROUP)
        return ContactGroups(groups=list(groups.values()), conversations=list(states.values()))

    def search_contact_group(self, owner: str, conversations: Sequence[Conversation]) -> ContactGroups:
        """The groups and marks of ``conversations`` (at most 300) of ``owner``, with the groups they name."""
        _check_owner(owner)
        items = _check_conversations(conversations, protocol.CONVERSATIONS_PER_SEARCH_MAX, "A search")
        if not items:
            raise ValueError("A search needs at least one conversation.")
        body = {"From_Account": owner, "ContactItem": [conversation.to_json() for conversation in items]}
        return self._transport.call(protocol.SEARCH_CONTACT_GROUP, body, ContactGroups.from_answer)

    # ------------------------------------------------------------------------------------------ marks and conversations

    def mark_contact(self, owner: str, items: Sequence[MarkUpdate]) -> list[ItemResult]:
        """Set or clear standard marks and custom marks of ``owner``'s conversations (at most 100 items)."""
        _check_owner(owner)
        updates = list(items)
        _check_conversations([update.conversation for update in updates], protocol.MARK_ITEMS_PER_REQUEST_MAX,
                             "A mark request")
        if not updates:
            raise ValueError("A mark request needs at least one conversation.")
        mark_items = []
        for update in updates:
            mark_item = {"OptType": update.opt_type, "ContactItem": update.conversation.to_json()}
            for bits, key in ((update.set_marks, "SetMark"), (update.clear_marks, "ClearMark")):
                if any(
                    isinstance(bit, bool) or not isinstance(bit, int) or not 0 <= bit < protocol.STANDARD_MARK_BITS
                    for bit in bits
                ):
                    raise ValueError(
                        f"Standard marks are bits 0 to {protocol.STANDARD_MARK_BITS - 1}, not {list(bits)!r}."
                    )
                if bits:
                    mark_item[key] = list(bits)
            if update.custom_mark is not None:
                size = protocol.utf8_length(update.custom_mark)
                if size > protocol.CUSTOM_MARK_MAX_BYTES:
                    raise ValueError(f"A custom mark may have at most {protocol.CUSTOM_MARK_MAX_BYTES} bytes; "
                                     f"this one has {size}.")
                mark_item["CustomMark"] = update.custom_mark
            mark_items.append(mark_item)
        body = {"From_Account": owner, "MarkItem": mark_items}
        return self._transport.call(
            protocol.MARK_CONTACT,
            body,
            lambda answer: [ItemResult.from_json(entry, "OptType") for entry in answer.get("ResultItem") or []],
        )

    def get_list_page(self, owner: str, cursor: ListCursor | None = None) -> RecentConversationPage:
        """One page of ``owner``'s conversation list from ``cursor`` (the first page if None), pinned ones first."""
        _check_owner(owner)
        cursor = cursor or ListCursor()
        body = {"From_Account": owner, **cursor.to_json(), "AssistFlags": protocol.GET_LIST_ASSIST_FLAGS}
        answer = self._transport.call(protocol.GET_LIST, body)
        conversations = self._transport.parse(protocol.GET_LIST, body, answer, RecentConversation.list_from_answer)
        if as_int(answer.get("CompleteFlag"), protocol.GET_LIST_COMPLETE) == protocol.GET_LIST_COMPLETE:
            return RecentConversationPage(conversations, None)
        next_cursor = ListCursor.from_answer(answer, cursor)
        if next_cursor == cursor:
            raise errors.ChatAnswerError(
                f"Chat's paging of {protocol.GET_LIST} did not advance ({cursor.to_json()}).",
                endpoint=protocol.GET_LIST, request=body, response=answer,
            )
        return RecentConversationPage(conversations, next_cursor)

    def get_list(self, owner: str) -> list[RecentConversation]:
        """``owner``'s whole conversation list, pinned conversations included, reading every page."""
        found: dict[Conversation, RecentConversation] = {}
        cursor = None
        for _page in range(MAX_PAGES):
            page = self.get_list_page(owner, cursor)
            for entry in page.conversations:
                found[entry.conversation] = entry
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        else:
            raise errors.ChatAnswerError(f"{protocol.GET_LIST} did not finish in {MAX_PAGES} pages.",
                                         endpoint=protocol.GET_LIST)
        return list(found.values())

    def delete_conversation(self, owner: str, conversation: Conversation, clear_roaming: bool = False) -> None:
        """Delete one conversation from ``owner``'s list; ``clear_roaming`` also deletes its roaming messages."""
        _check_owner(owner)
        _check_conversations([conversation], 1, "A delete")
        body = {
            "From_Account": owner,
            **conversation.to_json(protocol.TO_GROUP_ID_DELETE),
            "ClearRamble": int(clear_roaming),
        }
        self._transport.call(protocol.DELETE_CONVERSATION, body)

    # ------------------------------------------------------------------------------------------------------- accounts

    def account_import(self, user_id: str, nick: str = "", face_url: str = "") -> None:
        """Import one UserID into Chat (importing an existing one succeeds)."""
        _check_owner(user_id)
        _check_nickname(user_id, nick)
        body = {"UserID": user_id}
        if nick:
            body["Nick"] = nick
        if face_url:
            body["FaceUrl"] = face_url
        self._transport.call(protocol.ACCOUNT_IMPORT, body)

    def multiaccount_import(self, user_ids: Sequence[str], nicks: Mapping[str, str] | None = None) -> list[str]:
        """Import ``user_ids``, each with its nickname in ``nicks`` if it has one; returns those Chat could not
        import.

        Any number may be passed: they are sent in calls of at most ACCOUNTS_PER_IMPORT_MAX (duplicates once).
        A call with a nickname uses the newer ``AccountList`` form, in which an account Chat has already takes
        the Nick given ("Importing Multiple Accounts", trtc.io/document/34954); a user without one is sent
        without Nick, so Chat keeps the one it has. Importing is idempotent, so after an error the whole list can
        simply be imported again. A nickname Chat would refuse (protocol.validate_nickname) is a ValueError before
        anything is sent.
        """
        nicks = nicks or {}
        for user_id, nick in nicks.items():
            _check_nickname(user_id, nick)
        failed: list[str] = []
        for chunk in protocol.chunks(_check_user_ids(user_ids), protocol.ACCOUNTS_PER_IMPORT_MAX):
            if any(nicks.get(user_id) for user_id in chunk):
                body = {"AccountList": [{"UserID": user_id, **({"Nick": nicks[user_id]} if nicks.get(user_id) else {})}
                                        for user_id in chunk]}
            else:
                body = {"Accounts": chunk}
            failed += self._transport.call(
                protocol.MULTIACCOUNT_IMPORT,
                body,
                lambda answer: [str(user_id) for user_id in answer.get("FailAccounts") or []],
            )
        return failed

    def account_check(self, user_ids: Sequence[str]) -> list[AccountStatus]:
        """Whether each of ``user_ids`` is imported, in calls of at most ACCOUNTS_PER_CHECK_MAX."""
        statuses: list[AccountStatus] = []
        for chunk in protocol.chunks(_check_user_ids(user_ids), protocol.ACCOUNTS_PER_CHECK_MAX):
            statuses += self._transport.call(
                protocol.ACCOUNT_CHECK,
                {"CheckItem": [{"UserID": user_id} for user_id in chunk]},
                lambda answer: [AccountStatus.from_json(entry) for entry in answer.get("ResultItem") or []],
            )
        return statuses
