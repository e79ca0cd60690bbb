"""Celery tasks: thin, retrying wrappers around contactgroups.sync. Ids in, never instances.

``queue_*`` functions are what the admin and the commands call: the work starts only after the current
transaction commits, and never in the caller's request. With CELERY_BROKER_URL set, a worker does it (publishing
gives up quickly when the broker cannot be reached: the group is marked not queued); unset, the web process's
background runner does (``sync/runner.py``). Either way the caller returns at once. ``requeue_stranded``, run by
Celery beat (``CELERY_BEAT_SCHEDULE``), queues again the groups a stopped worker or broker left waiting.
"""

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from contactgroups import monitoring, sync  # noqa: F401 (monitoring: a worker notes it is alive, for /health/)
from contactgroups.conf import app_settings
from contactgroups.models import ContactGroup, SyncAttempt
from contactgroups.models.audit import Retention
from contactgroups.sync import runner
from contactgroups.sync.pull import attempt_pull

logger = logging.getLogger(__name__)

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def sync_group_task(self, group_pk: int, actor_id: int | None) -> None:
    _result, retry_in = sync.attempt_sync(group_pk, actor_id, self.request.retries)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def pull_owner_task(self, owner_pk: int, actor_id: int | None) -> None:
    retry_in = attempt_pull(owner_pk, actor_id, self.request.retries)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task
def requeue_stranded() -> int:
    """Queue again every stranded group (``ContactGroup.objects.stranded``) unchanged for SYNC_STRANDED_SECONDS;
    how many were queued. Each one's ``updated_at`` is touched, so the next run leaves it to the task it got."""
    groups = runner.stranded(app_settings.SYNC_STRANDED_SECONDS)
    if not groups:
        return 0
    ContactGroup.objects.filter(pk__in=[pk for pk, _ in groups]).update(updated_at=timezone.now())
    queued = _publish_each(groups)
    logger.info("Queued %d stranded conversation group(s) again", queued)
    return queued


def queue_group_sync(group_pk: int, actor_id: int | None, on_not_queued=None) -> None:
    """Sync one group once the current transaction commits; see ``queue_group_syncs``."""
    queue_group_syncs([group_pk], actor_id, on_not_queued)


def queue_group_syncs(group_pks: list[int], actor_id: int | None, on_not_queued=None) -> None:
    """Sync these groups once the current transaction commits, outside this request.

    If the broker cannot take a task then, what was saved stays saved and nothing reaches Chat: the group is
    marked failed, saying why (``sync.not_queued``), rather than left "queued" with no task behind it, and
    ``on_not_queued(group_pk, error)`` lets the caller tell the user. After the first such failure the others of
    the same call are not tried (the broker is down): each is marked the same way.
    """
    group_pks = list(group_pks)
    if app_settings.CELERY_BROKER_URL:
        transaction.on_commit(lambda: _publish_each([(pk, actor_id) for pk in group_pks], on_not_queued))
    else:
        def hand_over():
            for pk in group_pks:
                runner.submit_sync(pk, actor_id)

        transaction.on_commit(hand_over)


def queue_owner_pulls(owner_pks: list[int], actor_id: int | None) -> int:
    """Pull these owners' groups from Chat outside this request; how many were queued (with a broker, none after
    the first the broker would not take: it is down)."""
    if not app_settings.CELERY_BROKER_URL:
        for owner_pk in owner_pks:
            runner.submit_pull(owner_pk, actor_id)
        return len(owner_pks)
    queued = 0
    for owner_pk in owner_pks:
        try:
            pull_owner_task.apply_async((owner_pk, actor_id), retry=True)
        except OperationalError as exc:
            logger.warning("Could not queue the pull of %d user(s): %s", len(owner_pks) - queued, exc)
            break
        queued += 1
    return queued


def _publish_each(groups: list[tuple[int, int | None]], on_not_queued=None) -> int:
    """Send each group's sync task; mark those the broker would not take. How many were sent."""
    failure = None
    sent = 0
    for pk, actor_id in groups:
        if failure is None:
            try:
                # Retried as CELERY_TASK_PUBLISH_RETRY_POLICY says, each connection attempt bounded by
                # CELERY_BROKER_CONNECTION_TIMEOUT: a down broker costs a request a fraction of a second.
                sync_group_task.apply_async((pk, actor_id), retry=True)
                sent += 1
                continue
            except OperationalError as exc:
                failure = exc
        sync.not_queued(pk, actor_id, failure)
        if on_not_queued is not None:
            on_not_queued(pk, failure)
    return sent


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def accounts_task(self, user_pks: list[int], actor_id: int | None, check_only: bool = False) -> None:
    """Import Chat users into Chat, or only check them (``sync.accounts_job``). Chat's refusals and failures are
    kept on each user; none is retried here, since staff see them on the user's page and act again."""
    sync.accounts_job(user_pks, actor_id, check_only)


def queue_account_import(user_pks: list[int], actor_id: int | None, on_not_queued=None,
                         check_only: bool = False) -> bool:
    """Import the Chat users into Chat (or, ``check_only``, ask Chat whether they exist) once the current
    transaction commits, outside this request, as ``queue_group_syncs`` syncs groups.

    If the broker cannot take the task, nothing reaches Chat and ``on_not_queued(error)`` lets the caller say so.
    """
    user_pks = sorted(user_pks)
    if app_settings.CELERY_BROKER_URL:
        def send():
            try:
                accounts_task.apply_async((user_pks, actor_id, check_only), retry=True)
            except OperationalError as exc:  # the broker could not be reached, after the bounded publish retries
                logger.warning("Could not queue the import of %d Chat user(s): %s", len(user_pks), exc)
                if on_not_queued is not None:
                    on_not_queued(exc)

        transaction.on_commit(send)
    else:
        transaction.on_commit(lambda: runner.submit_accounts(user_pks, actor_id, check_only))


@shared_task(ignore_result=True)
def drift_sweep_task() -> None:
    """Celery beat's drift sweep: read every owner's groups in Chat and mark what the users changed in the app.

    One sweep at a time: while one runs (a Redis lock, for the sweep's period), another that beat starts returns.
    """
    lock = None
    if app_settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        import redis

        lock = redis.Redis.from_url(app_settings.CELERY_BROKER_URL).lock(
            "imadmin-drift-sweep", timeout=max(60, int(app_settings.SYNC_DRIFT_SWEEP_SECONDS) * 2))
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


@shared_task(ignore_result=True)
def prune_audit_task() -> None:
    """Celery beat's pruning of the audit: what ``manage.py prune_audit`` does, a batch a statement."""
    sweep, others = SyncAttempt.objects.prune(Retention.now(), app_settings.AUDIT_PRUNE_BATCH)
    logger.info("Audit pruned: %d reads of the drift sweep and %d other Chat calls deleted.", sweep, others)
