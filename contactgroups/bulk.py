"""The bulk runner: groups synced many at a time, a Chat client per thread, rows streamed by keyset.

``sync_contact_groups`` runs on it, and the other commands stream their rows with it. It is tuned for a bulk
sync on a small machine (one HTTP session per thread, no cursor held open, an outcome read without a join
unless the group failed): measure before and after changing it (``bench/bulk_sync.py``).
"""

import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connections
from django.utils.translation import gettext as _

from contactgroups import sync, words
from contactgroups.chat import protocol, ratelimit
from contactgroups.chat.transport import chat_session
from contactgroups.conf import app_settings, chat_client, chat_config
from contactgroups.models import ContactGroup

# The states ``sync_contact_groups`` picks. Pending: waiting for a first or another sync, or for deletion.
PENDING_STATES = (ContactGroup.State.DRAFT, ContactGroup.State.QUEUED, ContactGroup.State.DELETING)
FAILED_STATES = (ContactGroup.State.FAILED,)
# Where a sync that went well leaves a group.
DONE_STATES = (ContactGroup.State.SYNCED, ContactGroup.State.DELETED)

# Groups synced at once by the commands unless told otherwise (--concurrency).
DEFAULT_CONCURRENCY = 8
# Ids are read this many at a time (keyset pagination), so a run never holds every row.
ID_CHUNK = 1000


_DONE = object()


def run_concurrently(items: Iterable, work: Callable, concurrency: int) -> Iterator[tuple[object, object]]:
    """Run ``work(item)`` for each item in ``concurrency`` threads; yield ``(item, result)`` as each ends.

    ``result`` is what ``work`` returned, or the exception it raised (one failing item never stops the
    others). A feeding thread takes items from ``items`` at most ``2 * concurrency`` ahead of the work, so a
    stream of ids is never held whole. Each thread has its own database connection (Django's connections are
    per thread) and closes it when it ends. If the caller stops reading (an interrupt), the threads finish the
    item in hand and stop. With ``concurrency`` 1 everything runs in the calling thread.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if concurrency == 1:
        for item in items:
            yield item, _call(work, item)
        return

    todo: queue.Queue = queue.Queue(maxsize=2 * concurrency)
    finished: queue.Queue = queue.Queue()
    stop = threading.Event()
    feed_errors: list[BaseException] = []

    def put(item) -> bool:
        while not stop.is_set():
            try:
                todo.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def feed():
        try:
            for item in items:
                if not put(item):
                    return
        except Exception as exc:
            feed_errors.append(exc)
        finally:
            connections.close_all()
            for _ in range(concurrency):
                put(_DONE)

    def run():
        try:
            while not stop.is_set():
                try:
                    item = todo.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is _DONE:
                    return
                finished.put((item, _call(work, item)))
        finally:
            connections.close_all()
            finished.put(_DONE)

    threads = [threading.Thread(target=feed, name="imadmin-feeder", daemon=True)]
    threads += [threading.Thread(target=run, name=f"imadmin-worker-{n}", daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    try:
        running = concurrency
        while running:
            result = finished.get()
            if result is _DONE:
                running -= 1
            else:
                yield result
        if feed_errors:
            raise feed_errors[0]
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _call(work: Callable, item):
    try:
        return work(item)
    except Exception as exc:  # one failing item never stops the others; the caller reports it
        return exc


def stream_rows(queryset, fields: Iterable[str] = (), chunk: int = ID_CHUNK) -> Iterator[tuple]:
    """``(pk, *fields)`` of each row of ``queryset`` in ascending pk order, read ``chunk`` rows at a time.

    Keyset pagination: each chunk is a complete query, so no cursor stays open while other threads write
    (SQLite's writers would wait on it), memory holds one chunk, and a row whose state changes meanwhile is
    never read twice.
    """
    last = None
    while True:
        page = queryset.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page.values_list("pk", *fields)[:chunk])
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1][0]


def stream_ids(queryset, chunk: int = ID_CHUNK) -> Iterator[int]:
    """The primary keys of ``queryset``, ascending, read ``chunk`` at a time (see ``stream_rows``)."""
    for row in stream_rows(queryset, chunk=chunk):
        yield row[0]


def groups_to_sync(selection: str, owners: Iterable[str] = ()):
    """The groups ``sync_contact_groups`` syncs: ``pending``, ``failed`` or ``all`` (never deleted ones)."""
    groups = ContactGroup.objects.live()
    if selection == "pending":
        groups = groups.filter(state__in=PENDING_STATES)
    elif selection == "failed":
        groups = groups.filter(state__in=FAILED_STATES)
    elif selection != "all":
        raise ValueError(f"Unknown selection {selection!r}: use pending, failed or all.")
    owners = list(owners)
    if owners:
        groups = groups.filter(owner__user_id__in=owners)
    return groups


@dataclass(frozen=True)
class SyncOutcome:
    """Where one group ended after a command's sync.

    Facts only: the worker threads make it, and ``line()`` says it in the command's language when it is printed.
    """

    group_pk: int
    owner: str
    name: str
    state: str
    error_code: int | None
    error_info: str
    # What Chat refused, ``(type, target, ResultCode, ResultInfo)`` each, and the stored failure (see
    # sync.outcome.error_data), both from the group's stored outcome.
    refused: tuple = ()
    error: dict = field(default_factory=dict, compare=False)

    @property
    def failed(self) -> bool:
        return self.state not in DONE_STATES

    def why(self) -> str:
        """Why the group did not sync fully, in the project's words; "" when it did."""
        if self.error_code is not None:
            return words.code_text(self.error_code, self.error_info)
        if self.error_info:
            return self.error_info
        if self.refused:
            return _("refused: %(conversations)s") % {"conversations": "; ".join(
                f"{words.conversation_text((kind, target))}, {words.code_text(code, info)}"
                for kind, target, code, info in self.refused)}
        if self.error:
            return words.error_text(self.error)
        return ""

    def line(self) -> str:
        params = {"pk": self.group_pk, "name": self.name, "owner": self.owner,
                  "state": ContactGroup.State(self.state).label}
        why = self.why()
        if why:
            return _("Group %(pk)d “%(name)s” of %(owner)s: %(state)s (%(why)s)") % {**params, "why": why}
        return _("Group %(pk)d “%(name)s” of %(owner)s: %(state)s") % params


class ThreadClients:
    """One ChatClient per thread, made on first use and closed together at the end.

    A client keeps its HTTP connections alive, so a thread syncing group after group reuses one connection
    (and one UserSig) instead of opening a new one for each group. Its session takes the proxies and CA bundle
    from the environment once, as requests would for each call, which saves a bulk run a few percent of its
    CPU. ``overrides`` go to ``conf.chat_client`` (``rate_limit`` for ``sync_contact_groups --rate``).
    """

    def __init__(self, **overrides):
        self.overrides = overrides
        self._local = threading.local()
        self._sessions = []
        self._lock = threading.Lock()

    def get(self):
        client = getattr(self._local, "client", None)
        if client is None:
            session = chat_session()
            environment = session.merge_environment_settings(
                chat_config(**self.overrides).api_base, {}, None, None, None)
            session.proxies, session.verify = environment["proxies"], environment["verify"]
            session.trust_env = False
            with self._lock:
                self._sessions.append(session)
            client = self._local.client = chat_client(session=session, **self.overrides)
        return client

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()


def sync_and_report(group_pk: int, actor_id: int, client=None, attempts_made: int = 0) -> SyncOutcome:
    """Sync one group now (retrying passing failures, as the no-broker path does) and say where it ended.

    The sync's own result says so for a group that ended synced or deleted; only for any other end is the group
    read back. ``attempts_made``: attempts already made by the batch path (see ``sync.sync_with_retries``).
    """
    result = sync.sync_with_retries(group_pk, actor_id, client=client, attempts_made=attempts_made)
    if result is not None and result.state in DONE_STATES:
        return SyncOutcome(group_pk, "", "", result.state, None, "")
    return read_outcome(group_pk)


def read_outcome(group_pk: int) -> SyncOutcome:
    """Where the group ``group_pk`` ended, read from its row."""
    return outcome_of(ContactGroup.objects.select_related("owner").only(
        "owner__user_id", "name", "state", "last_error_code", "last_error_info", "last_outcome").get(pk=group_pk))


def outcome_of(group: ContactGroup) -> SyncOutcome:
    """Where ``group`` (its row after a sync) ended, with the conversations Chat refused from its stored outcome."""
    if group.state in DONE_STATES:
        return SyncOutcome(group.pk, "", "", group.state, None, "")
    outcome = group.last_outcome or {}
    refused = (tuple(tuple(item) for item in outcome.get("refused", ()))
               if group.state == ContactGroup.State.PARTIAL else ())
    return SyncOutcome(group.pk, group.owner.user_id, group.name, group.state, group.last_error_code,
                       group.last_error_info, refused, outcome.get("error") or {})


# The batch path ----------------------------------------------------------------------------------------------

# Groups claimed, and their syncs saved, this many at a time (see contactgroups.sync.batch).
BATCH_SIZE = 50
# A batch is saved once it is full, or this long after its first group's calls ended.
FLUSH_SECONDS = 0.25


def sync_batched(ids: Iterable[int], actor_id: int, concurrency: int, clients: ThreadClients,
                 batch_size: int = BATCH_SIZE) -> Iterator[tuple[int, object]]:
    """Sync the groups ``ids`` in ``concurrency`` threads, claiming and saving them a batch at a time.

    Yields ``(group_pk, SyncOutcome)`` for each group as its batch is saved, or ``(group_pk, exception)`` when
    its sync stopped on an error that is not Chat's. One thread claims batches (``sync.batch.claim``) at most
    one and a half batches ahead of the work, ``concurrency`` threads make the Chat calls, one thread saves
    what they confirmed (``sync.batch.save``). A group another sync holds, or whose sync failed in a way that
    may pass, is synced one by one (``sync_and_report``: waiting for its lease, retrying with backoff). If the
    caller stops reading, the calls in hand finish and are saved, and the groups claimed but not started are
    given back as they were.
    """
    from contactgroups.sync import batch, execute

    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    todo: queue.Queue = queue.Queue()
    done: queue.Queue = queue.Queue()
    finished: queue.Queue = queue.Queue()
    stop, fed, saving_ends = threading.Event(), threading.Event(), threading.Event()
    lock = threading.Lock()
    outstanding = [0]
    feed_errors: list[BaseException] = []
    room = max(batch_size // 2, concurrency)

    def claim(chunk: list[int]) -> None:
        while todo.qsize() >= room and not stop.is_set():
            time.sleep(0.005)
        if stop.is_set():
            return
        with lock:
            outstanding[0] += len(chunk)
        try:
            works, others = batch.claim(chunk)
        except Exception as exc:
            for pk in chunk:
                finished.put((pk, exc))
            return
        for work in works:
            todo.put(("batch", work))
        for pk in others:
            todo.put(("one", pk, 0))

    def feed():
        try:
            chunk = []
            for pk in ids:
                if stop.is_set():
                    return
                chunk.append(pk)
                if len(chunk) == batch_size:
                    claim(chunk)
                    chunk = []
            if chunk and not stop.is_set():
                claim(chunk)
        except Exception as exc:
            feed_errors.append(exc)
        finally:
            connections.close_all()
            fed.set()

    def one_by_one(job) -> SyncOutcome:
        _kind, pk, attempts = job
        return sync_and_report(pk, actor_id, clients.get(), attempts)

    def work():
        try:
            while not stop.is_set():
                try:
                    job = todo.get(timeout=0.05)
                except queue.Empty:
                    if saving_ends.is_set():
                        return
                    continue
                if job[0] == "batch":
                    done.put(batch.run(job[1], actor_id, clients.get()))
                else:
                    finished.put((job[1], _call(one_by_one, job)))
        finally:
            connections.close_all()

    def flush(items: list) -> None:
        try:
            saved = batch.save(items, actor_id)
        except Exception as exc:
            for item in items:
                finished.put((item.work.group.pk, exc))
            return
        reported = set()
        for entry in saved:
            pk, error = entry.result.group_pk, entry.error
            reported.add(pk)
            if error is not None and execute.is_retryable(error) and not stop.is_set():
                if app_settings.SYNC_MAX_ATTEMPTS > 1:
                    todo.put(("one", pk, 1))
                    continue
                sync.give_up(pk, actor_id, error)
                finished.put((pk, _call(read_outcome, pk)))
                continue
            if error is not None and not execute.is_retryable(error):
                sync.log_unexpected(pk, error)
            finished.put((pk, outcome_of(entry.group)))
        for item in items:
            if item.work.group.pk not in reported:
                finished.put((item.work.group.pk, ContactGroup.DoesNotExist(
                    f"No conversation group with id {item.work.group.pk}.")))

    def save():
        try:
            pending, first = [], 0.0
            while True:
                try:
                    item = done.get(timeout=0.02)
                    if not pending:
                        first = time.monotonic()
                    pending.append(item)
                except queue.Empty:
                    if saving_ends.is_set() and not pending:
                        return
                if pending and (len(pending) >= batch_size or saving_ends.is_set()
                                or time.monotonic() - first >= FLUSH_SECONDS):
                    flush(pending)
                    pending = []
        finally:
            connections.close_all()

    feeder = threading.Thread(target=feed, name="imadmin-claimer", daemon=True)
    saver = threading.Thread(target=save, name="imadmin-saver", daemon=True)
    workers = [threading.Thread(target=work, name=f"imadmin-worker-{n}", daemon=True) for n in range(concurrency)]
    for thread in (feeder, saver, *workers):
        thread.start()
    try:
        while True:
            try:
                yield finished.get(timeout=0.05)
            except queue.Empty:
                pass
            else:
                with lock:
                    outstanding[0] -= 1
                continue
            with lock:
                if fed.is_set() and outstanding[0] <= 0 and finished.empty():
                    break
        if feed_errors:
            raise feed_errors[0]
    finally:
        stop.set()
        feeder.join()
        for thread in workers:
            thread.join()
        saving_ends.set()
        saver.join()
        left = []
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                break
            if job[0] == "batch":
                left.append(job[1])
        if left:
            batch.unclaim(left)


# Processes -----------------------------------------------------------------------------------------------------

# Threads a process of ``sync_contact_groups`` syncs groups in, unless told otherwise (--concurrency): each waits
# about 50 ms for each of Chat's answers, so at a process's share of Chat's rate (95 calls a second on two cores)
# about six are in flight, and 8 keep it busy. More only queue for the interpreter lock: a call that waits for it
# after the limiter let it go reaches Chat bunched with the next ones, and Chat counts one call too many.
SYNC_THREADS = 8


class RemoteFailure(Exception):
    """A group's sync stopped, in a worker process, on an error that is not Chat's; the text says which."""


_EXITED = "exited"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_processes(total: int, batch_size: int = BATCH_SIZE) -> int:
    """Processes for ``total`` groups: one a usable core, no more than there are batches; one on an in-memory
    SQLite database, which other processes cannot see."""
    database = connections["default"]
    if database.vendor == "sqlite" and database.is_in_memory_db():
        return 1
    return max(1, min(usable_cores(), -(-total // batch_size)))


def sync_in_processes(ids: Iterable[int], actor_id: int, processes: int, concurrency: int, overrides: dict,
                      describe: Callable[[BaseException], str], total: int | None = None
                      ) -> Iterator[tuple[int, object]]:
    """``sync_batched`` in ``processes`` forked worker processes of ``concurrency`` threads each.

    This process reads the ids and hands them out a batch at a time (smaller when ``total``, the number of ids, is
    too small to give each worker two) to whichever worker asks first; each worker claims and saves them as one
    batch (``sync_batched``). It yields
    ``(group_pk, SyncOutcome)`` as they report, or ``(group_pk, RemoteFailure)`` with ``describe(error)`` for a
    sync stopped by an error that is not Chat's. ``overrides`` go to each worker's clients (``ThreadClients``).
    The workers count and space their calls as one process would (``ratelimit.share_with_forks``; a Redis rate
    limit storage is shared already). Each worker has its own database connections; a worker that dies loses
    only the groups it held, whose leases expire (the next sync reads Chat first).
    """
    config = chat_config(**{key: value for key, value in overrides.items() if key == "rate_limit"})
    ratelimit.share_with_forks(config.rate_limit_storage, config.sdkappid,
                               {endpoint: config.rate_for(endpoint) for endpoint in protocol.ENDPOINTS})
    chunk = BATCH_SIZE if total is None else max(1, min(BATCH_SIZE, -(-total // (2 * processes))))
    context = multiprocessing.get_context("fork")
    tasks = context.Queue(maxsize=processes)
    results = context.Queue()
    connections.close_all()
    workers = [context.Process(target=_worker_process, name=f"imadmin-sync-{number}", daemon=True,
                               args=(tasks, results, actor_id, concurrency, chunk, overrides, describe))
               for number in range(processes)]
    for worker in workers:
        worker.start()
    stop = threading.Event()

    def feed():
        try:
            batch = []
            for pk in ids:
                batch.append(pk)
                if len(batch) == chunk:
                    if not _put(tasks, batch, stop):
                        return
                    batch = []
            if batch:
                _put(tasks, batch, stop)
        finally:
            connections.close_all()
            for _worker in workers:
                _put(tasks, None, stop)

    feeder = threading.Thread(target=feed, name="imadmin-sync-feeder", daemon=True)
    feeder.start()
    exited = 0
    try:
        while exited < processes:
            try:
                pk, outcome = results.get(timeout=0.5)
            except queue.Empty:
                if all(worker.exitcode is not None for worker in workers):
                    break
                continue
            if outcome == _EXITED:
                exited += 1
            elif pk is None:
                raise outcome
            else:
                yield pk, outcome
    finally:
        stop.set()
        for worker in workers:
            if worker.exitcode is None and exited < processes:
                os.kill(worker.pid, signal.SIGINT)
        for worker in workers:
            worker.join(timeout=60)
        feeder.join(timeout=5)
        tasks.close()
        results.close()


def _put(tasks, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            tasks.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _worker_process(tasks, results, actor_id: int, concurrency: int, batch_size: int, overrides: dict,
                    describe) -> None:
    """A forked worker of ``sync_in_processes``: sync the chunks it is handed until it is handed None."""
    connections.close_all()
    # An interrupt reaches the worker twice (from the terminal, then from the command): the second must not cut
    # short the saving and giving back that the first started.
    signal.signal(signal.SIGINT, _interrupt_once)

    def ids():
        while not _stopping.is_set():
            try:
                chunk = tasks.get(timeout=0.1)
            except queue.Empty:
                continue
            if chunk is None:
                return
            yield from chunk

    clients = ThreadClients(**overrides)
    try:
        for pk, outcome in sync_batched(ids(), actor_id, concurrency, clients, batch_size):
            if isinstance(outcome, BaseException):
                outcome = RemoteFailure(describe(outcome))
            results.put((pk, outcome))
    except KeyboardInterrupt:
        pass
    except BaseException as exc:
        results.put((None, RemoteFailure(describe(exc))))
    finally:
        clients.close()
        connections.close_all()
        results.put((None, _EXITED))


# Set in a worker process when it is interrupted: it takes no more ids.
_stopping = threading.Event()


def _interrupt_once(_signum, _frame) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stopping.set()
    raise KeyboardInterrupt
