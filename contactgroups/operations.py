"""What the management commands and the admin share: the CSV imports.

Plain functions and small classes, each tested on its own; the commands in ``management/commands/`` and the
admin's CSV upload are thin wrappers around them. They change Chat only through ``sync`` and ``tasks``, and take
every Chat limit from ``chat.protocol`` and every counting rule from ``forms``, like the admin does.
"""

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.contrib.admin.models import ADDITION
from django.db import IntegrityError, transaction

from contactgroups import sync, tasks
from contactgroups.chat import protocol
from contactgroups.chat.client import Conversation
from contactgroups.models import ChatUser, ContactGroup, ContactItem

# What one CSV import accepts at most: imadmin's own caps, not Chat's, so a mistaken file fails fast and clearly.
CSV_MAX_BYTES = 20 * 1024 * 1024
CSV_MAX_ROWS = 100_000


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
