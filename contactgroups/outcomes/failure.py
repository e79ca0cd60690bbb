"""Why something stopped, as data: a failure's kind and Chat's facts (``sync.outcome.error_data`` makes one)."""

from dataclasses import dataclass
from enum import StrEnum

from contactgroups.outcomes._json import member


class ErrorKind(StrEnum):
    CONNECT = "connect"  # no connection to Chat: nothing was sent
    TOO_SLOW = "too_slow"  # the call went past its deadline (``seconds``)
    TOO_LARGE = "too_large"  # the answer went past the size read (``limit``)
    TRANSPORT = "transport"  # Chat's server failed (``http_status``) or did not answer
    THROTTLED = "throttled"  # Chat asked for fewer calls a second
    ANSWER = "answer"  # an answer this admin cannot read
    CHAT = "chat"  # Chat's ErrorCode and ErrorInfo
    BUSY = "busy"  # another sync of the group held its lease
    QUEUE = "queue"  # the task queue could not be reached
    INTERNAL = "internal"  # a bug: the exception's ``type``


@dataclass(frozen=True)
class Failure:
    kind: ErrorKind
    code: int | None = None
    info: str = ""
    http_status: int | None = None
    type: str = ""
    seconds: float | None = None
    limit: int | None = None

    @classmethod
    def from_json(cls, data: dict | None) -> "Failure":
        """A stored failure; one written before the kind was kept (an account import's) is Chat's error."""
        data = data or {}
        return cls(kind=member(ErrorKind, data.get("kind")) or ErrorKind.CHAT, code=data.get("code"),
                   info=data.get("info") or "", http_status=data.get("http_status"), type=data.get("type", ""),
                   seconds=data.get("seconds"), limit=data.get("limit"))

    def to_json(self) -> dict:
        if self.kind == ErrorKind.QUEUE:
            return {"kind": str(self.kind), "type": self.type}
        data = {"kind": str(self.kind), "code": self.code, "info": self.info, "http_status": self.http_status}
        if self.kind == ErrorKind.INTERNAL:
            data["type"] = self.type
        elif self.kind == ErrorKind.TOO_SLOW:
            data["seconds"] = self.seconds
        elif self.kind == ErrorKind.TOO_LARGE:
            data["limit"] = self.limit
        return data
