"""What the user changed in the app, found by reading Chat (``outcomes.DriftFacts``), and the history's ``drift``
entries (``outcomes.DriftEntry``) in words."""

from collections.abc import Callable

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactgroups.outcomes import DriftCode, DriftEntry, DriftFacts, ReadBy
from contactgroups.words.chat import joined
from contactgroups.words.commands import list_items


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


def drift_text(drift: dict, owner: str) -> str:
    """What the user changed in the app, as one text (the health page, the sweep's lines)."""
    return " ".join(drift_lines(drift, owner))


# -- the group page's two answers (admin/drift.py) ---------------------------------------------------------------


def answer_refused_text(reason: str) -> str:
    """An answer that changed nothing, and why."""
    return _("Nothing was changed: %(reason)s") % {"reason": reason}


def reasons_text(reasons) -> str:
    """Several reasons (a form's errors) as one."""
    return " ".join(str(reason) for reason in reasons)


def chat_taken_text(owner: str, group: str, *, held_back_name: str = "", deleted: bool = False,
                    changes: str = "") -> str:
    """What "Take Chat's version" did: held back by a name, marked the group deleted, took ``changes``, or found
    the group matching."""
    if held_back_name:
        return _("Chat's version was not taken: in Chat this group is named “%(name)s”, a name another of "
                 "%(owner)s's groups has here. Use “Pull from Chat” on the list to take all of %(owner)s's groups "
                 "at once.") % {"name": held_back_name, "owner": owner}
    if deleted:
        return _("Took Chat's version: %(owner)s deleted “%(group)s” in the app, so it is marked deleted here.") % {
            "owner": owner, "group": group}
    if changes:
        return _("Took Chat's version of “%(group)s”: %(changes)s.") % {"group": group, "changes": changes}
    return _("“%(group)s” already matched Chat; nothing was changed.") % {"group": group}


def name_taken_in_chat_text(owner: str, name: str, group_id) -> str:
    """Keeping the staff's version under ``name``, which another of the owner's groups has in Chat."""
    return _("%(owner)s has another group named “%(name)s” in Chat (GroupId %(group_id)s). Give this group a name "
             "no other group of theirs has.") % {"owner": owner, "name": name, "group_id": group_id}


def already_matches_text(group: str) -> str:
    return _("“%(group)s” already matches Chat; nothing was changed.") % {"group": group}


def kept_as_draft_text(group: str) -> str:
    return _("Your version of “%(group)s” is kept over the change made in the app, as a draft: you may not sync to "
             "Chat, so someone who may must sync it.") % {"group": group}


# -- sweep_contact_groups ---------------------------------------------------------------------------------------


def sweep_read_failed_text(user_id: str, error: str) -> str:
    return _("%(user_id)s: Chat could not be read: %(error)s") % {"user_id": user_id, "error": error}


def sweep_changed_line(owner: str, group: str, drift: dict) -> str:
    """One group the sweep found changed in the app, and what changed."""
    return _("%(owner)s: “%(group)s”: %(changes)s") % {"owner": owner, "group": group,
                                                       "changes": drift_text(drift, owner)}


def sweep_summary_text(*, read: int, total: int, seconds: float, groups: int, drifted: int, found: int,
                       cleared: int, skipped: int, failed: int) -> str:
    """The last line of ``sweep_contact_groups``: how many users were read, how fast, what was found."""
    results = [
        ngettext("%(count)d group read", "%(count)d groups read", groups) % {"count": groups},
        ngettext("%(count)d changed in the app (%(found)d newly found, %(cleared)d no longer)",
                 "%(count)d changed in the app (%(found)d newly found, %(cleared)d no longer)",
                 drifted) % {"count": drifted, "found": found, "cleared": cleared},
    ]
    if skipped:
        results.append(ngettext("%(count)d skipped while its sync ran", "%(count)d skipped while their syncs ran",
                                skipped) % {"count": skipped})
    params = {"read": read, "total": total, "seconds": seconds, "rate": read / max(seconds, 1e-9),
              "results": list_items(results), "failed": failed}
    text = ngettext("Read %(read)d of %(total)d Chat user in %(seconds).1f s (%(rate).1f users/s): %(results)s.",
                    "Read %(read)d of %(total)d Chat users in %(seconds).1f s (%(rate).1f users/s): "
                    "%(results)s.", total) % params
    if failed:
        text += " " + ngettext("%(failed)d Chat user could not be read.",
                               "%(failed)d Chat users could not be read.", failed) % params
    return text


def sweep_failed_text(failed: int) -> str:
    return ngettext("The sweep could not read %(failed)d Chat user; see the lines above.",
                    "The sweep could not read %(failed)d Chat users; see the lines above.",
                    failed) % {"failed": failed}
