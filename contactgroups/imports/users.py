"""Importing Chat users from CSV: each UserID checked as Chat would, then the new users created."""

from dataclasses import dataclass, field

from django.contrib.admin.models import ADDITION
from django.db import transaction
from django.utils.translation import gettext

from contactgroups import sync, words
from contactgroups.chat import protocol
from contactgroups.imports.csvfile import RowProblem, read_csv
from contactgroups.models import ChatUser

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
        problems = [RowProblem(row, "user_id", words.say(message)) for message in protocol.validate_user_id(user_id)]
        if not protocol.storable(nickname):
            problems.append(RowProblem(row, "nickname", gettext(
                "A nickname cannot contain a NUL character, which the database cannot store.")))
        elif len(nickname) > NICKNAME_MAX_LENGTH:
            problems.append(RowProblem(row, "nickname", words.nickname_too_long_text(
                NICKNAME_MAX_LENGTH, len(nickname))))
        if not problems and user_id in seen:
            problems.append(RowProblem(row, "user_id", words.user_listed_twice_text(user_id,
                                                                                      seen[user_id])))
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
            sync.log_history(actor_id, user, [{"added": {}}, {"import": {"source": source}}], action_flag=ADDITION)
    return list(ChatUser.objects.filter(user_id__in=plan.user_ids).order_by("user_id").values_list("pk", flat=True))
