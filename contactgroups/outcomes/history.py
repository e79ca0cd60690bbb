"""The project's parts of an admin history entry (``LogEntry.change_message``, a JSON list beside Django's own
``added``/``changed`` parts): each part one key, ``HistoryKind``, over its data. A staff action's ``edit`` part and
an import's ``import`` part are typed here; the others are the outcomes of their own modules."""

from dataclasses import dataclass
from enum import StrEnum

from contactgroups.outcomes._json import as_lists, conversations, member, present

Pair = tuple[int, str]


class HistoryKind(StrEnum):
    SYNC = "sync"  # a SyncOutcome
    PULL = "pull"  # a PullOutcome
    ACCOUNT = "account"  # an AccountOutcome
    IMPORT = "import"  # an ImportEntry
    DRIFT = "drift"  # a DriftEntry
    EDIT = "edit"  # an EditEntry


class EditAction(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    DELETED = "deleted"
    SYNC = "sync"  # staff asked for the group to be synced
    RESTORED = "restored"  # staff restored a version Chat confirmed (``confirmed_at``; ``revived`` a deleted group)


@dataclass(frozen=True)
class EditEntry:
    """A staff action on a group: its name then, the rename, the conversations added and removed."""

    action: EditAction
    name: str = ""
    renamed_from: str = ""
    added: tuple[Pair, ...] = ()
    removed: tuple[Pair, ...] = ()
    # restored: the version (its pk), when Chat confirmed it, how many conversations it holds, whether the group
    # was deleted.
    version: int | None = None
    confirmed_at: str = ""
    conversations: int | None = None
    revived: bool = False

    @classmethod
    def from_json(cls, data: dict) -> "EditEntry":
        """An entry of an action this admin no longer writes reads as a change."""
        return cls(action=member(EditAction, data.get("action")) or EditAction.CHANGED, name=data.get("name", ""),
                   renamed_from=data.get("renamed_from", ""), added=conversations(data.get("added")),
                   removed=conversations(data.get("removed")), version=data.get("version"),
                   confirmed_at=data.get("confirmed_at", ""), conversations=data.get("conversations"),
                   revived=bool(data.get("revived")))

    def to_json(self) -> dict:
        return {"action": str(self.action), **present(
            version=self.version, confirmed_at=self.confirmed_at, name=self.name, conversations=self.conversations,
            revived=self.revived, renamed_from=self.renamed_from, added=as_lists(self.added),
            removed=as_lists(self.removed))}


@dataclass(frozen=True)
class ImportEntry:
    """A group or user added by an import: the file, and for a group the rows and how many conversations."""

    source: str
    rows: tuple[int, ...] = ()
    conversations: int = 0

    @classmethod
    def from_json(cls, data: dict) -> "ImportEntry":
        return cls(data.get("source", ""), tuple(data.get("rows", ())), data.get("conversations", 0))

    def to_json(self) -> dict:
        if not self.rows:
            return {"source": self.source}
        return {"source": self.source, "rows": list(self.rows), "conversations": self.conversations}
