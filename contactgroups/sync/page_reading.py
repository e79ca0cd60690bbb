"""What a staff page shows of Chat's copy of a group: a reading made now, the one kept, or none while a sync is on
its way (the group page's comparison, ``admin/drift.py``; what differs is ``drift.difference``'s to say)."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from contactgroups.conf import app_settings, page_read_client
from contactgroups.models import ContactGroup, GroupSync
from contactgroups.sync.audit import AuditRecorder
from contactgroups.sync.drift import BY_PAGE, current_difference, never_sent, reading_of, record


@dataclass
class PageReading:
    """What the group page shows of Chat: a reading and its time, whether it was made now, and why not."""

    reading: dict | None
    read_at: object  # datetime or None
    live: bool
    error: BaseException | None = None
    sent: bool = True  # False: the group was never sent, so Chat holds nothing to compare with
    pending: bool = False  # True: a sync of the group is queued or running, so Chat was not read

    @property
    def known(self) -> bool:
        """A reading and its time are there to show (a kept reading's time without its reading shows nothing)."""
        return self.read_at is not None and isinstance(self.reading, dict)


def sync_on_its_way(group: ContactGroup) -> bool:
    """A sync of the group is queued or running: it reads Chat itself, and Chat holds a half-done state meanwhile."""
    until = group.sync.lock_until
    return (group.state in (ContactGroup.State.QUEUED, ContactGroup.State.SYNCING)
            or (until is not None and until > timezone.now()))


def reading_reusable(group: ContactGroup) -> bool:
    """Whether the reading kept on the group is new enough for its page to show instead of reading Chat again:
    made within SYNC_PAGE_READING_REUSE_SECONDS, and finding Chat holding just what it last confirmed (a reading
    that found a difference, or one made before a sync, pull or answer changed what Chat confirmed, never is)."""
    confirmed = group.sync
    seconds, reading = app_settings.SYNC_PAGE_READING_REUSE_SECONDS, confirmed.chat_reading
    if not seconds or confirmed.chat_read_at is None or confirmed.drift is not None or not reading:
        return False
    if timezone.now() - confirmed.chat_read_at > timedelta(seconds=seconds):
        return False
    return (set(reading) == {"group_id", "name", "conversations"} and reading["group_id"] == confirmed.chat_group_id
            and reading["name"] == confirmed.confirmed_name
            and {tuple(pair) for pair in reading["conversations"]}
            == {tuple(pair) for pair in confirmed.confirmed_conversations})


def read_for_page(group: ContactGroup, actor_id: int | None, fresh: bool = False) -> PageReading:
    """Read the group's owner in Chat now, all of it within SYNC_PAGE_READ_TIMEOUT (``conf.page_read_client``:
    every page and the whole of each answer, no retry), and keep the reading.

    Chat holds a group a page asks for only among all its owner's conversations, so a read is every page of them
    (``get_contact_group``): the page reads only when that can tell something. Not while a sync of the group is
    queued or running (``pending``; the page compares after it), nor when the kept reading is
    ``reading_reusable`` (unless ``fresh``: staff asked to read again).

    If Chat does not answer in time, answers too much or fails, the last reading kept on the group (the sweep's or
    an earlier page's) with its time; ``read_at`` None when there is none. A timeout of 0 never reads (the kept
    reading only).
    """
    if never_sent(group):
        return PageReading(None, None, live=False, sent=False)
    if sync_on_its_way(group):
        return PageReading(None, None, live=False, pending=True)
    if not app_settings.SYNC_PAGE_READ_TIMEOUT or (not fresh and reading_reusable(group)):
        return PageReading(group.sync.chat_reading, group.sync.chat_read_at, live=False)
    recorder = AuditRecorder(actor_id, group.owner.user_id, group, page_read=True)
    try:
        with page_read_client(recorder) as client:
            chat = client.get_contact_group(group.owner.user_id)
    except Exception as exc:  # any failure: the page shows the kept reading and says why it could not read
        return PageReading(group.sync.chat_reading, group.sync.chat_read_at, live=False, error=exc)
    read_at = timezone.now()
    reading = reading_of(chat, group)
    if not _leased(group):  # a running sync reads and adopts by itself; its half-done state is no drift
        record(group, reading, current_difference(group, reading), read_at, actor_id, BY_PAGE)
    return PageReading(reading, read_at, live=True)


def _leased(group: ContactGroup) -> bool:
    until = GroupSync.objects.filter(group_id=group.pk).values_list("lock_until", flat=True).first()
    return until is not None and until > timezone.now()
