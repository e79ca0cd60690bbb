"""Reading the fields of Chat's JSON: whole numbers, codes, times, GroupIds and conversation targets.

Each reader takes what Chat sent, whatever its type, and gives what the mirror can keep: a default or None for a
number that is missing or not one, ``errors.CODE_UNREADABLE`` for a code past what a column holds, a ValueError for
a GroupId or a target no row should hold.
"""

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


def item_code(value) -> int:
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
