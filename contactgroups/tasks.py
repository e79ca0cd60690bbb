"""The background work, every piece a Celery task (``engine.background``): ids in, never instances.

A worker runs them when CELERY_BROKER_URL is set; without one, the same functions run on the in-process executor
(``engine.LOCAL``). ``queue_*`` are what the admin calls: the work is handed over only after the current
transaction commits, and never runs in the caller's request. With a broker, publishing gives up quickly when the
broker cannot be reached: the group is marked not queued. ``requeue_stranded`` (Celery beat's
``CELERY_BEAT_SCHEDULE``; without a broker, the web process every SYNC_RECOVER_SECONDS from when it starts) hands
over again the groups a stopped worker or process left waiting. ``contactgroups.runs`` hands a command's bulk
work over in chunks (``sync_groups_task``, ``sweep_owners_task``).
"""

import logging
from dataclasses import asdict
from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from contactgroups import monitoring, sync  # noqa: F401 (monitoring: a worker notes it is alive, for /health/)
from contactgroups.conf import app_settings
from contactgroups.engine import LOCAL, background, has_broker, send, thread_client, with_result
from contactgroups.models import ContactGroup, SyncAttempt
from contactgroups.models.audit import Retention
from contactgroups.sync import drift, reach
from contactgroups.sync.audit import last_actors
from contactgroups.sync.outcome import reported_failure
from contactgroups.sync.pull import attempt_pull

logger = logging.getLogger(__name__)


@background()
def sync_group_task(group_pk: int, actor_id: int | None, first_attempt: int = 0, *, attempt: int = 0):
    """Sync one group (``first_attempt``: attempts already made elsewhere, by a chunk, or before a retry was
    brought forward), with a Chat client of its own. A retry the group no longer waits for does nothing."""
    return sync.attempt_sync(group_pk, actor_id, first_attempt + attempt)[1]


@background()
def sync_groups_task(group_pks: list[int], actor_id: int | None, rate: float | None = None, *, attempt: int = 0):
    """Sync a chunk of a bulk sync: claimed and stored together (``sync.sync_batch``), at most ``rate`` Chat calls
    a second per endpoint (else the settings'). A group another sync holds, or whose sync failed in a way that may
    pass, gets a sync task of its own (which waits for the lease, or retries with backoff)."""
    try:
        results, others = sync.sync_batch(group_pks, actor_id, thread_client(**({"rate_limit": rate} if rate else {})))
    except Exception:
        # Nothing of the chunk was stored: each group is synced alone, once the leases it holds expire (its create
        # intent, kept, makes that sync look for what was created before it sends anything).
        logger.exception("A chunk of %d conversation groups failed; each is synced again alone", len(group_pks))
        sync.schedule(group_pks, 1, app_settings.SYNC_LEASE_SECONDS)
        for pk in group_pks:
            send(sync_group_task, pk, actor_id, 1, key=("sync", pk), delay=app_settings.SYNC_LEASE_SECONDS)
        return None
    for result in results:
        if result.error is None:
            continue
        delay = sync.after_failure(result.group_pk, actor_id, 0, result.error)
        if delay is not None:
            send(sync_group_task, result.group_pk, actor_id, 1, key=("sync", result.group_pk), delay=delay)
    for pk in others:
        send(sync_group_task, pk, actor_id, key=("sync", pk))
    return None


@background()
def pull_owner_task(owner_pk: int, actor_id: int | None, *, attempt: int = 0):
    return attempt_pull(owner_pk, actor_id, attempt)


@background()
def accounts_task(user_pks: list[int], actor_id: int | None, check_only: bool = False, *, attempt: int = 0):
    """Import Chat users into Chat, or only check them (``sync.accounts_job``). Chat's refusals and failures are
    kept on each user; the users a failure that may pass left unanswered are tried again by the syncs' retry rule
    (Chat's refusals are not: staff see them on the user's page and act again)."""
    return sync.accounts_job(user_pks, actor_id, check_only, attempt)


# Groups handed over again each round once Chat answers after it could not be reached, and the pause between
# rounds: their syncs (a read and a change each) take a small share of each endpoint's rate, paced by the shared
# limiter beside the staff's calls, rather than all at once.
WAKE_GROUPS_A_ROUND = 20
WAKE_ROUND_SECONDS = 1.0


@background()
def wake_waiting_task(*, attempt: int = 0):
    """Chat answers again: hand over now the groups whose retry waits on Chat being unreachable
    (``sync.due_again``), WAKE_GROUPS_A_ROUND a round, each acting for the staff user of its latest history entry."""
    groups = sync.due_again(WAKE_GROUPS_A_ROUND)
    actors = last_actors([pk for pk, _attempts in groups]) if groups else {}
    for pk, attempts in groups:
        send(sync_group_task, pk, actors.get(pk), attempts, key=("sync", pk))
    if groups:
        logger.info("Chat answers again: %d waiting conversation group(s) handed over now.", len(groups))
    return WAKE_ROUND_SECONDS if len(groups) == WAKE_GROUPS_A_ROUND else None


def wake_waiting() -> None:
    """Hand ``wake_waiting_task`` over (``sync.reach`` calls it when Chat answers again)."""
    try:
        send(wake_waiting_task, key=("wake",))
    except OperationalError as exc:
        logger.warning("Could not queue the retries waiting for Chat: %s", exc)


reach.when_answered_again(wake_waiting)


def sweep_owners(owner_pks: list[int], actor_id: int | None, on_owner=None, *, attempt: int = 0):
    """Read these owners' groups in Chat and keep each group's reading and drift (``drift.sweep_owner``), with a
    client of the sweep's share of the rate. ``on_owner(owner_pk, result)`` is told of each owner as it ends: an
    ``OwnerSweep``, or the exception that stopped it (in the audit and the log; the others go on)."""
    with drift.sweep_client() as client:
        for owner_pk in owner_pks:
            try:
                result = drift.sweep_owner(owner_pk, actor_id, client)
            except Exception as exc:
                logger.warning("The drift sweep could not read Chat user %s: %s", owner_pk, exc)
                result = exc
            if on_owner is not None:
                on_owner(owner_pk, result)


sweep_owners_task = background()(sweep_owners)


# Owners a sweep task reads, one after the other.
SWEEP_OWNERS_A_TASK = 20


@background()
def drift_sweep_task(*, attempt: int = 0):
    """Celery beat's drift sweep: every owner with a group Chat may hold, handed to the workers a chunk at a time.
    A chunk not started within the sweep's period is dropped (``expires``): the next sweep reads it again."""
    actor_id = drift.sweep_actor().pk
    owners = list(drift.owners_to_sweep().order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(owners), SWEEP_OWNERS_A_TASK):
        send(sweep_owners_task, owners[start:start + SWEEP_OWNERS_A_TASK], actor_id, None,
             expires=app_settings.SYNC_DRIFT_SWEEP_SECONDS)
    logger.info("Drift sweep: %d Chat users handed to the workers.", len(owners))


# A command's work, its results kept for the command that waits for them (``engine.run_each``) ----------------------

# Owners a command's pull task pulls, one after the other.
PULL_OWNERS_A_TASK = 10


@with_result
def pull_owners_report(owner_pks: list[int], actor_id: int | None) -> list:
    """Pull each owner (``sync.pull_owner``); for each, ``[owner_pk, {"report": PullReport's fields}]`` or
    ``[owner_pk, {"failure": ...}]`` (one failing owner never stops the others)."""
    results = []
    for owner_pk in owner_pks:
        try:
            results.append([owner_pk, {"report": asdict(sync.pull_owner(owner_pk, actor_id))}])
        except Exception as exc:
            logger.warning("Could not pull Chat user %s: %s", owner_pk, exc)
            results.append([owner_pk, {"failure": reported_failure(exc)}])
    return results


@with_result
def import_users_report(user_pks: list[int], actor_id: int | None) -> dict:
    """Import these users into Chat and check them (``sync.import_users``): ``{"report": AccountReport's fields}``,
    or ``{"failure": ...}`` when the batch could not be imported."""
    try:
        return {"report": asdict(sync.import_users(user_pks, actor_id))}
    except Exception as exc:
        logger.warning("Could not import %d Chat user(s): %s", len(user_pks), exc)
        return {"failure": reported_failure(exc)}


@with_result
def sweep_owners_report(owner_pks: list[int], actor_id: int | None) -> list:
    """``sweep_owners``, each owner's result as data: ``[owner_pk, {"sweep": OwnerSweep's fields}]`` or
    ``[owner_pk, {"failure": ...}]``."""
    results = []

    def keep(owner_pk, result):
        if isinstance(result, drift.OwnerSweep):
            results.append([owner_pk, {"sweep": asdict(result)}])
        else:
            results.append([owner_pk, {"failure": reported_failure(result)}])

    sweep_owners(owner_pks, actor_id, keep)
    return results


# Taking up what a stopped worker or process left ------------------------------------------------------------------

def stranded(unchanged_for: float) -> list[tuple[int, int | None]]:
    """Each stranded group (``ContactGroup.objects.stranded``), unchanged for ``unchanged_for`` seconds, with the
    staff user its sync acts for (the one of its latest history entry)."""
    since = timezone.now() - timedelta(seconds=unchanged_for)
    pks = list(ContactGroup.objects.stranded(since).order_by("pk").values_list("pk", flat=True))
    actors = last_actors(pks) if pks else {}
    return [(pk, actors.get(pk)) for pk in pks]


@shared_task
def requeue_stranded(unchanged_for: float | None = None) -> int:
    """Hand over again every stranded group unchanged for ``unchanged_for`` seconds (SYNC_STRANDED_SECONDS by
    default); how many. Each one's ``updated_at`` is touched, so the next run leaves it to the task it got.

    It also wakes the groups waiting on Chat being unreachable when a call has reached Chat since (the process that
    saw Chat down may make no call to learn it is back)."""
    if sync.answered_since_unreached():
        wake_waiting()
    groups = stranded(app_settings.SYNC_STRANDED_SECONDS if unchanged_for is None else unchanged_for)
    if not groups:
        return 0
    ContactGroup.objects.filter(pk__in=[pk for pk, _ in groups]).update(updated_at=timezone.now())
    queued = _send_each(groups)
    logger.info("Queued %d stranded conversation group(s) again", queued)
    return queued


def start_in_web_process() -> None:
    """Where a web process starts (``imadmin/wsgi.py``, ``asgi.py``): without a broker, take up the groups a
    stopped process left now (every one nothing runs: that process is gone) and then every SYNC_RECOVER_SECONDS.
    With a broker, Celery beat does."""
    if not has_broker():
        LOCAL.every(lambda: app_settings.SYNC_RECOVER_SECONDS, requeue_stranded, (0,), ())


# Handing work over from the admin -------------------------------------------------------------------------------

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
    groups = [(pk, actor_id) for pk in group_pks]
    transaction.on_commit(lambda: _send_each(groups, on_not_queued))


def retry_group_now(group_pk: int, actor_id: int | None) -> bool:
    """Bring the group's waiting retry forward: due now, handed over at once (``sync.retry_now``), the attempt
    counted as the one it waited for. False when it waits for none. The broker's OperationalError is the caller's."""
    attempts = sync.retry_now(group_pk)
    if attempts is None:
        return False
    send(sync_group_task, group_pk, actor_id, attempts, key=("sync", group_pk))
    return True


def queue_owner_pulls(owner_pks: list[int], actor_id: int | None) -> int:
    """Pull these owners' groups from Chat outside this request; how many were queued (with a broker, none after
    the first the broker would not take: it is down)."""
    queued = 0
    for owner_pk in owner_pks:
        try:
            send(pull_owner_task, owner_pk, actor_id, key=("pull", owner_pk))
        except OperationalError as exc:
            logger.warning("Could not queue the pull of %d user(s): %s", len(owner_pks) - queued, exc)
            break
        queued += 1
    return queued


def queue_account_import(user_pks: list[int], actor_id: int | None, on_not_queued=None,
                         check_only: bool = False) -> None:
    """Import the Chat users into Chat (or, ``check_only``, ask Chat whether they exist) once the current
    transaction commits, outside this request, as ``queue_group_syncs`` syncs groups.

    If the broker cannot take the task, nothing reaches Chat and ``on_not_queued(error)`` lets the caller say so.
    """
    user_pks = sorted(user_pks)

    def hand_over():
        try:
            send(accounts_task, user_pks, actor_id, check_only, key=("accounts", tuple(user_pks), check_only))
        except OperationalError as exc:  # the broker could not be reached, after the bounded publish retries
            logger.warning("Could not queue the import of %d Chat user(s): %s", len(user_pks), exc)
            if on_not_queued is not None:
                on_not_queued(exc)

    transaction.on_commit(hand_over)


def _send_each(groups: list[tuple[int, int | None]], on_not_queued=None) -> int:
    """Hand over each group's sync; mark those the broker would not take. How many were handed over."""
    failure = None
    sent = 0
    for pk, actor_id in groups:
        if failure is None:
            try:
                send(sync_group_task, pk, actor_id, key=("sync", pk))
                sent += 1
                continue
            except OperationalError as exc:
                failure = exc
        sync.not_queued(pk, actor_id, failure)
        if on_not_queued is not None:
            on_not_queued(pk, failure)
    return sent


@background()
def prune_audit_task(*, attempt: int = 0):
    """Celery beat's pruning of the audit: what ``manage.py prune_audit`` does, a batch a statement."""
    sweep, others = SyncAttempt.objects.prune(Retention.now(), app_settings.AUDIT_PRUNE_BATCH)
    logger.info("Audit pruned: %d reads of the drift sweep and %d other Chat calls deleted.", sweep, others)
    return None
