"""What one sync did, as data: kept on the group and in its history, made into words by contactgroups.words.

An outcome is a ``outcomes.SyncOutcome`` whose ``code`` names what happened (``created``, ``synced``, ``deleted``,
``deleted_in_app``, ``stopped``, ``gave_up``, ``not_queued``, ...), with the facts as parameters: GroupId, names,
counts, each refused conversation with Chat's ResultCode and ResultInfo, what was adopted from the app, the
conflicts, the error. Stored as its JSON (``to_json``); never a finished sentence.
"""

from dataclasses import dataclass, field

from contactgroups.chat import errors
from contactgroups.chat.types import Conversation, ItemResult
from contactgroups.outcomes import Adopted, ConflictFacts, ErrorKind, Failure, Refusal, SyncCode, SyncOutcome
from contactgroups.sync.lease import SyncBusy
from contactgroups.sync.plan import Conflict, Plan

CREATED = SyncCode.CREATED
SYNCED = SyncCode.SYNCED
DELETED = SyncCode.DELETED
DELETED_IN_APP = SyncCode.DELETED_IN_APP
STOPPED = SyncCode.STOPPED
GAVE_UP = SyncCode.GAVE_UP
NOT_QUEUED = SyncCode.NOT_QUEUED
ALREADY_DELETED = SyncCode.ALREADY_DELETED


def conversation_data(conversation: Conversation) -> list:
    return [conversation.type, conversation.target]


def failure(exc: BaseException) -> Failure:
    """The facts of a failure: its kind, Chat's ErrorCode and ErrorInfo, the HTTP status; the deadline a call went
    past (``seconds``), the size an answer went past (``limit``)."""
    if isinstance(exc, errors.ChatConnectError):
        kind = ErrorKind.CONNECT
    elif isinstance(exc, errors.ChatTooSlowError):
        kind = ErrorKind.TOO_SLOW
    elif isinstance(exc, errors.ChatAnswerTooLargeError):
        kind = ErrorKind.TOO_LARGE
    elif isinstance(exc, errors.ChatTransportError):
        kind = ErrorKind.TRANSPORT
    elif isinstance(exc, errors.ChatThrottledError):
        kind = ErrorKind.THROTTLED
    elif isinstance(exc, errors.ChatAnswerError):
        kind = ErrorKind.ANSWER
    elif isinstance(exc, errors.ChatError):
        kind = ErrorKind.CHAT
    elif isinstance(exc, SyncBusy):
        kind = ErrorKind.BUSY
    else:
        kind = ErrorKind.INTERNAL
    return Failure(kind=kind, code=getattr(exc, "code", None), info=getattr(exc, "info", "") or "",
                   http_status=getattr(exc, "http_status", None), type=type(exc).__name__,
                   seconds=getattr(exc, "seconds", None), limit=getattr(exc, "limit", None))


def error_data(exc: BaseException) -> dict:
    """``failure(exc)`` as it is stored."""
    return failure(exc).to_json()


def reported_failure(exc: BaseException) -> dict:
    """``error_data(exc)`` for a command's report (not stored): for a failure that is not Chat's (a bug), also the
    exception's own text under ``detail``, which the command prints."""
    data = error_data(exc)
    if data["kind"] == "internal":
        data["detail"] = f"{type(exc).__name__}: {exc}"
    return data


def queue_failure(exc: BaseException) -> Failure:
    """The broker could not take a task."""
    return Failure(kind=ErrorKind.QUEUE, type=type(exc).__name__)


@dataclass
class Progress:
    """What Chat has confirmed so far in this sync; saved even when a later call fails."""

    owner: str
    base: set[Conversation]
    confirmed_name: str
    group_id: int | None
    interrupted: bool = False
    results: dict[Conversation, tuple[int, str]] = field(default_factory=dict)
    create_sent: bool = False
    # Chat refused the create because another group has the name: it made nothing.
    create_refused: bool = False
    created: bool = False
    deleted: bool = False
    deleted_in_app: bool = False
    renamed_from: str = ""
    adopted_name: str = ""
    adopted_added: set[Conversation] = field(default_factory=set)
    adopted_removed: set[Conversation] = field(default_factory=set)
    added: list[Conversation] = field(default_factory=list)
    removed: list[Conversation] = field(default_factory=list)
    refused: list[tuple[Conversation, int, str]] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)

    def start(self, plan: Plan) -> None:
        """Take what the plan read from Chat before anything is sent."""
        if plan.group_id is not None:
            self.group_id = plan.group_id
        if plan.create is None and not plan.deleted:
            self.base = set(plan.base.conversations)
            self.confirmed_name = plan.base.name
        for conversation in plan.accepted:
            self.results[conversation] = (errors.OK, "")
        self.adopted_name = plan.adopt_name or ""
        if plan.adopt_name:
            self.confirmed_name = plan.adopt_name
        self.adopted_added = set(plan.adopt_added)
        self.adopted_removed = set(plan.adopt_removed)
        self.deleted_in_app = plan.deleted_in_app
        self.conflicts = list(plan.conflicts)

    def take(self, result: ItemResult, adding: bool) -> None:
        conversation = result.conversation
        if adding:
            self.results[conversation] = (result.result_code, result.result_info)
            if result.ok:
                self.base.add(conversation)
                self.added.append(conversation)
        elif result.ok:
            self.base.discard(conversation)
            self.removed.append(conversation)
        if not result.ok:
            self.refused.append((conversation, result.result_code, result.result_info))

    @property
    def did_anything(self) -> bool:
        return bool(self.created or self.added or self.removed or self.renamed_from or self.refused)

    def as_outcome(self, error: BaseException | None = None, retrying: bool = False) -> SyncOutcome:
        if error is not None:
            code = SyncCode.STOPPED
        elif self.deleted_in_app:
            code = SyncCode.DELETED_IN_APP
        elif self.deleted:
            code = SyncCode.DELETED
        else:
            code = SyncCode.CREATED if self.created else SyncCode.SYNCED
        return SyncOutcome(
            code=code, owner=self.owner, group_id=self.group_id,
            renamed_from=self.renamed_from, name=self.confirmed_name if self.renamed_from else "",
            added=len(self.added), removed=len(self.removed),
            refused=tuple(Refusal(c.type, c.target, code_, info) for c, code_, info in self.refused),
            adopted=Adopted(self.adopted_name, tuple((c.type, c.target) for c in sorted(self.adopted_added)),
                            tuple((c.type, c.target) for c in sorted(self.adopted_removed))),
            conflicts=tuple(ConflictFacts.from_json(conflict.as_data()) for conflict in self.conflicts),
            interrupted=self.interrupted, error=None if error is None else failure(error), retrying=retrying,
            partial=self.did_anything, created=self.created)

    def as_data(self, error: BaseException | None = None, retrying: bool = False) -> dict:
        """The outcome as it is stored."""
        return self.as_outcome(error, retrying).to_json()
