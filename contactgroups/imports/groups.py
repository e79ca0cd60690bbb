"""Importing conversation groups from CSV: a plan checked as the admin form checks, then the groups created."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.admin.models import ADDITION
from django.db import IntegrityError, transaction

from contactgroups import sync, tasks, words
from contactgroups.chat import protocol
from contactgroups.chat.types import Conversation
from contactgroups.imports.csvfile import RowProblem, read_csv
from contactgroups.models import ChatUser, ContactGroup, ContactItem

GROUP_COLUMNS = ["owner", "group_name", "type", "target"]
# What export_contact_groups writes: the import's columns and Chat's answers, which an import reads past, so an
# export can be imported as it is.
EXPORTED_COLUMNS = ["owner", "group_name", "group_id", "state", "type", "target", "result_code", "result_info"]
IGNORED_COLUMNS = [column for column in EXPORTED_COLUMNS if column not in GROUP_COLUMNS]
# The sample file the import page offers, a value for each of GROUP_COLUMNS: one group with a one-to-one and a
# group conversation, and another owner's group with one conversation.
SAMPLE_GROUP_ROWS = [
    {"owner": "user_0001", "group_name": "Customers 客户", "type": protocol.TYPE_C2C, "target": "user_0002"},
    {"owner": "user_0001", "group_name": "Customers 客户", "type": protocol.TYPE_GROUP, "target": "@TGS#2J4SZEAEL"},
    {"owner": "user_0002", "group_name": "Team", "type": protocol.TYPE_C2C, "target": "user_0001"},
]
TYPE_WORDS = {
    "1": protocol.TYPE_C2C, "c2c": protocol.TYPE_C2C, "one-to-one": protocol.TYPE_C2C,
    "2": protocol.TYPE_GROUP, "group": protocol.TYPE_GROUP,
}
# Owners read at a time: the preview's queries grow with the owners a file names in steps of this, not per row.
OWNER_CHUNK = 5000
# The refused rows of each reason shown on a page; all of them are in the downloadable list.
REFUSALS_SHOWN_PER_REASON = 5


def sample_rows() -> list[list]:
    """The sample file's rows, in the order of ``GROUP_COLUMNS``."""
    return [[row[column] for column in GROUP_COLUMNS] for row in SAMPLE_GROUP_ROWS]


def reason_title(reason: str) -> str:
    """What the refused rows of one ``RowProblem.reason`` have in common, in the reader's language."""
    return words.refusal_title(reason)


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

    @property
    def row_span(self) -> str:
        """Where the group is in the file: "row 2", "rows 2-7"."""
        return words.row_span_text(self.rows)

    def describe(self) -> str:
        return words.planned_group_text(self.name, self.owner_user_id, len(self.conversations), self.rows)


@dataclass(frozen=True)
class RefusalsOfOneReason:
    """The refused rows that share a reason: how many, and the first few."""

    reason: str
    title: str
    count: int
    first: list[RowProblem]


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
                RowProblem(row, "", words.refused_with_group_text(group.name, group.owner_user_id, reason_row),
                           "with_group")
                for row in group.rows if row not in flagged
            ]
        return sorted(lines, key=lambda problem: (problem.row, problem.column))

    def refusals_by_reason(self, shown: int = REFUSALS_SHOWN_PER_REASON) -> list[RefusalsOfOneReason]:
        """The refused rows grouped by reason, the most common first, with the first ``shown`` rows of each."""
        by_reason: dict[str, list[RowProblem]] = {}
        for problem in self.rejected_rows():
            by_reason.setdefault(problem.reason, []).append(problem)
        return [RefusalsOfOneReason(reason, reason_title(reason), len(rows), rows[:shown])
                for reason, rows in sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[1][0].row))]

    @property
    def conversation_count(self) -> int:
        return sum(len(group.conversations) for group in self.accepted)


@dataclass
class OwnerState:
    """What one owner has: the names of their live groups, how many, and their distinct grouped conversations.

    Read from the database (``owner_states``), then grown by each group of the file accepted for this owner.
    """

    names: set[str] = field(default_factory=set)
    count: int = 0
    grouped: set[Conversation] = field(default_factory=set)


def owner_states(owner_pks) -> dict[int, OwnerState]:
    """The ``OwnerState`` of each owner pk, in two queries per ``OWNER_CHUNK`` owners.

    The same facts as ``count_for_owner`` and ``grouped_for_owner``, which the admin form uses, read in bulk.
    """
    states = {pk: OwnerState() for pk in owner_pks}
    pks = list(states)
    for start in range(0, len(pks), OWNER_CHUNK):
        chunk = pks[start : start + OWNER_CHUNK]
        for owner, name in ContactGroup.objects.live().filter(owner__in=chunk).values_list("owner", "name"):
            states[owner].names.add(name)
            states[owner].count += 1
        with_groups = [pk for pk in chunk if states[pk].count]
        if with_groups:
            for owner, grouped in ContactItem.objects.grouped_by_owner(with_groups).items():
                states[owner].grouped = grouped
    return states


def _parse_group_row(row: int, values: dict[str, str]) -> tuple[list[RowProblem], Conversation | None]:
    """The problems of one row on its own, and its conversation (None for a row naming only its group)."""
    problems = [RowProblem(row, "owner", words.say(message), "owner")
                for message in protocol.validate_user_id(values["owner"])]
    problems += [RowProblem(row, "group_name", words.say(message), "group_name")
                 for message in protocol.validate_group_name(values["group_name"])]
    kind_text, target = values["type"].strip().lower(), values["target"]
    if not kind_text and not target:
        return problems, None
    kind = TYPE_WORDS.get(kind_text)
    if kind is None:
        problems.append(RowProblem(row, "type", words.unknown_type_text(values["type"]), "type"))
        return problems, None
    conversation = Conversation(kind, target)
    problems += [RowProblem(row, "target", words.say(message), "target") for message in conversation.problems()]
    return problems, conversation


def plan_group_import(data, source: str = "the file") -> GroupImportPlan:
    """Read a CSV of (owner, group_name, type, target) rows and decide, group by group, what can be imported.

    Rows are grouped by owner and name. A group is accepted whole or refused whole: every row must pass the
    admin's checks (protocol.py's validators) and have the file's columns (a row with too few or too many cells
    still refuses the group its owner and name cells name), the owner must be a known Chat user without a live
    group of that name, no conversation may be listed twice, and the owner's group count and distinct grouped
    conversations (counted as the admin form counts them, with the groups accepted earlier in the file) must
    stay within Chat's limits. Changes nothing; its queries grow with the owners, by ``OWNER_CHUNK``, not with
    the rows. Raises CsvError for a file that cannot be read at all.
    """
    plan = GroupImportPlan()
    groups: dict[tuple[str, str], PlannedGroup] = {}
    for row, values in read_csv(data, GROUP_COLUMNS, IGNORED_COLUMNS, source=source):
        owner, name = values.get("owner"), values.get("group_name")
        if owner is None or name is None:
            plan.problems.append(RowProblem(row, "", values[""], "columns"))
            continue
        group = groups.setdefault((owner, name), PlannedGroup(owner, name))
        group.rows.append(row)
        if "" in values:
            group.problems.append(RowProblem(row, "", values[""], "columns"))
            continue
        problems, key = _parse_group_row(row, values)
        group.problems += problems
        if key is not None and not problems:
            group.conversations.append((row, key))

    user_ids = list({owner for owner, _name in groups})
    owners = {}
    for start in range(0, len(user_ids), OWNER_CHUNK):
        chunk = user_ids[start : start + OWNER_CHUNK]
        owners.update(ChatUser.objects.filter(user_id__in=chunk).values_list("user_id", "pk"))
    states = owner_states(owners.values())
    for group in groups.values():
        group.owner_pk = owners.get(group.owner_user_id)
        if group.owner_pk is None and not any(p.column == "owner" for p in group.problems):
            group.problems.append(RowProblem(group.first_row, "owner", words.unknown_owner_text(group.owner_user_id),
                                                 "unknown_owner"))
        if group.problems:
            plan.rejected.append(group)
            continue
        group.problems += group_problems(group, states[group.owner_pk])
        (plan.rejected if group.problems else plan.accepted).append(group)
    return plan


def group_problems(group: PlannedGroup, owner: OwnerState) -> list[RowProblem]:
    """The checks of a whole group against its owner's other groups, as the admin form makes them.

    ``owner`` holds the owner's groups including those accepted so far; it grows when this group passes.
    """
    problems = []
    first_seen: dict[Conversation, int] = {}
    for row, key in group.conversations:
        if key in first_seen:
            problems.append(RowProblem(row, "target", words.repeated_row_text(first_seen[key]), "repeated"))
        first_seen.setdefault(key, row)
    if group.name in owner.names:
        problems.append(RowProblem(group.first_row, "group_name", words.owner_name_taken_text(
            group.owner_user_id, group.name), "name_taken"))
    problems += [RowProblem(group.first_row, "owner", words.say(message), "group_limit")
                 for message in protocol.validate_group_count(owner.count + 1)]
    distinct = owner.grouped | set(first_seen)
    problems += [RowProblem(group.first_row, "target", words.say(message), "grouped_limit")
                 for message in protocol.validate_grouped_conversation_count(len(distinct))]
    if not problems:
        owner.names.add(group.name)
        owner.count += 1
        owner.grouped = distinct
    return problems


@dataclass
class GroupImportResult:
    created: list[int] = field(default_factory=list)
    rejected: list[PlannedGroup] = field(default_factory=list)


def apply_group_import(plan: GroupImportPlan, actor_id: int, source: str, queue_sync: bool = True,
                       on_group: Callable[[PlannedGroup, int | None], None] | None = None,
                       send_tasks: bool = True,
                       on_not_queued: Callable[[int, Exception], None] | None = None) -> GroupImportResult:
    """Create the plan's accepted groups, each in its own transaction, and queue each for sync after it commits.

    Each group is checked again under its owner's lock (another import or an admin save may have taken the
    name or the last of the owner's 20 groups since the plan was made); a group that no longer passes is
    refused whole, with its reason. Groups are created queued (``queue_sync``) or, if not, as drafts for a
    later ``sync_contact_groups --pending``. ``on_group(group, pk or None)`` is told about each one. With
    ``send_tasks`` false the queued groups get no sync of their own: the caller syncs them in bulk.
    ``on_not_queued(pk, error)`` is told of each group whose sync the broker would not take (it is marked so).
    """
    result = GroupImportResult(rejected=list(plan.rejected))
    for group in plan.accepted:
        pk = None
        try:
            with transaction.atomic():
                owner = ChatUser.objects.get(pk=group.owner_pk)
                ChatUser.objects.lock(owner)
                problems = group_problems(group, owner_states([owner.pk])[owner.pk])
                if problems:
                    group.problems = problems
                else:
                    pk = _create_group(group, owner, actor_id, source, queue_sync, send_tasks, on_not_queued)
        except (IntegrityError, ChatUser.DoesNotExist) as exc:
            group.problems = [RowProblem(group.first_row, "", words.not_saved_text(exc), "not_saved")]
        if pk is None:
            result.rejected.append(group)
        else:
            result.created.append(pk)
        if on_group is not None:
            on_group(group, pk)
    return result


def _create_group(group: PlannedGroup, owner: ChatUser, actor_id: int, source: str, queue_sync: bool,
                  send_tasks: bool, on_not_queued: Callable[[int, Exception], None] | None) -> int:
    state = ContactGroup.State.QUEUED if queue_sync else ContactGroup.State.DRAFT
    created = ContactGroup.objects.create(owner=owner, name=group.name, state=state)
    ContactItem.objects.bulk_create(
        ContactItem(group=created, **ContactItem.fields_of(conversation)) for conversation in group.keys
    )
    created.refresh_counts()
    imported = {"source": source, "rows": [group.rows[0], group.rows[-1]], "conversations": len(group.keys)}
    sync.log_staff_action(actor_id, created, [{"added": {}}, {"import": imported}], action_flag=ADDITION)
    if queue_sync and send_tasks:
        tasks.queue_group_sync(created.pk, actor_id, on_not_queued=on_not_queued)
    return created.pk
