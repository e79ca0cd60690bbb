"""What the admin tells staff when it hands a save, a deletion or a sync over to be done outside the request."""

from collections.abc import Callable
from enum import StrEnum

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


class HandOver(StrEnum):
    """What staff asked for, said when it is queued or when the task queue could not take it."""

    SAVED = "saved"  # one group saved, its sync handed over
    DELETED = "deleted"  # one group deleted here, its deletion from Chat handed over
    DELETED_MANY = "deleted_many"  # groups deleted from the list
    SYNC_MANY = "sync_many"  # the list's "Sync to Chat"
    KEPT = "kept"  # the staff's version kept over the app's change, its sync handed over
    RESTORED = "restored"  # a version Chat confirmed restored and saved, its sync handed over


# Queued: (how many groups, the group's name when one, when the restored version was confirmed) -> words.
QUEUED_WORDS: dict[HandOver, Callable[[int, str, str], str]] = {
    HandOver.SAVED: lambda count, group, when: _(
        "“%(group)s” is saved; syncing it to Chat. Its page shows how the sync ends.") % {"group": group},
    HandOver.DELETED: lambda count, group, when: _(
        "“%(group)s” is deleted here; deleting it in Chat. Its page shows how that ends.") % {"group": group},
    HandOver.DELETED_MANY: lambda count, group, when: ngettext(
        "%(count)d group is deleted here; deleting it in Chat.",
        "%(count)d groups are deleted here; deleting them in Chat.", count) % {"count": count},
    HandOver.SYNC_MANY: lambda count, group, when: ngettext(
        "%(count)d group queued for sync to Chat.", "%(count)d groups queued for sync to Chat.", count,
    ) % {"count": count},
    HandOver.KEPT: lambda count, group, when: _(
        "Your version of “%(group)s” is kept over the change made in the app; syncing it to Chat. Its page shows "
        "how the sync ends.") % {"group": group},
    HandOver.RESTORED: lambda count, group, when: _(
        "“%(group)s” is restored as Chat confirmed it on %(when)s, and saved; syncing it to Chat. Its page shows "
        "how the sync ends.") % {"group": group, "when": when},
}

# Not queued: (how many groups, the group's name when one, the error) -> words.
NOT_QUEUED_WORDS: dict[HandOver, Callable[[int, str, object], str]] = {
    HandOver.SAVED: lambda count, group, error: _(
        "“%(group)s” is saved, but its sync to Chat could not be queued, so it is marked failed. Use “Sync to "
        "Chat” once the task queue is back.") % {"group": group},
    HandOver.DELETED: lambda count, group, error: _(
        "“%(group)s” is marked for deletion, but its deletion from Chat could not be queued, so it is marked "
        "failed. Use “Sync to Chat” once the task queue is back.") % {"group": group},
    HandOver.DELETED_MANY: lambda count, group, error: ngettext(
        "%(count)d group is marked for deletion, but its deletion from Chat could not be queued (%(error)s), so it "
        "is marked failed.",
        "%(count)d groups are marked for deletion, but their deletion from Chat could not be queued (%(error)s), "
        "so they are marked failed.", count) % {"count": count, "error": error},
    HandOver.SYNC_MANY: lambda count, group, error: ngettext(
        "%(count)d group could not be queued for sync to Chat (%(error)s) and is marked failed.",
        "%(count)d groups could not be queued for sync to Chat (%(error)s) and are marked failed.", count,
    ) % {"count": count, "error": error},
    HandOver.KEPT: lambda count, group, error: _(
        "Your version of “%(group)s” is kept, but its sync to Chat could not be queued, so it is marked failed. "
        "Use “Sync to Chat” once the task queue is back.") % {"group": group},
    HandOver.RESTORED: lambda count, group, error: _(
        "“%(group)s” is restored and saved, but its sync to Chat could not be queued, so it is marked failed. Use "
        "“Sync to Chat” once the task queue is back.") % {"group": group},
}


def queued_text(what: HandOver, count: int, group="", when: str = "") -> str:
    return QUEUED_WORDS[what](count, str(group), when)


def not_queued_text(what: HandOver, count: int, group="", error=None) -> str:
    return NOT_QUEUED_WORDS[what](count, str(group), error)


def retry_handed_over_text(group) -> str:
    """Retry now: the waiting retry was handed to the workers (not yet tried)."""
    return _("The next try of “%(group)s” is handed to the workers now; its page shows how it ends.") % {
        "group": group}


def retry_not_waiting_text(group) -> str:
    """Retry now, on a group that waits for no retry (it ended, or is being tried, since the page was shown)."""
    return _("“%(group)s” is not waiting to try again now, so nothing was handed over; its page shows where it "
             "is.") % {"group": group}


def retry_not_queued_text(group) -> str:
    """Retry now, when the task queue could not take it."""
    return _("The next try of “%(group)s” could not be handed over: the task queue could not be reached. It is "
             "still tried when it is due.") % {"group": group}
