"""A command's run of background work: a bulk sync handed to the engine in tasks of a few dozen groups, its progress
followed by reading the database; and the drift sweep's tasks, their readings read back (``engine.run_each``) and
summed.

``sync_in_background`` sends one ``tasks.sync_groups_task`` for each SYNC_TASK_GROUPS groups: to the Celery workers
when a broker is configured (any worker on any machine takes a task; their Chat calls are counted and spaced
together through CHAT_RATE_LIMIT_STORAGE), else to the in-process executor, sized to the run. It then reads the
groups' rows: a group has ended once a sync wrote its end after the run started (``updated_at``) and left it in a
state that waits for nothing (not draft, queued, syncing or deleting); it yields each as a ``GroupEnd``.

A worker killed mid-task loses nothing and doubles nothing: a task is acknowledged only when it ends
(``acks_late``) and is delivered again (at once if only the pool died, after the broker's visibility timeout if the
whole worker did). The second delivery syncs the same groups again: those already stored find nothing to do, one
whose create was sent but whose answer was not stored is found in Chat by its create intent, and one whose lease
the dead worker still holds is synced alone once the lease expires.
"""

import itertools
import operator
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import reduce

from django.db.models import Q
from django.utils import timezone

from contactgroups import rows, tasks, words
from contactgroups.conf import app_settings
from contactgroups.engine import LOCAL, Stalled, has_broker, run_each, send, settle_loaded_objects, stall_seconds
from contactgroups.models import ChatUser, ContactGroup
from contactgroups.sync.drift import owners_to_sweep
from contactgroups.sync.outcome import reported_failure

# The states a group waits in for a sync; any other is where a sync left it.
WAITING_STATES = (ContactGroup.State.DRAFT, ContactGroup.State.QUEUED, ContactGroup.State.SYNCING,
                  ContactGroup.State.DELETING)
# How often the database is read for the run's progress, and the most ids between two of the run's that one range
# of ids still covers (``spans``).
POLL_SECONDS = 0.2
POLL_GAP = 100


@dataclass(frozen=True)
class GroupEnd:
    """Where one group of the run ended: its state, and for one that did not end fully, its line to print."""

    group_pk: int
    state: str
    line: str = ""

    @property
    def failed(self) -> bool:
        return self.state not in rows.DONE_STATES


def sync_in_background(ids: Iterable[int], actor_id: int, threads: int, rate: float | None = None,
                       stall: float | None = None, total: int | None = None) -> Iterator[GroupEnd]:
    """Hand the groups ``ids`` (``total`` of them, when known) to the engine, ``SYNC_TASK_GROUPS`` a task, or
    fewer so that a small run keeps ``threads`` busy (without a broker, ``threads`` threads of this process; with
    one, the workers'), at most ``rate`` Chat calls a second per endpoint; yield each group as it ends.

    ``Stalled`` when none ends for ``stall`` seconds (``stall_seconds()`` by default). If the caller stops reading
    without a broker, the tasks not started are dropped and those running end; with one, the workers go on.
    """
    settle_loaded_objects()
    started = timezone.now()
    if not has_broker():
        LOCAL.use_threads(threads)
    pending: set[int] = set()
    chunk: list[int] = []
    sizes = chunk_sizes(max(1, app_settings.SYNC_TASK_GROUPS), threads, total)
    wanted = next(sizes)
    for pk in ids:
        chunk.append(pk)
        if len(chunk) == wanted:
            send(tasks.sync_groups_task, chunk, actor_id, rate)
            pending.update(chunk)
            chunk = []
            wanted = next(sizes)
    if chunk:
        send(tasks.sync_groups_task, chunk, actor_id, rate)
        pending.update(chunk)
    try:
        yield from follow(pending, started, stall if stall is not None else stall_seconds())
    except BaseException:
        if not has_broker():
            LOCAL.drain(timeout=120)
        raise


def chunk_sizes(size: int, threads: int, total: int | None = None) -> Iterator[int]:
    """The sizes of a run's tasks: ``size`` groups each, but the first ``threads`` of them from half that up, and,
    when the run's ``total`` is known, none more than an even share of the groups not yet handed out
    (``ceil(left / threads)``) nor less than half of ``size`` (or a thread's share of a small run).

    A task stores its groups together when it has sent them all; tasks of one size, taken together, would end
    together, and their stores would hold the database and the interpreter at once while Chat's rate went unused.
    Tasks of staggered sizes end one after the other, and so do those that follow them. At the end of a run, a
    thread that took a full task last would still be sending alone, one call at a time, after the others ran out
    of work: the last tasks shrink with the groups left (guided self-scheduling), so the threads run out of work
    together. The floor keeps the tasks few and long enough: each claims and stores its groups in statements of its
    own, and while many threads claim or store at once, that takes a task hundreds of milliseconds, so a task of a
    few groups spends most of its time away from Chat (docs/operations.md, *Bulk sync throughput*).
    """
    left = total
    least = max(1, min(size // 2, -(-total // threads))) if total else 1
    for number in itertools.count():
        wanted = max(1, size * (threads + number) // (2 * threads)) if number < threads else size
        if left is not None:
            wanted = max(least, min(wanted, -(-left // threads)))
            left -= wanted
        yield wanted


def follow(pending: set[int], started, stall: float) -> Iterator[GroupEnd]:
    """Read the rows of ``pending`` until each has ended since ``started``; yield each as it does. A group deleted
    meanwhile is looked for only when a read found none ended."""
    last = time.monotonic()
    while pending:
        among = ContactGroup.objects.filter(spans(sorted(pending))).order_by()
        ended = ends_of(among.filter(updated_at__gte=started).exclude(state__in=WAITING_STATES), pending)
        if not ended:
            found = set(among.values_list("pk", flat=True))
            ended = [GroupEnd(pk, ContactGroup.State.DELETED) for pk in pending - found]  # gone
        for end in ended:
            pending.discard(end.group_pk)
            yield end
        if ended:
            last = time.monotonic()
        elif time.monotonic() - last >= stall:
            raise Stalled(len(pending))
        if pending:
            time.sleep(POLL_SECONDS)


def spans(pks: list[int], gap: int = POLL_GAP) -> Q:
    """A condition on the id that each of ``pks`` (sorted) meets: a range for each run of them with at most ``gap``
    other ids between two, and the ids left alone listed. Rows between them may meet it too.

    Listing thousands of ids (``pk__in``) costs Django Python work for each id, five times a second, in the process
    whose threads send the run's calls when there is no broker; the ids of a bulk run mostly follow each other, and
    a range costs nothing more for a thousand of them.
    """
    runs: list[list[int]] = []
    for pk in pks:
        if runs and pk - runs[-1][1] <= gap + 1:
            runs[-1][1] = pk
        else:
            runs.append([pk, pk])
    alone = [low for low, high in runs if low == high]
    ranges = [Q(pk__range=(low, high)) for low, high in runs if low != high]
    return reduce(operator.or_, ranges, Q(pk__in=alone)) if alone else reduce(operator.or_, ranges)


def ends_of(groups, among: set[int]) -> list[GroupEnd]:
    """The end of each group of ``groups`` that is one of ``among``; the rows of those that did not end fully are
    read whole, to say why."""
    ends = []
    failed = []
    for pk, state in groups.values_list("pk", "state"):
        if pk not in among:
            continue
        if state in rows.DONE_STATES:
            ends.append(GroupEnd(pk, state))
        else:
            failed.append(pk)
    for group in ContactGroup.objects.select_related("owner", "sync").filter(pk__in=failed).only(
            "owner__user_id", "name", "state", "sync__last_error_code", "sync__last_error_info", "sync__last_outcome"):
        confirmed = group.sync
        why = words.group_sync_why(confirmed.last_error_code, confirmed.last_error_info, confirmed.last_outcome,
                                   partial=group.state == ContactGroup.State.PARTIAL)
        ends.append(GroupEnd(group.pk, group.state, words.group_sync_line(
            group.pk, group.name, group.owner.user_id, ContactGroup.State(group.state).label, why)))
    return ends


@dataclass
class SweepSummary:
    """What a whole sweep found, owner by owner summed; ``failures`` holds (UserID, failure data) of owners not
    read."""

    owners: int = 0
    groups: int = 0
    drifted: int = 0
    found: int = 0
    cleared: int = 0
    skipped: int = 0
    failures: list = field(default_factory=list)

    def add(self, owner_pk: int, result: dict) -> None:
        """Add one owner's result (``tasks.sweep_owners_report``'s data)."""
        if "sweep" in result:
            self.owners += 1
            for name in ("groups", "drifted", "found", "cleared", "skipped"):
                setattr(self, name, getattr(self, name) + result["sweep"][name])
        else:
            user_id = ChatUser.objects.filter(pk=owner_pk).values_list("user_id", flat=True).first()
            self.failures.append((user_id or str(owner_pk), result["failure"]))


def sweep(actor_id: int | None, owner_pks: Iterable[int] | None = None, threads: int | None = None,
          on_owner: Callable[[int, dict], None] | None = None) -> SweepSummary:
    """Read every owner of ``owner_pks`` (default: ``owners_to_sweep()``) now, as the drift sweep's tasks
    (``tasks.sweep_owners_report``, at most ``SWEEP_OWNERS_A_TASK`` owners each): on the workers when there is a
    broker, else on ``threads`` threads of the in-process executor (SYNC_DRIFT_SWEEP_CONCURRENCY by default); what
    they found, summed. ``on_owner(owner_pk, result)`` is told of each owner as it ends, with its data:
    ``{"sweep": ...}`` or ``{"failure": ...}`` (one failing owner never stops the others)."""
    if owner_pks is None:
        owner_pks = owners_to_sweep().order_by("pk").values_list("pk", flat=True)
    owner_pks = list(owner_pks)
    summary = SweepSummary()

    def ended(args, value):
        if isinstance(value, BaseException):  # the task itself ended (a bug, a worker lost): its owners failed
            value = [[pk, {"failure": reported_failure(value)}] for pk in args[0]]
        for owner_pk, result in value:
            summary.add(owner_pk, result)
            if on_owner is not None:
                on_owner(owner_pk, result)

    threads = threads or app_settings.SYNC_DRIFT_SWEEP_CONCURRENCY
    # Tasks of at most SWEEP_OWNERS_A_TASK owners, and enough of them to keep every thread busy.
    size = max(1, min(tasks.SWEEP_OWNERS_A_TASK, -(-len(owner_pks) // threads)))
    run_each(tasks.sweep_owners_report,
             [(owner_pks[start:start + size], actor_id) for start in range(0, len(owner_pks), size)], ended,
             threads=threads)
    return summary
