"""What a reading of Chat found the user changed in the app (``ContactGroup.drift``, made by ``sync.drift``), and
the history's ``drift`` entries: a difference found or cleared, or the staff's version kept over it."""

from dataclasses import dataclass
from enum import StrEnum

from contactgroups.outcomes._json import as_lists, conversations, member, present

Pair = tuple[int, str]


class DriftCode(StrEnum):
    FOUND = "drift_found"  # a reading found the app changed the group (the facts, where it was read)
    CLEARED = "drift_cleared"  # a reading found no more difference
    KEPT = "drift_kept"  # staff kept their version over the app's change (the facts they overrode)


class ReadBy(StrEnum):
    SWEEP = "sweep"  # the regular reading of every owner
    PAGE = "page"  # the group page, as it opened


@dataclass(frozen=True)
class NameTaken:
    """The staff's version would be sent under a name another of the owner's groups has in Chat."""

    name: str
    group_id: int | None
    create: bool = False


@dataclass(frozen=True)
class DriftFacts:
    deleted: bool = False
    # The GroupId of the group the user made in the app under its name after deleting it.
    remade: int | None = None
    renamed_from: str = ""
    renamed_to: str = ""
    added: tuple[Pair, ...] = ()
    removed: tuple[Pair, ...] = ()
    name_taken: NameTaken | None = None
    # drift_kept: the new name staff kept their version under.
    kept_as: str = ""

    @classmethod
    def from_json(cls, data: dict | None) -> "DriftFacts":
        data = data or {}
        taken = data.get("name_taken")
        return cls(deleted=bool(data.get("deleted")), remade=data.get("remade"),
                   renamed_from=data.get("renamed_from", ""), renamed_to=data.get("renamed_to", ""),
                   added=conversations(data.get("added")), removed=conversations(data.get("removed")),
                   name_taken=NameTaken(taken.get("name", ""), taken.get("group_id"), bool(taken.get("create")))
                   if taken else None, kept_as=data.get("kept_as", ""))

    def to_json(self) -> dict:
        data = present(deleted=self.deleted, remade=self.remade, kept_as=self.kept_as, added=as_lists(self.added),
                       removed=as_lists(self.removed))
        if self.renamed_to:
            data.update(renamed_from=self.renamed_from, renamed_to=self.renamed_to)
        if self.name_taken:
            data["name_taken"] = {"name": self.name_taken.name, "group_id": self.name_taken.group_id,
                                  "create": self.name_taken.create}
        return data


@dataclass(frozen=True)
class DriftEntry:
    code: DriftCode
    read_by: ReadBy | None = None
    owner: str = ""
    facts: DriftFacts = DriftFacts()

    @classmethod
    def from_json(cls, data: dict) -> "DriftEntry | None":
        code = member(DriftCode, data.get("code"))
        if code is None:
            return None
        return cls(code, member(ReadBy, data.get("read_by")), data.get("owner", ""), DriftFacts.from_json(data))

    def to_json(self) -> dict:
        data: dict = {"code": str(self.code)}
        if self.read_by is not None:
            data["read_by"] = str(self.read_by)
        if self.code != DriftCode.CLEARED:
            data.update(owner=self.owner, **self.facts.to_json())
        return data
