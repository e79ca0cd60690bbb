"""The background runner: without a broker, the web process syncs (and pulls) in a few threads of its own, so a
request only hands the work over and returns.

- ``submit(key, work, *args)`` hands over one job. A job is keyed (``("sync", group_pk)``, ``("pull", owner_pk)``):
  a key waiting is run once, with the latest arguments; a key submitted while it runs is run once more after
  it ends, so an edit saved during a sync is sent too. Two jobs of one key never run at once here, and the
  group's lease (``sync/lease.py``) keeps them apart from every other process.
- ``work(*args, attempt=n)`` returns None when done, or the seconds to wait before attempt ``n + 1``; the job then
  waits in the runner, holding no thread.
- ``SYNC_RUNNER_THREADS`` threads (started on the first job; a forked child starts afresh) run the jobs
  due, each on its own database connection, closed after each job. They are daemon threads: a process that stops drops
  what is waiting, and a sync cut off mid-call leaves its lease to expire. ``start_recovery()`` (called where
  the web process starts, ``imadmin/wsgi.py``) takes such groups up again (``recover_stranded``) at once and then
  every ``SYNC_RECOVER_SECONDS``.
- ``wait_idle(timeout)`` waits until nothing runs or waits; ``drain(timeout)`` drops what waits and waits for
  what runs (the tests use both).
"""

import heapq
import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connections
from django.utils import timezone

from contactgroups.conf import app_settings
from contactgroups.models import ContactGroup
from contactgroups.sync.accounts import accounts_job
from contactgroups.sync.audit import last_actors
from contactgroups.sync.execute import attempt_sync
from contactgroups.sync.pull import attempt_pull

logger = logging.getLogger(__name__)


@dataclass
class _Job:
    key: tuple
    work: object
    args: tuple
    due: float
    attempt: int = 0
    seq: int = field(default=0)


class Runner:
    def __init__(self):
        self._cond = threading.Condition()
        self._reset()
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        """In a forked child none of the parent's threads run, and a lock one held may stay held: start afresh,
        looking for stranded groups again if the parent did (a server that forks its workers after loading)."""
        recovering = self._recovery is not None
        self._cond = threading.Condition()
        self._reset()
        if recovering:
            self.start_recovery()

    def _reset(self) -> None:
        self._threads: list[threading.Thread] = []
        self._waiting: dict[tuple, _Job] = {}
        self._heap: list[tuple[float, int, tuple]] = []
        self._running: set[tuple] = set()
        self._again: dict[tuple, _Job] = {}
        self._seq = itertools.count()
        self._dropping = False
        self._recovery: threading.Thread | None = None

    # Handing work over ----------------------------------------------------------------------------------------

    def submit(self, key: tuple, work, *args, delay: float = 0.0, attempt: int = 0) -> None:
        with self._cond:
            self._start_threads()
            job = _Job(key, work, args, time.monotonic() + delay, attempt)
            if key in self._running:
                self._again[key] = job
                return
            waiting = self._waiting.get(key)
            if waiting is not None and waiting.due <= job.due:
                waiting.args = args  # the latest caller acts; it runs when it was due
                return
            self._push(job)

    def holds(self, key: tuple) -> bool:
        """Whether this process has ``key`` waiting or running."""
        with self._cond:
            return key in self._waiting or key in self._running or key in self._again

    def _push(self, job: _Job) -> None:
        job.seq = next(self._seq)
        self._waiting[job.key] = job
        heapq.heappush(self._heap, (job.due, job.seq, job.key))
        self._cond.notify()

    def _start_threads(self) -> None:
        while len(self._threads) < app_settings.SYNC_RUNNER_THREADS:
            thread = threading.Thread(target=self._work, name=f"imadmin-sync-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    # Running it -----------------------------------------------------------------------------------------------

    def _next(self) -> _Job:
        with self._cond:
            while True:
                while self._heap:
                    due, seq, key = self._heap[0]
                    job = self._waiting.get(key)
                    if job is None or job.seq != seq:
                        heapq.heappop(self._heap)  # replaced or dropped
                        continue
                    if due <= time.monotonic():
                        heapq.heappop(self._heap)
                        del self._waiting[key]
                        self._running.add(key)
                        return job
                    break
                self._cond.wait(timeout=self._heap[0][0] - time.monotonic() if self._heap else None)

    def _work(self) -> None:
        while True:
            job = self._next()
            retry_in = None
            try:
                retry_in = job.work(*job.args, attempt=job.attempt)
            except Exception:
                logger.exception("Background job %s failed", job.key)
            finally:
                connections.close_all()
                with self._cond:
                    self._running.discard(job.key)
                    again = self._again.pop(job.key, None)
                    if self._dropping:
                        pass
                    elif again is not None:
                        again.due = time.monotonic()
                        self._push(again)
                    elif retry_in is not None:
                        self._push(_Job(job.key, job.work, job.args, time.monotonic() + retry_in, job.attempt + 1))
                    self._cond.notify_all()

    # Waiting for it -------------------------------------------------------------------------------------------

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing runs or waits; False if that took longer than ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._running or self._again:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(timeout=min(left, 0.05))
        return True

    def drain(self, timeout: float) -> bool:
        """Drop every job waiting, then wait for those running; False if they outlasted ``timeout`` seconds."""
        with self._cond:
            self._dropping = True
            self._waiting.clear()
            self._heap.clear()
            self._again.clear()
        try:
            return self.wait_idle(timeout)
        finally:
            with self._cond:
                self._dropping = False

    # Taking up what a stopped process left --------------------------------------------------------------------

    def start_recovery(self) -> None:
        """Take up stranded groups now, then every SYNC_RECOVER_SECONDS, in a daemon thread of this process."""
        with self._cond:
            if self._recovery is not None:
                return
            self._recovery = threading.Thread(target=self._recover_forever, name="imadmin-sync-recovery",
                                              daemon=True)
            self._recovery.start()

    def _recover_forever(self) -> None:
        unchanged_for = 0.0  # at start, every group nothing runs: the process that left it is gone
        while True:
            try:
                recover_stranded(unchanged_for, self)
            except Exception:
                logger.exception("Looking for stranded conversation groups failed")
            finally:
                connections.close_all()
            unchanged_for = app_settings.SYNC_STRANDED_SECONDS
            time.sleep(app_settings.SYNC_RECOVER_SECONDS)


def sync_job(group_pk: int, actor_id: int | None, attempt: int = 0) -> float | None:
    return attempt_sync(group_pk, actor_id, attempt)[1]


def pull_job(owner_pk: int, actor_id: int | None, attempt: int = 0) -> float | None:
    return attempt_pull(owner_pk, actor_id, attempt)


RUNNER = Runner()


def submit_sync(group_pk: int, actor_id: int | None) -> None:
    RUNNER.submit(("sync", group_pk), sync_job, group_pk, actor_id)


def submit_pull(owner_pk: int, actor_id: int | None) -> None:
    RUNNER.submit(("pull", owner_pk), pull_job, owner_pk, actor_id)


def submit_accounts(user_pks: list[int], actor_id: int | None, check_only: bool = False) -> None:
    RUNNER.submit(("accounts", tuple(user_pks), check_only), accounts_job, list(user_pks), actor_id, check_only)


def stranded(unchanged_for: float) -> list[tuple[int, int | None]]:
    """Each stranded group (``ContactGroup.objects.stranded``), unchanged for ``unchanged_for`` seconds, with the
    staff user its sync acts for (the one of its latest history entry)."""
    since = timezone.now() - timedelta(seconds=unchanged_for)
    pks = list(ContactGroup.objects.stranded(since).order_by("pk").values_list("pk", flat=True))
    actors = last_actors(pks) if pks else {}
    return [(pk, actors.get(pk)) for pk in pks]


def recover_stranded(unchanged_for: float, runner: Runner = RUNNER) -> int:
    """Hand the runner every stranded group it does not hold already; how many it took."""
    taken = 0
    for pk, actor_id in stranded(unchanged_for):
        if not runner.holds(("sync", pk)):
            runner.submit(("sync", pk), sync_job, pk, actor_id)
            taken += 1
    if taken:
        logger.info("Took up %d stranded conversation group(s) for sync", taken)
    return taken


def start_in_web_process() -> None:
    """Where a web process starts (``imadmin/wsgi.py``, ``asgi.py``): without a broker, take up stranded groups
    now and periodically. With one, Celery beat does (``tasks.requeue_stranded``)."""
    if not app_settings.CELERY_BROKER_URL:
        RUNNER.start_recovery()
