"""Pull: make the mirror of one user's groups what Chat holds now, and record every difference as data."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from contactgroups.chat import errors
from contactgroups.chat.types import Conversation
from contactgroups.conf import chat_client
from contactgroups.models import ChatUser, ContactGroup, ContactItem
from contactgroups.sync.audit import AuditRecorder, log_history
from contactgroups.sync.lease import Lease, SyncBusy
from contactgroups.sync.outcome import conversation_data

ADOPTED = "adopted"  # a group the user created in the app
PULLED = "pulled"  # a group whose name, conversations or GroupId Chat changed
GONE = "gone_from_chat"  # a group Chat no longer has


@dataclass
class PullReport:
    """What a pull of one owner found: each entry a dict of data (``code`` and the group's facts)."""

    owner: str
    adopted: list[dict] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)
    deleted: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def differed(self) -> int:
        return len(self.adopted) + len(self.changed) + len(self.deleted)


def pull_owner(owner_pk: int, actor_id: int | None) -> PullReport:
    """Make the mirror of one user's groups what Chat holds now, and record every difference.

    Groups created in the app are adopted; groups Chat no longer has are marked deleted; names and conversations
    are taken from Chat. Unsynced local edits are replaced.
    """
    owner = ChatUser.objects.get(pk=owner_pk)
    report = PullReport(owner.user_id)
    recorder = AuditRecorder(actor_id, owner.user_id)
    with chat_client(on_call=recorder) as client:
        remote = client.get_contact_group(owner.user_id)
    live = list(ContactGroup.objects.live().filter(owner=owner))
    by_id = {group.chat_group_id: group for group in live if group.chat_group_id is not None}
    by_name = {group.name: group for group in live if group.chat_group_id is None}
    seen = set()
    for info in remote.groups:
        members = set(remote.members(info.group_id))
        group = by_id.get(info.group_id) or by_name.get(info.name)
        if group is None:
            group = _adopt_group(owner, info.name, info.group_id, members)
            data = {"code": ADOPTED, "owner": owner.user_id, "name": info.name, "group_id": info.group_id,
                    "conversations": len(members)}
            report.adopted.append(data)
            log_history(actor_id, group, [{"pull": data}])
            seen.add(group.pk)
            continue
        seen.add(group.pk)
        difference = _pull_into(group, info.name, info.group_id, members)
        if difference is None:
            report.skipped.append(group.name)
        elif len(difference) > 2:  # more than its code and name: something differed
            report.changed.append(difference)
            log_history(actor_id, group, [{"pull": difference}])
        else:
            report.unchanged += 1
    for group in live:
        if group.pk in seen or (group.chat_group_id is None and not group.confirmed_name):
            continue
        group.state = ContactGroup.State.DELETED
        group.last_outcome = {"code": GONE, "owner": owner.user_id, "name": group.name}
        group.save(update_fields=["state", "last_outcome", "updated_at"])
        report.deleted.append(group.last_outcome)
        log_history(actor_id, group, [{"pull": group.last_outcome}])
    return report


def _adopt_group(owner: ChatUser, name: str, group_id: int, members: set[Conversation]) -> ContactGroup:
    now = timezone.now()
    with transaction.atomic():
        group = ContactGroup.objects.create(
            owner=owner, name=name, confirmed_name=name, chat_group_id=group_id,
            confirmed_conversations=[conversation_data(c) for c in sorted(members)],
            state=ContactGroup.State.SYNCED, last_synced_at=now,
            last_outcome={"code": ADOPTED, "owner": owner.user_id, "name": name, "group_id": group_id,
                          "conversations": len(members)},
        )
        ContactItem.objects.bulk_create(
            ContactItem(group=group, result_code=errors.OK, result_at=now, **ContactItem.fields_of(conversation))
            for conversation in sorted(members)
        )
        group.refresh_counts()
    return group


def _pull_into(group: ContactGroup, name: str, group_id: int, members: set[Conversation]) -> dict | None:
    """Replace the group's name and conversations with Chat's; the differences as data, or None if busy."""
    try:
        lease = Lease.take(group.pk, wait_seconds=0)
    except SyncBusy:
        return None
    try:
        now = timezone.now()
        with transaction.atomic():
            group = ContactGroup.objects.select_for_update().select_related("owner").get(pk=group.pk)
            local = {item.conversation: item for item in group.items.all()}
            added = members - set(local)
            removed = set(local) - members
            difference = {"code": PULLED, "name": name}
            if group.name != name:
                difference["renamed_from"] = group.name
            if added:
                difference["added"] = [conversation_data(c) for c in sorted(added)]
            if removed:
                difference["removed"] = [conversation_data(c) for c in sorted(removed)]
            if group.chat_group_id != group_id:
                difference["group_id"] = group_id
            ContactItem.objects.filter(pk__in=[local[c].pk for c in removed]).delete()
            ContactItem.objects.bulk_create(
                ContactItem(group=group, result_code=errors.OK, result_at=now, **ContactItem.fields_of(conversation))
                for conversation in sorted(added)
            )
            group.items.filter(pk__in=[item.pk for c, item in local.items() if c in members]).update(
                result_code=errors.OK, result_info="", result_at=now
            )
            group.name = group.confirmed_name = name
            group.chat_group_id = group_id
            group.create_intent = ""
            group.confirmed_conversations = [conversation_data(c) for c in sorted(members)]
            group.state = ContactGroup.State.SYNCED
            group.last_synced_at = now
            group.last_error_code, group.last_error_info = None, ""
            group.last_outcome = {**difference, "owner": group.owner.user_id}
            group.refresh_counts(save=False)
            group.save()
        return difference
    finally:
        lease.release()
