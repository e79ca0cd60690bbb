"""One table of Chat's error codes: what each means, which exception, retry or not.

Every code the project knows is here once. ``describe(code)`` gives the text a
person reads in the admin; ``exception_for(code)`` the class to raise;
``is_retryable(code)`` whether trying again can help. A code missing from the table
is a failure with its ``ErrorInfo`` shown, never a success.
"""

from dataclasses import dataclass

from contactgroups.chat import protocol
from contactgroups.chat.protocol import Message, gettext_noop

OK = 0
# Chat's codes (ErrorCode, ResultCode) are kept in 32-bit integer columns, PostgreSQL's integer, the narrowest either
# database gives them. A whole number Chat sends as a code past CODE_MIN..CODE_MAX is read as CODE_UNREADABLE, the
# least 32-bit integer, which no code read from Chat is: a failure whose code this admin cannot keep (the audit
# keeps Chat's answer with the number it sent). Chat's documented codes are five digits.
CODE_UNREADABLE = -(2**31)
CODE_MIN = CODE_UNREADABLE + 1
CODE_MAX = 2**31 - 1


class ChatError(Exception):
    """A Chat call that failed. Carries what Chat said and what was sent.

    ``request`` is the JSON body that was sent (it never holds the UserSig, which
    travels in the query string and is not kept), ``response`` the parsed answer.
    """

    retryable = False

    def __init__(
        self,
        message: str = "",
        *,
        code: int | None = None,
        info: str = "",
        endpoint: str = "",
        http_status: int | None = None,
        request: dict | None = None,
        response: dict | None = None,
    ):
        self.code = code
        self.info = info
        self.endpoint = endpoint
        self.http_status = http_status
        self.request = request
        self.response = response
        super().__init__(message or self._default_message())

    # Details a subclass adds to ChatError's, each a keyword of its __init__, kept when the error is pickled.
    extra_details: tuple[str, ...] = ()

    def __reduce__(self):
        # Keep the code and details when the error crosses a process (Celery pickles it).
        details = {name: getattr(self, name) for name in
                   ("code", "info", "endpoint", "http_status", "request", "response", *self.extra_details)}
        return (_rebuild, (type(self), str(self), details))

    def _default_message(self) -> str:
        where = f" from {self.endpoint}" if self.endpoint else ""
        if self.code is None:
            return f"Chat call failed{where}"
        number = "(code unreadable)" if self.code == CODE_UNREADABLE else self.code
        text = f"Chat error {number}{where}: {describe(self.code)}"
        if self.info:
            text += f" (Chat said: {self.info})"
        return text


def _rebuild(cls, message, details):
    return cls(message, **details)


class ChatRetryableError(ChatError):
    """A failure that a later attempt may not meet (server busy, timeout)."""

    retryable = True


class ChatThrottledError(ChatRetryableError):
    """Chat refused the call for its frequency; back off before trying again."""


class ChatTransportError(ChatRetryableError):
    """No answer from Chat: timeout, refused or dropped connection, HTTP 5xx, bad JSON."""


class ChatConnectError(ChatTransportError):
    """Chat could not be reached at all (connection refused, connect timeout): the request was never sent.

    Unlike other transport errors, this one proves that a write did not take effect, so it is safe to send again.
    """


class ChatTooSlowError(ChatTransportError):
    """Chat had not sent its whole answer when the call's deadline passed (``seconds`` after it began): too slow.

    The connection was open, so a write may have taken effect.
    """

    extra_details = ("seconds",)

    def __init__(self, message: str = "", *, seconds: float = 0.0, **details):
        self.seconds = seconds
        super().__init__(message, **details)


class ChatAnswerError(ChatError):
    """Chat answered, but not in a form the client reads: no ErrorCode, fields missing or out of range, paging that
    does not advance. The answer, if any, is on the error and in the audit."""


class ChatAnswerTooLargeError(ChatAnswerError):
    """Chat's answer was longer than the ``limit`` bytes the client reads; the rest was not read, nothing parsed.

    Asking again brings the same answer, so it is not retried. A write may have taken effect.
    """

    extra_details = ("limit",)

    def __init__(self, message: str = "", *, limit: int = 0, **details):
        self.limit = limit
        super().__init__(message, **details)


class ChatAuthError(ChatError):
    """The app's credentials were refused: UserSig, SDKAppID or admin identifier."""


class ChatAccountNotImportedError(ChatError):
    """A UserID in the request was never imported into Chat."""


class ChatInvalidRequestError(ChatError):
    """Chat refused the request's content."""


class ChatLimitError(ChatInvalidRequestError):
    """The request went past one of Chat's documented limits."""


class ChatGroupNotFoundError(ChatInvalidRequestError):
    """The conversation group named in the request does not exist in Chat."""


@dataclass(frozen=True)
class ErrorCode:
    code: int
    text: str
    exception: type[ChatError]
    retryable: bool


def _entry(code: int, text: str, exception: type[ChatError]) -> ErrorCode:
    return ErrorCode(code, text, exception, exception.retryable)


# Sources: the recentcontact pages' own tables (e.g. https://cloud.tencent.com/document/product/269/85791); the
# public REST table "REST API 公共错误码" and its account (70000s) part (https://cloud.tencent.com/document/product/269/1671,
# mirrored at https://cloud.tencent.com/document/product/679/131708); the account pages' tables ("导入多个账号",
# https://www.tencentcloud.com/zh/document/product/1047/34954); 40601, a profile value (a Nick on import) over the
# 500 bytes of "资料管理" (https://cloud.tencent.com/document/product/269/1500). The texts are our own words.
_TABLE = [
    _entry(40601, gettext_noop("A profile value (such as the nickname) is longer than the 500 bytes Chat keeps."),
           ChatInvalidRequestError),
    _entry(50001, gettext_noop("The UserID has not been imported into Chat; import the account first."),
           ChatAccountNotImportedError),
    _entry(50002, gettext_noop("Chat refused a request parameter."), ChatInvalidRequestError),
    _entry(50003, gettext_noop("The call needs the app administrator account."), ChatAuthError),
    _entry(50004, gettext_noop("Chat had an internal error; trying again usually works."), ChatRetryableError),
    _entry(50005, gettext_noop("Chat timed out inside its network; trying again usually works."), ChatRetryableError),
    _entry(51006, Message(gettext_noop("Too many conversations in one request (at most %(max)d), or none where "
                                       "some are needed."), max=protocol.CONVERSATIONS_PER_REQUEST_MAX),
           ChatLimitError),
    _entry(51007, gettext_noop("Chat could not use this group conversation: the group may be disbanded."),
           ChatInvalidRequestError),
    _entry(51008, Message(gettext_noop("The user already has the most grouped conversations Chat allows "
                                       "(%(max)d)."), max=protocol.GROUPED_CONVERSATIONS_PER_USER_MAX),
           ChatLimitError),
    _entry(51009, gettext_noop("No conversation group of that name exists for this user in Chat."),
           ChatGroupNotFoundError),
    _entry(51010, Message(gettext_noop("The user already has the most conversation groups Chat allows (%(max)d)."),
                          max=protocol.GROUPS_PER_USER_MAX), ChatLimitError),
    _entry(51011, Message(gettext_noop("The group name is longer than %(max)d bytes."),
                          max=protocol.GROUP_NAME_MAX_BYTES), ChatLimitError),
    _entry(51013, gettext_noop("This Chat edition does not include conversation groups (Pro, Pro Plus or Enterprise "
                  "needed)."), ChatInvalidRequestError),
    _entry(60002, gettext_noop("Chat could not parse the request URL."), ChatInvalidRequestError),
    _entry(60003, gettext_noop("The request body is not valid JSON."), ChatInvalidRequestError),
    _entry(60004, gettext_noop("Chat refused the account or signature in the request."), ChatAuthError),
    _entry(60005, gettext_noop("Chat refused the account or signature in the request body."), ChatAuthError),
    _entry(60006, gettext_noop("The SDKAppID is not valid."), ChatAuthError),
    _entry(60007, gettext_noop("The call rate limit of this REST API was exceeded."), ChatThrottledError),
    _entry(60008, gettext_noop("Chat timed out serving the request; trying again usually works."), ChatRetryableError),
    _entry(60009, gettext_noop("The request addressed an unknown Chat resource."), ChatInvalidRequestError),
    _entry(60010, gettext_noop("The request must be made as the app administrator."), ChatAuthError),
    _entry(60011, gettext_noop("The SDKAppID's call rate limit was exceeded."), ChatThrottledError),
    _entry(60012, gettext_noop("The request URL has no SDKAppID."), ChatInvalidRequestError),
    _entry(60013, gettext_noop("Chat could not parse the JSON of its own answer."), ChatRetryableError),
    _entry(60014, gettext_noop("Chat timed out swapping the account."), ChatRetryableError),
    _entry(60015, gettext_noop("An account in the request is not a string."), ChatInvalidRequestError),
    _entry(60016, gettext_noop("The SDKAppID is disabled."), ChatAuthError),
    _entry(60017, gettext_noop("The request is disabled for this app."), ChatAuthError),
    _entry(60018, gettext_noop("Requests are too frequent; try again later."), ChatThrottledError),
    _entry(60019, gettext_noop("Requests are too frequent; try again later."), ChatThrottledError),
    _entry(60020, gettext_noop("The app's Pro package has expired."), ChatAuthError),
    _entry(60021, gettext_noop("The caller's IP address is not allowed."), ChatAuthError),
    _entry(70001, gettext_noop("The administrator UserSig has expired; a new one is needed."), ChatAuthError),
    _entry(70003, gettext_noop("The administrator UserSig could not be read (it may be cut short or damaged)."),
           ChatAuthError),
    _entry(70009, gettext_noop("The administrator UserSig was signed with another key: check the secret key of "
                               "this SDKAppID."),
           ChatAuthError),
    _entry(70013, gettext_noop("The administrator UserSig was made for another UserID than the one in the request."),
           ChatAuthError),
    _entry(70014, gettext_noop("The administrator UserSig was made for another SDKAppID than the one in the request."),
           ChatAuthError),
    _entry(70016, gettext_noop("Chat has no key for this SDKAppID here: check that the SDKAppID belongs to this "
                               "region."),
           ChatAuthError),
    _entry(70020, gettext_noop("Chat does not know this SDKAppID here: check that the SDKAppID belongs to this "
                               "region."),
           ChatAuthError),
    _entry(70050, gettext_noop("Too many UserSig failures: fix the UserSig, then wait a minute before trying again."),
           ChatAuthError),
    _entry(70051, gettext_noop("The account is on Chat's blacklist; it must be removed from it first."), ChatAuthError),
    _entry(70107, gettext_noop("The UserID has not been imported into Chat; import the account first."),
           ChatAccountNotImportedError),
    _entry(70169, gettext_noop("Chat timed out inside its network; trying again later usually works."),
           ChatRetryableError),
    _entry(70202, gettext_noop("Chat timed out inside its network; trying again later usually works."),
           ChatRetryableError),
    _entry(70402, gettext_noop("A required account field is missing or does not have the form Chat expects."),
           ChatInvalidRequestError),
    _entry(70403, gettext_noop("The call needs the app administrator account."), ChatAuthError),
    _entry(70500, gettext_noop("Chat had an internal error; trying again later usually works."), ChatRetryableError),
]

TABLE: dict[int, ErrorCode] = {entry.code: entry for entry in _TABLE}

# Codes the sandbox answers with; named here so both sides use the same numbers.
ACCOUNT_NOT_IMPORTED = 50001
INVALID_PARAMETER = 50002
INTERNAL_ERROR = 50004
NETWORK_TIMEOUT = 50005
TOO_MANY_IN_REQUEST = 51006
GROUP_CONVERSATION_FAILED = 51007
TOO_MANY_GROUPED = 51008
GROUP_NOT_FOUND = 51009
TOO_MANY_GROUPS = 51010
GROUP_NAME_TOO_LONG = 51011
BAD_URL = 60002
BAD_JSON_BODY = 60003
SDKAPPID_INVALID = 60006
RATE_LIMITED = 60007
SERVICE_TIMEOUT = 60008
UNKNOWN_RESOURCE = 60009
ADMIN_REQUIRED = 60010
SDKAPPID_MISSING = 60012
USERSIG_EXPIRED = 70001
USERSIG_INVALID = 70003
USERSIG_OTHER_KEY = 70009
USERSIG_OTHER_IDENTIFIER = 70013
USERSIG_OTHER_SDKAPPID = 70014
ACCOUNT_INVALID_PARAMETER = 70402
PROFILE_VALUE_TOO_LONG = 40601

# Chat documents no code for creating a group under a name the user already has, or
# renaming onto one; the sandbox answers INVALID_PARAMETER (50002) with an ErrorInfo
# that says the name is taken. Read ErrorInfo to tell it from other 50002 refusals.
GROUP_NAME_TAKEN = INVALID_PARAMETER

THROTTLING_CODES = frozenset(code for code, entry in TABLE.items() if entry.exception is ChatThrottledError)


def describe(code: int | None) -> str:
    """What ``code`` means, in words a support person reads."""
    if code is None:
        return gettext_noop("No answer from Chat.")
    if code == OK:
        return gettext_noop("Accepted by Chat.")
    if code == CODE_UNREADABLE:
        return gettext_noop("Chat answered with a code this admin cannot read, a number past any code it keeps; "
                            "its answer is kept with the Chat calls.")
    entry = TABLE.get(code)
    if entry is None:
        return Message(gettext_noop("Chat error %(code)s, not documented; see the text Chat sent with it."), code=code)
    return entry.text


def is_documented(code: int | None) -> bool:
    """Whether the table says what ``code`` means (no code and 0 count: their meaning is known)."""
    return code is None or code == OK or code in TABLE


def is_account_not_imported(code: int | None) -> bool:
    """Whether ``code`` says a UserID in the request was never imported into Chat (50001, 70107)."""
    entry = TABLE.get(code) if code is not None else None
    return bool(entry and entry.exception is ChatAccountNotImportedError)


def exception_for(code: int) -> type[ChatError]:
    entry = TABLE.get(code)
    return entry.exception if entry else ChatError


def is_retryable(code: int | None) -> bool:
    entry = TABLE.get(code) if code is not None else None
    return bool(entry and entry.retryable)


def error_from_code(code: int, **details) -> ChatError:
    """The exception for a non-zero ``code``, carrying ``details`` (see ChatError)."""
    return exception_for(code)(code=code, **details)
