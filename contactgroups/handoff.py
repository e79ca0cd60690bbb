"""A bulk sync handed to Celery workers: the groups go out in batches, each outcome comes back through Redis.

``sync_contact_groups`` uses it when a broker is configured. It sends one ``sync_groups_batch`` task for each
``TASK_GROUPS`` groups; any worker on any machine takes it and syncs the batch as the command would
(``bulk.sync_batched``: claimed and saved a batch at a time, ``bulk.SYNC_THREADS`` at once), the Chat calls of all
workers counted and spaced together through Redis (``CHAT_RATE_LIMIT_STORAGE``, the broker by default). As each
group's sync is saved the worker pushes its outcome, as data, onto the run's Redis list; the command reads the
list, shows progress and prints the same summary as a sync in its own processes.

A worker killed mid-batch loses nothing and doubles nothing: the task is acknowledged only when it ends
(``acks_late``) and is delivered again (at once if only the pool's process died, after the broker's visibility
timeout if the whole worker did). The second delivery syncs the same groups again: those already saved find
nothing to do, one whose create was sent but whose answer was not saved is found in Chat by its create intent,
and one whose lease the dead worker still holds is synced one by one once the lease expires. A group reported
twice is counted once, with its last outcome.
"""

import dataclasses
import json
import time
import uuid
from collections.abc import Iterable, Iterator

import redis
from celery import shared_task

from contactgroups import bulk, words
from contactgroups.conf import app_settings
from contactgroups.sync.outcome import error_data

# Groups a task: enough that a worker's threads seldom wait for the last calls of a task before the next one, few
# enough that the tasks spread over the workers. A task claims and saves them bulk.BATCH_SIZE at a time.
TASK_GROUPS = 500
# The run's list of outcomes lives this long after its last push, then Redis drops it.
REPORTS_TTL_SECONDS = 24 * 3600


def reports_key(run_id: str) -> str:
    return f"imadmin:bulk-sync:{run_id}"


def _redis():
    return redis.Redis.from_url(app_settings.CELERY_BROKER_URL)


# Threads a worker's task syncs its groups in, unless the command says otherwise: a worker's calls wait for a
# Redis round trip besides Chat's answer, so it needs more in flight than a forked process (bulk.SYNC_THREADS).
TASK_THREADS = 16


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, name="contactgroups.sync_groups_batch")
def sync_groups_batch(self, group_pks: list[int], actor_id: int, run_id: str, concurrency: int = TASK_THREADS,
                      rate: float | None = None) -> None:
    """Sync ``group_pks`` in this worker, ``concurrency`` at a time (at most ``rate`` Chat calls a second per
    endpoint, else the settings'), and push each group's outcome onto the run's list."""
    connection = _redis()
    key = reports_key(run_id)
    clients = bulk.ThreadClients(**({"rate_limit": rate} if rate else {}))
    try:
        for pk, outcome in bulk.sync_batched(group_pks, actor_id, concurrency, clients):
            connection.rpush(key, json.dumps(report_of(pk, outcome)))
            connection.expire(key, REPORTS_TTL_SECONDS)
    finally:
        clients.close()
        connection.close()


def report_of(group_pk: int, outcome) -> dict:
    """A group's outcome as JSON-ready data: a SyncOutcome's fields, or the facts of the error that stopped it."""
    if isinstance(outcome, BaseException):
        return {"pk": group_pk, "stopped": error_data(outcome), "text": f"{type(outcome).__name__}: {outcome}"}
    return {"pk": group_pk, "outcome": dataclasses.asdict(outcome)}


def outcome_of_report(report: dict):
    """The SyncOutcome a report carries, or a RemoteFailure saying (in the active language) what stopped it."""
    if "stopped" in report:
        error = report["stopped"]
        return bulk.RemoteFailure(report["text"] if error["kind"] == "internal" else words.error_text(error))
    fields = report["outcome"]
    fields["refused"] = tuple(tuple(item) for item in fields.get("refused") or ())
    return bulk.SyncOutcome(**fields)


def hand_out(ids: Iterable[int], actor_id: int, stall_seconds: float, concurrency: int = TASK_THREADS,
             rate: float | None = None) -> Iterator[tuple[int, object]]:
    """Send the groups ``ids`` to the workers in batches; yield ``(group_pk, outcome)`` as each is first reported.

    A group reported again later (a batch delivered twice) is not yielded again. Stops with ``Stalled`` when no
    worker has reported anything for ``stall_seconds`` while groups are still out.
    """
    run_id = uuid.uuid4().hex
    key = reports_key(run_id)
    connection = _redis()
    handed = 0
    try:
        batch = []
        for pk in ids:
            batch.append(pk)
            if len(batch) == TASK_GROUPS:
                sync_groups_batch.delay(batch, actor_id, run_id, concurrency, rate)
                handed += len(batch)
                batch = []
        if batch:
            sync_groups_batch.delay(batch, actor_id, run_id, concurrency, rate)
            handed += len(batch)
        seen: set[int] = set()
        last = time.monotonic()
        while len(seen) < handed:
            popped = connection.blpop([key], timeout=1)
            if popped is None:
                if time.monotonic() - last >= stall_seconds:
                    raise Stalled(handed - len(seen))
                continue
            last = time.monotonic()
            report = json.loads(popped[1])
            if report["pk"] in seen:
                continue
            seen.add(report["pk"])
            yield report["pk"], outcome_of_report(report)
    finally:
        connection.close()


class Stalled(Exception):
    """No worker reported for a while; ``missing`` groups handed out have not reported."""

    def __init__(self, missing: int):
        super().__init__(missing)
        self.missing = missing


def stall_seconds() -> float:
    """How long the command waits without any report: a redelivery after the broker's visibility timeout, then a
    lease left by a dead worker, then a sync that waits for it, all fit in it."""
    visibility = app_settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    return max(300.0, 2 * visibility + 2 * app_settings.SYNC_LEASE_SECONDS)

