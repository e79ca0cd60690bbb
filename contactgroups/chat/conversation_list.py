"""A user's conversation list in Chat: its entries and pages (get_list), their marks (mark_contact), deleting one.

The types read from Chat's answers, and ``ConversationListCalls``, the part of ``client.ChatClient`` that calls
these endpoints.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from contactgroups.chat import checks, errors, protocol
from contactgroups.chat.fields import as_int, contact_group_id, unix_time
from contactgroups.chat.transport import Transport
from contactgroups.chat.types import Conversation, ItemResult


@dataclass(frozen=True)
class RecentConversation:
    """One entry of a user's conversation list (get_list). ``last_message_at`` is None when Chat's MsgTime is
    missing or no time (``unix_time``)."""

    conversation: Conversation
    last_message_at: datetime | None
    pinned: bool
    standard_mark: str = ""
    custom_mark: str = ""
    group_ids: tuple[int, ...] = ()

    @classmethod
    def list_from_answer(cls, answer: dict) -> list["RecentConversation"]:
        """The SessionItem entries of one get_list page."""
        return [
            cls(
                conversation=Conversation.from_json(entry),
                last_message_at=unix_time(entry.get("MsgTime")),
                pinned=as_int(entry.get("TopFlag"), 0) == 1,
                standard_mark=str(entry.get("StandardMark", "")),
                custom_mark=str(entry.get("CustomMark", "")),
                group_ids=tuple(contact_group_id(group_id) for group_id in entry.get("ContactGroupId") or ()),
            )
            for entry in answer.get("SessionItem") or []
        ]


@dataclass(frozen=True)
class ListCursor:
    """Where a get_list page starts: the four paging numbers Chat answered the previous page with (all 0 first)."""

    time_stamp: int = 0
    start_index: int = 0
    top_time_stamp: int = 0
    top_start_index: int = 0

    def to_json(self) -> dict:
        return dict(zip(protocol.GET_LIST_PAGING_FIELDS, self.numbers(), strict=True))

    def numbers(self) -> tuple[int, int, int, int]:
        return (self.time_stamp, self.start_index, self.top_time_stamp, self.top_start_index)

    @classmethod
    def from_answer(cls, answer: dict, asked: "ListCursor") -> "ListCursor":
        """The cursor of the page after ``answer``; a number Chat left out stays as it was asked."""
        return cls(*(as_int(answer.get(name), number)
                     for name, number in zip(protocol.GET_LIST_PAGING_FIELDS, asked.numbers(), strict=True)))

    def token(self) -> str:
        """The cursor as short text, for a page to send back ("0.0.0.0" is the first page)."""
        return ".".join(str(number) for number in self.numbers())

    @classmethod
    def from_token(cls, token: str) -> "ListCursor":
        """The cursor ``token`` gave; ValueError unless it is four whole numbers, 0 or more, joined by dots."""
        parts = token.split(".")
        if len(parts) != len(protocol.GET_LIST_PAGING_FIELDS) or not all(
                part.isascii() and part.isdigit() and len(part) <= 20 for part in parts):
            raise ValueError(f"Not a get_list cursor: {token!r}.")
        return cls(*(int(part) for part in parts))


@dataclass(frozen=True)
class RecentConversationPage:
    """One page of a user's conversation list, and the cursor of the next page (None after the last)."""

    conversations: list[RecentConversation]
    next_cursor: ListCursor | None


@dataclass(frozen=True)
class MarkUpdate:
    """Marks to change on one conversation: standard mark bits to set or clear, and/or a new custom mark."""

    conversation: Conversation
    set_marks: tuple[int, ...] = ()
    clear_marks: tuple[int, ...] = ()
    custom_mark: str | None = None

    @property
    def opt_type(self) -> int:
        standard = bool(self.set_marks or self.clear_marks)
        custom = self.custom_mark is not None
        if standard and custom:
            return protocol.MARK_BOTH
        if custom:
            return protocol.MARK_CUSTOM
        if standard:
            return protocol.MARK_STANDARD
        raise ValueError(f"Nothing to mark on {self.conversation}: give marks to set or clear, or a custom mark.")


class ConversationListCalls:
    """The conversation-list endpoints of ``ChatClient``."""

    _transport: Transport

    def mark_contact(self, owner: str, items: Sequence[MarkUpdate]) -> list[ItemResult]:
        """Set or clear standard marks and custom marks of ``owner``'s conversations (at most 100 items)."""
        checks.owner(owner)
        updates = list(items)
        checks.conversations(
            [update.conversation for update in updates], protocol.MARK_ITEMS_PER_REQUEST_MAX, "A mark request"
        )
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
        checks.owner(owner)
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
        for _page in range(checks.MAX_PAGES):
            page = self.get_list_page(owner, cursor)
            for entry in page.conversations:
                found[entry.conversation] = entry
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        else:
            raise errors.ChatAnswerError(f"{protocol.GET_LIST} did not finish in {checks.MAX_PAGES} pages.",
                                         endpoint=protocol.GET_LIST)
        return list(found.values())

    def delete_conversation(self, owner: str, conversation: Conversation, clear_roaming: bool = False) -> None:
        """Delete one conversation from ``owner``'s list; ``clear_roaming`` also deletes its roaming messages."""
        checks.owner(owner)
        checks.conversations([conversation], 1, "A delete")
        body = {
            "From_Account": owner,
            **conversation.to_json(protocol.TO_GROUP_ID_DELETE),
            "ClearRamble": int(clear_roaming),
        }
        self._transport.call(protocol.DELETE_CONVERSATION, body)
