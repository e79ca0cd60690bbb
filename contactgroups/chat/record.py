"""One HTTP attempt to Chat as the client reports it (CallRecord), and the items an answer refused.

The transport gives a CallRecord to ``on_call`` after every attempt; the audit stores it. Never holds the UserSig.
"""

from dataclasses import dataclass
from datetime import datetime

from contactgroups.chat import errors
from contactgroups.chat.fields import chat_code


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
