"""What one sync or pull did to a group, as data: ``GroupSync.last_outcome`` and the history's ``sync`` and
``pull`` parts. A sync's outcome is written by ``sync.outcome.Progress`` and ``sync.execute``; a pull's by
``sync.pull``; ``group_outcome`` reads either."""

from dataclasses import dataclass, field
from enum import StrEnum

from contactgroups.outcomes._json import as_lists, conversations, member, present
from contactgroups.outcomes.failure import Failure

Pair = tuple[int, str]


class SyncCode(StrEnum):
    CREATED = "created"
    SYNCED = "synced"
    DELETED = "deleted"
    DELETED_IN_APP = "deleted_in_app"  # the user had deleted it in the app: the mirror shows it deleted
    STOPPED = "stopped"  # a failure stopped it (``error``), perhaps after part of it was done
    GAVE_UP = "gave_up"  # the last retry failed
    NOT_QUEUED = "not_queued"  # the broker could not take the task: nothing was sent
    ALREADY_DELETED = "already_deleted"
    LEGACY = "legacy"  # a row written before outcomes were data: its old ``text``


class PullCode(StrEnum):
    ADOPTED = "adopted"  # a group the user created in the app
    PULLED = "pulled"  # a group whose name, conversations or GroupId Chat changed
    GONE = "gone_from_chat"  # a group Chat no longer has
    HELD_BACK = "held_back"  # a group of Chat the pull left alone (``reason``)


class ConflictCode(StrEnum):
    """Where the user changed in the app what staff changed here (``sync.plan.Conflict`` says each one's facts)."""

    DELETED_IN_APP = "deleted_in_app"
    RENAMED_IN_APP = "renamed_in_app"
    RENAMED_BEFORE_DELETE = "renamed_before_delete"
    ALREADY_GONE = "already_gone"
    NAME_NOT_SENDABLE = "name_not_sendable"
    REMADE_IN_APP = "remade_in_app"
    NAME_UNSTORABLE = "name_unstorable"
    NAME_TAKEN = "name_taken"


class HeldBackReason(StrEnum):
    NAME_TAKEN = "name_taken"  # a group the pull cannot change (busy, or not yet sent) has the name
    NAME_UNSTORABLE = "name_unstorable"  # the database cannot store the name as Chat gave it


class NotStoredReason(StrEnum):
    TOO_LONG = "too_long"  # ``bytes`` past the column's ``max``
    UNSTORABLE = "unstorable"  # characters the database cannot store


@dataclass(frozen=True)
class ConflictFacts:
    """A stored conflict; ``code`` is ``None`` for one stored as text before conflicts were data (``text``)."""

    code: ConflictCode | None
    app_name: str = ""
    staff_name: str = ""
    name: str = ""
    group_id: int | None = None
    staff_changed: bool | None = None
    create: bool | None = None
    new: bool | None = None
    text: str = ""

    @classmethod
    def from_json(cls, data: dict) -> "ConflictFacts":
        return cls(code=member(ConflictCode, data.get("code")), app_name=data.get("app_name", ""),
                   staff_name=data.get("staff_name", ""), name=data.get("name", ""), group_id=data.get("group_id"),
                   staff_changed=data.get("staff_changed"), create=data.get("create"), new=data.get("new"),
                   text=data.get("text", ""))

    def to_json(self) -> dict:
        flags = {key: value for key, value in
                 (("staff_changed", self.staff_changed), ("create", self.create), ("new", self.new))
                 if value is not None}
        return {**present(code=self.code and str(self.code), app_name=self.app_name, staff_name=self.staff_name,
                          name=self.name, group_id=self.group_id, text=self.text), **flags}


@dataclass(frozen=True)
class Refusal:
    """A conversation Chat refused, with its ResultCode and ResultInfo."""

    type: int
    target: str
    code: int
    info: str = ""


@dataclass(frozen=True)
class Adopted:
    """What the user changed in the app that the sync took into the mirror."""

    name: str = ""
    added: tuple[Pair, ...] = ()
    removed: tuple[Pair, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.name or self.added or self.removed)


# The codes whose outcome names the group and what was done to it.
DONE_CODES = (SyncCode.CREATED, SyncCode.SYNCED, SyncCode.DELETED, SyncCode.DELETED_IN_APP, SyncCode.STOPPED)


@dataclass(frozen=True)
class SyncOutcome:
    code: SyncCode
    owner: str = ""
    group_id: int | None = None
    name: str = ""
    renamed_from: str = ""
    added: int = 0
    removed: int = 0
    refused: tuple[Refusal, ...] = ()
    adopted: Adopted = Adopted()
    conflicts: tuple[ConflictFacts, ...] = ()
    interrupted: bool = False
    # stopped, gave_up, not_queued: why.
    error: Failure | None = None
    # stopped: whether it will be tried again, whether anything was done first, whether that was a create.
    retrying: bool = False
    partial: bool = False
    created: bool = False
    # gave_up: how many attempts were made.
    attempts: int = 0
    # legacy: the stored sentence.
    text: str = ""

    @classmethod
    def from_json(cls, data: dict) -> "SyncOutcome | None":
        code = member(SyncCode, data.get("code"))
        if code is None:
            return None
        adopted = data.get("adopted") or {}
        error = data.get("error")
        return cls(
            code=code, owner=data.get("owner", ""), group_id=data.get("group_id"), name=data.get("name", ""),
            renamed_from=data.get("renamed_from", ""), added=data.get("added", 0), removed=data.get("removed", 0),
            refused=tuple(Refusal(*entry) for entry in data.get("refused", ())),
            adopted=Adopted(adopted.get("name", ""), conversations(adopted.get("added")),
                            conversations(adopted.get("removed"))),
            conflicts=tuple(ConflictFacts.from_json(c) for c in data.get("conflicts", ())),
            interrupted=bool(data.get("interrupted")), error=None if error is None else Failure.from_json(error),
            retrying=bool(data.get("retrying")), partial=bool(data.get("partial")),
            created=bool(data.get("created")), attempts=data.get("attempts", 0), text=data.get("text", ""))

    def to_json(self) -> dict:
        data: dict = {"code": str(self.code)}
        if self.code == SyncCode.LEGACY:
            data["text"] = self.text
        elif self.code == SyncCode.GAVE_UP:
            data["attempts"] = self.attempts
        if self.code in DONE_CODES:
            data.update(owner=self.owner, group_id=self.group_id)
            if self.renamed_from:
                data.update(renamed_from=self.renamed_from, name=self.name)
            data.update(present(added=self.added or None, removed=self.removed or None))
            if self.refused:
                data["refused"] = [[r.type, r.target, r.code, r.info] for r in self.refused]
            if self.adopted:
                data["adopted"] = present(name=self.adopted.name, added=as_lists(self.adopted.added),
                                          removed=as_lists(self.adopted.removed))
            if self.conflicts:
                data["conflicts"] = [conflict.to_json() for conflict in self.conflicts]
            if self.interrupted:
                data["interrupted"] = True
        if self.error is not None:
            data["error"] = self.error.to_json()
        if self.code == SyncCode.STOPPED:
            data.update(retrying=self.retrying, partial=self.partial, created=self.created)
        return data

    def conflict(self, code: ConflictCode) -> ConflictFacts | None:
        return next((conflict for conflict in self.conflicts if conflict.code == code), None)


@dataclass(frozen=True)
class NotStored:
    """A conversation Chat holds that no row can store as Chat gave it (escaped), and why."""

    conversation: Pair
    reason: NotStoredReason | None
    bytes: int | None = None
    max: int | None = None

    @classmethod
    def from_json(cls, data: dict) -> "NotStored":
        kind, target = data["conversation"]
        return cls((kind, target), member(NotStoredReason, data.get("reason")), data.get("bytes"), data.get("max"))

    def to_json(self) -> dict:
        return {"conversation": list(self.conversation),
                **present(reason=self.reason and str(self.reason), bytes=self.bytes, max=self.max)}


@dataclass(frozen=True)
class PullOutcome:
    code: PullCode
    owner: str = ""
    name: str = ""
    # adopted and held_back: the group's GroupId; pulled: its new GroupId, when Chat changed it.
    group_id: int | None = None
    # adopted: how many conversations the mirror holds.
    conversations: int | None = None
    renamed_from: str = ""
    added: tuple[Pair, ...] = ()
    removed: tuple[Pair, ...] = ()
    not_stored: tuple[NotStored, ...] = field(default=())
    reason: HeldBackReason | None = None

    @classmethod
    def from_json(cls, data: dict) -> "PullOutcome | None":
        code = member(PullCode, data.get("code"))
        if code is None:
            return None
        return cls(code=code, owner=data.get("owner", ""), name=data.get("name", ""), group_id=data.get("group_id"),
                   conversations=data.get("conversations"), renamed_from=data.get("renamed_from", ""),
                   added=conversations(data.get("added")), removed=conversations(data.get("removed")),
                   not_stored=tuple(NotStored.from_json(entry) for entry in data.get("not_stored", ())),
                   reason=member(HeldBackReason, data.get("reason")))

    def to_json(self) -> dict:
        return {"code": str(self.code), **present(
            owner=self.owner, name=self.name, group_id=self.group_id, conversations=self.conversations,
            renamed_from=self.renamed_from, added=as_lists(self.added), removed=as_lists(self.removed),
            not_stored=[entry.to_json() for entry in self.not_stored], reason=self.reason and str(self.reason))}

    @property
    def differs(self) -> bool:
        """A pulled group's outcome names something Chat changed (not only the group's name)."""
        return bool(self.renamed_from or self.added or self.removed or self.group_id is not None or self.not_stored)


def group_outcome(data: dict | None) -> SyncOutcome | PullOutcome | None:
    """A group's stored outcome (its last sync or pull); ``None`` when there is none or its code is unknown."""
    if not data:
        return None
    return SyncOutcome.from_json(data) if member(SyncCode, data.get("code")) else PullOutcome.from_json(data)
