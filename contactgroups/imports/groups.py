"""Importing conversation groups from CSV: a plan checked as the admin form checks, then the groups created."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.admin.models import ADDITION
from django.db import IntegrityError, transaction

from contactgroups import sync, tasks
from contactgroups.chat import protocol
from contactgroups.chat.types import Conversation
from contactgroups.imports.csvfile import RowProblem, read_csv
from contactgroups.models import ChatUser, ContactGroup, ContactItem

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

    @property
    def row_span(self) -> str:
        """Where the group is in the file: "row 2", "rows 2-7"."""
        return f"row {self.rows[0]}" if len(self.rows) == 1 else f"rows {self.rows[0]}-{self.rows[-1]}"

    def describe(self) -> str:
        count = len(self.conversations)
        return (f"“{self.name}” of {self.owner_user_id} ({count} conversation{'s' if count != 1 else ''}, "
                f"{self.row_span})")


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
    conversation = Conversation(kind, target)
    problems += [RowProblem(row, "target", message) for message in conversation.problems()]
    return problems, conversation


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
    imported = {"source": source, "rows": [group.rows[0], group.rows[-1]], "conversations": len(group.keys)}
    sync.log_history(actor_id, created, [{"added": {}}, {"import": imported}], action_flag=ADDITION)
    if queue_sync:
        tasks.queue_group_sync(created.pk, actor_id)
    return created.pk
