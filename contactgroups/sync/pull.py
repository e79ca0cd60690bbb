"""Pull: make the mirror of one user's groups what Chat holds now, all or nothing, each difference as data."""

import logging
import secrets
from dataclasses import dataclass, field, replace

from django.db import transaction
from django.utils import timezone

from contactgroups.chat import errors, protocol
from contactgroups.chat.types import ContactGroups, Conversation, GroupInfo
from contactgroups.conf import app_settings, chat_client
from contactgroups.models import ChatUser, ContactGroup, ContactItem, GroupVersion
from contactgroups.models.versions import confirmed_state
from contactgroups.outcomes import HeldBackReason, NotStored, PullCode, PullOutcome
from contactgroups.sync.audit import AuditRecorder, log_history
from contactgroups.sync.lease import Lease, SyncBusy
from contactgroups.sync.outcome import conversation_data
from contactgroups.sync.retries import retry_delay
from contactgroups.sync.store import is_retryable

ADOPTED = PullCode.ADOPTED  # a group the user created in the app
PULLED = PullCode.PULLED  # a group whose name, conversations or GroupId Chat changed
GONE = PullCode.GONE  # a group Chat no longer has
HELD_BACK = PullCode.HELD_BACK  # a group of Chat the pull left alone: its name is held by a group the pull must keep
# A conversation Chat holds that the mirror's columns cannot (an entry of the report's ``not_stored``).
NOT_STORED = "not_stored"

# Why a group was held back.
NAME_TAKEN = HeldBackReason.NAME_TAKEN  # a group the pull cannot change (busy, or not yet sent) has the name
NAME_UNSTORABLE = HeldBackReason.NAME_UNSTORABLE  # the database cannot store the name as Chat gave it

# What a pull writes on a group it matched: Chat's name as both the name wanted (on the group) and the name confirmed
# (on its sync row), and the rest of what Chat holds.
PULLED_FIELDS = ("name", "state", "conversation_count", "accepted_count", "refused_count", "updated_at")
PULLED_SYNC_FIELDS = (
    "confirmed_name", "chat_group_id", "create_intent", "confirmed_conversations", "last_synced_at",
    "last_error_code", "last_error_info", "last_outcome",
)

logger = logging.getLogger(__name__)


@dataclass
class PullReport:
    """What a pull of one owner found: each entry a dict of data (``code`` and the group's facts)."""

    owner: str
    adopted: list[dict] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)
    deleted: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unchanged: int = 0
    # Conversations Chat holds that the mirror cannot store, one dict each (also in the group's outcome).
    not_stored: list[dict] = field(default_factory=list)
    # Groups of Chat left as they are in the mirror, with the reason.
    held_back: list[dict] = field(default_factory=list)

    @property
    def differed(self) -> int:
        return len(self.adopted) + len(self.changed) + len(self.deleted) + len(self.held_back)


@dataclass
class _Match:
    """One group of Chat and the mirror's group it is (None: new to the mirror)."""

    info: GroupInfo
    group: ContactGroup | None
    held: str = ""


def attempt_pull(owner_pk: int, actor_id: int | None, attempt: int) -> float | None:
    """Attempt number ``attempt`` (0-based) of a pull run in the background: the seconds to wait before the next,
    or None when there is none to make. Every call it made is in the audit; a pull that fails for good is logged.
    """
    try:
        pull_owner(owner_pk, actor_id)
    except ChatUser.DoesNotExist:
        return None
    except Exception as exc:
        if is_retryable(exc) and attempt + 1 < app_settings.SYNC_MAX_ATTEMPTS:
            return retry_delay(attempt)
        logger.warning("Pull from Chat of the groups of user %s failed: %s", owner_pk, exc,
                       exc_info=not isinstance(exc, errors.ChatError))
    return None


def pull_owner(owner_pk: int, actor_id: int | None) -> PullReport:
    """Make the mirror of one user's groups what Chat holds now, and record every difference.

    The leases of the owner's groups are taken first (a group busy with a sync is skipped and reported), then
    Chat is read, then everything is applied in one transaction: all of it or none. Groups are matched by
    GroupId first, then a group never sent by its name. Groups created in the app are adopted; groups Chat no
    longer has are marked deleted; names and conversations are taken from Chat. Unsynced local edits are replaced.
    """
    owner = ChatUser.objects.get(pk=owner_pk)
    report = PullReport(owner.user_id)
    leases = {}
    try:
        for group in ContactGroup.objects.live().filter(owner=owner).order_by("pk"):
            try:
                leases[group.pk] = Lease.take(group.pk, wait_seconds=0)
            except SyncBusy:
                report.skipped.append(group.name)
            except ContactGroup.DoesNotExist:
                continue
        recorder = AuditRecorder(actor_id, owner.user_id)
        with chat_client(on_call=recorder) as client:
            remote = client.get_contact_group(owner.user_id)
        for lease in leases.values():
            lease.keep()
        with transaction.atomic():
            ChatUser.objects.lock(owner)
            _apply(owner, remote, set(leases), report, actor_id)
    finally:
        for lease in leases.values():
            lease.release()
    return report


def pull_group(group_pk: int, actor_id: int | None, expect=None) -> PullReport:
    """Make one group of the mirror what Chat holds of it now, as ``pull_owner`` does for all of an owner's.

    The owner's other groups stay as they are, and groups made in the app are not adopted, but for one made under
    the group's name after the user deleted it in the app: that one is the group now. A group whose name in
    Chat another group of the mirror holds is held back (reported). Raises SyncBusy when a sync holds the group.
    ``expect(remote)``, given the owner's groups as read, may raise to stop before anything is changed.
    """
    group = ContactGroup.objects.select_related("owner").get(pk=group_pk)
    report = PullReport(group.owner.user_id)
    lease = Lease.take(group.pk, wait_seconds=0)
    try:
        recorder = AuditRecorder(actor_id, group.owner.user_id, group)
        with chat_client(on_call=recorder) as client:
            remote = client.get_contact_group(group.owner.user_id)
        lease.keep()
        if expect is not None:
            expect(remote)
        with transaction.atomic():
            ChatUser.objects.lock(group.owner)
            _apply(group.owner, remote, {group.pk}, report, actor_id, adopt_new=False)
    finally:
        lease.release()
    return report


def _apply(owner: ChatUser, remote: ContactGroups, leased: set[int], report: PullReport,
           actor_id: int | None, adopt_new: bool = True) -> None:
    live = list(ContactGroup.objects.live().filter(owner=owner).select_for_update(of=("self",))
                .select_related("sync").order_by("pk"))
    mine = [group for group in live if group.pk in leased]
    # Busy groups, and any made after the leases were taken: the pull leaves them and what Chat has of them alone.
    others = [group for group in live if group.pk not in leased]
    matches = _match(remote, mine, others)
    if not adopt_new:
        _match_remade(matches, mine)
        matches = [match for match in matches if match.group is not None]
    matched = {match.group.pk for match in matches if match.group is not None}
    vanished = [group for group in mine
                if group.pk not in matched and (group.sync.chat_group_id is not None or group.sync.confirmed_name)]
    vanished_pks = {group.pk for group in vanished}
    kept = others + [group for group in mine if group.pk not in matched and group.pk not in vanished_pks]
    _hold_back(matches, kept)

    # Marked deleted first, so their names are free (the unique name is among live groups only).
    for group in vanished:
        group.state = ContactGroup.State.DELETED
        group.sync.deleted = True  # its GroupId no longer counts against the owner's
        group.sync.last_outcome = PullOutcome(GONE, owner=owner.user_id, name=group.name).to_json()
        group.save(update_fields=["state", "updated_at"])
        group.sync.save(update_fields=["deleted", "last_outcome"])
        report.deleted.append(group.sync.last_outcome)
        log_history(actor_id, group, [{"pull": group.sync.last_outcome}])
    # Renamed groups take a name no group has before any takes its new one, so a swap never collides midway.
    token = secrets.token_hex(6)
    renamed = [match.group.pk for match in matches
               if not match.held and match.group is not None and match.group.name != match.info.name]
    for pk in renamed:
        ContactGroup.objects.filter(pk=pk).update(name=f"\u2060pull {token} {pk}")
    for match in matches:
        if match.held:
            # A name no column can hold is kept in the report and the history escaped.
            data = PullOutcome(HELD_BACK, owner=owner.user_id, name=protocol.escaped(match.info.name),
                               group_id=match.info.group_id, reason=match.held).to_json()
            report.held_back.append(data)
            if match.group is not None:
                log_history(actor_id, match.group, [{"pull": data}])
            continue
        in_chat = set(remote.members(match.info.group_id))
        members, not_stored = _storable(in_chat)
        if match.group is None:
            group, data = _adopt_group(owner, match.info, members, in_chat, not_stored)
            _keep_version(group, (), actor_id)
            report.adopted.append(data)
            log_history(actor_id, group, [{"pull": data}])
        else:
            before = confirmed_state(match.group)
            group, data = _pull_into(match.group, match.info, members, in_chat, not_stored)
            _keep_version(group, before, actor_id)
            if PullOutcome.from_json(data).differs:
                report.changed.append(data)
                log_history(actor_id, group, [{"pull": data}])
            else:
                report.unchanged += 1
        report.not_stored += [{"code": NOT_STORED, "owner": owner.user_id, "name": match.info.name,
                               "group_id": match.info.group_id, **entry} for entry in not_stored]


def _keep_version(group: ContactGroup, before: tuple, actor_id: int | None) -> None:
    """The version of Chat's state a pull saved on ``group``, when it differs from what Chat confirmed before."""
    version = GroupVersion.after_save(group, before, actor_id, group.sync.last_synced_at)
    if version is not None:
        version.save(force_insert=True)


def _match(remote: ContactGroups, mine: list[ContactGroup], others: list[ContactGroup]) -> list[_Match]:
    """Chat's groups with the mirror's: by GroupId, then a group never sent by its name or the name it sent."""
    by_id = {group.sync.chat_group_id: group for group in mine if group.sync.chat_group_id is not None}
    unsent = [group for group in mine if group.sync.chat_group_id is None]
    theirs_ids = {group.sync.chat_group_id for group in others if group.sync.chat_group_id is not None}
    theirs_names = {name for group in others if group.sync.chat_group_id is None
                    for name in (group.name, group.sync.create_intent) if name}
    matches, left = [], []
    for info in remote.groups:
        if info.group_id in by_id:
            matches.append(_Match(info, by_id.pop(info.group_id)))
        elif info.group_id not in theirs_ids:
            left.append(info)
    for info in left:
        group = next((group for group in unsent if group.name == info.name), None) or next(
            (group for group in unsent if group.sync.create_intent == info.name), None)
        if group is not None:
            unsent.remove(group)
            matches.append(_Match(info, group))
        elif info.name not in theirs_names:  # else it is the busy group's create, seen before its answer is saved
            matches.append(_Match(info, None))
    return matches


def _match_remade(matches: list[_Match], mine: list[ContactGroup]) -> None:
    """For a pull of some groups only: a group whose GroupId is gone is the group Chat holds under the name it
    confirmed, if the mirror has no other group of that GroupId, as a sync takes it (pipeline.remote_for): the user
    deleted it in the app and made another under its name."""
    matched = {match.group.pk for match in matches if match.group is not None}
    for group in mine:
        confirmed = group.sync
        if group.pk in matched or confirmed.chat_group_id is None or not confirmed.confirmed_name \
                or confirmed.create_intent:
            continue
        match = next((match for match in matches
                      if match.group is None and match.info.name == confirmed.confirmed_name), None)
        if match is not None:
            match.group = group


def _hold_back(matches: list[_Match], kept: list[ContactGroup]) -> None:
    """Hold back each group whose name the mirror cannot give it; repeat, as a held group keeps its old name."""
    for match in matches:
        name = match.info.name
        if not name or not protocol.storable(name) or protocol.utf8_length(name) > protocol.GROUP_NAME_MAX_BYTES:
            match.held = NAME_UNSTORABLE
    while True:
        taken = {group.name for group in kept}
        taken |= {match.group.name for match in matches if match.held and match.group is not None}
        wanted: dict[str, int] = {}
        for match in matches:
            if not match.held:
                wanted[match.info.name] = wanted.get(match.info.name, 0) + 1
        clashing = [match for match in matches if not match.held
                    and (match.info.name in taken or wanted[match.info.name] > 1)
                    and not (match.group is not None and match.group.name == match.info.name
                             and wanted[match.info.name] == 1)]
        if not clashing:
            return
        for match in clashing:
            match.held = NAME_TAKEN


def _storable(members) -> tuple[set[Conversation], list[dict]]:
    """The conversations a row can hold, and the others as data."""
    kept, refused = set(), []
    for conversation in sorted(set(members)):
        problem = ContactItem.storage_problem(conversation)
        if problem is None:
            kept.add(conversation)
        else:
            refused.append({"conversation": protocol.escaped(conversation_data(conversation)), **problem})
    return kept, refused


def _entries(not_stored: list[dict]) -> tuple[NotStored, ...]:
    return tuple(NotStored.from_json(entry) for entry in not_stored)


def _new_items(group: ContactGroup, conversations, now) -> None:
    ContactItem.objects.bulk_create(
        ContactItem(group=group, result_code=errors.OK, result_at=now, **ContactItem.fields_of(conversation))
        for conversation in sorted(conversations)
    )


def _adopt_group(owner: ChatUser, info: GroupInfo, members: set[Conversation], in_chat: set[Conversation],
                 not_stored: list[dict]) -> tuple[ContactGroup, dict]:
    now = timezone.now()
    data = PullOutcome(ADOPTED, owner=owner.user_id, name=info.name, group_id=info.group_id,
                       conversations=len(members), not_stored=_entries(not_stored)).to_json()
    group = ContactGroup.objects.create(owner=owner, name=info.name, state=ContactGroup.State.SYNCED)
    confirmed = group.sync  # made with the group
    confirmed.confirmed_name, confirmed.chat_group_id = info.name, info.group_id
    confirmed.confirmed_conversations = [conversation_data(c) for c in sorted(in_chat)]
    confirmed.last_synced_at, confirmed.last_outcome = now, data
    confirmed.save(update_fields=["confirmed_name", "chat_group_id", "confirmed_conversations", "last_synced_at",
                                  "last_outcome"])
    _new_items(group, members, now)
    group.refresh_counts()
    return group, data


def _pull_into(group: ContactGroup, info: GroupInfo, members: set[Conversation], in_chat: set[Conversation],
               not_stored: list[dict]) -> tuple[ContactGroup, dict]:
    """Replace the group's name and conversations with Chat's; the group and the differences as data.

    ``members`` are the conversations a row can hold; the confirmed conversations are all of Chat's (``in_chat``).
    """
    now = timezone.now()
    old_name = group.name
    local = {item.conversation: item for item in group.items.all()}
    added = members - set(local)
    removed = set(local) - members
    pulled = PullOutcome(
        PULLED, name=info.name, renamed_from=old_name if old_name != info.name else "",
        added=tuple((c.type, c.target) for c in sorted(added)),
        removed=tuple((c.type, c.target) for c in sorted(removed)),
        group_id=info.group_id if group.sync.chat_group_id != info.group_id else None,
        not_stored=_entries(not_stored))
    difference = pulled.to_json()
    ContactItem.objects.filter(pk__in=[local[c].pk for c in removed]).delete()
    _new_items(group, added, now)
    group.items.filter(pk__in=[item.pk for c, item in local.items() if c in members]).update(
        result_code=errors.OK, result_info="", result_at=now
    )
    confirmed = group.sync
    group.name = confirmed.confirmed_name = info.name
    confirmed.chat_group_id = info.group_id
    confirmed.create_intent = ""
    confirmed.confirmed_conversations = [conversation_data(c) for c in sorted(in_chat)]
    group.state = ContactGroup.State.SYNCED
    confirmed.last_synced_at = now
    confirmed.last_error_code, confirmed.last_error_info = None, ""
    confirmed.last_outcome = replace(pulled, owner=group.owner.user_id).to_json()
    group.refresh_counts(save=False)
    group.save(update_fields=PULLED_FIELDS)
    confirmed.save(update_fields=PULLED_SYNC_FIELDS)
    return group, difference
