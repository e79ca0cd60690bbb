"""What the user changed in the app, found by reading Chat (``outcomes.DriftFacts``), and the history's ``drift``
entries (``outcomes.DriftEntry``) in words."""

from collections.abc import Callable

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactgroups.outcomes import DriftCode, DriftEntry, DriftFacts, ReadBy
from contactgroups.words.chat import joined


def _lines(drift: DriftFacts, owner: str) -> list[str]:
    taken = []
    if drift.name_taken:
        params = {"owner": owner, "name": drift.name_taken.name, "group_id": drift.name_taken.group_id}
        taken.append(_("This group cannot be created again in Chat as “%(name)s”: %(owner)s has another group of "
                       "that name there (GroupId %(group_id)s).") % params if drift.name_taken.create else
                     _("This group cannot be given the name “%(name)s” in Chat: %(owner)s has another group of that "
                       "name there (GroupId %(group_id)s).") % params)
    if drift.deleted:
        return [_("%(owner)s deleted this group in the app.") % {"owner": owner}, *taken]
    lines = []
    if drift.remade:
        lines.append(_("%(owner)s deleted this group in the app and made another under its name (GroupId "
                       "%(group_id)s); this group is that one now.") % {"owner": owner, "group_id": drift.remade})
    if drift.renamed_to:
        lines.append(_("%(owner)s renamed it in the app from “%(old)s” to “%(new)s”.") % {
            "owner": owner, "old": drift.renamed_from, "new": drift.renamed_to})
    if drift.added:
        lines.append(ngettext("%(owner)s added %(count)d conversation in the app: %(list)s.",
                              "%(owner)s added %(count)d conversations in the app: %(list)s.", len(drift.added))
                     % {"owner": owner, "count": len(drift.added), "list": joined(drift.added)})
    if drift.removed:
        lines.append(ngettext("%(owner)s removed %(count)d conversation in the app: %(list)s.",
                              "%(owner)s removed %(count)d conversations in the app: %(list)s.", len(drift.removed))
                     % {"owner": owner, "count": len(drift.removed), "list": joined(drift.removed)})
    return lines + taken


def drift_lines(drift: dict, owner: str) -> list[str]:
    """What the user changed in the app that the mirror does not show (``ContactGroup.drift``), a sentence each."""
    return _lines(DriftFacts.from_json(drift), owner)


def _found(entry: DriftEntry) -> str:
    where = (_("The regular reading of Chat found:") if entry.read_by == ReadBy.SWEEP
             else _("Reading Chat as the group page opened found:"))
    return " ".join([where, *_lines(entry.facts, entry.owner)])


def _cleared(entry: DriftEntry) -> str:
    if entry.read_by == ReadBy.SWEEP:
        return _("The regular reading of Chat found the group as the mirror shows it again.")
    return _("Reading Chat as the group page opened found the group as the mirror shows it again.")


def _kept(entry: DriftEntry) -> str:
    if entry.facts.kept_as:
        kept = _("Kept the staff's version, under the new name “%(name)s”, over the change made in the app; the "
                 "next sync sends it.") % {"name": entry.facts.kept_as}
    else:
        kept = _("Kept the staff's version over the change made in the app; the next sync sends it.")
    return " ".join([kept, _("In the app:"), *_lines(entry.facts, entry.owner)])


# A drift history entry in words, one reader a code.
DRIFT_WORDS: dict[DriftCode, Callable[[DriftEntry], str]] = {
    DriftCode.FOUND: _found,
    DriftCode.CLEARED: _cleared,
    DriftCode.KEPT: _kept,
}


def drift_history_text(data: dict) -> str:
    """A drift history entry: what a reading of Chat found, or the staff's version kept over the app's change."""
    entry = DriftEntry.from_json(data)
    return "" if entry is None else DRIFT_WORDS[entry.code](entry)
