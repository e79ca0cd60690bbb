"""A group's sync in words: its state at this moment, its last outcome (``outcomes.SyncOutcome`` or a pull's), its
conflicts, its name."""

from collections.abc import Callable
from dataclasses import replace

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactgroups.outcomes import (
    ConflictCode,
    ConflictFacts,
    Failure,
    PullOutcome,
    SyncCode,
    SyncOutcome,
    group_outcome,
)
from contactgroups.words.chat import code_text, conversation_text, failure_text, joined
from contactgroups.words.pull import PULL_WORDS


def sync_state_text(state: str, *, running: bool = False, calls_done: int = 0, calls_planned: int = 0,
                    refused: int = 0, error_code: int | None = None, last_outcome: dict | None = None,
                    attempts: int = 0, most: int = 0, next_try: str = "") -> str:
    """A group's sync state in words, as its page and the list show it at this moment.

    ``running``: a sync holds the group's lease; ``calls_done`` of ``calls_planned``: how far it is (both 0 until
    a sync of more than one call has planned); ``refused``: the conversations Chat refused; ``error_code`` and
    ``last_outcome``: why it failed; ``attempts`` of ``most``: the attempts that failed so far, and ``next_try``:
    when the next is due (the time as the page shows it; "" when no retry waits).
    """
    retry = {"attempt": attempts + 1, "most": most, "time": next_try}
    if state in ("syncing", "deleting"):
        deleting = state == "deleting"
        if deleting and not running:
            if next_try:
                return _("Waiting to try the deletion again: attempt %(attempt)d of %(most)d at %(time)s") % retry
            return _("Queued for deletion from Chat")
        if calls_planned > 1:
            params = {"call": min(calls_done + 1, calls_planned), "calls": calls_planned}
            if deleting:
                return _("Deleting from Chat: call %(call)d of %(calls)d") % params
            return _("Syncing to Chat: call %(call)d of %(calls)d") % params
        if attempts:
            if deleting:
                return _("Deleting from Chat: attempt %(attempt)d of %(most)d") % retry
            return _("Syncing to Chat: attempt %(attempt)d of %(most)d") % retry
        return _("Deleting from Chat") if deleting else _("Syncing to Chat")
    if state == "queued":
        if next_try:
            return _("Waiting to try again: attempt %(attempt)d of %(most)d at %(time)s") % retry
        return _("Queued")
    if state == "draft":
        return _("Draft: not synced to Chat")
    if state == "synced":
        return _("Synced")
    if state == "deleted":
        return _("Deleted")
    outcome = group_outcome(last_outcome)
    if state == "partial":
        if isinstance(outcome, SyncOutcome) and outcome.conflict(ConflictCode.NAME_TAKEN):
            return _("In conflict: another group has its name in Chat")
        if refused:
            return ngettext("Partly refused: %(count)d conversation refused",
                            "Partly refused: %(count)d conversations refused", refused) % {"count": refused}
        return _("Partly synced: see the last sync")
    if state == "failed":
        error = outcome.error if isinstance(outcome, SyncOutcome) else None
        if error_code is not None:
            reason = code_text(error_code)
        elif error:
            reason = failure_text(error)
        else:
            return _("Failed")
        return _("Failed: %(reason)s") % {"reason": reason}
    return state


# Stands for each blank character at either end of a group name where staff read it: a name Chat holds with spaces
# at its ends (the app allows them) is told from the same name without.
BLANK_MARK = "\u2423"


def name_text(name: str) -> str:
    """A group name as a page shows it: each blank character at its ends (which a page would not show) as ␣."""
    core = name.strip()
    if core == name:
        return name
    if not core:
        return BLANK_MARK * len(name)
    start = name.index(core)
    return BLANK_MARK * start + core + BLANK_MARK * (len(name) - start - len(core))


def kept_name_help(name: str) -> str:
    """Under the name field of a group whose name in Chat has blank characters at its ends."""
    return _("In Chat this group is named “%(name)s”, with spaces at its ends (each shown here as ␣), as the app "
             "allows. It is kept as it is while you leave it unchanged; a new name cannot start or end with "
             "spaces.") % {"name": name_text(name)}


def _remade(conflict: ConflictFacts, owner: str) -> str:
    params = {"owner": owner, "group_id": conflict.group_id}
    if conflict.staff_changed:
        return _("%(owner)s had deleted this group in the app and made another under its name (GroupId "
                 "%(group_id)s); this group is that one now, and the staff's change was sent to it.") % params
    return _("%(owner)s had deleted this group in the app and made another under its name (GroupId "
             "%(group_id)s); this group is that one now.") % params


def _name_taken(conflict: ConflictFacts, owner: str) -> str:
    params = {"owner": owner, "name": conflict.name, "group_id": conflict.group_id}
    if conflict.new:
        return _("Not created in Chat: %(owner)s has another group named “%(name)s” there (GroupId "
                 "%(group_id)s), made or renamed in the app, and Chat refuses a second group of that name. "
                 "Nothing was sent. Rename the group here and sync it again.") % params
    if conflict.create:
        return _("Not created in Chat: %(owner)s has another group named “%(name)s” there (GroupId "
                 "%(group_id)s), made or renamed in the app, and Chat refuses a second group of that name. "
                 "Nothing was sent. The group's page offers to keep it under another name or to take Chat's "
                 "version.") % params
    return _("Not renamed to “%(name)s” in Chat: %(owner)s has another group of that name there (GroupId "
             "%(group_id)s), made or renamed in the app, and Chat refuses a second group of that name; the rest "
             "of the change was sent. The group's page offers to keep it under another name or to take Chat's "
             "version.") % params


# A conflict in words, one reader a code.
CONFLICT_WORDS: dict[ConflictCode, Callable[[ConflictFacts, str], str]] = {
    ConflictCode.DELETED_IN_APP: lambda c, owner: _(
        "Conflict: %(owner)s had deleted this group in the app; the staff's change wins, so it was created "
        "again.") % {"owner": owner},
    ConflictCode.RENAMED_IN_APP: lambda c, owner: _(
        "Conflict: %(owner)s renamed the group to “%(app_name)s” in the app; the staff's name “%(staff_name)s” "
        "wins.") % {"owner": owner, "app_name": c.app_name, "staff_name": c.staff_name},
    ConflictCode.RENAMED_BEFORE_DELETE: lambda c, owner: _(
        "Conflict: %(owner)s had renamed the group to “%(app_name)s” in the app; it was deleted as the staff "
        "asked.") % {"owner": owner, "app_name": c.app_name},
    ConflictCode.ALREADY_GONE: lambda c, owner: _("It was already gone from Chat."),
    ConflictCode.REMADE_IN_APP: _remade,
    ConflictCode.NAME_TAKEN: _name_taken,
    ConflictCode.NAME_NOT_SENDABLE: lambda c, owner: _(
        "Chat holds this group under the name “%(name)s”, given in the app, which a new group or a rename cannot "
        "be sent under; nothing was sent under it. Rename the group here and sync it again.") % {"name": c.name},
    ConflictCode.NAME_UNSTORABLE: lambda c, owner: _(
        "%(owner)s renamed the group in the app to “%(app_name)s”, with a character the database here cannot "
        "store (shown as its code); the group keeps its name here.") % {"owner": owner, "app_name": c.app_name},
}


def _conflict_text(conflict: ConflictFacts, owner: str) -> str:
    """A conflict stored before conflicts were data reads as its text."""
    return conflict.text if conflict.code is None else CONFLICT_WORDS[conflict.code](conflict, owner)


def conflict_text(conflict: dict, owner: str) -> str:
    return _conflict_text(ConflictFacts.from_json(conflict), owner)


def conflicts_text(conflicts: list, owner: str) -> str:
    return " ".join(conflict_text(conflict, owner) for conflict in conflicts)


def _changes(outcome: SyncOutcome) -> list[str]:
    changes = []
    if outcome.renamed_from:
        changes.append(_("renamed from “%(old)s” to “%(new)s”") % {"old": outcome.renamed_from, "new": outcome.name})
    if outcome.added:
        changes.append(ngettext("%(count)d conversation added", "%(count)d conversations added", outcome.added)
                       % {"count": outcome.added})
    if outcome.removed:
        changes.append(ngettext("%(count)d conversation removed", "%(count)d conversations removed",
                                outcome.removed) % {"count": outcome.removed})
    if outcome.refused:
        refused = "; ".join(f"{conversation_text((r.type, r.target))}, {code_text(r.code, r.info)}"
                            for r in outcome.refused)
        changes.append(_("%(count)d refused: %(list)s") % {"count": len(outcome.refused), "list": refused})
    if not changes:
        changes.append(_("nothing to change, Chat already matched"))
    return changes


def _adopted(outcome: SyncOutcome) -> str:
    done = []
    if outcome.adopted.name:
        done.append(_("renamed the group to “%(name)s”") % {"name": outcome.adopted.name})
    if outcome.adopted.added:
        done.append(_("added %(list)s") % {"list": joined(outcome.adopted.added)})
    if outcome.adopted.removed:
        done.append(_("removed %(list)s") % {"list": joined(outcome.adopted.removed)})
    if not done:
        return ""
    return _("In the app, %(owner)s %(changes)s; the mirror now shows it.") % {
        "owner": outcome.owner, "changes": _(" and ").join(done)}


def _notes(outcome: SyncOutcome) -> list[str]:
    notes = [_conflict_text(conflict, outcome.owner) for conflict in outcome.conflicts]
    if outcome.interrupted:
        notes.append(_("An earlier sync stopped before it could record Chat's answer, so Chat was read first."))
    return notes


def _sent(outcome: SyncOutcome) -> str:
    """A created or synced group: what was sent and adopted, then the conflicts."""
    create_held = outcome.conflict(ConflictCode.NAME_TAKEN)
    if create_held and create_held.create:
        return " ".join(_notes(outcome))  # no create was made: Chat holds nothing of the group to speak of
    if outcome.code == SyncCode.CREATED:
        text = _("Created in Chat as GroupId %(id)s: %(changes)s.")
    else:
        text = _("Synced to Chat as GroupId %(id)s: %(changes)s.")
    text = text % {"id": outcome.group_id, "changes": ", ".join(_changes(outcome)).rstrip(".")}
    adopted = _adopted(outcome)
    return " ".join([text + (" " + adopted if adopted else ""), *_notes(outcome)])


def _deleted(outcome: SyncOutcome) -> str:
    text = (_("Deleted from Chat (GroupId %(id)s).") % {"id": outcome.group_id} if outcome.group_id
            else _("Deleted from Chat."))
    return " ".join([text, *_notes(outcome)])


def _deleted_in_app(outcome: SyncOutcome) -> str:
    return _("%(owner)s deleted this group in the app (GroupId %(id)s); the mirror now shows it deleted.") % {
        "owner": outcome.owner, "id": outcome.group_id}


def _stopped(outcome: SyncOutcome) -> str:
    text = _("Sync to Chat stopped: %(error)s") % {"error": failure_text(outcome.error or _NO_FAILURE)}
    if outcome.retrying:
        text += " " + _("It will be tried again.")
    if outcome.partial:
        done = replace(outcome, code=SyncCode.CREATED if outcome.created else SyncCode.SYNCED)
        text += " " + _("Done before it stopped: %(summary)s") % {"summary": _sent(done)}
    return text


def _gave_up(outcome: SyncOutcome) -> str:
    return ngettext("Gave up after %(count)d attempt: %(error)s", "Gave up after %(count)d attempts: %(error)s",
                    outcome.attempts) % {"count": outcome.attempts,
                                         "error": failure_text(outcome.error or _NO_FAILURE)}


_NO_FAILURE = Failure.from_json({})  # an outcome stored without its error: said as an unknown Chat error

# A sync's outcome in words, one reader a code.
SYNC_WORDS: dict[SyncCode, Callable[[SyncOutcome], str]] = {
    SyncCode.CREATED: _sent,
    SyncCode.SYNCED: _sent,
    SyncCode.DELETED: _deleted,
    SyncCode.DELETED_IN_APP: _deleted_in_app,
    SyncCode.STOPPED: _stopped,
    SyncCode.GAVE_UP: _gave_up,
    SyncCode.NOT_QUEUED: lambda outcome: _(
        "Not synced: the task queue could not be reached, so nothing was sent to Chat. “Sync to Chat” queues it "
        "again."),
    SyncCode.ALREADY_DELETED: lambda outcome: _("Already deleted."),
    # Rows written before outcomes were data keep their old sentence.
    SyncCode.LEGACY: lambda outcome: outcome.text,
}


def outcome_text(data: dict) -> str:
    """A group's stored outcome (``GroupSync.last_outcome`` or a history entry's) in words; "" when none."""
    outcome = group_outcome(data)
    if isinstance(outcome, SyncOutcome):
        return SYNC_WORDS[outcome.code](outcome)
    if isinstance(outcome, PullOutcome):
        return PULL_WORDS[outcome.code](outcome)
    return ""


def next_try_text(attempts: int, most: int, next_try: str) -> str:
    """A retry that waits, after ``attempts`` failed attempts (of ``most``), due at ``next_try``; or, with no next
    try after them, that it gave up."""
    if next_try:
        return _("Next try: attempt %(attempt)d of %(most)d at %(time)s.") % {
            "attempt": attempts + 1, "most": most, "time": next_try}
    if attempts:
        return ngettext("Gave up after %(count)d attempt.", "Gave up after %(count)d attempts.", attempts) % {
            "count": attempts}
    return ""
