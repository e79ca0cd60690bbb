"""An admin history entry in words: the project's parts (``outcomes.HistoryKind``) from their data, Django's own
as Django says them; a staff action (``outcomes.EditEntry``), an account's check, an import."""

import json
from collections.abc import Callable

from django.contrib.admin.models import LogEntry
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactgroups.outcomes import (
    AccountCode,
    AccountOutcome,
    EditAction,
    EditEntry,
    HistoryKind,
    ImportEntry,
    ImportProblem,
    ImportReason,
)
from contactgroups.words.chat import code_text, conversation_text, failure_text, listed
from contactgroups.words.drift import drift_history_text
from contactgroups.words.sync import outcome_text

# Why an import left a user out, one reader a reason.
IMPORT_PROBLEM_WORDS: dict[ImportReason, Callable[[ImportProblem], str]] = {
    ImportReason.REFUSED: lambda problem: _("Chat refused to import this UserID."),
    ImportReason.NICKNAME_TOO_LONG: lambda problem: _(
        "The nickname is %(size)d bytes in UTF-8, more than the %(max)d bytes Chat keeps, so the user was not sent "
        "to Chat; shorten the nickname and import again.") % {"size": problem.size, "max": problem.max},
    ImportReason.ERROR: lambda problem: failure_text(problem.failure),
}


def _not_imported(outcome: AccountOutcome) -> str:
    text = _("Checked in Chat: not imported.")
    if outcome.problem:
        text += " " + IMPORT_PROBLEM_WORDS[outcome.problem.reason](outcome.problem)
    return text


def _check_failed(outcome: AccountOutcome) -> str:
    if outcome.problem:
        return _("Check in Chat failed: %(error)s") % {
            "error": IMPORT_PROBLEM_WORDS[outcome.problem.reason](outcome.problem)}
    return _("Check in Chat failed: %(code)s") % {"code": code_text(outcome.result_code, outcome.info)}


def _import_failed(outcome: AccountOutcome) -> str:
    if outcome.problem:
        return _("Not imported into Chat: %(error)s") % {
            "error": IMPORT_PROBLEM_WORDS[outcome.problem.reason](outcome.problem)}
    return _("Not imported into Chat: %(error)s") % {"error": code_text(outcome.result_code, outcome.info)}


# What Chat said of a user in words, one reader a code.
ACCOUNT_WORDS: dict[AccountCode, Callable[[AccountOutcome], str]] = {
    AccountCode.IMPORTED: lambda outcome: _("Checked in Chat: imported."),
    AccountCode.NOT_IMPORTED: _not_imported,
    AccountCode.CHECK_FAILED: _check_failed,
    AccountCode.IMPORT_FAILED: _import_failed,
}


def account_failure_text(data: dict) -> str:
    """Why a user's last import or check failed with no code of Chat's (a call that failed: Chat not reached, too
    slow, ...), from its stored outcome; "" when it holds no such failure."""
    outcome = AccountOutcome.from_json(data or {})
    problem = outcome.problem if outcome else None
    if problem is None or problem.reason != ImportReason.ERROR or problem.failure is None:
        return ""
    return failure_text(problem.failure)


def account_text(data: dict) -> str:
    outcome = AccountOutcome.from_json(data)
    return "" if outcome is None else ACCOUNT_WORDS[outcome.code](outcome)


def import_text(data: dict) -> str:
    entry = ImportEntry.from_json(data)
    if not entry.rows:
        return _("Added from %(source)s.") % {"source": entry.source}
    first, last = entry.rows[0], entry.rows[-1]
    where = (_("row %(row)d") % {"row": first} if first == last
             else _("rows %(first)d-%(last)d") % {"first": first, "last": last})
    return ngettext("Imported from %(source)s (%(rows)s) with %(count)d conversation.",
                    "Imported from %(source)s (%(rows)s) with %(count)d conversations.",
                    entry.conversations) % {"source": entry.source, "rows": where, "count": entry.conversations}


def moment_text(iso: str) -> str:
    """A stored time (ISO 8601) as the reader's pages show times."""
    moment = parse_datetime(iso or "")
    if moment is None:
        return iso or ""
    return date_format(timezone.localtime(moment) if timezone.is_aware(moment) else moment, "DATETIME_FORMAT")


def _edit_changes(entry: EditEntry) -> str:
    changes = []
    if entry.renamed_from:
        changes.append(_("renamed from “%(old)s” to “%(new)s”") % {"old": entry.renamed_from, "new": entry.name})
    if entry.added:
        changes.append(_("added %(list)s") % {"list": listed(conversation_text(c) for c in entry.added)})
    if entry.removed:
        changes.append(_("removed %(list)s") % {"list": listed(conversation_text(c) for c in entry.removed)})
    return ", ".join(changes)


def edit_changes_text(data: dict) -> str:
    """What a staff action changed in a group, as clauses: the rename, the conversations added and removed."""
    return _edit_changes(EditEntry.from_json(data))


def _added(entry: EditEntry) -> str:
    count = len(entry.added)
    if not count:
        return _("Added “%(name)s” with no conversations.") % {"name": entry.name}
    return ngettext("Added “%(name)s” with %(count)d conversation: %(list)s.",
                    "Added “%(name)s” with %(count)d conversations: %(list)s.", count) % {
        "name": entry.name, "count": count, "list": listed(conversation_text(c) for c in entry.added)}


def _restored(entry: EditEntry) -> str:
    when = moment_text(entry.confirmed_at)
    if entry.revived:
        count = entry.conversations or 0
        return ngettext(
            "Restored the deleted group as Chat confirmed it on %(when)s: “%(name)s” with %(count)d conversation.",
            "Restored the deleted group as Chat confirmed it on %(when)s: “%(name)s” with %(count)d "
            "conversations.", count) % {"when": when, "name": entry.name, "count": count}
    return _("Restored the version Chat confirmed on %(when)s: %(changes)s.") % {
        "when": when, "changes": _edit_changes(entry) or _("the same as before")}


def _changed(entry: EditEntry) -> str:
    changes = _edit_changes(entry)
    if not changes:
        return _("Saved with no change to the name or the conversations.")
    return _("Changed: %(changes)s.") % {"changes": changes}


# A staff action on a group in words, one reader an action.
EDIT_WORDS: dict[EditAction, Callable[[EditEntry], str]] = {
    EditAction.ADDED: _added,
    EditAction.CHANGED: _changed,
    EditAction.DELETED: lambda entry: _("Deleted “%(name)s”.") % {"name": entry.name},
    EditAction.SYNC: lambda entry: _("Asked for “%(name)s” to be synced to Chat.") % {"name": entry.name},
    EditAction.RESTORED: _restored,
}


def edit_text(data: dict) -> str:
    """A staff action on a group (its history entry's ``edit`` data) in words."""
    entry = EditEntry.from_json(data)
    return EDIT_WORDS[entry.action](entry)


# Each of the project's parts of a history entry in words, one reader a kind.
HISTORY_WORDS: dict[HistoryKind, Callable[[dict], str]] = {
    HistoryKind.SYNC: outcome_text,
    HistoryKind.PULL: outcome_text,
    HistoryKind.ACCOUNT: account_text,
    HistoryKind.IMPORT: import_text,
    HistoryKind.DRIFT: drift_history_text,
    HistoryKind.EDIT: edit_text,
}


def history_text(entry: LogEntry) -> str:
    """An admin history entry in words: the project's own entries from their data, Django's as Django says them."""
    message = entry.change_message
    if not message.startswith("["):
        return entry.get_change_message()
    try:
        parts = json.loads(message)
    except ValueError:
        return message
    own = [part for part in parts if isinstance(part, dict) and part.keys() & set(HistoryKind)]
    if not own:
        return entry.get_change_message()
    texts = []
    for part in own:
        kind = next(kind for kind in HistoryKind if kind in part)
        texts.append(HISTORY_WORDS[kind](part[kind]))
    return " ".join(text for text in texts if text)
