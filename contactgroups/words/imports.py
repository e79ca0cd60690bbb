"""What an import of a CSV file says: why the file or a row is refused, what a preview and an import did.

``contactgroups.imports`` reads the files, the import page (``admin/import_view.py``) and the commands
``import_contact_groups`` and ``import_chat_users`` show what it found; all of them say it here.
"""

from collections.abc import Callable
from enum import StrEnum

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactgroups.chat import protocol

# -- the file as a whole ----------------------------------------------------------------------------------------


def row_line(row: int, column: str, message: str) -> str:
    """A refused row: "Row 3, owner: …", or "Row 3: …" when no one column is at fault."""
    if column:
        return _("Row %(row)d, %(column)s: %(message)s") % {"row": row, "column": column, "message": message}
    return _("Row %(row)d: %(message)s") % {"row": row, "message": message}


def file_too_large_text(source: str, mb: int) -> str:
    return _("%(source)s is larger than %(mb)d MB; split it into smaller files.") % {"source": source, "mb": mb}


def upload_too_large_text(mb: int) -> str:
    return _("This file is larger than %(mb)d MB; split it into smaller files.") % {"mb": mb}


def not_utf8_text(source: str, byte: int, line: int) -> str:
    return _("%(source)s is not UTF-8 text: byte %(byte)s on line %(line)d cannot be read. Save it as CSV UTF-8.") % {
        "source": source, "byte": f"0x{byte:02x}", "line": line}


def no_header_text(source: str, columns: list[str]) -> str:
    return _("%(source)s is empty; its first row must name the columns: %(columns)s.") % {
        "source": source, "columns": ", ".join(columns)}


def wrong_header_text(source: str, columns: list[str], optional: list[str], found: list[str], missing: list[str],
                      unknown: list[str], repeated: list[str]) -> str:
    """The first row does not name the columns the import reads: which it should, which it did, what is wrong."""
    expected = ", ".join(columns + [_("%(name)s (optional)") % {"name": name} for name in optional])
    problems = []
    if missing:
        problems.append(_("missing %(names)s") % {"names": ", ".join(missing)})
    if unknown:
        problems.append(_("unknown %(names)s") % {"names": ", ".join(unknown)})
    if repeated:
        problems.append(_("named twice: %(names)s") % {"names": ", ".join(repeated)})
    return _("The first row of %(source)s must name the columns %(expected)s; found %(found)s (%(problems)s).") % {
        "source": source, "expected": expected, "found": ", ".join(found) or _("none"),
        "problems": "; ".join(problems)}


def too_many_rows_text(source: str, rows: int) -> str:
    return _("%(source)s has more than %(rows)s rows; split it into smaller files.") % {
        "source": source, "rows": f"{rows:,}"}


def not_csv_text(source: str, line: int, error) -> str:
    return _("%(source)s is not a valid CSV file: line %(line)d: %(error)s.") % {
        "source": source, "line": line, "error": error}


def cell_count_text(cells: int, names: int) -> str:
    return _("This row has %(cells)d columns; the first row names %(names)d.") % {"cells": cells, "names": names}


def upload_help_text(mb: int, rows: int) -> str:
    """The import form's help under its file field."""
    return _("UTF-8, at most %(mb)d MB and %(rows)s rows.") % {"mb": mb, "rows": f"{rows:,}"}


# -- a row of groups ---------------------------------------------------------------------------------------------


class RowReason(StrEnum):
    """Why the rows of a group import were refused (``RowProblem.reason``), for grouping them."""

    COLUMNS = "columns"
    OWNER = "owner"
    GROUP_NAME = "group_name"
    TYPE = "type"
    TARGET = "target"
    UNKNOWN_OWNER = "unknown_owner"
    NAME_TAKEN = "name_taken"
    REPEATED = "repeated"
    GROUP_LIMIT = "group_limit"
    GROUPED_LIMIT = "grouped_limit"
    WITH_GROUP = "with_group"
    NOT_SAVED = "not_saved"


# What the refused rows of one reason have in common, a title a reason.
REFUSAL_TITLES: dict[RowReason, Callable[[], str]] = {
    RowReason.COLUMNS: lambda: _("Rows with the wrong number of columns"),
    RowReason.OWNER: lambda: _("Owner UserIDs Chat would refuse"),
    RowReason.GROUP_NAME: lambda: _("Group names Chat would refuse"),
    RowReason.TYPE: lambda: _("Unknown conversation types"),
    RowReason.TARGET: lambda: _("Conversations Chat would refuse"),
    RowReason.UNKNOWN_OWNER: lambda: _("Owners who are not Chat users"),
    RowReason.NAME_TAKEN: lambda: _("Names the owner already uses"),
    RowReason.REPEATED: lambda: _("Conversations listed twice in one group"),
    RowReason.GROUP_LIMIT: lambda: _("More than %(max)d groups for one user") % {"max": protocol.GROUPS_PER_USER_MAX},
    RowReason.GROUPED_LIMIT: lambda: _("More than %(max)s grouped conversations for one user") % {
        "max": f"{protocol.GROUPED_CONVERSATIONS_PER_USER_MAX:,}"},
    RowReason.WITH_GROUP: lambda: _("Rows refused with their group"),
    RowReason.NOT_SAVED: lambda: _("Groups that could not be saved"),
}


def refusal_title(reason: str) -> str:
    """What the refused rows of one reason have in common, in the reader's language."""
    try:
        return REFUSAL_TITLES[RowReason(reason)]()
    except ValueError:
        return _("Other reasons")


def row_span_text(rows: list[int]) -> str:
    """Where a group is in the file: "row 2", "rows 2-7"."""
    if len(rows) == 1:
        return _("row %(row)d") % {"row": rows[0]}
    return _("rows %(first)d-%(last)d") % {"first": rows[0], "last": rows[-1]}


def planned_group_text(name: str, owner: str, count: int, rows: list[int]) -> str:
    """A group an import would create: its name, owner, conversations and rows."""
    return ngettext("“%(name)s” of %(owner)s (%(count)d conversation, %(rows)s)",
                    "“%(name)s” of %(owner)s (%(count)d conversations, %(rows)s)", count) % {
        "name": name, "owner": owner, "count": count, "rows": row_span_text(rows)}


def refused_with_group_text(name: str, owner: str, row: int) -> str:
    return _("Not imported with its group “%(name)s” of %(owner)s, refused for row %(row)d.") % {
        "name": name, "owner": owner, "row": row}


def not_saved_text(error) -> str:
    return _("Could not be saved: %(error)s") % {"error": error}


def unknown_type_text(value: str) -> str:
    return _("Unknown conversation type %(type)s: use 1 (one-to-one) or 2 (group conversation).") % {
        "type": repr(value)}


def unknown_owner_text(owner: str) -> str:
    return _("There is no Chat user %(owner)s; add or import it first (import_chat_users).") % {"owner": repr(owner)}


def repeated_row_text(row: int) -> str:
    return _("This conversation is already listed for this group in row %(row)d.") % {"row": row}


def owner_name_taken_text(owner: str, name: str) -> str:
    return _("%(owner)s already has a conversation group named “%(name)s”.") % {"owner": owner, "name": name}


# -- a row of users ----------------------------------------------------------------------------------------------


def nickname_too_long_text(most: int, length: int) -> str:
    return _("A nickname may have at most %(max)d characters; this one has %(length)d.") % {
        "max": most, "length": length}


def user_listed_twice_text(user_id: str, row: int) -> str:
    return _("%(user_id)s is already listed in row %(row)d.") % {"user_id": user_id, "row": row}


# -- what an import did ------------------------------------------------------------------------------------------


def groups_count_text(count: int) -> str:
    return ngettext("%(count)d group", "%(count)d groups", count) % {"count": count}


def conversations_count_text(count: int) -> str:
    return ngettext("%(count)d conversation", "%(count)d conversations", count) % {"count": count}


def rows_count_text(count: int) -> str:
    return ngettext("%(count)d row", "%(count)d rows", count) % {"count": count}


def preview_summary_text(groups: int, conversations: int, refused_groups: int, refused_rows: int) -> str:
    """The import page's preview: what would be created, what is refused, and that nothing is saved yet."""
    summary = _("%(groups)s with %(conversations)s would be created.") % {
        "groups": groups_count_text(groups), "conversations": conversations_count_text(conversations)}
    if refused_rows:
        # One sentence with both counts, so a language orders and punctuates it its own way.
        summary += " " + ngettext(
            "%(count)d group is refused, %(rows)s in all; the reasons are below.",
            "%(count)d groups are refused, %(rows)s in all; the reasons are below.", refused_groups,
        ) % {"count": refused_groups, "rows": rows_count_text(refused_rows)}
    return summary + " " + _("Nothing is saved until you confirm.")


def upload_source_text(name: str) -> str:
    """How the history names an import from the page."""
    return _("the upload %(name)s") % {"name": name}


def imported_text(count: int, name: str) -> str:
    return ngettext(
        "%(count)d conversation group imported from %(name)s and queued for sync to Chat.",
        "%(count)d conversation groups imported from %(name)s and queued for sync to Chat.", count,
    ) % {"count": count, "name": name}


def imported_not_queued_text(count: int, name: str, error) -> str:
    return ngettext(
        "%(count)d conversation group imported from %(name)s could not be queued for sync to Chat "
        "(%(error)s) and is marked failed.",
        "%(count)d conversation groups imported from %(name)s could not be queued for sync to Chat "
        "(%(error)s) and are marked failed.", count,
    ) % {"count": count, "name": name, "error": error}


def import_refused_text(count: int, lines: list[str], more: bool) -> str:
    """The groups the confirmation refused, with the lines of their rows (``more``: some are left out)."""
    return ngettext("%(count)d group was refused: %(rows)s", "%(count)d groups were refused: %(rows)s", count) % {
        "count": count, "rows": " ".join(lines) + (" …" if more else "")}


# -- the import commands -----------------------------------------------------------------------------------------


def would_create_text(group: str) -> str:
    return _("Would create %(group)s.") % {"group": group}


def groups_dry_run_text(groups: int, conversations: int, refused: int) -> str:
    return _(
        "Dry run: %(groups)s with %(conversations)s would be created, %(refused)s refused. Nothing was "
        "changed and Chat was not called."
    ) % {"groups": groups_count_text(groups), "conversations": conversations_count_text(conversations),
         "refused": groups_count_text(refused)}


def groups_created_text(created: int, source: str, refused: int) -> str:
    return _("Created %(groups)s from %(source)s; %(refused)s refused.") % {
        "groups": groups_count_text(created), "source": source, "refused": groups_count_text(refused)}


def synced_states_text(states: str) -> str:
    return _("Synced to Chat: %(states)s.") % {"states": states}


def concurrency_help_text(default: int) -> str:
    return _("Without a broker, groups synced at once once all are created, each in its own thread, as "
             "sync_contact_groups does (default %(default)d).") % {"default": default}


def groups_import_problems(refused_rows: int, failed_syncs: int) -> list[str]:
    """What made ``import_contact_groups`` fail, a clause each."""
    problems = []
    if refused_rows:
        problems.append(ngettext("%(count)d row refused", "%(count)d rows refused", refused_rows)
                        % {"count": refused_rows})
    if failed_syncs:
        problems.append(ngettext("%(count)d group did not sync fully", "%(count)d groups did not sync fully",
                                 failed_syncs) % {"count": failed_syncs})
    return problems


def would_add_user_text(user_id: str, row: int) -> str:
    return _("Would add %(user_id)s (row %(row)d).") % {"user_id": user_id, "row": row}


def users_dry_run_text(new: int, known: int, refused: int) -> str:
    return _(
        "Dry run: %(new)s and %(known)s would be imported into Chat; %(refused)s refused. Nothing was "
        "changed and Chat was not called."
    ) % {
        "new": ngettext("%(count)d new user", "%(count)d new users", new) % {"count": new},
        "known": ngettext("%(count)d known user", "%(count)d known users", known) % {"count": known},
        "refused": rows_count_text(refused),
    }


def users_added_text(new: int, source: str, known: int) -> str:
    return ngettext("Added %(count)d new Chat user from %(source)s; %(known)s.",
                    "Added %(count)d new Chat users from %(source)s; %(known)s.", new) % {
        "count": new, "source": source,
        "known": ngettext("%(count)d other was known already", "%(count)d others were known already",
                         known) % {"count": known}}


def would_import_user_text(user_id: str) -> str:
    return _("Would import %(user_id)s.") % {"user_id": user_id}


def unimported_dry_run_text(count: int) -> str:
    return ngettext(
        "Dry run: %(count)d user would be imported into Chat. Nothing was changed and Chat was not called.",
        "Dry run: %(count)d users would be imported into Chat. Nothing was changed and Chat was not called.",
        count,
    ) % {"count": count}


def user_batch_failed_text(count: int, error: str) -> str:
    return ngettext("A batch of %(count)d user failed: %(error)s", "A batch of %(count)d users failed: %(error)s",
                    count) % {"count": count, "error": error}


def user_not_in_chat_text(user_id: str) -> str:
    return _("%(user_id)s: Chat does not have it after the import.") % {"user_id": user_id}


def user_unknown_in_chat_text(user_id: str) -> str:
    return _("%(user_id)s: Chat could not say whether it has it.") % {"user_id": user_id}


def users_imported_text(imported: int, count: int, not_imported: int, failed: int) -> str:
    return ngettext(
        "Imported into Chat: %(imported)d of %(count)d user; %(not_imported)d not imported, %(failed)d failed.",
        "Imported into Chat: %(imported)d of %(count)d users; %(not_imported)d not imported, %(failed)d failed.",
        count,
    ) % {"imported": imported, "count": count, "not_imported": not_imported, "failed": failed}


def users_import_problems(refused_rows: int, failed_users: int) -> list[str]:
    """What made ``import_chat_users`` fail, a clause each."""
    problems = []
    if refused_rows:
        problems.append(ngettext("%(count)d row of the file refused", "%(count)d rows of the file refused",
                                 refused_rows) % {"count": refused_rows})
    if failed_users:
        problems.append(ngettext("%(count)d user not in Chat", "%(count)d users not in Chat", failed_users)
                        % {"count": failed_users})
    return problems
