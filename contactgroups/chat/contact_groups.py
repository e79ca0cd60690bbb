"""The calls on a user's conversation groups in Chat: create, rename, update, delete, get and search.

``ContactGroupCalls`` is part of ``client.ChatClient``: each method checks its request (``checks``), builds Chat's
body and reads the answer into ``types``; ``self._transport`` sends it.
"""

from collections.abc import Sequence

from contactgroups.chat import checks, errors, protocol
from contactgroups.chat.fields import as_int, contact_group_id
from contactgroups.chat.transport import Transport
from contactgroups.chat.types import (
    ContactGroups,
    Conversation,
    ConversationState,
    CreateGroupResult,
    DeleteGroupResult,
    GroupInfo,
    ItemResult,
    UpdateGroupResult,
)


class ContactGroupCalls:
    """The conversation-group endpoints of ``ChatClient``."""

    _transport: Transport

    def create_contact_group(
        self, owner: str, name: str, conversations: Sequence[Conversation] = ()
    ) -> CreateGroupResult:
        """Create ``owner``'s group ``name`` holding ``conversations`` (at most 100; none makes an empty group)."""
        checks.owner(owner)
        checks.new_group_name(name)
        items = checks.conversations(conversations, protocol.CONVERSATIONS_PER_REQUEST_MAX, "A new group")
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
        checks.owner(owner)
        checks.existing_group_name(old_name)
        checks.new_group_name(new_name)
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
        checks.owner(owner)
        checks.existing_group_name(name)
        to_add = list(add)
        to_remove = list(remove)
        checks.conversations(to_add + to_remove, protocol.CONVERSATIONS_PER_REQUEST_MAX, "An update")
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
        checks.owner(owner)
        checks.existing_group_name(name)
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
        checks.owner(owner)
        groups: dict[int, GroupInfo] = {}
        states: dict[Conversation, ConversationState] = {}
        start = 0
        for _page in range(checks.MAX_PAGES):
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
            raise errors.ChatAnswerError(f"{protocol.GET_CONTACT_GROUP} did not finish in {checks.MAX_PAGES} pages.",
                                         endpoint=protocol.GET_CONTACT_GROUP)
        return ContactGroups(groups=list(groups.values()), conversations=list(states.values()))

    def search_contact_group(self, owner: str, conversations: Sequence[Conversation]) -> ContactGroups:
        """The groups and marks of ``conversations`` (at most 300) of ``owner``, with the groups they name."""
        checks.owner(owner)
        items = checks.conversations(conversations, protocol.CONVERSATIONS_PER_SEARCH_MAX, "A search")
        if not items:
            raise ValueError("A search needs at least one conversation.")
        body = {"From_Account": owner, "ContactItem": [conversation.to_json() for conversation in items]}
        return self._transport.call(protocol.SEARCH_CONTACT_GROUP, body, ContactGroups.from_answer)
