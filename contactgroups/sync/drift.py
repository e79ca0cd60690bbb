"""Drift: what the user changed in the app that the mirror does not show yet, found by reading Chat.

Chat tells nobody when a user edits a group in the app, so the mirror learns of it by reading
(``get_contact_group``): the drift sweep reads every owner now and then, and a group's page reads its owner when
it opens. A reading is kept on the group's sync row as data (``GroupSync.chat_reading``, ``chat_read_at``).

What differs is the planner's to say, never a second comparison: ``difference`` plans a sync of the group
against the reading (``plan.plan(base, desired, remote)``), and what that plan would adopt from the app, or where
the app's change meets the staff's (a conflict), is the drift: renamed in the app, conversations added or removed
there, the group deleted there. A staff edit not yet sent is not drift.

Two answers settle it. ``take_chat_version`` pulls the group (``pull.pull_group``): the mirror becomes Chat's.
``keep_staff_version`` makes what Chat holds now the group's base, so the next sync sends the whole of the staff's
version as the staff's change (a rename over the app's name, the app's additions removed, its removals added
again, a deleted group created again, or sent to the group the user made again under its name, whose GroupId the
group takes); the planner then has nothing of the app's left to adopt.
"""

import hashlib
import json
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contactgroups.chat import protocol
from contactgroups.chat.types import ContactGroups, Conversation
from contactgroups.conf import app_settings, chat_client
from contactgroups.models import ChatUser, ContactGroup, ContactItem, GroupSync, GroupVersion
from contactgroups.models.versions import confirmed_state
from contactgroups.outcomes import DriftCode, DriftEntry, DriftFacts, ReadBy
from contactgroups.sync import plan
from contactgroups.sync.audit import AuditRecorder, log_history, log_staff_action
from contactgroups.sync.lease import Lease
from contactgroups.sync.outcome import conversation_data
from contactgroups.sync.pipeline import remote_for
from contactgroups.sync.pull import PullReport, pull_group

# History entry codes, under the "drift" key.
FOUND = DriftCode.FOUND  # a reading found the app changed the group (params: the drift and where it was read)
CLEARED = DriftCode.CLEARED  # a reading found no more difference
KEPT = DriftCode.KEPT  # staff kept their version over the app's change (params: the drift they overrode)

# Where a reading was made.
BY_SWEEP = ReadBy.SWEEP
BY_PAGE = ReadBy.PAGE


class ReadingChanged(Exception):
    """Chat no longer holds what the page showed: nothing was changed; look at the new difference."""

    def __init__(self, reading: dict | None):
        super().__init__("Chat changed since the page was shown.")
        self.reading = reading


def never_sent(group: ContactGroup) -> bool:
    """A group no sync has sent yet: Chat cannot hold it, so there is nothing to read."""
    confirmed = group.sync
    return confirmed.chat_group_id is None and not confirmed.create_intent and not confirmed.confirmed_name


def reading_of(chat: ContactGroups, group: ContactGroup) -> dict | None:
    """The group as ``chat`` (its owner's groups, just read) holds it, as data; None for a group never sent."""
    if never_sent(group):
        return None
    remote = remote_for(chat, group, False)
    # The group's name, when another of the owner's groups has it in Chat: a sync would not send it.
    taken = {"taken": held} if (held := plan.taken_names(chat, remote, [group.name])) else {}
    if remote is plan.MISSING:
        return {"missing": True, **taken}
    # A name no column can hold (a NUL in it) is kept escaped.
    return {"group_id": remote.group_id, "name": protocol.escaped(remote.name),
            "conversations": [conversation_data(c) for c in sorted(remote.conversations)],
            **({"lost_create": True} if remote.from_lost_create else {}),
            **({"remade": True} if remote.remade_in_app else {}), **taken}


def fingerprint(reading: dict | None) -> str:
    """A short digest of a reading, which a page posts back so an answer applies to the Chat it showed."""
    return hashlib.sha256(json.dumps(reading, sort_keys=True).encode()).hexdigest()[:16]


def _remote(reading: dict):
    if reading.get("missing"):
        return plan.MISSING
    return plan.Remote(reading["group_id"], reading["name"],
                       frozenset(Conversation(*pair) for pair in reading["conversations"]),
                       bool(reading.get("lost_create")), bool(reading.get("remade")))


def _kept_base(reading: dict) -> plan.Base:
    """The base "Keep my edit" gives the group: what Chat holds now (nothing, for a group gone from Chat)."""
    if reading.get("missing"):
        return plan.Base()
    return plan.Base(reading["name"], frozenset(Conversation(*pair) for pair in reading["conversations"]))


def _planned(group: ContactGroup, conversations, reading: dict):
    """The sync of the group (its rows ``conversations``) that the planner would make against ``reading``: what
    Chat holds, what it confirmed, what the staff want, the names taken, and the plan."""
    remote = _remote(reading)
    base_conversations = frozenset(Conversation(*pair) for pair in group.sync.confirmed_conversations)
    base = plan.Base(group.sync.confirmed_name, base_conversations)
    wanted = tuple(conversations)
    if isinstance(remote, plan.Remote):
        # What Chat confirmed that no row can hold was never the staff's to remove (as in a sync).
        unheld = {c for c in base_conversations & remote.conversations if ContactItem.storage_problem(c) is not None}
        wanted += tuple(sorted(unheld - set(wanted)))
    taken = reading.get("taken", {})
    return remote, base, wanted, taken, plan.plan(base, plan.Desired(group.name, wanted), remote, taken)


def unsent(group: ContactGroup, reading: dict) -> bool:
    """Whether Chat, as ``reading`` found it, does not hold the group as its rows are now: a sync would send
    something (or could not, a conflict). What the app changed is ``difference``'s to say."""
    steps = _planned(group, group.items.order_by("id").conversations(), reading)[-1]
    return steps.calls > 0 or bool(steps.conflicts)


def difference(group: ContactGroup, conversations, reading: dict | None) -> dict | None:
    """What the user changed in the app that the mirror (``conversations``: the group's rows) does not show.

    As data: ``deleted``; ``remade`` (the GroupId of the group the user made in the app under its name after
    deleting it); ``renamed_from`` and ``renamed_to``; ``added`` and ``removed`` ([type, target] lists);
    ``name_taken`` ({name, group_id, create}) when the staff's version, kept, would be sent under a name another of
    the owner's groups has in Chat (made or renamed in the app), which Chat refuses: the plan of the sync after
    "Keep my edit" says so. None when there is none, when the group was never sent, or when it is deleted or being
    deleted here.
    """
    if reading is None or group.state == ContactGroup.State.DELETED or group.delete_requested:
        return None
    remote, base, wanted, taken, steps = _planned(group, conversations, reading)
    codes = {conflict.code: conflict.params for conflict in steps.conflicts}
    name_taken = {}
    if taken:
        kept = plan.plan(_kept_base(reading), plan.Desired(group.name, wanted), remote, taken)
        name_taken = next(({"name_taken": conflict.params} for conflict in kept.conflicts
                           if conflict.code == plan.Conflict.NAME_TAKEN), {})
    if steps.deleted_in_app or plan.Conflict.DELETED_IN_APP in codes or (remote is plan.MISSING and base.name):
        return {"deleted": True, **name_taken}
    data = {**name_taken}
    if plan.Conflict.REMADE_IN_APP in codes:
        data["remade"] = codes[plan.Conflict.REMADE_IN_APP]["group_id"]
    app_name = steps.adopt_name or codes.get(plan.Conflict.RENAMED_IN_APP, {}).get("app_name")
    if app_name:
        data["renamed_from"], data["renamed_to"] = base.name, app_name
    if steps.adopt_added:
        data["added"] = [conversation_data(c) for c in sorted(steps.adopt_added)]
    if steps.adopt_removed:
        data["removed"] = [conversation_data(c) for c in sorted(steps.adopt_removed)]
    return data or None


def current_difference(group: ContactGroup, reading: dict | None) -> dict | None:
    """``difference`` against the group's rows as they are now."""
    return difference(group, group.items.order_by("id").conversations(), reading)


def record(group: ContactGroup, reading: dict | None, drift: dict | None, read_at, actor_id: int | None,
           source: str) -> None:
    """Keep a reading on the group's sync row (only its three columns: the list's order by last change stays), and
    say in the history when it found a difference the group did not show before, or found none where it did."""
    GroupSync.objects.filter(group_id=group.pk).update(chat_reading=reading, chat_read_at=read_at, drift=drift)
    _log_change(group, drift, actor_id, source)
    group.sync.chat_reading, group.sync.chat_read_at, group.sync.drift = reading, read_at, drift


def _log_change(group: ContactGroup, drift: dict | None, actor_id: int | None, source: str) -> None:
    if drift == group.sync.drift:
        return
    if drift is None:
        entry = DriftEntry(CLEARED, ReadBy(source))
    else:
        entry = DriftEntry(FOUND, ReadBy(source), group.owner.user_id, DriftFacts.from_json(drift))
    log_history(actor_id, group, [{"drift": entry.to_json()}])


def take_chat_version(group_pk: int, actor_id: int | None, shown: str | None = None) -> PullReport:
    """Pull the group from Chat into the mirror (its history says what changed); then it has no drift.

    ``shown`` is the fingerprint of the reading the page showed: if Chat now holds something else, ReadingChanged
    and nothing changes. SyncBusy while a sync holds the group; Chat's errors as they come, nothing changed.
    """
    group = ContactGroup.objects.select_related("owner", "sync").get(pk=group_pk)
    seen = {}

    def expect(chat: ContactGroups) -> None:
        seen["reading"] = reading = reading_of(chat, group)
        if shown is not None and fingerprint(reading) != shown:
            raise ReadingChanged(reading)

    report = pull_group(group_pk, actor_id, expect=expect)
    if not report.held_back:
        # The pull's own history entry says what changed; the group now matches what Chat held.
        GroupSync.objects.filter(group_id=group_pk).update(chat_reading=seen["reading"], chat_read_at=timezone.now(),
                                                           drift=None)
    return report


class NameTaken(Exception):
    """The name to keep the staff's version under is one another of the owner's groups has in Chat (``group_id``
    its GroupId there), or, ``group_id`` None, here."""

    def __init__(self, name: str, group_id: int | None):
        super().__init__(f"Another group has the name {name!r} in Chat.")
        self.name, self.group_id = name, group_id


def keep_staff_version(group_pk: int, actor_id: int | None, shown: str | None = None,
                       new_name: str | None = None) -> dict | None:
    """Keep the mirror over the app's change: what Chat holds now becomes the group's base, and the history says so.

    The next sync sends the staff's version whole. Reads Chat first (its errors as they come, nothing changed);
    ReadingChanged when Chat holds other than the page showed; SyncBusy while a sync holds the group. Returns the
    drift that was overridden (None: there was none, nothing changed).

    ``new_name`` (the caller has checked it as the group form does) keeps the staff's version under that name, for
    a group whose own name another of the owner's groups has in Chat (``name_taken``); NameTaken, nothing changed,
    when another group has that one too.
    """
    group = ContactGroup.objects.select_related("owner", "sync").get(pk=group_pk)
    lease = Lease.take(group.pk, wait_seconds=0)
    try:
        recorder = AuditRecorder(actor_id, group.owner.user_id, group)
        with chat_client(on_call=recorder) as client:
            chat = client.get_contact_group(group.owner.user_id)
        lease.keep()
        with transaction.atomic():
            ChatUser.objects.lock(group.owner)
            group = (ContactGroup.objects.select_for_update(of=("self",)).select_related("owner", "sync")
                     .get(pk=group_pk))
            reading = reading_of(chat, group)
            if shown is not None and fingerprint(reading) != shown:
                raise ReadingChanged(reading)
            drift = current_difference(group, reading)
            now = timezone.now()
            if drift is None:
                record(group, reading, None, now, actor_id, BY_PAGE)
                return None
            fields, confirmed_fields = ["updated_at"], ["confirmed_name", "confirmed_conversations"]
            confirmed = group.sync
            # What Chat had confirmed before: the state Chat holds now becomes a version of its own.
            before = confirmed_state(group)
            if drift.get("name_taken") and new_name in (None, group.name):
                # Kept under this name, the sync would end in the same conflict.
                raise NameTaken(group.name, drift["name_taken"]["group_id"])
            if new_name is not None and new_name != group.name:
                if held := plan.taken_names(chat, _remote(reading), [new_name]):
                    raise NameTaken(new_name, held[new_name])
                if ContactGroup.objects.live().filter(owner=group.owner, name=new_name).exists():
                    raise NameTaken(new_name, None)
                drift = {**drift, "kept_as": new_name}
                group.name = new_name
                fields.append("name")
            if drift.get("deleted") or reading.get("missing"):
                confirmed.confirmed_name, confirmed.confirmed_conversations = "", []
            else:
                confirmed.confirmed_name = reading["name"]
                confirmed.confirmed_conversations = reading["conversations"]
            if drift.get("remade"):
                # The group the user made again in the app under its name is this group now.
                confirmed.chat_group_id = reading["group_id"]
                confirmed_fields.append("chat_group_id")
            group.save(update_fields=fields)
            confirmed.save(update_fields=confirmed_fields)
            if (version := GroupVersion.after_save(group, before, actor_id, now)) is not None:
                version.save(force_insert=True)
            GroupSync.objects.filter(group_id=group.pk).update(chat_reading=reading, chat_read_at=now, drift=None)
            kept = DriftEntry(KEPT, owner=group.owner.user_id, facts=DriftFacts.from_json(drift))
            log_staff_action(actor_id, group, [{"drift": kept.to_json()}])
            return drift
    finally:
        lease.release()


@dataclass
class OwnerSweep:
    """What one owner's reading found: groups read, those with drift, those whose drift is new or gone."""

    owner: str
    groups: int = 0
    drifted: int = 0
    found: int = 0
    cleared: int = 0
    skipped: int = 0


def sweep_owner(owner_pk: int, actor_id: int | None, client) -> OwnerSweep:
    """Read one owner's groups in Chat with ``client`` and keep each live group's reading and drift.

    A group a sync holds is skipped (the sync reads Chat itself). One statement writes every reading of the owner;
    the history gets an entry for each group whose drift appeared, changed or went.
    """
    owner = ChatUser.objects.get(pk=owner_pk)
    result = OwnerSweep(owner.user_id)
    previous, client.on_call = client.on_call, AuditRecorder(actor_id, owner.user_id)
    try:
        chat = client.get_contact_group(owner.user_id)
    finally:
        client.on_call = previous
    now = timezone.now()
    groups = list(ContactGroup.objects.live().filter(owner=owner, delete_requested=False)
                  .select_related("owner", "sync").defer("sync__chat_reading").order_by("pk"))
    rows: dict[int, list[Conversation]] = {group.pk: [] for group in groups}
    for group_pk, kind, to_account, to_group_id in (ContactItem.objects.filter(group__in=groups).order_by("id")
                                                    .values_list("group_id", "type", "to_account", "to_group_id")):
        rows[group_pk].append(ContactItem.conversation_of(kind, to_account, to_group_id))
    changed = []
    for group in groups:
        if never_sent(group):
            continue
        if group.sync.lock_until is not None and group.sync.lock_until > now:
            result.skipped += 1
            continue
        result.groups += 1
        reading = reading_of(chat, group)
        drift = difference(group, rows[group.pk], reading)
        if drift is not None:
            result.drifted += 1
        if drift != group.sync.drift:
            if drift is None:
                result.cleared += 1
            else:
                result.found += 1
            _log_change(group, drift, actor_id, BY_SWEEP)
        group.sync.chat_reading, group.sync.chat_read_at, group.sync.drift = reading, now, drift
        changed.append(group.sync)
    GroupSync.objects.bulk_update(changed, ["chat_reading", "chat_read_at", "drift"])
    return result


def owners_to_sweep():
    """The Chat users with a live group that Chat may hold: the ones a sweep reads."""
    sent = ContactGroup.objects.live().filter(Q(sync__chat_group_id__isnull=False) | ~Q(sync__create_intent="")
                                              | ~Q(sync__confirmed_name=""))
    return ChatUser.objects.filter(pk__in=sent.values("owner_id"))


def sweep_client(**kwargs):
    """A Chat client for the sweep: its calls take only SYNC_DRIFT_SWEEP_RATE_SHARE of the rate."""
    return chat_client(rate_share=app_settings.SYNC_DRIFT_SWEEP_RATE_SHARE, **kwargs)


def sweep_actor():
    """The account the beat's sweep records its history under (SYNC_DRIFT_SWEEP_USER): made on first use,
    inactive, not staff, with no usable password, so it can only be named, never used."""
    User = get_user_model()
    user, created = User._default_manager.get_or_create(
        **{User.USERNAME_FIELD: app_settings.SYNC_DRIFT_SWEEP_USER}, defaults={"is_active": False, "is_staff": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
