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


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def import_users_task(self, user_pks: list[int], actor_id: int | None) -> None:
    """Import Chat users (sync.import_users). Chat's refusals and failures are kept on each user; none is retried
    here, since staff see them on the user's page and import again."""
    try:
        sync.import_users(user_pks, actor_id)
    except Exception:  # not Chat's answer (import_users keeps those): a bug or a broken setting
        logger.exception("Import of Chat users %s failed unexpectedly", user_pks)


def queue_account_import(user_pks: list[int], actor_id: int | None, on_not_queued=None, on_imported=None) -> None:
    """Import the Chat users into Chat once the current transaction commits, as ``queue_group_sync`` syncs a group.

    With CELERY_BROKER_URL set, a worker imports them and the caller returns at once; if the broker cannot take the
    task, nothing reaches Chat and ``on_not_queued(error)`` lets the caller say so. Without a broker the import runs
    here, and ``on_imported(report)`` (a sync.AccountReport) lets the caller say how it ended.
    """
    user_pks = list(user_pks)
    if settings.CELERY_BROKER_URL:
        def send():
            try:
                import_users_task.delay(user_pks, actor_id)
            except OperationalError as exc:  # the broker could not be reached, after Celery's own publish retries
                if on_not_queued is not None:
                    on_not_queued(exc)

        transaction.on_commit(send)
    else:
        def run_here():
            report = sync.import_users(user_pks, actor_id)
            if on_imported is not None:
                on_imported(report)

        transaction.on_commit(run_here)
