"""A group's sync lease: a short claim in its sync row, so two syncs of one group never interleave their Chat calls.

No database transaction is held across HTTP: the lease is taken, renewed and released with single UPDATEs.
"""

import secrets
import time
from datetime import timedelta

from django.utils import timezone

from contactgroups.conf import app_settings
from contactgroups.models import ContactGroup, GroupSync

# The lease lasts SYNC_LEASE_SECONDS unless renewed; a sync renews it between calls once this share of it
# has passed, so a quick sync writes no renewal at all.
RENEW_AFTER_SHARE = 1 / 6
WAIT_SECONDS = 30
POLL_SECONDS = 0.1


class SyncBusy(Exception):
    """Another sync of the same group holds its lease; try again later."""

    retryable = True


class Lease:
    """The lease of one group, taken by ``Lease.take``; ``interrupted`` when it was taken over from a dead sync.

    A sync that took over a lease may follow one that changed Chat without recording Chat's answer.
    """

    def __init__(self, group_pk: int, token: str, interrupted: bool):
        self.group_pk = group_pk
        self.token = token
        self.interrupted = interrupted
        self._renewed = time.monotonic()

    @classmethod
    def take(cls, group_pk: int, wait_seconds: float = WAIT_SECONDS) -> "Lease":
        """Take the group's lease, waiting up to ``wait_seconds`` for another sync to end (then SyncBusy)."""
        token = secrets.token_hex(8)
        deadline = time.monotonic() + wait_seconds
        while True:
            now = timezone.now()
            claim = {"lock_token": token, "lock_until": now + timedelta(seconds=app_settings.SYNC_LEASE_SECONDS)}
            row = GroupSync.objects.filter(group_id=group_pk)
            if row.filter(lock_until__isnull=True).update(**claim):
                return cls(group_pk, token, interrupted=False)
            if row.filter(lock_until__lt=now).update(**claim):
                return cls(group_pk, token, interrupted=True)
            if not row.exists():
                raise ContactGroup.DoesNotExist(f"No conversation group with id {group_pk}.")
            if time.monotonic() >= deadline:
                raise SyncBusy(f"Conversation group {group_pk} is being synced by another worker.")
            time.sleep(POLL_SECONDS)

    @classmethod
    def take_free(cls, rows) -> tuple[str, str]:
        """Take, without waiting, the leases of the groups of ``rows`` (a queryset of groups) no live sync holds: two
        UPDATEs.

        Returns the two tokens written: the first on the groups that were free, the second on those taken over
        from a dead sync (``interrupted``). The caller reads which groups hold them (``held``).
        """
        free, taken_over = secrets.token_hex(8), secrets.token_hex(8)
        now = timezone.now()
        until = now + timedelta(seconds=app_settings.SYNC_LEASE_SECONDS)
        leases = GroupSync.objects.filter(group__in=rows.values("pk"))
        leases.filter(lock_until__isnull=True).update(lock_token=free, lock_until=until)
        leases.filter(lock_until__lt=now).update(lock_token=taken_over, lock_until=until)
        return free, taken_over

    @classmethod
    def held(cls, group_pk: int, token: str, tokens: tuple[str, str]) -> "Lease":
        """The lease of a group that ``take_free`` gave ``token`` (one of its ``tokens``)."""
        return cls(group_pk, token, interrupted=token == tokens[1])

    @classmethod
    def keep_all(cls, leases: list["Lease"]) -> None:
        """Renew ``leases`` (a batch's, whose groups wait their turn) in one UPDATE."""
        if leases:
            GroupSync.objects.filter(group_id__in=[lease.group_pk for lease in leases],
                                     lock_token__in={lease.token for lease in leases}).update(
                lock_until=timezone.now() + timedelta(seconds=app_settings.SYNC_LEASE_SECONDS))
            now = time.monotonic()
            for lease in leases:
                lease._renewed = now

    def due(self) -> bool:
        """Whether enough of the lease has passed that it should be renewed."""
        return time.monotonic() - self._renewed >= app_settings.SYNC_LEASE_SECONDS * RENEW_AFTER_SHARE

    def keep(self) -> None:
        """Renew the lease if enough of it has passed; the sync calls this after each Chat call."""
        if self.due():
            self._mine().update(lock_until=timezone.now() + timedelta(seconds=app_settings.SYNC_LEASE_SECONDS))
            self._renewed = time.monotonic()

    def release(self) -> None:
        self._mine().update(lock_token="", lock_until=None)

    def _mine(self):
        return GroupSync.objects.filter(group_id=self.group_pk, lock_token=self.token)
