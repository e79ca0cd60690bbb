"""What the management commands and the admin share: concurrent syncs, the CSV imports.

Plain functions and small classes, each tested on its own; the commands in ``management/commands/`` and the
admin's CSV upload are thin wrappers around them. They change Chat only through ``sync`` and ``tasks``, and take
every Chat limit from ``chat.protocol`` and every counting rule from ``forms``, like the admin does.
"""

import codecs
import csv
import io
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import requests
from django.contrib.admin.models import ADDITION
from django.db import IntegrityError, connections, transaction

from contactgroups import sync, tasks
from contactgroups.chat import protocol
from contactgroups.chat.client import Conversation
from contactgroups.conf import chat_client, chat_config
from contactgroups.models import ChatUser, ContactGroup, ContactItem

# The states ``sync_contact_groups`` picks. Pending: waiting for a first or another sync, or for deletion.
PENDING_STATES = (ContactGroup.State.DRAFT, ContactGroup.State.QUEUED, ContactGroup.State.DELETING)
FAILED_STATES = (ContactGroup.State.FAILED,)

# Ids are read this many at a time (keyset pagination), so a run never holds every row.
ID_CHUNK = 1000

# What one CSV import accepts at most: imadmin's own caps, not Chat's, so a mistaken file fails fast and clearly.
CSV_MAX_BYTES = 20 * 1024 * 1024
CSV_MAX_ROWS = 100_000


# --------------------------------------------------------------------------------------------------------------
# Concurrent work


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
    groups = ContactGroup.objects.exclude(state=ContactGroup.State.DELETED)
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
    """Where one group ended after a command's sync."""

    group_id: int
    owner: str
    name: str
    state: str
    error_code: int | None
    error_info: str

    @property
    def failed(self) -> bool:
        return self.state not in (ContactGroup.State.SYNCED, ContactGroup.State.DELETED)

    def line(self) -> str:
        state = ContactGroup.State(self.state).label
        text = f"Group {self.group_id} “{self.name}” of {self.owner}: {state}"
        if self.error_code is not None or self.error_info:
            code = f"{self.error_code} " if self.error_code is not None else ""
            text += f" ({code}{self.error_info})"
        return text


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


def sync_and_report(group_id: int, actor_id: int, client=None) -> SyncOutcome:
    """Sync one group now (retrying passing failures, as the no-broker path does) and read where it ended.

    The group's owner and name, and the conversations Chat refused, are read only when it did not end synced.
    """
    sync.sync_with_retries(group_id, actor_id, client=client)
    state, code, info = ContactGroup.objects.values_list("state", "last_error_code", "last_error_info").get(
        pk=group_id)
    if state in (ContactGroup.State.SYNCED, ContactGroup.State.DELETED):
        return SyncOutcome(group_id, "", "", state, code, info)
    owner, name = ContactGroup.objects.values_list("owner__user_id", "name").get(pk=group_id)
    if state == ContactGroup.State.PARTIAL and not info:
        refused = (
            ContactItem.objects.filter(group_id=group_id, result_code__gt=0)
            .values_list("to_account", "to_group_id", "result_code")
        )
        info = "refused: " + ", ".join(f"{account or chat_group} {code}" for account, chat_group, code in refused)
    return SyncOutcome(group_id, owner, name, state, code, info)


# --------------------------------------------------------------------------------------------------------------
# CSV files


class CsvError(Exception):
    """The file as a whole cannot be imported (encoding, columns, size); nothing was changed."""


@dataclass(frozen=True)
class RowProblem:
    """Why a row was refused: its row number in the file (the header is row 1), the column and a message."""

    row: int
    column: str
    message: str

    def line(self) -> str:
        column = f", {self.column}" if self.column else ""
        return f"Row {self.row}{column}: {self.message}"


def read_csv(data, columns: list[str], optional: list[str] = (), source: str = "the file") -> Iterator[
        tuple[int, dict[str, str]]]:
    """Check ``data`` (bytes or a binary file) and yield ``(row number, {column: value})`` for each record.

    The first row names the columns: every one of ``columns``, any of ``optional``, nothing else, in any
    order. The text must be UTF-8 (a byte-order mark is allowed). Raises CsvError for a file that is too big,
    not UTF-8, not CSV or has the wrong columns; the whole file is checked before the first row is yielded, so
    a caller that acts on rows never acts on part of a bad file. Blank lines are skipped.
    """
    raw = data if isinstance(data, bytes) else data.read(CSV_MAX_BYTES + 1)
    if len(raw) > CSV_MAX_BYTES:
        raise CsvError(f"{source} is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB; split it into smaller files.")
    try:
        text = codecs.decode(raw, "utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CsvError(
            f"{source} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} cannot be read. "
            "Save it as CSV UTF-8."
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise CsvError(f"{source} is empty; its first row must name the columns: {', '.join(columns)}.")
        names = [cell.strip().lower() for cell in header]
        expected = ", ".join(columns + [f"{name} (optional)" for name in optional])
        unknown = [name for name in names if name not in columns and name not in optional]
        missing = [name for name in columns if name not in names]
        repeated = protocol.find_duplicates(names)
        if unknown or missing or repeated:
            problems = []
            if missing:
                problems.append(f"missing {', '.join(missing)}")
            if unknown:
                problems.append(f"unknown {', '.join(unknown)}")
            if repeated:
                problems.append(f"named twice: {', '.join(repeated)}")
            raise CsvError(
                f"The first row of {source} must name the columns {expected}; found {', '.join(names) or 'none'} "
                f"({'; '.join(problems)})."
            )
        for cells in reader:
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(records) >= CSV_MAX_ROWS:
                raise CsvError(f"{source} has more than {CSV_MAX_ROWS:,} rows; split it into smaller files.")
            records.append((reader.line_num, cells))
    except csv.Error as exc:
        raise CsvError(f"{source} is not a valid CSV file: line {reader.line_num}: {exc}.") from None
    for row, cells in records:
        if len(cells) != len(names):
            yield row, {"": f"This row has {len(cells)} columns; the first row names {len(names)}."}
            continue
        yield row, dict(zip(names, cells, strict=True))


# --------------------------------------------------------------------------------------------------------------
# Importing conversation groups

GROUP_COLUMNS = ["owner", "group_name", "type", "target"]
TYPE_WORDS = {
    "1": protocol.TYPE_C2C, "c2c": protocol.TYPE_C2C, "one-to-one": protocol.TYPE_C2C,
    "2": protocol.TYPE_GROUP, "group": protocol.TYPE_GROUP,
}


@dataclass
class PlannedGroup:
    """One group of an import: its owner and name, its conversations and the rows that gave them."""

    owner_user_id: str
    name: str
    rows: list[int] = field(default_factory=list)
    conversations: list[tuple[int, Conversation]] = field(default_factory=list)  # (row, (type, target))
    problems: list[RowProblem] = field(default_factory=list)
    owner_pk: int | None = None

    @property
    def keys(self) -> list[Conversation]:
        return [key for _row, key in self.conversations]

    @property
    def first_row(self) -> int:
        return self.rows[0]

    def describe(self) -> str:
        rows = f"row {self.rows[0]}" if len(self.rows) == 1 else f"rows {self.rows[0]}-{self.rows[-1]}"
        count = len(self.conversations)
        return (f"“{self.name}” of {self.owner_user_id} ({count} conversation{'s' if count != 1 else ''}, "
                f"{rows})")


@dataclass
class GroupImportPlan:
    """What an import would do: the groups it accepts, the groups it refuses, and why, row by row."""

    accepted: list[PlannedGroup] = field(default_factory=list)
    rejected: list[PlannedGroup] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)  # rows that belong to no group

    def rejected_rows(self) -> list[RowProblem]:
        """Every refused row with its reason, in row order; a row refused only with its group says so."""
        lines = list(self.problems)
        for group in self.rejected:
            flagged = {problem.row for problem in group.problems}
            lines += group.problems
            reason_row = group.problems[0].row if group.problems else group.first_row
            lines += [
                RowProblem(row, "", f"Not imported with its group “{group.name}” of {group.owner_user_id}, "
                                    f"refused for row {reason_row}.")
                for row in group.rows if row not in flagged
            ]
        return sorted(lines, key=lambda problem: (problem.row, problem.column))

    @property
    def conversation_count(self) -> int:
        return sum(len(group.conversations) for group in self.accepted)


def _parse_group_row(row: int, values: dict[str, str]) -> tuple[list[RowProblem], Conversation | None]:
    """The problems of one row on its own, and its conversation (None for a row naming only its group)."""
    problems = [RowProblem(row, "owner", message) for message in protocol.validate_user_id(values["owner"])]
    problems += [
        RowProblem(row, "group_name", message) for message in protocol.validate_group_name(values["group_name"])
    ]
    kind_text, target = values["type"].strip().lower(), values["target"]
    if not kind_text and not target:
        return problems, None
    kind = TYPE_WORDS.get(kind_text)
    if kind is None:
        problems.append(RowProblem(row, "type", f"Unknown conversation type {values['type']!r}: use 1 (one-to-one) "
                                                "or 2 (group conversation)."))
        return problems, None
    to_account, to_group_id = (target, "") if kind == protocol.TYPE_C2C else ("", target)
    problems += [RowProblem(row, "target", message)
                 for message in protocol.validate_conversation(kind, to_account, to_group_id)]
    return problems, Conversation(kind, target)


def plan_group_import(data, source: str = "the file") -> GroupImportPlan:
    """Read a CSV of (owner, group_name, type, target) rows and decide, group by group, what can be imported.

    Rows are grouped by owner and name. A group is accepted whole or refused whole: every row must pass the
    admin's checks (protocol.py's validators), the owner must be a known Chat user without a live group of that
    name, no conversation may be listed twice, and the owner's group count and distinct grouped conversations
    (counted as the admin form counts them, with the groups accepted earlier in the file) must stay within
    Chat's limits. Changes nothing. Raises CsvError for a file that cannot be read at all.
    """
    plan = GroupImportPlan()
    groups: dict[tuple[str, str], PlannedGroup] = {}
    for row, values in read_csv(data, GROUP_COLUMNS, source=source):
        if "" in values:
            plan.problems.append(RowProblem(row, "", values[""]))
            continue
        problems, key = _parse_group_row(row, values)
        group = groups.setdefault((values["owner"], values["group_name"]),
                                  PlannedGroup(values["owner"], values["group_name"]))
        group.rows.append(row)
        group.problems += problems
        if key is not None and not problems:
            group.conversations.append((row, key))

    owners = dict(ChatUser.objects.filter(user_id__in={owner for owner, _name in groups}).values_list("user_id", "pk"))
    counts: dict[int, int] = {}
    grouped: dict[int, set[Conversation]] = {}
    for group in groups.values():
        group.owner_pk = owners.get(group.owner_user_id)
        if group.owner_pk is None and not any(p.column == "owner" for p in group.problems):
            group.problems.append(RowProblem(
                group.first_row, "owner",
                f"There is no Chat user {group.owner_user_id!r}; add or import it first (import_chat_users).",
            ))
        if group.problems:
            plan.rejected.append(group)
            continue
        group.problems += group_problems(group, counts, grouped)
        (plan.rejected if group.problems else plan.accepted).append(group)
    return plan


def group_problems(group: PlannedGroup, counts: dict[int, int],
                   grouped: dict[int, set[Conversation]]) -> list[RowProblem]:
    """The checks of a whole group against its owner's other groups, as the admin form makes them.

    ``counts`` and ``grouped`` carry, per owner pk, the group count and the grouped conversations including
    the groups accepted so far; they are updated when this group passes.
    """
    problems = []
    first_seen: dict[Conversation, int] = {}
    for row, key in group.conversations:
        if key in first_seen:
            problems.append(RowProblem(row, "target", f"This conversation is already listed for this group in row "
                                                      f"{first_seen[key]}."))
        first_seen.setdefault(key, row)
    if ContactGroup.objects.live().filter(owner=group.owner_pk, name=group.name).exists():
        problems.append(RowProblem(group.first_row, "group_name",
                                   f"{group.owner_user_id} already has a conversation group named “{group.name}”."))
    if group.owner_pk not in counts:
        counts[group.owner_pk] = ContactGroup.objects.count_for_owner(group.owner_pk)
        grouped[group.owner_pk] = ContactItem.objects.grouped_for_owner(group.owner_pk)
    problems += [RowProblem(group.first_row, "owner", message)
                 for message in protocol.validate_group_count(counts[group.owner_pk] + 1)]
    distinct = grouped[group.owner_pk] | set(first_seen)
    problems += [RowProblem(group.first_row, "target", message)
                 for message in protocol.validate_grouped_conversation_count(len(distinct))]
    if not problems:
        counts[group.owner_pk] += 1
        grouped[group.owner_pk] = distinct
    return problems


@dataclass
class GroupImportResult:
    created: list[int] = field(default_factory=list)
    rejected: list[PlannedGroup] = field(default_factory=list)


def apply_group_import(plan: GroupImportPlan, actor_id: int, source: str, queue_sync: bool = True,
                       on_group: Callable[[PlannedGroup, int | None], None] | None = None) -> GroupImportResult:
    """Create the plan's accepted groups, each in its own transaction, and queue each for sync after it commits.

    Each group is checked again under its owner's lock (another import or an admin save may have taken the
    name or the last of the owner's 20 groups since the plan was made); a group that no longer passes is
    refused whole, with its reason. Groups are created queued (``queue_sync``) or, if not, as drafts for a
    later ``sync_contact_groups --pending``. ``on_group(group, pk or None)`` is told about each one.
    """
    result = GroupImportResult(rejected=list(plan.rejected))
    for group in plan.accepted:
        pk = None
        try:
            with transaction.atomic():
                owner = ChatUser.objects.get(pk=group.owner_pk)
                ChatUser.objects.lock(owner)
                problems = group_problems(group, {}, {})
                if problems:
                    group.problems = problems
                else:
                    pk = _create_group(group, owner, actor_id, source, queue_sync)
        except (IntegrityError, ChatUser.DoesNotExist) as exc:
            group.problems = [RowProblem(group.first_row, "", f"Could not be saved: {exc}")]
        if pk is None:
            result.rejected.append(group)
        else:
            result.created.append(pk)
        if on_group is not None:
            on_group(group, pk)
    return result


def _create_group(group: PlannedGroup, owner: ChatUser, actor_id: int, source: str, queue_sync: bool) -> int:
    state = ContactGroup.State.QUEUED if queue_sync else ContactGroup.State.DRAFT
    created = ContactGroup.objects.create(owner=owner, name=group.name, state=state)
    ContactItem.objects.bulk_create(
        ContactItem(group=created, **ContactItem.fields_of(conversation)) for conversation in group.keys
    )
    created.refresh_counts()
    rows = f"row {group.rows[0]}" if len(group.rows) == 1 else f"rows {group.rows[0]}-{group.rows[-1]}"
    sync.log_history(actor_id, created, f"Imported from {source} ({rows}) with {len(group.keys)} conversations.",
                     action_flag=ADDITION)
    if queue_sync:
        tasks.queue_group_sync(created.pk, actor_id)
    return created.pk


# --------------------------------------------------------------------------------------------------------------
# Importing Chat users

USER_COLUMNS = ["user_id"]
USER_OPTIONAL_COLUMNS = ["nickname"]
NICKNAME_MAX_LENGTH = ChatUser._meta.get_field("nickname").max_length


@dataclass
class UserImportPlan:
    """The users a CSV names: new ones to create, known ones, and refused rows."""

    new: list[tuple[int, str, str]] = field(default_factory=list)  # (row, user_id, nickname)
    known: list[str] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def user_ids(self) -> list[str]:
        return [user_id for _row, user_id, _nickname in self.new] + self.known


def plan_user_import(data, source: str = "the file") -> UserImportPlan:
    """Read a CSV of (user_id[, nickname]) rows, checking each UserID as Chat would. Changes nothing."""
    plan = UserImportPlan()
    seen: dict[str, int] = {}
    rows = []
    for row, values in read_csv(data, USER_COLUMNS, USER_OPTIONAL_COLUMNS, source=source):
        if "" in values:
            plan.problems.append(RowProblem(row, "", values[""]))
            continue
        user_id, nickname = values["user_id"], values.get("nickname", "")
        problems = [RowProblem(row, "user_id", message) for message in protocol.validate_user_id(user_id)]
        if len(nickname) > NICKNAME_MAX_LENGTH:
            problems.append(RowProblem(row, "nickname", f"A nickname may have at most {NICKNAME_MAX_LENGTH} "
                                                        f"characters; this one has {len(nickname)}."))
        if not problems and user_id in seen:
            problems.append(RowProblem(row, "user_id", f"{user_id} is already listed in row {seen[user_id]}."))
        if problems:
            plan.problems += problems
            continue
        seen[user_id] = row
        rows.append((row, user_id, nickname))
    known = set(ChatUser.objects.filter(user_id__in=list(seen)).values_list("user_id", flat=True))
    for row, user_id, nickname in rows:
        if user_id in known:
            plan.known.append(user_id)
        else:
            plan.new.append((row, user_id, nickname))
    return plan


def create_users(plan: UserImportPlan, actor_id: int, source: str) -> list[int]:
    """Create the plan's new ChatUser rows (in one transaction), each with an admin history entry."""
    with transaction.atomic():
        users = ChatUser.objects.bulk_create(
            [ChatUser(user_id=user_id, nickname=nickname) for _row, user_id, nickname in plan.new],
            ignore_conflicts=True,
        )
        created = ChatUser.objects.filter(user_id__in=[user.user_id for user in users])
        for user in created:
            sync.log_history(actor_id, user, f"Added from {source}.", action_flag=ADDITION)
    return list(ChatUser.objects.filter(user_id__in=plan.user_ids).order_by("user_id").values_list("pk", flat=True))
