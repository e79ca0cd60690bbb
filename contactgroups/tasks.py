"""Celery tasks: thin, retrying wrappers around contactgroups.sync. Ids in, never instances.

``queue_*`` functions are what the admin and the commands call: the work starts only
after the current transaction commits. With CELERY_BROKER_URL set, a worker does it and
the caller returns at once; unset, it runs in this process (the one-machine default).
"""

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError

from contactgroups import sync
from contactgroups.models import ContactGroup

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def sync_group_task(self, group_pk: int, actor_id: int | None) -> None:
    try:
        sync.sync_group(group_pk, actor_id)
    except ContactGroup.DoesNotExist:
        return
    except Exception as exc:
        if not sync.is_retryable(exc):
            sync.log_unexpected(group_pk, exc)
            return
        if self.request.retries + 1 >= settings.SYNC_MAX_ATTEMPTS:
            sync.give_up(group_pk, actor_id, exc)
            return
        raise self.retry(exc=exc, countdown=sync.retry_delay(self.request.retries)) from exc


def queue_group_sync(group_pk: int, actor_id: int | None, on_not_queued=None, on_synced=None) -> None:
    """Sync one group once the current transaction commits.

    If the broker cannot take the task then, what was saved stays saved and nothing reaches Chat: the group is
    marked failed, saying why (``sync.not_queued``), rather than left "queued" with no task behind it, and
    ``on_not_queued(error)`` lets the caller tell the user. Without a broker the sync runs here, and
    ``on_synced(group_pk)`` lets the caller say how it ended; with one, nobody knows yet.
    """
    if settings.CELERY_BROKER_URL:
        transaction.on_commit(lambda: _send(group_pk, actor_id, on_not_queued))
    else:
        def run_here():
            sync.sync_with_retries(group_pk, actor_id)
            if on_synced is not None:
                on_synced(group_pk)

        transaction.on_commit(run_here)


def _send(group_pk: int, actor_id: int | None, on_not_queued) -> None:
    try:
        sync_group_task.delay(group_pk, actor_id)
    except OperationalError as exc:  # the broker could not be reached, after Celery's own publish retries
        sync.not_queued(group_pk, actor_id, exc)
        if on_not_queued is not None:
            on_not_queued(exc)


@shared_task(ignore_result=True)
def drift_sweep_task() -> None:
    """Celery beat's drift sweep: read every owner's groups in Chat and mark what the users changed in the app.

    One sweep at a time: while one runs (a Redis lock, for the sweep's period), another that beat starts returns.
    """
    lock = None
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        import redis

        lock = redis.Redis.from_url(settings.CELERY_BROKER_URL).lock(
            "imadmin-drift-sweep", timeout=max(60, int(settings.SYNC_DRIFT_SWEEP_SECONDS) * 2))
        if not lock.acquire(blocking=False):
            logger.info("A drift sweep is already running; this one is skipped.")
            return
    try:
        summary = sync.drift.sweep(sync.drift.sweep_actor().pk)
        logger.info("Drift sweep: %d owners read, %d groups, %d changed in the app (%d new, %d cleared), "
                    "%d failed.", summary.owners, summary.groups, summary.drifted, summary.found, summary.cleared,
                    len(summary.failures))
    finally:
        if lock is not None:
            try:
                lock.release()
            except redis.exceptions.LockError:
                pass  # it outlived its timeout; another sweep may have it now
