"""What one sync did, as data: kept on the group and in its history, made into words by contactgroups.words.

An outcome is a JSON-ready dict whose ``code`` names what happened (``created``, ``synced``, ``deleted``,
``deleted_in_app``, ``stopped``, ``gave_up``, ``not_queued``, ...), with the facts as parameters: GroupId, names,
counts, each refused conversation with Chat's ResultCode and ResultInfo, what was adopted from the app, the
conflicts, the error. Never a finished sentence.
"""

from dataclasses import dataclass, field

from contactgroups.chat import errors
from contactgroups.chat.types import Conversation, ItemResult
from contactgroups.sync.lease import SyncBusy
from contactgroups.sync.plan import Conflict, Plan

CREATED = "created"
SYNCED = "synced"
DELETED = "deleted"
DELETED_IN_APP = "deleted_in_app"
STOPPED = "stopped"
GAVE_UP = "gave_up"
NOT_QUEUED = "not_queued"
ALREADY_DELETED = "already_deleted"


def conversation_data(conversation: Conversation) -> list:
    return [conversation.type, conversation.target]


def error_data(exc: BaseException) -> dict:
    """The facts of a failure: its kind, Chat's ErrorCode and ErrorInfo, the HTTP status; the deadline a call went
    past (``seconds``), the size an answer went past (``limit``)."""
    if isinstance(exc, errors.ChatConnectError):
        kind = "connect"
    elif isinstance(exc, errors.ChatTooSlowError):
        kind = "too_slow"
    elif isinstance(exc, errors.ChatAnswerTooLargeError):
        kind = "too_large"
    elif isinstance(exc, errors.ChatTransportError):
        kind = "transport"
    elif isinstance(exc, errors.ChatThrottledError):
        kind = "throttled"
    elif isinstance(exc, errors.ChatAnswerError):
        kind = "answer"
    elif isinstance(exc, errors.ChatError):
        kind = "chat"
    elif isinstance(exc, SyncBusy):
        kind = "busy"
    else:
        kind = "internal"
    data = {"kind": kind, "code": getattr(exc, "code", None), "info": getattr(exc, "info", "") or "",
            "http_status": getattr(exc, "http_status", None)}
    if kind == "internal":
        data["type"] = type(exc).__name__
    elif kind == "too_slow":
        data["seconds"] = exc.seconds
    elif kind == "too_large":
        data["limit"] = exc.limit
    return data


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

    def as_data(self, error: BaseException | None = None, retrying: bool = False) -> dict:
        if error is not None:
            code = STOPPED
        elif self.deleted_in_app:
            code = DELETED_IN_APP
        elif self.deleted:
            code = DELETED
        else:
            code = CREATED if self.created else SYNCED
        data = {"code": code, "owner": self.owner, "group_id": self.group_id}
        if self.renamed_from:
            data.update(renamed_from=self.renamed_from, name=self.confirmed_name)
        if self.added:
            data["added"] = len(self.added)
        if self.removed:
            data["removed"] = len(self.removed)
        if self.refused:
            data["refused"] = [[c.type, c.target, code_, info] for c, code_, info in self.refused]
        adopted = {}
        if self.adopted_name:
            adopted["name"] = self.adopted_name
        if self.adopted_added:
            adopted["added"] = [conversation_data(c) for c in sorted(self.adopted_added)]
        if self.adopted_removed:
            adopted["removed"] = [conversation_data(c) for c in sorted(self.adopted_removed)]
        if adopted:
            data["adopted"] = adopted
        if self.conflicts:
            data["conflicts"] = [conflict.as_data() for conflict in self.conflicts]
        if self.interrupted:
            data["interrupted"] = True
        if error is not None:
            data["error"] = error_data(error)
            data["retrying"] = retrying
            data["partial"] = self.did_anything
            data["created"] = self.created
        return data
