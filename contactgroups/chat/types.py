"""The client's data: Conversation, each endpoint's request and answer types read from Chat's JSON, CallRecord."""

from dataclasses import dataclass
from datetime import UTC, datetime

from contactgroups.chat import errors, protocol

# The latest time in seconds since 1970 read as a time: the start of year 9999, so that any time before it can be
# shown in any time zone (Python's datetime ends with year 9999).
UNIX_TIME_MAX = int(datetime(9999, 1, 1, tzinfo=UTC).timestamp())


def as_int(value, default: int | None = None) -> int | None:
    """An integer field of Chat's JSON, or ``default`` when it is missing or not a number (infinity included)."""
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def chat_code(value) -> int | None:
    """A code of Chat's JSON (ErrorCode, ResultCode): the whole number, or ``errors.CODE_UNREADABLE`` for one past
    ``errors.CODE_MIN..CODE_MAX``, what a code column holds; None when it is missing or not a number."""
    code = as_int(value)
    if code is None or errors.CODE_MIN <= code <= errors.CODE_MAX:
        return code
    return errors.CODE_UNREADABLE


def _item_code(value) -> int:
    """A ResultCode that must be there (``chat_code``); ValueError when it is missing or not a number."""
    code = chat_code(value)
    if code is None:
        raise ValueError(f"ResultCode {value!r} is not a number")
    return code


def unix_time(value) -> datetime | None:
    """A time field of Chat's JSON (whole seconds since 1970, UTC), or None when it is missing, 0, or not a time
    at all: not a number, negative, or past ``UNIX_TIME_MAX`` (a time in milliseconds, a clock gone wrong)."""
    seconds = as_int(value)
    if seconds is None or not 0 < seconds < UNIX_TIME_MAX:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def contact_group_id(value) -> int:
    """A conversation group's GroupId in Chat's JSON; ValueError if it is not a whole number the mirror can keep."""
    if isinstance(value, bool):
        raise ValueError(f"GroupId {value!r} is not a number")
    group_id = int(value)
    if not 0 <= group_id <= protocol.CONTACT_GROUP_ID_MAX:
        raise ValueError(f"GroupId {group_id} is out of range")
    return group_id


def conversation_target(value) -> str:
    """A UserID or group id in Chat's JSON: text, or a whole number as text; ValueError for anything else (an
    object, a list, true), which no page should show as Python writes it."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{type(value).__name__} is not a UserID or group id")


@dataclass(frozen=True, order=True)
class Conversation:
    """One conversation (Chat's ContactItem): a one-to-one chat with a user, or a group chat."""

    type: int
    target: str

    @classmethod
    def c2c(cls, user_id: str) -> "Conversation":
        return cls(protocol.TYPE_C2C, user_id)

    @classmethod
    def group(cls, group_id: str) -> "Conversation":
        return cls(protocol.TYPE_GROUP, group_id)

    @property
    def is_group(self) -> bool:
        return self.type == protocol.TYPE_GROUP

    def problems(self) -> list[str]:
        """Why Chat would refuse this conversation (empty when it is fine)."""
        if self.type == protocol.TYPE_GROUP:
            return protocol.validate_conversation(self.type, "", self.target)
        if self.type == protocol.TYPE_C2C:
            return protocol.validate_conversation(self.type, self.target, "")
        return protocol.validate_conversation(self.type, "", "")

    def to_json(self, group_key: str = protocol.TO_GROUP_ID) -> dict:
        """Chat's JSON for this conversation; ``group_key`` is the spelling of the group id the endpoint wants."""
        key = group_key if self.is_group else protocol.TO_ACCOUNT
        return {"Type": self.type, key: self.target}

    @classmethod
    def from_json(cls, data: dict) -> "Conversation":
        """A conversation from any of Chat's spellings: To_Account, ToGroupId, ToGroupid or GroupId."""
        conversation_type = int(data["Type"])
        if conversation_type == protocol.TYPE_C2C:
            target = data[protocol.TO_ACCOUNT]
        else:
            spellings = (protocol.TO_GROUP_ID, protocol.TO_GROUP_ID_DELETE, protocol.GROUP_ID_GET_LIST)
            target = next(data[key] for key in spellings if key in data)
        return cls(conversation_type, conversation_target(target))

    def __str__(self) -> str:
        return f"group {self.target}" if self.is_group else f"user {self.target}"


@dataclass(frozen=True)
class ItemResult:
    """What Chat answered about one conversation of a request (its ResultCode and ResultInfo)."""

    conversation: Conversation
    result_code: int
    result_info: str
    operation: int | None = None

    @property
    def ok(self) -> bool:
        return self.result_code == errors.OK

    @property
    def description(self) -> str:
        """The result code in words, with Chat's own text when it sent one."""
        text = errors.describe(self.result_code)
        return f"{text} (Chat said: {self.result_info})" if self.result_info and not self.ok else text

    @classmethod
    def from_json(cls, entry: dict, operation_key: str | None = None) -> "ItemResult":
        """A ResultItem of Chat's answer; ``operation_key`` names its operation field, if it has one."""
        return cls(
            conversation=Conversation.from_json(entry["ContactItem"]),
            result_code=_item_code(entry["ResultCode"]),
            result_info=protocol.escaped(str(entry.get("ResultInfo", ""))),
            operation=as_int(entry.get(operation_key)) if operation_key else None,
        )


def _failures(results: list[ItemResult]) -> list[ItemResult]:
    return [result for result in results if not result.ok]


@dataclass(frozen=True)
class CreateGroupResult:
    group_name: str
    group_id: int
    results: list[ItemResult]

    @property
    def failures(self) -> list[ItemResult]:
        return _failures(self.results)


@dataclass(frozen=True)
class UpdateGroupResult:
    """The answer to a rename (``results`` empty) or to adding and removing conversations."""

    group_name: str
    group_id: int
    old_group_name: str
    results: list[ItemResult]

    @property
    def failures(self) -> list[ItemResult]:
        return _failures(self.results)

    @classmethod
    def from_answer(cls, answer: dict, name: str, old_name: str) -> "UpdateGroupResult":
        """update_contact_group's answer; ``name`` and ``old_name`` stand in for names it leaves out."""
        result = answer["UpdateGroupResult"]
        return cls(
            group_name=str(result.get("GroupName", name)),
            group_id=contact_group_id(result["GroupId"]),
            old_group_name=str(result.get("OldGroupName", old_name)),
            results=[ItemResult.from_json(entry, "ContactOptType") for entry in result.get("ContactResultItem") or []],
        )


@dataclass(frozen=True)
class DeleteGroupResult:
    """The group Chat deleted. ``group_id`` is None if Chat's answer did not name it."""

    group_name: str
    group_id: int | None


@dataclass(frozen=True)
class GroupInfo:
    """A conversation group of a user: its name and the GroupId Chat assigned."""

    name: str
    group_id: int


@dataclass(frozen=True)
class ConversationState:
    """A conversation's groups and marks, as get_contact_group and search_contact_group report them."""

    conversation: Conversation
    group_ids: tuple[int, ...]
    standard_mark: str = ""
    custom_mark: str = ""
    timestamp: int = 0


@dataclass(frozen=True)
class ContactGroups:
    """A user's conversation groups and the conversations in them (all pages of get_contact_group)."""

    groups: list[GroupInfo]
    conversations: list[ConversationState]

    def members(self, group_id: int) -> list[Conversation]:
        """The conversations in the group with ``group_id``."""
        return [state.conversation for state in self.conversations if group_id in state.group_ids]

    def group_named(self, name: str) -> GroupInfo | None:
        return next((group for group in self.groups if group.name == name), None)

    def group_with_id(self, group_id: int) -> GroupInfo | None:
        return next((group for group in self.groups if group.group_id == group_id), None)

    @classmethod
    def from_answer(cls, answer: dict) -> "ContactGroups":
        """get_contact_group's ContactItem / search_contact_group's ContactResultItem, and GroupItem."""
        entries = answer.get("ContactItem") or answer.get("ContactResultItem") or []
        conversations = []
        for entry in entries:
            item = entry["ContactItem"] if isinstance(entry.get("ContactItem"), dict) else entry
            conversations.append(
                ConversationState(
                    conversation=Conversation.from_json(item),
                    group_ids=tuple(contact_group_id(group_id) for group_id in entry.get("ContactGroupId") or ()),
                    standard_mark=str(entry.get("StandardMark", "")),
                    custom_mark=str(entry.get("CustomMark", "")),
                    timestamp=as_int(entry.get("Timestamp"), 0),
                )
            )
        groups = [GroupInfo(str(group["GroupName"]), contact_group_id(group["GroupId"]))
                  for group in answer.get("GroupItem") or []]
        return cls(groups=groups, conversations=conversations)


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


@dataclass(frozen=True)
class AccountStatus:
    """Whether a UserID exists in Chat (account_check)."""

    user_id: str
    imported: bool
    result_code: int
    result_info: str

    @classmethod
    def from_json(cls, entry: dict) -> "AccountStatus":
        """One ResultItem of account_check's answer."""
        return cls(
            user_id=str(entry["UserID"]),
            imported=entry.get("AccountStatus") == protocol.ACCOUNT_IMPORTED,
            result_code=_item_code(entry.get("ResultCode", errors.OK)),
            result_info=protocol.escaped(str(entry.get("ResultInfo", ""))),
        )


@dataclass(frozen=True)
class CallRecord:
    """One HTTP attempt: what was sent, what came back, how long it took. Never holds the UserSig."""

    endpoint: str
    request: dict
    response: dict | None
    http_status: int | None
    action_status: str
    error_code: int | None
    error_info: str
    started_at: datetime
    duration: float
    error: errors.ChatError | None = None

    @property
    def refused_items(self) -> int:
        """How many conversations or accounts the answer refused (a non-zero ResultCode, a FailAccounts entry)."""
        return sum(1 for _code in _refusals(self.response))

    @property
    def refused_codes(self) -> tuple[int, ...]:
        """The distinct ResultCodes the answer refused items with, in order (FailAccounts carry no code)."""
        return refused_codes(self.response)


def refused_codes(answer) -> tuple[int, ...]:
    """The distinct non-zero ResultCodes of the items in one of Chat's answers, in order."""
    return tuple(sorted({code for code in _refusals(answer) if code}))


def _refusals(answer):
    """One value per refused item of the answer: its ResultCode, or None for a FailAccounts entry."""
    if isinstance(answer, list):
        for entry in answer:
            yield from _refusals(entry)
        return
    if not isinstance(answer, dict):
        return
    code = answer.get("ResultCode")
    if code not in (None, errors.OK):
        yield chat_code(code)
    yield from (None for _account in answer.get("FailAccounts") or ())
    for value in answer.values():
        if isinstance(value, (dict, list)):
            yield from _refusals(value)
