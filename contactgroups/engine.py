"""The engine: every piece of background work is a Celery task; without a broker the same task functions run on one
small in-process executor.

``background`` makes a Celery task of a plain function ``work(*args, attempt=0)`` that returns None when done, or
the seconds to wait before attempt ``attempt + 1``; a worker runs it (retrying by ``Task.retry``, acknowledged
only when it ends), and ``send(task, *args)`` hands it over: to the broker when CELERY_BROKER_URL is set (a
broker that cannot take it raises kombu's OperationalError), else to ``LOCAL``, a ``ThreadPoolExecutor`` of
SYNC_RUNNER_THREADS threads in this process. There a retry waits on a ``threading.Timer``, holding no thread of
the pool; a task handed over again under the same ``key`` while it waits runs once (it reads the latest state
when it runs), and a group's lease keeps two syncs of it apart. The pool's threads are daemon threads each with
its own database connection, closed after each task: a process that stops drops what waits, and a sync cut off
mid-call leaves its lease to expire, for ``contactgroups.tasks.requeue_stranded`` to take up again.

``thread_client()`` is the Chat client of the current thread (a worker's or the executor's), kept for its next
task, so a thread syncing group after group reuses one HTTP connection and one UserSig.
"""

import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from celery import shared_task
from celery.exceptions import TimeoutError as ResultTimeout
from celery.result import ResultSet
from django.db import connections

from contactgroups.chat.transport import chat_session
from contactgroups.conf import app_settings, chat_client, chat_config

logger = logging.getLogger(__name__)


def settle_loaded_objects() -> None:
    """Keep what a worker or a command loaded to start (Django, the app, Celery) out of the garbage collector's
    full passes, once it has started.

    Syncing in bulk makes and drops objects by the hundred thousand, so Python's collector runs full passes every
    few seconds; each walks every object of the process with all its threads stopped (0.1 to 0.2 s on a small
    machine), and no call to Chat leaves meanwhile. What start-up loaded lives as long as the process:
    ``gc.freeze`` moves it where those passes no longer walk it (without a collection first, which would itself
    stop every thread for as long).
    """
    gc.freeze()


def has_broker() -> bool:
    return bool(app_settings.CELERY_BROKER_URL)


def background(**options):
    """Make ``work(*args, attempt=0) -> seconds | None`` a Celery task named after it; ``task.work`` is ``work``."""

    def wrap(work):
        @shared_task(bind=True, name=f"{work.__module__}.{work.__name__}", acks_late=True,
                     reject_on_worker_lost=True, max_retries=None, ignore_result=True, **options)
        def task(self, *args):
            delay = work(*args, attempt=self.request.retries)
            if delay is not None:
                raise self.retry(countdown=delay)

        task.work = work
        return task

    return wrap


def with_result(work):
    """Make ``work(*args) -> data`` (JSON: lists, dicts, text, numbers) a Celery task whose result is kept for the
    caller that waits for it (``run_each``). It is not retried: a failure it can tell is in the data it returns."""
    task = shared_task(name=f"{work.__module__}.{work.__name__}", acks_late=True, reject_on_worker_lost=True,
                       ignore_result=False)(work)
    task.work = work
    return task


# How often a caller waiting for tasks' results (``run_each``) reads them from the result backend.
RESULT_POLL_SECONDS = 0.2


class Stalled(Exception):
    """Nothing a command handed over ended for ``stall_seconds()``; ``missing`` tasks (or groups) have not."""

    def __init__(self, missing: int):
        super().__init__(missing)
        self.missing = missing


def stall_seconds() -> float:
    """How long a command waits for its run with nothing of it ending before it stops (``Stalled``): the
    SYNC_STALL_SECONDS setting; unset, long enough for a redelivery after the broker's visibility timeout, then a
    lease left by a dead worker, then a sync that waits for it."""
    if app_settings.SYNC_STALL_SECONDS:
        return float(app_settings.SYNC_STALL_SECONDS)
    visibility = app_settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    return max(300.0, 2 * visibility + 2 * app_settings.SYNC_LEASE_SECONDS)


def run_each(task, calls: Iterable[tuple], on_result: Callable[[tuple, object], None],
             threads: int | None = None) -> None:
    """Run ``task(*args)`` (a ``with_result`` task) for each ``args`` of ``calls`` and wait for every one: on the
    workers when there is a broker (their results read back from the result backend, the broker's Redis), else on
    ``threads`` threads of ``LOCAL``. ``on_result(args, value)`` is called in this thread as each ends: ``value``
    is what the task returned, or the exception that ended it. ``Stalled`` when none ends for ``stall_seconds()``
    (a broker and no worker). If the caller stops waiting without a broker, the tasks not started are dropped and
    those running end; with one, the workers go on."""
    stall = stall_seconds()
    if has_broker():
        pending: dict[str, tuple] = {}
        results = []
        for args in calls:
            results.append(task.apply_async(args, retry=True))
            pending[results[-1].id] = args
        last = time.monotonic()

        def ended(task_id, value):
            nonlocal last
            last = time.monotonic()
            on_result(pending.pop(task_id), value)

        try:
            while pending:
                left = stall - (time.monotonic() - last)
                if left <= 0:
                    raise Stalled(len(pending))
                try:
                    ResultSet([result for result in results if result.id in pending]).join_native(
                        callback=ended, propagate=False, interval=RESULT_POLL_SECONDS, timeout=left)
                except (ResultTimeout, TimeoutError):
                    pass  # nothing more ended in the time left: the loop says whether that is a stall
        finally:
            for result in results:
                if result.id in pending:  # no longer waited for: its subscription ends now, the backend still up
                    result.backend.remove_pending_result(result)
        return
    if threads:
        LOCAL.use_threads(threads)
    try:
        futures = {LOCAL.call(task.work, args): args for args in calls}
        running = set(futures)
        while running:
            done, running = wait(running, timeout=stall, return_when=FIRST_COMPLETED)
            if not done:
                raise Stalled(len(running))
            for future in done:
                on_result(futures[future], future.exception() or future.result())
    except BaseException:
        LOCAL.drain(timeout=120)
        raise


def send(task, *args, key: tuple | None = None, delay: float = 0.0, expires: float | None = None) -> None:
    """Hand ``task(*args)`` over, to start in ``delay`` seconds: to the broker, or to the in-process executor."""
    if has_broker():
        # Retried as CELERY_TASK_PUBLISH_RETRY_POLICY says, each connection attempt bounded by
        # CELERY_BROKER_CONNECTION_TIMEOUT: a down broker costs the caller a fraction of a second.
        task.apply_async(args, retry=True, countdown=delay or None, expires=expires)
    else:
        LOCAL.submit(task.work, args, key=key, delay=delay)


class LocalExecutor:
    """Background work without a broker: a small ThreadPoolExecutor, and a Timer for each retry that waits."""

    def __init__(self):
        self._cond = threading.Condition()
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a server that forks after loading starts afresh

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._pool: ThreadPoolExecutor | None = None
        self._threads = 0
        self._futures: set[Future] = set()
        self._timers: dict[tuple, threading.Timer] = {}
        self._waiting: set[tuple] = set()
        self._dropping = False

    def use_threads(self, threads: int) -> None:
        """Run on ``threads`` threads from now on, not SYNC_RUNNER_THREADS (a command sizes it to its run)."""
        with self._cond:
            if threads != self._threads and self._pool is not None:
                self._pool.shutdown(wait=False)  # what it runs ends there; what comes goes to the new pool
                self._pool = None
            self._threads = threads

    def submit(self, work, args: tuple, key: tuple | None = None, delay: float = 0.0, attempt: int = 0) -> None:
        key = key if key is not None else (object(),)  # a task of its own
        with self._cond:
            if key in self._waiting:
                timer = self._timers.get(key)
                if timer is None or delay > 0:
                    return  # the one waiting runs soon enough, and reads the latest state when it does
                timer.cancel()  # due now rather than after its retry's wait
                del self._timers[key]
            self._waiting.add(key)
            if delay > 0:
                timer = self._timers[key] = threading.Timer(delay, self._due, (work, args, key, attempt))
                timer.daemon = True
                timer.start()
            else:
                self._start(work, args, key, attempt)

    def call(self, work, args: tuple) -> Future:
        """Run ``work(*args)`` on the pool now; its Future holds what it returned or raised (``run_each``)."""
        with self._cond:
            future = self._pool_now().submit(self._call, work, args)
            self._futures.add(future)
            future.add_done_callback(self._ended)
            return future

    @staticmethod
    def _call(work, args: tuple):
        try:
            return work(*args)
        finally:
            connections.close_all()

    def _pool_now(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads or app_settings.SYNC_RUNNER_THREADS,
                                            thread_name_prefix="imadmin-background")
        return self._pool

    def _due(self, work, args, key, attempt) -> None:
        with self._cond:
            if self._timers.pop(key, None) is not None and not self._dropping:
                self._start(work, args, key, attempt)
            self._cond.notify_all()

    def _start(self, work, args, key, attempt) -> None:
        future = self._pool_now().submit(self._run, work, args, key, attempt)
        self._futures.add(future)
        future.add_done_callback(self._ended)

    def _ended(self, future: Future) -> None:
        with self._cond:
            self._futures.discard(future)
            self._cond.notify_all()

    def _run(self, work, args, key, attempt) -> None:
        with self._cond:
            self._waiting.discard(key)  # running: one handed over from now on runs after it (the lease says when)
        delay = None
        try:
            delay = work(*args, attempt=attempt)
        except Exception:
            logger.exception("Background task %s%r failed", getattr(work, "__name__", work), args)
        finally:
            connections.close_all()
        if delay is not None and not self._dropping:
            self.submit(work, args, key=key, delay=delay, attempt=attempt + 1)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing runs or waits; False if that took longer than ``timeout`` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._futures and not self._timers, timeout)

    def drain(self, timeout: float) -> bool:
        """Drop everything waiting, then wait for what runs; False if it outlasted ``timeout`` seconds."""
        with self._cond:
            self._dropping = True
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            for future in list(self._futures):
                future.cancel()
            self._waiting.clear()
            futures = list(self._futures)
        try:
            return not wait(futures, timeout).not_done and self.wait_idle(timeout)
        finally:
            with self._cond:
                self._dropping = False

    def every(self, seconds, work, first_args: tuple, later_args: tuple) -> None:
        """Run ``work(*first_args)`` now, then ``work(*later_args)`` ``seconds()`` seconds after each run ends: a
        task of this executor like any other, its wait a retry's Timer. One that fails is logged and runs again."""

        def tick(*, attempt: int = 0) -> float:
            try:
                work(*(later_args if attempt else first_args))
            except Exception:
                logger.exception("Periodic background task %s failed", work.__name__)
            return seconds()

        tick.__name__ = work.__name__
        self.submit(tick, (), key=("every", work.__module__, work.__name__))


LOCAL = LocalExecutor()


_clients = threading.local()


def thread_client(**overrides):
    """This thread's ChatClient for the settings and ``overrides`` (``rate_limit``), made on first use and kept for
    the thread's next tasks (a client of other settings is closed then).
    """
    config = chat_config(**overrides)
    kept = getattr(_clients, "kept", None)
    if kept is not None and kept[0] == config:
        return kept[1]
    if kept is not None:
        kept[1].close()
    client = chat_client(session=chat_session(config.api_base), **overrides)
    _clients.kept = (config, client)
    return client
