"""A typed client for the Tencent Cloud Chat REST API: conversation groups, marks, conversations, accounts.

One method per endpoint, dataclasses in and out. Every call goes through one pipeline:

    validate (ValueError, nothing sent) -> wait for the rate limiter -> POST with an admin UserSig
    -> parse the answer -> report a CallRecord to ``on_call`` -> return, retry or raise a ChatError.

Chat's JSON field names (``From_Account``, ``ToGroupId``, ...) and its spelling quirks stay in this package.

Errors. A non-zero top-level ``ErrorCode`` raises the exception that ``errors.error_from_code`` picks for it (a
plain ``ChatError`` for a code the table does not know: a failure, never a success). HTTP 5xx, an answer that is
not JSON, a timeout or a dropped connection raise ``errors.ChatTransportError``; a connection that could not even
be opened raises its subclass ``errors.ChatConnectError``. Per-conversation ``ResultCode``s are returned in
``ItemResult``s and never raised: the caller decides what a partial success means.

Retries (exponential backoff with full jitter, at most ``ChatConfig.max_retries`` after the first attempt):

- Reads (get_contact_group, search_contact_group, get_list, account_check) are retried on every retryable error:
  throttling, 50004, 50005, 60008, HTTP 5xx, timeouts, connection errors.
- Writes (everything else) are retried only when Chat certainly did not act on the request: a throttling answer
  (``errors.THROTTLING_CODES``, after a longer backoff) or a connection that was never opened
  (``ChatConnectError``). A write that timed out after it was sent, a 50004/50005/60008 answer, HTTP 5xx or a
  dropped connection may have taken effect, so the retryable error is raised instead; the sync layer reads Chat's
  state before it decides what to send again. A write is never silently sent twice.
- A 70001 answer (UserSig expired, for instance after a clock jump) renews the UserSig and tries once more; Chat
  refused the request before acting on it.
"""

import copy
import logging
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import requests
import urllib3.exceptions

from contactgroups.chat import errors, protocol
from contactgroups.chat.ratelimit import EndpointRateLimiter
from contactgroups.chat.usersig import generate_usersig

logger = logging.getLogger(__name__)

# Chat's regional API domains (the seed page's seven).
REGION_DOMAINS = {
    "china": "console.tim.qq.com",
    "singapore": "adminapisgp.im.qcloud.com",
    "seoul": "adminapikr.im.qcloud.com",
    "tokyo": "adminapijpn.im.qcloud.com",
    "frankfurt": "adminapiger.im.qcloud.com",
    "silicon-valley": "adminapiusa.im.qcloud.com",
    "jakarta": "adminapiidn.im.qcloud.com",
}

# Endpoints, as they appear after /v4/ in the URL.
CREATE_CONTACT_GROUP = "recentcontact/create_contact_group"
UPDATE_CONTACT_GROUP = "recentcontact/update_contact_group"
DEL_CONTACT_GROUP = "recentcontact/del_contact_group"
GET_CONTACT_GROUP = "recentcontact/get_contact_group"
SEARCH_CONTACT_GROUP = "recentcontact/search_contact_group"
MARK_CONTACT = "recentcontact/mark_contact"
GET_LIST = "recentcontact/get_list"
DELETE_CONVERSATION = "recentcontact/delete"
ACCOUNT_IMPORT = "im_open_login_svc/account_import"
MULTIACCOUNT_IMPORT = "im_open_login_svc/multiaccount_import"
ACCOUNT_CHECK = "im_open_login_svc/account_check"

# Endpoints that change nothing in Chat: any retryable failure may be retried.
READ_ENDPOINTS = frozenset({GET_CONTACT_GROUP, SEARCH_CONTACT_GROUP, GET_LIST, ACCOUNT_CHECK})

# update_contact_group: UpdateType 1 is the only documented value ("update by group").
UPDATE_BY_GROUP = 1
# UpdateGroup.UpdateGroupType.
RENAME_GROUP = 1
CHANGE_MEMBERS = 2
# ContactUpdateItem.ContactOptType (and ItemResult.operation of an update).
OPERATION_ADD = 1
OPERATION_REMOVE = 2
# mark_contact MarkItem.OptType.
MARK_STANDARD = 1
MARK_CUSTOM = 2
MARK_BOTH = 3
# get_list AssistFlags: the current page asks for 63 "for complete data" (bit 0 pinned conversations,
# bit 1 empty conversations, bit 2 paged pinned conversations, higher bits marks and groups).
GET_LIST_ASSIST_FLAGS = 63
ACCOUNT_IMPORTED = "Imported"

# Key spellings of a conversation's target. Requests use To_Account / ToGroupId; recentcontact/delete spells
# the group id ToGroupid; get_list answers with GroupId.
TO_ACCOUNT = "To_Account"
TO_GROUP_ID = "ToGroupId"
TO_GROUP_ID_DELETE = "ToGroupid"
GROUP_ID_GET_LIST = "GroupId"

# Backoff between attempts. A throttled call waits THROTTLE_BACKOFF_FACTOR times longer, at least half of that.
BACKOFF_CAP_SECONDS = 20.0
THROTTLE_BACKOFF_FACTOR = 5
# A paging loop that has not finished after this many pages is broken, not long.
MAX_PAGES = 10_000

_USERSIG_PARAMETER = re.compile(r"(usersig=)[^&\s'\"]+", re.IGNORECASE)
REDACTED = "<redacted>"


def redact_usersig(text: str) -> str:
    """``text`` with the value of any ``usersig=`` query parameter replaced by ``<redacted>``."""
    return _USERSIG_PARAMETER.sub(r"\1" + REDACTED, text)


class _RedactUserSigFilter(logging.Filter):
    """Redacts the UserSig from urllib3's DEBUG lines, which print every request URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "usersig=" in message.lower():
            record.msg = redact_usersig(message)
            record.args = ()
        return True


_redact_filter = _RedactUserSigFilter()


def _install_log_redaction() -> None:
    for name in ("urllib3.connectionpool", "urllib3.connection"):
        log = logging.getLogger(name)
        if _redact_filter not in log.filters:
            log.addFilter(_redact_filter)


# --------------------------------------------------------------------------------------------------------------
# Configuration and data


@dataclass(frozen=True)
class ChatConfig:
    """Everything a ChatClient needs to reach one Chat app.

    ``base_url`` (scheme, host and port, e.g. the sandbox ``http://127.0.0.1:8081``) wins over ``region``.
    ``rate_limit`` is calls a second per endpoint (account_check never exceeds its own documented lower rate).
    ``rate_limit_storage`` is a ``limits`` storage URI: ``memory://`` counts in this process,
    ``redis://host:port/db`` across processes. The secret key (and the storage URI, which may hold a password)
    never appear in the repr.
    """

    sdkappid: int
    secret_key: str = field(repr=False)
    admin_identifier: str
    region: str | None = None
    base_url: str | None = None
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    rate_limit: float = protocol.CALLS_PER_SECOND_MAX
    rate_limit_storage: str = field(default="memory://", repr=False)
    max_retries: int = 3
    backoff_base: float = 0.2
    usersig_ttl: int = 86400

    def __post_init__(self):
        problems = []
        if isinstance(self.sdkappid, bool) or not isinstance(self.sdkappid, int) or self.sdkappid <= 0:
            problems.append(f"sdkappid must be a positive integer, not {self.sdkappid!r}.")
        if not isinstance(self.secret_key, str) or not self.secret_key:
            problems.append("secret_key must be the app's non-empty secret key.")
        problems += [f"admin_identifier: {m}" for m in protocol.validate_user_id(self.admin_identifier or "")]
        if self.base_url:
            if not self.base_url.startswith(("http://", "https://")):
                problems.append(f"base_url must start with http:// or https://, not {self.base_url!r}.")
        elif self.region:
            if self.region not in REGION_DOMAINS:
                problems.append(f"region {self.region!r} is not one of: {', '.join(REGION_DOMAINS)}.")
        else:
            problems.append(f"Give a region ({', '.join(REGION_DOMAINS)}) or a base_url.")
        if not (self.connect_timeout > 0 and self.read_timeout > 0):
            problems.append("connect_timeout and read_timeout must be positive.")
        if not self.rate_limit > 0:
            problems.append("rate_limit must be a positive number of calls a second.")
        if self.max_retries < 0 or self.backoff_base < 0:
            problems.append("max_retries and backoff_base cannot be negative.")
        if self.usersig_ttl <= 0:
            problems.append("usersig_ttl must be a positive number of seconds.")
        if problems:
            raise ValueError("Invalid Chat configuration: " + " ".join(problems))

    @property
    def api_base(self) -> str:
        """``scheme://host[:port]`` that the endpoint paths are appended to."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return f"https://{REGION_DOMAINS[self.region]}"

    def endpoint_url(self, endpoint: str) -> str:
        """The URL of ``endpoint`` without its query string."""
        return f"{self.api_base}/v4/{endpoint}"

    def rate_for(self, endpoint: str) -> float:
        """Calls a second allowed to ``endpoint``: the configured rate, capped for account_check."""
        if endpoint == ACCOUNT_CHECK:
            return min(self.rate_limit, protocol.ACCOUNT_CHECK_CALLS_PER_SECOND_MAX)
        return self.rate_limit


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

    def to_json(self, group_key: str = TO_GROUP_ID) -> dict:
        """Chat's JSON for this conversation; ``group_key`` is the spelling of the group id the endpoint wants."""
        key = group_key if self.is_group else TO_ACCOUNT
        return {"Type": self.type, key: self.target}

    @classmethod
    def from_json(cls, data: dict) -> "Conversation":
        """A conversation from any of Chat's spellings: To_Account, ToGroupId, ToGroupid or GroupId."""
        conversation_type = int(data["Type"])
        if conversation_type == protocol.TYPE_C2C:
            target = data[TO_ACCOUNT]
        else:
            target = next(data[key] for key in (TO_GROUP_ID, TO_GROUP_ID_DELETE, GROUP_ID_GET_LIST) if key in data)
        return cls(conversation_type, str(target))

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


@dataclass(frozen=True)
class RecentConversation:
    """One entry of a user's conversation list (get_list)."""

    conversation: Conversation
    msg_time: int
    pinned: bool
    standard_mark: str = ""
    custom_mark: str = ""
    group_ids: tuple[int, ...] = ()


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
            return MARK_BOTH
        if custom:
            return MARK_CUSTOM
        if standard:
            return MARK_STANDARD
        raise ValueError(f"Nothing to mark on {self.conversation}: give marks to set or clear, or a custom mark.")


@dataclass(frozen=True)
class AccountStatus:
    """Whether a UserID exists in Chat (account_check)."""

    user_id: str
    imported: bool
    result_code: int
    result_info: str


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
        return _count_refused(self.response)


def _count_refused(answer) -> int:
    if isinstance(answer, list):
        return sum(_count_refused(entry) for entry in answer)
    if not isinstance(answer, dict):
        return 0
    own = 1 if answer.get("ResultCode") not in (None, errors.OK) else 0
    failed = len(answer.get("FailAccounts") or ())
    return own + failed + sum(_count_refused(value) for value in answer.values() if isinstance(value, (dict, list)))


# --------------------------------------------------------------------------------------------------------------
# Validation


def _require(messages: list[str], what: str) -> None:
    if messages:
        raise ValueError(f"{what}: {' '.join(messages)}")


def _check_owner(owner: str) -> None:
    _require(protocol.validate_user_id(owner), f"UserID {owner!r}")


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


def backoff_delay(attempt: int, base: float, *, throttled: bool = False, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry).

    Exponential with full jitter: uniform between 0 and ``base * 2**(attempt - 1)``, capped at
    BACKOFF_CAP_SECONDS. After a throttling answer the ceiling is THROTTLE_BACKOFF_FACTOR times higher and the
    wait is at least half of it, so a throttled caller always slows down.
    """
    rng = rng or random
    ceiling = base * 2 ** (attempt - 1)
    if throttled:
        ceiling = min(BACKOFF_CAP_SECONDS, ceiling * THROTTLE_BACKOFF_FACTOR)
        return rng.uniform(ceiling / 2, ceiling)
    return rng.uniform(0, min(BACKOFF_CAP_SECONDS, ceiling))


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether ``exc`` happened before a connection was open, so the request cannot have reached Chat."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.exceptions.SSLError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)  # includes NewConnectionError
    return False


def _as_int(value, default: int | None = None) -> int | None:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# --------------------------------------------------------------------------------------------------------------
# The client


class ChatClient:
    """Calls one Chat app's REST API as its administrator.

    ``on_call`` receives a CallRecord after every HTTP attempt (each page, each retry); an exception it raises
    propagates. ``session`` replaces the pooled ``requests.Session`` the client makes. ``clock`` (seconds since
    the epoch) and ``sleep`` (used between retries) exist for tests. See the module docstring for the error and
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
        self.on_call = on_call
        self._session = session or requests.Session()
        self._owns_session = session is None
        self._clock = clock
        self._sleep = sleep
        self._random = random.Random()
        self._usersig_lock = threading.Lock()
        self._usersig: str | None = None
        self._usersig_renew_at = 0.0
        self._limiter = EndpointRateLimiter(
            config.sdkappid,
            config.rate_limit_storage,
            config.rate_limit,
            {ACCOUNT_CHECK: config.rate_for(ACCOUNT_CHECK)},
        )
        _install_log_redaction()

    def __repr__(self) -> str:
        return (
            f"ChatClient(sdkappid={self.config.sdkappid}, admin_identifier={self.config.admin_identifier!r}, "
            f"api_base={self.config.api_base!r})"
        )

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

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
                group_id=int(group_item["GroupId"]),
                results=[self._item_result(entry) for entry in created.get("ResultItem") or []],
            )

        return self._call(CREATE_CONTACT_GROUP, body, parse)

    def rename_contact_group(self, owner: str, old_name: str, new_name: str) -> UpdateGroupResult:
        """Rename ``owner``'s group ``old_name`` (the name Chat has now) to ``new_name``."""
        _check_owner(owner)
        _check_existing_group_name(old_name)
        _check_new_group_name(new_name)
        if old_name == new_name:
            raise ValueError(f"The group is already named {new_name!r}.")
        body = {
            "From_Account": owner,
            "UpdateType": UPDATE_BY_GROUP,
            "UpdateGroup": {"UpdateGroupType": RENAME_GROUP, "OldGroupName": old_name, "NewGroupName": new_name},
        }
        return self._call(UPDATE_CONTACT_GROUP, body, lambda answer: self._update_result(answer, new_name, old_name))

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
        operations = [(OPERATION_ADD, conversation) for conversation in to_add]
        operations += [(OPERATION_REMOVE, conversation) for conversation in to_remove]
        body = {
            "From_Account": owner,
            "UpdateType": UPDATE_BY_GROUP,
            "UpdateGroup": {
                "UpdateGroupType": CHANGE_MEMBERS,
                "OldGroupName": name,
                "ContactUpdateItem": [
                    {"ContactOptType": operation, "ContactItem": conversation.to_json()}
                    for operation, conversation in operations
                ],
            },
        }
        return self._call(UPDATE_CONTACT_GROUP, body, lambda answer: self._update_result(answer, name, name))

    def del_contact_group(self, owner: str, name: str) -> DeleteGroupResult:
        """Delete ``owner``'s group ``name`` (the conversations themselves stay)."""
        _check_owner(owner)
        _check_existing_group_name(name)
        body = {"From_Account": owner, "GroupName": [name]}

        def parse(answer: dict) -> DeleteGroupResult:
            deleted = (answer.get("GroupItem") or [{}])[0]
            return DeleteGroupResult(
                group_name=str(deleted.get("GroupName", name)), group_id=_as_int(deleted.get("GroupId"))
            )

        return self._call(DEL_CONTACT_GROUP, body, parse)

    def get_contact_group(self, owner: str) -> ContactGroups:
        """All of ``owner``'s groups and grouped conversations, reading every page."""
        _check_owner(owner)
        groups: dict[int, GroupInfo] = {}
        states: dict[Conversation, ConversationState] = {}
        start = 0
        for _page in range(MAX_PAGES):
            body = {"From_Account": owner, "StartIndex": start}
            answer = self._call(GET_CONTACT_GROUP, body)
            page = self._parse(GET_CONTACT_GROUP, body, answer, self._contact_groups)
            for group in page.groups:
                groups[group.group_id] = group
            for state in page.conversations:
                states[state.conversation] = state
            if _as_int(answer.get("CompleteFlag"), 1) == 1:
                break
            next_start = _as_int(answer.get("NextStartIndex"))
            if next_start is None or next_start <= start:
                raise errors.ChatError(
                    f"Chat's paging of {GET_CONTACT_GROUP} did not advance (StartIndex {start}, "
                    f"NextStartIndex {answer.get('NextStartIndex')!r}).",
                    endpoint=GET_CONTACT_GROUP, request=body, response=answer,
                )
            start = next_start
        else:
            raise errors.ChatError(f"{GET_CONTACT_GROUP} did not finish in {MAX_PAGES} pages.",
                                   endpoint=GET_CONTACT_GROUP)
        return ContactGroups(groups=list(groups.values()), conversations=list(states.values()))

    def search_contact_group(self, owner: str, conversations: Sequence[Conversation]) -> ContactGroups:
        """The groups and marks of ``conversations`` (at most 300) of ``owner``, with the groups they name."""
        _check_owner(owner)
        items = _check_conversations(conversations, protocol.CONVERSATIONS_PER_SEARCH_MAX, "A search")
        if not items:
            raise ValueError("A search needs at least one conversation.")
        body = {"From_Account": owner, "ContactItem": [conversation.to_json() for conversation in items]}
        return self._call(SEARCH_CONTACT_GROUP, body, self._contact_groups)

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
        return self._call(
            MARK_CONTACT,
            body,
            lambda answer: [self._item_result(entry, "OptType") for entry in answer.get("ResultItem") or []],
        )

    def get_list(self, owner: str) -> list[RecentConversation]:
        """``owner``'s whole conversation list, pinned conversations included, reading every page."""
        _check_owner(owner)
        cursor = {"TimeStamp": 0, "StartIndex": 0, "TopTimeStamp": 0, "TopStartIndex": 0}
        found: dict[Conversation, RecentConversation] = {}
        for _page in range(MAX_PAGES):
            body = {"From_Account": owner, **cursor, "AssistFlags": GET_LIST_ASSIST_FLAGS}
            answer = self._call(GET_LIST, body)
            for entry in self._parse(GET_LIST, body, answer, self._recent_conversations):
                found[entry.conversation] = entry
            if _as_int(answer.get("CompleteFlag"), 1) == 1:
                break
            next_cursor = {key: _as_int(answer.get(key), value) for key, value in cursor.items()}
            if next_cursor == cursor:
                raise errors.ChatError(
                    f"Chat's paging of {GET_LIST} did not advance ({cursor}).",
                    endpoint=GET_LIST, request=body, response=answer,
                )
            cursor = next_cursor
        else:
            raise errors.ChatError(f"{GET_LIST} did not finish in {MAX_PAGES} pages.", endpoint=GET_LIST)
        return list(found.values())

    def delete_conversation(self, owner: str, conversation: Conversation, clear_roaming: bool = False) -> None:
        """Delete one conversation from ``owner``'s list; ``clear_roaming`` also deletes its roaming messages."""
        _check_owner(owner)
        _check_conversations([conversation], 1, "A delete")
        body = {"From_Account": owner, **conversation.to_json(TO_GROUP_ID_DELETE), "ClearRamble": int(clear_roaming)}
        self._call(DELETE_CONVERSATION, body)

    # ------------------------------------------------------------------------------------------------------- accounts

    def account_import(self, user_id: str, nick: str = "", face_url: str = "") -> None:
        """Import one UserID into Chat (importing an existing one succeeds)."""
        _check_owner(user_id)
        body = {"UserID": user_id}
        if nick:
            body["Nick"] = nick
        if face_url:
            body["FaceUrl"] = face_url
        self._call(ACCOUNT_IMPORT, body)

    def multiaccount_import(self, user_ids: Sequence[str]) -> list[str]:
        """Import ``user_ids``; returns those Chat could not import.

        Any number may be passed: they are sent in calls of at most ACCOUNTS_PER_IMPORT_MAX (duplicates once).
        Importing is idempotent, so after an error the whole list can simply be imported again.
        """
        failed: list[str] = []
        for chunk in protocol.chunks(_check_user_ids(user_ids), protocol.ACCOUNTS_PER_IMPORT_MAX):
            failed += self._call(
                MULTIACCOUNT_IMPORT,
                {"Accounts": chunk},
                lambda answer: [str(user_id) for user_id in answer.get("FailAccounts") or []],
            )
        return failed

    def account_check(self, user_ids: Sequence[str]) -> list[AccountStatus]:
        """Whether each of ``user_ids`` is imported, in calls of at most ACCOUNTS_PER_CHECK_MAX."""
        statuses: list[AccountStatus] = []
        for chunk in protocol.chunks(_check_user_ids(user_ids), protocol.ACCOUNTS_PER_CHECK_MAX):
            statuses += self._call(
                ACCOUNT_CHECK,
                {"CheckItem": [{"UserID": user_id} for user_id in chunk]},
                lambda answer: [
                    AccountStatus(
                        user_id=str(entry["UserID"]),
                        imported=entry.get("AccountStatus") == ACCOUNT_IMPORTED,
                        result_code=int(entry.get("ResultCode", errors.OK)),
                        result_info=str(entry.get("ResultInfo", "")),
                    )
                    for entry in answer.get("ResultItem") or []
                ],
            )
        return statuses

    # ------------------------------------------------------------------------------------------------- answer shapes

    @staticmethod
    def _item_result(entry: dict, operation_key: str | None = None) -> ItemResult:
        return ItemResult(
            conversation=Conversation.from_json(entry["ContactItem"]),
            result_code=int(entry["ResultCode"]),
            result_info=str(entry.get("ResultInfo", "")),
            operation=_as_int(entry.get(operation_key)) if operation_key else None,
        )

    def _update_result(self, answer: dict, name: str, old_name: str) -> UpdateGroupResult:
        result = answer["UpdateGroupResult"]
        return UpdateGroupResult(
            group_name=str(result.get("GroupName", name)),
            group_id=int(result["GroupId"]),
            old_group_name=str(result.get("OldGroupName", old_name)),
            results=[self._item_result(entry, "ContactOptType") for entry in result.get("ContactResultItem") or []],
        )

    @staticmethod
    def _contact_groups(answer: dict) -> ContactGroups:
        """get_contact_group's ContactItem / search_contact_group's ContactResultItem, and GroupItem."""
        entries = answer.get("ContactItem") or answer.get("ContactResultItem") or []
        conversations = []
        for entry in entries:
            item = entry["ContactItem"] if isinstance(entry.get("ContactItem"), dict) else entry
            conversations.append(
                ConversationState(
                    conversation=Conversation.from_json(item),
                    group_ids=tuple(int(group_id) for group_id in entry.get("ContactGroupId") or ()),
                    standard_mark=str(entry.get("StandardMark", "")),
                    custom_mark=str(entry.get("CustomMark", "")),
                    timestamp=_as_int(entry.get("Timestamp"), 0),
                )
            )
        groups = [GroupInfo(str(group["GroupName"]), int(group["GroupId"])) for group in answer.get("GroupItem") or []]
        return ContactGroups(groups=groups, conversations=conversations)

    @staticmethod
    def _recent_conversations(answer: dict) -> list[RecentConversation]:
        return [
            RecentConversation(
                conversation=Conversation.from_json(entry),
                msg_time=_as_int(entry.get("MsgTime"), 0),
                pinned=_as_int(entry.get("TopFlag"), 0) == 1,
                standard_mark=str(entry.get("StandardMark", "")),
                custom_mark=str(entry.get("CustomMark", "")),
                group_ids=tuple(int(group_id) for group_id in entry.get("ContactGroupId") or ()),
            )
            for entry in answer.get("SessionItem") or []
        ]

    # -------------------------------------------------------------------------------------------------- the pipeline

    def admin_usersig(self) -> str:
        """The administrator's UserSig, made from the config and renewed well before it expires."""
        now = self._clock()
        with self._usersig_lock:
            if self._usersig is None or now >= self._usersig_renew_at:
                ttl = self.config.usersig_ttl
                issued = int(now)
                self._usersig = generate_usersig(
                    self.config.sdkappid, self.config.secret_key, self.config.admin_identifier, ttl, now=issued
                )
                # Renew when a tenth of the lifetime is left, or an hour, whichever is more, but at half-life at
                # the latest, so a sig in flight never expires on the way.
                margin = min(max(ttl / 10, 3600), ttl / 2)
                self._usersig_renew_at = issued + ttl - margin
            return self._usersig

    def _forget_usersig(self) -> None:
        with self._usersig_lock:
            self._usersig = None

    def _url(self, endpoint: str) -> str:
        query = urlencode(
            [
                ("sdkappid", str(self.config.sdkappid)),
                ("identifier", self.config.admin_identifier),
                ("usersig", self.admin_usersig()),
                ("random", str(secrets.randbits(32))),
                ("contenttype", "json"),
            ],
            quote_via=quote,
            safe="*",
        )
        return f"{self.config.endpoint_url(endpoint)}?{query}"

    def _redact(self, text: str) -> str:
        text = redact_usersig(text)
        for secret in (self._usersig, self.config.secret_key):
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def _call(self, endpoint: str, body: dict, parse: Callable[[dict], object] | None = None):
        """POST ``body`` to ``endpoint`` under the retry policy; return ``parse(answer)`` or the answer."""
        read = endpoint in READ_ENDPOINTS
        retries = 0
        renewed_usersig = False
        while True:
            answer, error = self._attempt(endpoint, body)
            if error is None:
                return self._parse(endpoint, body, answer, parse) if parse else answer
            if error.code == errors.USERSIG_EXPIRED and not renewed_usersig:
                renewed_usersig = True
                self._forget_usersig()
                continue
            if read:
                may_retry = error.retryable
            else:
                may_retry = isinstance(error, errors.ChatThrottledError | errors.ChatConnectError)
            if not may_retry or retries >= self.config.max_retries:
                raise error
            retries += 1
            delay = backoff_delay(
                retries, self.config.backoff_base,
                throttled=isinstance(error, errors.ChatThrottledError), rng=self._random,
            )
            logger.info("Retrying %s in %.2f s (retry %d of %d) after: %s",
                        endpoint, delay, retries, self.config.max_retries, error)
            self._sleep(delay)

    def _parse(self, endpoint: str, body: dict, answer: dict, parse: Callable[[dict], object]):
        try:
            return parse(answer)
        except (KeyError, IndexError, TypeError, ValueError, StopIteration) as exc:
            raise errors.ChatError(
                f"Chat's answer to {endpoint} reported success but had an unexpected shape "
                f"({type(exc).__name__}: {exc}).",
                endpoint=endpoint, request=body, response=answer,
            ) from exc

    def _attempt(self, endpoint: str, body: dict) -> tuple[dict | None, errors.ChatError | None]:
        """One POST. Returns (answer, None) on success, (answer or None, error) otherwise; raises nothing itself."""
        self._limiter.wait(endpoint)
        url = self._url(endpoint)
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        started_at = datetime.now(UTC)
        began = time.monotonic()
        response = None
        error = None
        try:
            response = self._session.post(url, json=body, timeout=timeout)
        except requests.RequestException as exc:
            # Built here, raised by the caller outside this block, so the requests exception (whose text holds
            # the URL and with it the UserSig) is neither the cause nor the context of what the caller sees.
            error = self._transport_error(endpoint, body, exc)
        answer = None
        if response is not None:
            answer, error = self._read_answer(endpoint, body, response)
        duration = time.monotonic() - began
        record = CallRecord(
            endpoint=endpoint,
            request=copy.deepcopy(body),
            response=answer,
            http_status=response.status_code if response is not None else None,
            action_status=str(answer.get("ActionStatus", "")) if answer else "",
            error_code=_as_int(answer.get("ErrorCode")) if answer else None,
            error_info=str(answer.get("ErrorInfo", "")) if answer else "",
            started_at=started_at,
            duration=duration,
            error=error,
        )
        logger.debug(
            "Chat %s: HTTP %s, %s %s %r in %.3f s; sent %s; answer %s",
            endpoint, record.http_status, record.action_status or "-", record.error_code, record.error_info,
            duration, body, answer if answer is not None else (str(error) if error else None),
        )
        if self.on_call is not None:
            self.on_call(record)
        return answer, error

    def _transport_error(self, endpoint: str, body: dict, exc: requests.RequestException) -> errors.ChatError:
        detail = self._redact(f"{type(exc).__name__}: {exc}")
        if _never_sent(exc):
            return errors.ChatConnectError(
                f"Could not connect to Chat for {endpoint}; the request was not sent ({detail}).",
                endpoint=endpoint, request=body,
            )
        if isinstance(exc, requests.ReadTimeout):
            message = (f"Chat did not answer {endpoint} within {self.config.read_timeout} s; the request may "
                       f"have taken effect ({detail}).")
        else:
            message = f"No answer from Chat for {endpoint}; the request may have taken effect ({detail})."
        return errors.ChatTransportError(message, endpoint=endpoint, request=body)

    def _read_answer(
        self, endpoint: str, body: dict, response: requests.Response
    ) -> tuple[dict | None, errors.ChatError | None]:
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = None
        details = {"endpoint": endpoint, "http_status": status, "request": body, "response": answer}
        if status >= 500:
            return answer, errors.ChatTransportError(
                f"Chat answered {endpoint} with HTTP {status}; the request may have taken effect.", **details
            )
        if answer is None:
            if status != 200:
                return None, errors.ChatError(f"Chat answered {endpoint} with HTTP {status} and no JSON.", **details)
            return None, errors.ChatTransportError(
                f"Chat's answer to {endpoint} was not a JSON object; the request may have taken effect.", **details
            )
        code = _as_int(answer.get("ErrorCode"))
        if code is None:
            return answer, errors.ChatError(f"Chat's answer to {endpoint} has no ErrorCode.", **details)
        if code != errors.OK:
            return answer, errors.error_from_code(code, info=str(answer.get("ErrorInfo", "")), **details)
        if answer.get("ActionStatus") != "OK" or status != 200:
            return answer, errors.ChatError(
                f"Chat answered {endpoint} with ErrorCode 0 but ActionStatus {answer.get('ActionStatus')!r} "
                f"and HTTP {status}; treated as a failure.",
                **details,
            )
        return answer, None
