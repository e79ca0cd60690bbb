"""The bulk runner: groups synced many at a time, a Chat client per thread, rows streamed by keyset.

``sync_contact_groups`` runs on it, and the other commands stream their rows with it. It is tuned for a bulk
sync on a small machine (one HTTP session per thread, no cursor held open, an outcome read without a join
unless the group failed): measure before and after changing it (``bench/bulk_sync.py``).
"""

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import requests
from django.db import connections
from django.utils.translation import gettext as _

from contactgroups import sync, words
from contactgroups.conf import chat_client, chat_config
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
            session = requests.Session()
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


def sync_and_report(group_pk: int, actor_id: int, client=None) -> SyncOutcome:
    """Sync one group now (retrying passing failures, as the no-broker path does) and say where it ended.

    The sync's own result says so for a group that ended synced or deleted; only for any other end are the
    group's owner, name and error read back, with the conversations Chat refused taken from the stored outcome.
    """
    result = sync.sync_with_retries(group_pk, actor_id, client=client)
    if result is not None and result.state in DONE_STATES:
        return SyncOutcome(group_pk, "", "", result.state, None, "")
    owner, name, state, code, info, outcome = ContactGroup.objects.values_list(
        "owner__user_id", "name", "state", "last_error_code", "last_error_info", "last_outcome").get(pk=group_pk)
    outcome = outcome or {}
    refused = tuple(tuple(item) for item in outcome.get("refused", ())) if state == ContactGroup.State.PARTIAL else ()
    return SyncOutcome(group_pk, owner, name, state, code, info, refused, outcome.get("error") or {})
