"""A pull in words: what it found in one group (``outcomes.PullOutcome``) and its report, one line a difference."""

from collections.abc import Callable

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactgroups.outcomes import HeldBackReason, NotStored, NotStoredReason, PullCode, PullOutcome
from contactgroups.words.chat import conversation_text, joined
from contactgroups.words.commands import list_items


def _held_back(outcome: PullOutcome) -> str:
    if outcome.reason == HeldBackReason.NAME_UNSTORABLE:
        return _("Chat's name for GroupId %(id)s cannot be stored in the database here.") % {"id": outcome.group_id}
    return _("in Chat, GroupId %(id)s is named “%(name)s”, which a group being synced or not yet sent has here; "
             "pull again when that sync has ended.") % {"id": outcome.group_id, "name": outcome.name}


def held_back_text(data: dict) -> str:
    """Why a pull left a group of Chat as the mirror has it."""
    return _held_back(PullOutcome.from_json({**data, "code": PullCode.HELD_BACK}))


def _not_stored(entry: NotStored) -> str:
    conversation = conversation_text(entry.conversation)
    if entry.reason == NotStoredReason.TOO_LONG:
        return _("%(conversation)s (%(size)d bytes; the mirror holds at most %(max)d)") % {
            "conversation": conversation, "size": entry.bytes, "max": entry.max}
    return _("%(conversation)s (characters the database cannot store)") % {"conversation": conversation}


def _not_stored_clause(entries) -> str:
    return _("in Chat but not stored here: %(list)s") % {"list": ", ".join(_not_stored(entry) for entry in entries)}


def not_stored_text(entries: list[dict]) -> str:
    """The conversations Chat holds that the mirror cannot store, and why, as one clause."""
    return _not_stored_clause(NotStored.from_json(entry) for entry in entries)


def _changes(outcome: PullOutcome) -> str:
    changes = []
    if outcome.renamed_from:
        changes.append(_("renamed from “%(old)s” to “%(new)s”") % {"old": outcome.renamed_from, "new": outcome.name})
    if outcome.added:
        changes.append(_("added %(list)s") % {"list": joined(outcome.added)})
    if outcome.removed:
        changes.append(_("removed %(list)s") % {"list": joined(outcome.removed)})
    if outcome.group_id:
        changes.append(_("GroupId %(id)s") % {"id": outcome.group_id})
    if outcome.not_stored:
        changes.append(_not_stored_clause(outcome.not_stored))
    return ", ".join(changes)


def pull_changes_text(data: dict) -> str:
    """What a pull changed in one group, as a list of clauses."""
    return _changes(PullOutcome.from_json({**data, "code": PullCode.PULLED}))


def _adopted(outcome: PullOutcome) -> str:
    count = outcome.conversations or 0
    text = ngettext(
        "Pulled from Chat: %(owner)s created this group in the app (GroupId %(id)s, %(count)d conversation).",
        "Pulled from Chat: %(owner)s created this group in the app (GroupId %(id)s, %(count)d conversations).",
        count,
    ) % {"owner": outcome.owner, "id": outcome.group_id, "count": count}
    if outcome.not_stored:
        text += " " + _("Chat holds more, %(clause)s.") % {"clause": _not_stored_clause(outcome.not_stored)}
    return text


# A pull's outcome on a group in words, one reader a code.
PULL_WORDS: dict[PullCode, Callable[[PullOutcome], str]] = {
    PullCode.ADOPTED: _adopted,
    PullCode.PULLED: lambda outcome: _("Pulled from Chat: %(changes)s.") % {
        "changes": _changes(outcome) or _("no difference")},
    PullCode.GONE: lambda outcome: _("Pulled from Chat: the group is no longer in Chat."),
    PullCode.HELD_BACK: lambda outcome: _("Not pulled from Chat: %(why)s") % {"why": _held_back(outcome)},
}

# A pull's report in words, one line an entry: what the command and the drift page list.
REPORT_LINE_WORDS: dict[PullCode, Callable[[PullOutcome, str], str]] = {
    PullCode.ADOPTED: lambda outcome, owner: _("%(owner)s: new from Chat: %(name)s") % {
        "owner": owner, "name": outcome.name} + (
        "; " + _not_stored_clause(outcome.not_stored) if outcome.not_stored else ""),
    PullCode.PULLED: lambda outcome, owner: _("%(owner)s: “%(name)s”: %(changes)s") % {
        "owner": owner, "name": outcome.renamed_from or outcome.name, "changes": _changes(outcome)},
    PullCode.GONE: lambda outcome, owner: _("%(owner)s: gone from Chat: %(name)s") % {
        "owner": owner, "name": outcome.name},
    PullCode.HELD_BACK: lambda outcome, owner: _("%(owner)s: not pulled: %(why)s") % {
        "owner": owner, "why": _held_back(outcome)},
}


def pull_report_lines(report) -> list[str]:
    """A pull's report (sync.PullReport), one line a difference, for a page or a command."""
    owner = report.owner

    def lines(entries) -> list[str]:
        outcomes = (PullOutcome.from_json(data) for data in entries)
        return [REPORT_LINE_WORDS[outcome.code](outcome, owner) for outcome in outcomes if outcome is not None]

    skipped = [_("%(owner)s: skipped while another sync runs: %(name)s") % {"owner": owner, "name": name}
               for name in report.skipped]
    return [*lines(report.adopted), *lines(report.changed), *lines(report.deleted), *skipped,
            *lines(report.held_back)]


# -- pull_contact_groups ----------------------------------------------------------------------------------------


def would_pull_text(user_id: str) -> str:
    return _("Would pull the groups of %(user_id)s from Chat.") % {"user_id": user_id}


def pull_dry_run_text(count: int) -> str:
    return ngettext(
        "Dry run: %(count)d Chat user would be pulled; nothing was changed and Chat was not called.",
        "Dry run: %(count)d Chat users would be pulled; nothing was changed and Chat was not called.",
        count,
    ) % {"count": count}


def pull_failed_text(user_id: str, error: str) -> str:
    return _("%(user_id)s: the pull failed: %(error)s") % {"user_id": user_id, "error": error}


def pull_summary_text(*, pulled: int, total: int, seconds: float, adopted: int, changed: int, deleted: int,
                      unchanged: int, skipped: int, failed: int) -> str:
    """The last line of ``pull_contact_groups``: how many users were pulled, how fast, what differed."""
    differed = adopted + changed + deleted
    results = [
        ngettext("%(count)d group differed (%(adopted)d new from Chat, %(changed)d changed, %(deleted)d gone "
                 "from Chat)",
                 "%(count)d groups differed (%(adopted)d new from Chat, %(changed)d changed, %(deleted)d gone "
                 "from Chat)", differed) % {"count": differed, "adopted": adopted, "changed": changed,
                                            "deleted": deleted},
        _("%(count)d unchanged") % {"count": unchanged},
    ]
    if skipped:
        results.append(_("%(count)d skipped while another sync ran") % {"count": skipped})
    params = {"pulled": pulled, "total": total, "seconds": seconds, "results": list_items(results), "failed": failed}
    if failed:
        return ngettext("Pulled %(pulled)d of %(total)d Chat user in %(seconds).1f s: %(results)s; "
                        "%(failed)d failed.",
                        "Pulled %(pulled)d of %(total)d Chat users in %(seconds).1f s: %(results)s; "
                        "%(failed)d failed.", total) % params
    return ngettext("Pulled %(pulled)d of %(total)d Chat user in %(seconds).1f s: %(results)s.",
                    "Pulled %(pulled)d of %(total)d Chat users in %(seconds).1f s: %(results)s.", total) % params


def pulls_failed_text(failed: int, total: int) -> str:
    return ngettext("The pull failed for %(failed)d of %(total)d Chat user; see the lines above.",
                    "The pull failed for %(failed)d of %(total)d Chat users; see the lines above.",
                    total) % {"failed": failed, "total": total}
