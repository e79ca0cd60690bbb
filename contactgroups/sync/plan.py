"""The sync planner: from base, desired and remote, what to send to Chat and what to adopt. Pure: no I/O, no clock.

Three states meet (docs/architecture.md, "Sync"):

- ``Base``: what Chat last confirmed (the confirmed name and the conversations Chat accepted);
- ``Desired``: the mirror after the staff's save;
- ``Remote``: the group as Chat holds it now, ``MISSING`` when Chat has no such group, or ``NOT_READ`` when the
  group was certainly never sent (so reading Chat would tell nothing).

``plan()`` sends only the staff's change (desired minus base) that Chat does not already hold, and adopts what
the end user changed in their app (remote minus base). Where both changed the same thing, the staff's change wins
and the plan carries the conflict. Applying a plan and planning again finds nothing to do.
"""

from dataclasses import dataclass, field

from contactgroups.chat import protocol
from contactgroups.chat.types import ContactGroups, Conversation, GroupInfo
from contactgroups.outcomes import ConflictCode


@dataclass(frozen=True)
class Base:
    name: str = ""
    conversations: frozenset[Conversation] = frozenset()


@dataclass(frozen=True)
class Desired:
    name: str
    conversations: tuple[Conversation, ...] = ()
    delete: bool = False


@dataclass(frozen=True)
class Remote:
    group_id: int
    name: str
    conversations: frozenset[Conversation] = frozenset()
    # Found by the name a create sent, not by its GroupId: that create's answer was lost.
    from_lost_create: bool = False
    # Found by the name Chat confirmed, its GroupId gone: the user deleted the group in the app and made another
    # under its name, which is this group now (its GroupId is adopted; the sync is three-way against it as usual).
    remade_in_app: bool = False


NOT_READ = "not read"
MISSING = None

# How locate() found a group other than by its GroupId.
LOST_CREATE = "lost create"
REMADE = "remade"


@dataclass(frozen=True)
class Conflict:
    """Where the user changed in the app what staff changed here; the staff's change won. Stored as data
    (``outcomes.ConflictFacts`` reads it)."""

    code: ConflictCode
    params: dict = field(default_factory=dict, hash=False, compare=True)

    DELETED_IN_APP = ConflictCode.DELETED_IN_APP  # staff's change re-created a group the user deleted
    RENAMED_IN_APP = ConflictCode.RENAMED_IN_APP  # params: app_name, staff_name
    RENAMED_BEFORE_DELETE = ConflictCode.RENAMED_BEFORE_DELETE  # params: app_name
    ALREADY_GONE = ConflictCode.ALREADY_GONE  # staff deleted a group Chat no longer had
    # The group's name came from Chat (the app allows it) but Chat refuses it in a create or a rename: nothing
    # was sent under it; staff must rename the group here. params: name
    NAME_NOT_SENDABLE = ConflictCode.NAME_NOT_SENDABLE
    # The user deleted the group in the app and made another under its name: that one is this group now, the
    # staff's change (if any) sent to it. params: group_id (the new one), staff_changed
    REMADE_IN_APP = ConflictCode.REMADE_IN_APP
    # The user renamed the group in the app to a name no column can hold (a NUL in it): the mirror keeps its name,
    # and Chat's is shown escaped. params: app_name
    NAME_UNSTORABLE = ConflictCode.NAME_UNSTORABLE
    # Another of the owner's groups has in Chat the name the staff's version would send (made or renamed in the
    # app): Chat would refuse the create or the rename, so it is not sent; the rest of the change is. params: name,
    # group_id (the other group's), create (True: the create was held back; else the rename), new (True: a group
    # never in Chat, whose create Chat refused)
    NAME_TAKEN = ConflictCode.NAME_TAKEN

    def as_data(self) -> dict:
        return {"code": str(self.code), **self.params}


@dataclass(frozen=True)
class Create:
    name: str
    conversations: tuple[Conversation, ...]


@dataclass(frozen=True)
class Update:
    """One update_contact_group call: conversations to add and remove, at most 100 together."""

    name: str
    add: tuple[Conversation, ...] = ()
    remove: tuple[Conversation, ...] = ()


@dataclass(frozen=True)
class Plan:
    """What one sync sends, in order (create, rename, updates, delete), and what it adopts from the app."""

    group_id: int | None = None
    # The state to start recording from: Chat's copy of the group as it was read (or nothing, before a create).
    base: Base = Base()
    create: Create | None = None
    rename: tuple[str, str] | None = None
    updates: tuple[Update, ...] = ()
    delete: str | None = None
    # Desired conversations Chat already holds: accepted without being sent.
    accepted: frozenset[Conversation] = frozenset()
    adopt_name: str | None = None
    adopt_added: frozenset[Conversation] = frozenset()
    adopt_removed: frozenset[Conversation] = frozenset()
    deleted_in_app: bool = False
    deleted: bool = False
    conflicts: tuple[Conflict, ...] = ()

    @property
    def calls(self) -> int:
        """How many writes the plan sends."""
        return sum(1 for step in (self.create, self.rename, self.delete) if step is not None) + len(self.updates)


def locate(groups: list[GroupInfo], group_id: int | None, create_intent: str, name: str,
           former_name: str = "", claimed: frozenset[int] = frozenset()) -> tuple[GroupInfo | None, str]:
    """Find the mirror's group among the owner's groups in Chat; also say how, when not by its GroupId.

    By GroupId when the mirror has one. Otherwise (or when that id is gone and a create was sent since) by the
    name the last create sent (``LOST_CREATE``), then, for a group that never got a GroupId, by its name. A group
    whose GroupId is gone with no create sent since is found by ``former_name``, the name Chat confirmed
    (``REMADE``: the user deleted it in the app and made another under its name), unless that group's GroupId is
    one of ``claimed`` (another group of the mirror has it).
    """
    if group_id is not None:
        found = next((group for group in groups if group.group_id == group_id), None)
        if found is not None:
            return found, ""
        if not create_intent:
            found = next((group for group in groups if former_name and group.name == former_name
                          and group.group_id not in claimed), None)
            return found, (REMADE if found is not None else "")
        candidates = (create_intent,)
    else:
        candidates = tuple(dict.fromkeys(name for name in (create_intent, name) if name))
    for candidate in candidates:
        found = next((group for group in groups if group.name == candidate), None)
        if found is not None:
            return found, LOST_CREATE
    return None, ""


def must_read(group_id: int | None, create_intent: str, interrupted: bool) -> bool:
    """Whether Chat may hold the group: it has a GroupId, a create was sent, or a sync died before it recorded."""
    return group_id is not None or bool(create_intent) or interrupted


def remote_of(chat: ContactGroups, group_id: int | None, create_intent: str, name: str, deleting: bool,
              former_name: str = "", claimed: frozenset[int] = frozenset()):
    """The group as ``chat`` (the owner's groups, read now) holds it: a Remote, MISSING, or NOT_READ.

    NOT_READ when nothing of it was found and nothing of it can have been there: a deletion after a sync that died
    before reaching Chat has nothing to delete. ``former_name`` and ``claimed`` as in locate(); a deletion never
    takes a group made again in the app for the one the staff deleted.
    """
    found, how = locate(chat.groups, group_id, create_intent, name, "" if deleting else former_name, claimed)
    if found is not None:
        return Remote(found.group_id, found.name, frozenset(chat.members(found.group_id)), how == LOST_CREATE,
                      how == REMADE)
    if group_id is not None or create_intent or not deleting:
        return MISSING
    return NOT_READ


def taken_names(chat: ContactGroups, remote, names) -> dict[str, int]:
    """Which of ``names`` another of the owner's groups has in ``chat`` (read now), each with that group's GroupId.

    ``remote`` is the group as remote_of() found it: its own name is not taken from it.
    """
    own = remote.group_id if isinstance(remote, Remote) else None
    wanted = set(names)
    return {group.name: group.group_id for group in chat.groups if group.name in wanted and group.group_id != own}


def needs_claimed(chat: ContactGroups, group_id: int | None) -> bool:
    """Whether remote_of() may look for the group by its former name: its GroupId is no longer in ``chat``."""
    return group_id is not None and all(group.group_id != group_id for group in chat.groups)


def chunked_updates(name: str, add: list[Conversation], remove: list[Conversation]) -> tuple[Update, ...]:
    """Adds then removes, mixed in calls of at most Chat's per-request number of conversations."""
    operations = [(True, conversation) for conversation in add] + [(False, conversation) for conversation in remove]
    return tuple(
        Update(name, tuple(c for is_add, c in chunk if is_add), tuple(c for is_add, c in chunk if not is_add))
        for chunk in protocol.chunks(operations, protocol.CONVERSATIONS_PER_REQUEST_MAX)
    )


def sendable(name: str) -> bool:
    """Whether Chat takes ``name`` in a create or as a rename's new name (the app may give a group others)."""
    return not protocol.validate_group_name(name)


def _unsendable(name: str) -> Conflict:
    return Conflict(Conflict.NAME_NOT_SENDABLE, {"name": name})


def _name_taken(name: str, taken: dict[str, int], create: bool) -> Conflict:
    return Conflict(Conflict.NAME_TAKEN, {"name": name, "group_id": taken[name], "create": create})


def _create(desired: Desired, taken: dict[str, int], **extra) -> Plan:
    if not sendable(desired.name):
        # Nothing is created, so no other conflict (a re-create) happened.
        return Plan(conflicts=(_unsendable(desired.name),))
    if desired.name in taken:
        # Chat would refuse it: nothing is created (nor sent), so no re-create happened either.
        return Plan(conflicts=(_name_taken(desired.name, taken, create=True),))
    first = desired.conversations[: protocol.CONVERSATIONS_PER_REQUEST_MAX]
    rest = list(desired.conversations[protocol.CONVERSATIONS_PER_REQUEST_MAX :])
    return Plan(create=Create(desired.name, first), updates=chunked_updates(desired.name, rest, []), **extra)


def plan(base: Base, desired: Desired, remote, taken: dict[str, int] | None = None) -> Plan:
    """What to send so Chat holds ``desired``, given what it confirmed (``base``) and holds now (``remote``).

    ``taken``: names the owner's other groups have in Chat, with their GroupIds (taken_names()); a create or a
    rename to one of them is not sent (the conflict ``NAME_TAKEN``).
    """
    taken = taken or {}
    if desired.delete:
        return _plan_delete(base, remote)
    if remote == NOT_READ:
        return _create(desired, taken)
    wanted = frozenset(desired.conversations)
    if remote is MISSING:
        staff_changed = desired.name != base.name or wanted != base.conversations
        if base.name and not staff_changed:
            return Plan(deleted_in_app=True, deleted=True)
        conflicts = (Conflict(Conflict.DELETED_IN_APP),) if base.name else ()
        return _create(desired, taken, conflicts=conflicts)

    if remote.from_lost_create or not base.name:
        # Created by an earlier attempt whose answer was lost: Chat's copy is the base.
        base = Base(remote.name, remote.conversations)
        accepted = wanted & remote.conversations
    else:
        accepted = (wanted - base.conversations) & remote.conversations
    conflicts = []
    if remote.remade_in_app:
        staff_changed = desired.name != base.name or wanted != base.conversations
        conflicts.append(Conflict(Conflict.REMADE_IN_APP, {"group_id": remote.group_id,
                                                           "staff_changed": staff_changed}))
    rename = adopt_name = None
    current_name = remote.name
    if desired.name != remote.name:
        if desired.name != base.name:
            if not sendable(desired.name):
                conflicts.append(_unsendable(desired.name))
            elif desired.name in taken:
                conflicts.append(_name_taken(desired.name, taken, create=False))
            else:
                if remote.name != base.name:
                    conflicts.append(Conflict(Conflict.RENAMED_IN_APP, {"app_name": remote.name,
                                                                        "staff_name": desired.name}))
                rename = (remote.name, desired.name)
                current_name = desired.name
        elif protocol.storable(remote.name):
            adopt_name = remote.name
        else:
            conflicts.append(Conflict(Conflict.NAME_UNSTORABLE, {"app_name": protocol.escaped(remote.name)}))
    to_add = [c for c in desired.conversations if c not in base.conversations and c not in remote.conversations]
    to_remove = sorted((base.conversations - wanted) & remote.conversations)
    return Plan(
        group_id=remote.group_id,
        # The name the mirror confirms: Chat's, unless no column can hold it.
        base=Base(remote.name if protocol.storable(remote.name) else base.name, remote.conversations),
        rename=rename,
        updates=chunked_updates(current_name, to_add, to_remove),
        accepted=accepted,
        adopt_name=adopt_name,
        adopt_added=(remote.conversations - base.conversations) - wanted,
        adopt_removed=(base.conversations & wanted) - remote.conversations,
        conflicts=tuple(conflicts),
    )


def _plan_delete(base: Base, remote) -> Plan:
    if remote == NOT_READ:
        return Plan(deleted=True)
    if remote is MISSING:
        return Plan(deleted=True, conflicts=(Conflict(Conflict.ALREADY_GONE),))
    conflicts = ()
    if base.name and remote.name != base.name:
        conflicts = (Conflict(Conflict.RENAMED_BEFORE_DELETE, {"app_name": remote.name}),)
    return Plan(group_id=remote.group_id, base=Base(remote.name, remote.conversations), delete=remote.name,
                deleted=True, conflicts=conflicts)
