"""Stored outcomes and history entries made into sentences, in the reader's language, when they are shown.

The sync, pull and account code store what happened as data (contactgroups.sync.outcome); the admin pages and
the management commands call these functions to say it. Rows written before outcomes were data hold their old
text under the ``legacy`` code and are shown as they are.
"""

import json

from django.contrib.admin.models import LogEntry
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from contactgroups.chat import errors, protocol

LEGACY = "legacy"


def lazy_format(template, **params):
    """``template % params``, made when shown: for a lazily translated text with numbers in it (a help text)."""
    return lazy(lambda: str(template) % params, str)()


def say(message) -> str:
    """A message of the Chat layer (``protocol.Message``, an error's meaning) in the reader's language."""
    template = getattr(message, "template", None)
    if template is None:
        return _(str(message)) if message else ""
    return _(template) % message.params if message.params else _(template)


def conversation_text(conversation) -> str:
    """A conversation as staff read it: the UserID, or "group <ToGroupId>"."""
    kind, target = conversation[0], conversation[1]
    return target if kind == protocol.TYPE_C2C else _("group %(id)s") % {"id": target}


def _join(conversations) -> str:
    return ", ".join(conversation_text(c) for c in conversations)


def meaning(code: int | None) -> str:
    """What Chat's code means, in the reader's language."""
    return say(errors.describe(code))


def code_number(code: int) -> str:
    """Chat's code as its number, or a question mark for a code past any this admin keeps (its meaning says so)."""
    return "?" if code == errors.CODE_UNREADABLE else str(code)


def _said_whole(code) -> bool:
    """Whether ``code``'s meaning is said on its own, not as "Chat error <number>": a code this admin cannot read."""
    return code == errors.CODE_UNREADABLE


def code_text(code: int | None, info: str = "") -> str:
    """Chat's code with its meaning; Chat's own text (``info``) only for a code the project does not document.

    Chat writes its text for developers, naming its JSON fields (``To_Account user_9 is not imported``): the staff
    read the meaning, and the audit keeps the text.
    """
    text = f"{code} {meaning(code)}" if code is not None and not _said_whole(code) else meaning(code)
    return text + (f" ({info})" if info and not errors.is_documented(code) else "")


def too_slow_text(seconds) -> str:
    """Chat went past a call's deadline of ``seconds``."""
    return _("Chat was too slow: its whole answer had not come within %(seconds)s s.") % {
        "seconds": f"{seconds:g}" if isinstance(seconds, int | float) else "?"}


def too_large_text(limit) -> str:
    """Chat's answer went past the ``limit`` bytes the admin reads."""
    size = filesizeformat(limit) if isinstance(limit, int) else "?"
    return _("Chat answered too much: more than %(size)s, the most this admin reads of one answer.") % {"size": size}


def error_text(error: dict) -> str:
    """A stored failure (sync.outcome.error_data) in words."""
    kind, code, info = error.get("kind"), error.get("code"), error.get("info") or ""
    if kind == "connect":
        return _("Could not connect to Chat; nothing was sent.")
    if kind == "too_slow":
        return too_slow_text(error.get("seconds"))
    if kind == "too_large":
        return too_large_text(error.get("limit"))
    if kind == "transport":
        if error.get("http_status"):
            return _("Chat's server failed (HTTP %(status)s).") % {"status": error["http_status"]}
        return _("No answer from Chat in time.")
    if kind == "throttled":
        return _("Chat asked for fewer calls a second (%(code)s).") % {"code": code_text(code, info)}
    if kind == "answer":
        if error.get("http_status") not in (None, 200):
            return _("Chat answered with HTTP %(status)s and nothing this admin can read.") % {
                "status": error["http_status"]}
        return _("Chat answered in a form this admin cannot read; its answer is kept with the Chat calls.")
    if kind == "busy":
        return _("Another sync of this group was running.")
    if kind == "queue":
        return _("The task queue could not be reached, so nothing was sent to Chat.")
    if kind == "internal":
        return _("An unexpected error stopped it (%(type)s); see the server log.") % {"type": error.get("type", "")}
    if _said_whole(code):
        return code_text(code, info)
    return _("Chat error %(code)s") % {"code": code_text(code, info)}


def sync_state_text(state: str, *, running: bool = False, calls_done: int = 0, calls_planned: int = 0,
                    refused: int = 0, error_code: int | None = None, last_outcome: dict | None = None) -> str:
    """A group's sync state in words, as its page and the list show it at this moment.

    ``running``: a sync holds the group's lease; ``calls_done`` of ``calls_planned``: how far it is (both 0 until
    a sync of more than one call has planned); ``refused``: the conversations Chat refused; ``error_code`` and
    ``last_outcome``: why it failed.
    """
    if state in ("syncing", "deleting"):
        deleting = state == "deleting"
        if deleting and not running:
            return _("Queued for deletion from Chat")
        if calls_planned > 1:
            params = {"call": min(calls_done + 1, calls_planned), "calls": calls_planned}
            if deleting:
                return _("Deleting from Chat: call %(call)d of %(calls)d") % params
            return _("Syncing to Chat: call %(call)d of %(calls)d") % params
        return _("Deleting from Chat") if deleting else _("Syncing to Chat")
    if state == "queued":
        return _("Queued")
    if state == "draft":
        return _("Draft: not synced to Chat")
    if state == "synced":
        return _("Synced")
    if state == "deleted":
        return _("Deleted")
    if state == "partial":
        if any(conflict.get("code") == "name_taken" for conflict in (last_outcome or {}).get("conflicts", ())):
            return _("In conflict: another group has its name in Chat")
        if refused:
            return ngettext("Partly refused: %(count)d conversation refused",
                            "Partly refused: %(count)d conversations refused", refused) % {"count": refused}
        return _("Partly synced: see the last sync")
    if state == "failed":
        error = (last_outcome or {}).get("error")
        if error_code is not None:
            reason = code_text(error_code)
        elif error:
            reason = error_text(error)
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


def conflict_text(conflict: dict, owner: str) -> str:
    code = conflict.get("code")
    if code == "deleted_in_app":
        return _("Conflict: %(owner)s had deleted this group in the app; the staff's change wins, so it was "
                 "created again.") % {"owner": owner}
    if code == "renamed_in_app":
        return _("Conflict: %(owner)s renamed the group to “%(app_name)s” in the app; the staff's name "
                 "“%(staff_name)s” wins.") % {"owner": owner, **conflict}
    if code == "renamed_before_delete":
        return _("Conflict: %(owner)s had renamed the group to “%(app_name)s” in the app; it was deleted as the "
                 "staff asked.") % {"owner": owner, **conflict}
    if code == "already_gone":
        return _("It was already gone from Chat.")
    if code == "remade_in_app":
        if conflict.get("staff_changed"):
            return _("%(owner)s had deleted this group in the app and made another under its name (GroupId "
                     "%(group_id)s); this group is that one now, and the staff's change was sent to it.") % {
                "owner": owner, "group_id": conflict.get("group_id")}
        return _("%(owner)s had deleted this group in the app and made another under its name (GroupId "
                 "%(group_id)s); this group is that one now.") % {"owner": owner, "group_id": conflict.get("group_id")}
    if code == "name_taken":
        params = {"owner": owner, "name": conflict.get("name", ""), "group_id": conflict.get("group_id")}
        if conflict.get("new"):
            return _("Not created in Chat: %(owner)s has another group named “%(name)s” there (GroupId "
                     "%(group_id)s), made or renamed in the app, and Chat refuses a second group of that name. "
                     "Nothing was sent. Rename the group here and sync it again.") % params
        if conflict.get("create"):
            return _("Not created in Chat: %(owner)s has another group named “%(name)s” there (GroupId "
                     "%(group_id)s), made or renamed in the app, and Chat refuses a second group of that name. "
                     "Nothing was sent. The group's page offers to keep it under another name or to take Chat's "
                     "version.") % params
        return _("Not renamed to “%(name)s” in Chat: %(owner)s has another group of that name there (GroupId "
                 "%(group_id)s), made or renamed in the app, and Chat refuses a second group of that name; the rest "
                 "of the change was sent. The group's page offers to keep it under another name or to take Chat's "
                 "version.") % params
    if code == "name_not_sendable":
        return _("Chat holds this group under the name “%(name)s”, given in the app, which a new group or a rename "
                 "cannot be sent under; nothing was sent under it. Rename the group here and sync it again.") % conflict
    if code == "name_unstorable":
        return _("%(owner)s renamed the group in the app to “%(app_name)s”, with a character the database here cannot "
                 "store (shown as its code); the group keeps its name here.") % {"owner": owner, **conflict}
    return conflict.get("text", "")


def conflicts_text(conflicts: list, owner: str) -> str:
    return " ".join(conflict_text(conflict, owner) for conflict in conflicts)


def _sync_text(data: dict) -> str:
    owner = data.get("owner", "")
    group_id = data.get("group_id")
    notes = [conflict_text(c, owner) for c in data.get("conflicts", [])]
    if data.get("interrupted"):
        notes.append(_("An earlier sync stopped before it could record Chat's answer, so Chat was read first."))
    code = data["code"]
    if code == "deleted_in_app":
        return _("%(owner)s deleted this group in the app (GroupId %(id)s); the mirror now shows it deleted.") % {
            "owner": owner, "id": group_id}
    if code == "deleted":
        text = _("Deleted from Chat (GroupId %(id)s).") % {"id": group_id} if group_id else _("Deleted from Chat.")
        return " ".join([text, *notes])
    if any(c.get("code") == "name_taken" and c.get("create") for c in data.get("conflicts", [])):
        return " ".join(notes)  # no create was made: Chat holds nothing of the group to speak of
    changes = []
    if data.get("renamed_from"):
        changes.append(_("renamed from “%(old)s” to “%(new)s”") % {"old": data["renamed_from"], "new": data["name"]})
    if data.get("added"):
        changes.append(ngettext("%(count)d conversation added", "%(count)d conversations added", data["added"])
                       % {"count": data["added"]})
    if data.get("removed"):
        changes.append(ngettext("%(count)d conversation removed", "%(count)d conversations removed",
                                data["removed"]) % {"count": data["removed"]})
    if data.get("refused"):
        refused = "; ".join(f"{conversation_text((kind, target))}, {code_text(result, info)}"
                            for kind, target, result, info in data["refused"])
        changes.append(_("%(count)d refused: %(list)s") % {"count": len(data["refused"]), "list": refused})
    if not changes:
        changes.append(_("nothing to change, Chat already matched"))
    if code == "created":
        text = _("Created in Chat as GroupId %(id)s: %(changes)s.")
    else:
        text = _("Synced to Chat as GroupId %(id)s: %(changes)s.")
    text = text % {"id": group_id, "changes": ", ".join(changes).rstrip(".")}
    adopted = data.get("adopted", {})
    done = []
    if adopted.get("name"):
        done.append(_("renamed the group to “%(name)s”") % {"name": adopted["name"]})
    if adopted.get("added"):
        done.append(_("added %(list)s") % {"list": _join(adopted["added"])})
    if adopted.get("removed"):
        done.append(_("removed %(list)s") % {"list": _join(adopted["removed"])})
    if done:
        text += " " + _("In the app, %(owner)s %(changes)s; the mirror now shows it.") % {
            "owner": owner, "changes": _(" and ").join(done)}
    return " ".join([text, *notes])


def outcome_text(data: dict) -> str:
    """A group's stored outcome (``ContactGroup.last_outcome`` or a history entry's) in words; "" when none."""
    if not data:
        return ""
    code = data.get("code")
    if code == LEGACY:
        return data.get("text", "")
    if code in ("created", "synced", "deleted", "deleted_in_app"):
        return _sync_text(data)
    if code == "stopped":
        text = _("Sync to Chat stopped: %(error)s") % {"error": error_text(data.get("error", {}))}
        if data.get("retrying"):
            text += " " + _("It will be tried again.")
        if data.get("partial"):
            done = dict(data, code="created" if data.get("created") else "synced")
            text += " " + _("Done before it stopped: %(summary)s") % {"summary": _sync_text(done)}
        return text
    if code == "gave_up":
        return ngettext("Gave up after %(count)d attempt: %(error)s", "Gave up after %(count)d attempts: %(error)s",
                        data["attempts"]) % {"count": data["attempts"], "error": error_text(data.get("error", {}))}
    if code == "not_queued":
        return _("Not synced: the task queue could not be reached, so nothing was sent to Chat. “Sync to Chat” "
                 "queues it again.")
    if code == "already_deleted":
        return _("Already deleted.")
    if code == "adopted":
        return ngettext(
            "Pulled from Chat: %(owner)s created this group in the app (GroupId %(id)s, %(count)d conversation).",
            "Pulled from Chat: %(owner)s created this group in the app (GroupId %(id)s, %(count)d conversations).",
            data["conversations"],
        ) % {"owner": data.get("owner", ""), "id": data["group_id"], "count": data["conversations"]} + (
            " " + _("Chat holds more, %(clause)s.") % {"clause": not_stored_text(data["not_stored"])}
            if data.get("not_stored") else "")
    if code == "pulled":
        return _("Pulled from Chat: %(changes)s.") % {"changes": pull_changes_text(data) or _("no difference")}
    if code == "gone_from_chat":
        return _("Pulled from Chat: the group is no longer in Chat.")
    if code == "held_back":
        return _("Not pulled from Chat: %(why)s") % {"why": held_back_text(data)}
    return ""


def _listed(items, most: int = 10) -> str:
    """Up to ``most`` items, then how many more."""
    items = list(items)
    text = ", ".join(items[:most])
    if len(items) > most:
        more = len(items) - most
        text += " " + ngettext("and %(count)d more", "and %(count)d more", more) % {"count": more}
    return text


def save_warning_text(data: dict) -> str:
    """A warning of the group form (forms.save_warnings) in words."""
    code = data.get("code")
    refusal = code_text(errors.ACCOUNT_NOT_IMPORTED)
    if code == "owner_not_imported":
        return _("The owner %(user)s is not imported in Chat, as far as this admin knows, so Chat will refuse the "
                 "whole group: %(code)s") % {"user": data["user"], "code": refusal}
    if code == "targets_not_imported":
        users = data["users"]
        return ngettext(
            "%(list)s is not imported in Chat, as far as this admin knows, so Chat will refuse that conversation: "
            "%(code)s",
            "%(list)s are not imported in Chat, as far as this admin knows, so Chat will refuse those "
            "conversations: %(code)s",
            len(users),
        ) % {"list": _listed(users), "code": refusal}
    if code == "group_id_as_user":
        targets = data["targets"]
        text = ngettext(
            "%(list)s looks like a Chat group id, but is typed as the UserID of a one-to-one conversation. For a "
            "group chat, choose the type “Group conversation” and put the id under group id.",
            "%(list)s look like Chat group ids, but are typed as the UserIDs of one-to-one conversations. For a "
            "group chat, choose the type “Group conversation” and put the id under group id.",
            len(targets),
        ) % {"list": _listed(targets)}
        if data.get("known"):
            text += " " + _("Other groups here hold %(list)s as a group conversation.") % {
                "list": _listed(data["known"])}
        return text
    return ""


def held_back_text(data: dict) -> str:
    """Why a pull left a group of Chat as the mirror has it."""
    if data.get("reason") == "name_unstorable":
        return _("Chat's name for GroupId %(id)s cannot be stored in the database here.") % {"id": data["group_id"]}
    return _("in Chat, GroupId %(id)s is named “%(name)s”, which a group being synced or not yet sent has here; "
             "pull again when that sync has ended.") % {"id": data["group_id"], "name": data["name"]}


def not_stored_text(entries: list[dict]) -> str:
    """The conversations Chat holds that the mirror cannot store, and why, as one clause."""
    parts = []
    for entry in entries:
        conversation = conversation_text(entry["conversation"])
        if entry.get("reason") == "too_long":
            parts.append(_("%(conversation)s (%(size)d bytes; the mirror holds at most %(max)d)") % {
                "conversation": conversation, "size": entry["bytes"], "max": entry["max"]})
        else:
            parts.append(_("%(conversation)s (characters the database cannot store)") % {
                "conversation": conversation})
    return _("in Chat but not stored here: %(list)s") % {"list": ", ".join(parts)}


def pull_changes_text(data: dict) -> str:
    """What a pull changed in one group, as a list of clauses."""
    changes = []
    if data.get("renamed_from"):
        changes.append(_("renamed from “%(old)s” to “%(new)s”") % {"old": data["renamed_from"], "new": data["name"]})
    if data.get("added"):
        changes.append(_("added %(list)s") % {"list": _join(data["added"])})
    if data.get("removed"):
        changes.append(_("removed %(list)s") % {"list": _join(data["removed"])})
    if data.get("group_id"):
        changes.append(_("GroupId %(id)s") % {"id": data["group_id"]})
    if data.get("not_stored"):
        changes.append(not_stored_text(data["not_stored"]))
    return ", ".join(changes)


def pull_report_lines(report) -> list[str]:
    """A pull's report (sync.PullReport), one line a difference, for a page or a command."""
    owner = report.owner
    lines = [_("%(owner)s: new from Chat: %(name)s") % {"owner": owner, "name": data["name"]} + (
        "; " + not_stored_text(data["not_stored"]) if data.get("not_stored") else "")
        for data in report.adopted]
    lines += [_("%(owner)s: “%(name)s”: %(changes)s") % {
        "owner": owner, "name": data.get("renamed_from", data["name"]), "changes": pull_changes_text(data)}
        for data in report.changed]
    lines += [_("%(owner)s: gone from Chat: %(name)s") % {"owner": owner, "name": data["name"]}
              for data in report.deleted]
    lines += [_("%(owner)s: skipped while another sync runs: %(name)s") % {"owner": owner, "name": name}
              for name in report.skipped]
    lines += [_("%(owner)s: not pulled: %(why)s") % {"owner": owner, "why": held_back_text(data)}
              for data in report.held_back]
    return lines


def account_text(data: dict) -> str:
    code = data.get("code")
    if code == "imported":
        return _("Checked in Chat: imported.")
    if code == "not_imported":
        why = data.get("import")
        text = _("Checked in Chat: not imported.")
        if why and why.get("reason") == "refused":
            text += " " + _("Chat refused to import this UserID.")
        elif why and why.get("reason") == "nickname_too_long":
            text += " " + _("The nickname is %(size)d bytes in UTF-8, more than the %(max)d bytes Chat keeps, so the "
                            "user was not sent to Chat; shorten the nickname and import again.") % {
                "size": why["size"], "max": why["max"]}
        elif why:
            text += " " + _account_error_text(why)
        return text
    if code == "check_failed":
        if data.get("error"):
            return _("Check in Chat failed: %(error)s") % {"error": _account_error_text(data["error"])}
        return _("Check in Chat failed: %(code)s") % {"code": code_text(data.get("result_code"), data.get("info"))}
    return ""


def _account_error_text(why: dict) -> str:
    """Why an import or check call failed; entries written before the error's kind was kept are Chat errors."""
    return error_text({"kind": "chat", **{key: value for key, value in why.items() if key != "reason"}})


def import_text(data: dict) -> str:
    if "rows" not in data:
        return _("Added from %(source)s.") % {"source": data["source"]}
    rows = data["rows"]
    where = (_("row %(row)d") % {"row": rows[0]} if rows[0] == rows[-1]
             else _("rows %(first)d-%(last)d") % {"first": rows[0], "last": rows[-1]})
    return ngettext("Imported from %(source)s (%(rows)s) with %(count)d conversation.",
                    "Imported from %(source)s (%(rows)s) with %(count)d conversations.",
                    data["conversations"]) % {"source": data["source"], "rows": where, "count": data["conversations"]}


def history_text(entry: LogEntry) -> str:
    """An admin history entry in words: the project's own entries from their data, Django's as Django says them."""
    message = entry.change_message
    if not message.startswith("["):
        return entry.get_change_message()
    try:
        parts = json.loads(message)
    except ValueError:
        return message
    own = [part for part in parts
           if isinstance(part, dict) and part.keys() & {"sync", "pull", "account", "import", "drift", "edit"}]
    if not own:
        return entry.get_change_message()
    texts = []
    for part in own:
        if "sync" in part:
            texts.append(outcome_text(part["sync"]))
        elif "pull" in part:
            texts.append(outcome_text(part["pull"]))
        elif "account" in part:
            texts.append(account_text(part["account"]))
        elif "drift" in part:
            texts.append(drift_history_text(part["drift"]))
        elif "edit" in part:
            texts.append(edit_text(part["edit"]))
        else:
            texts.append(import_text(part["import"]))
    return " ".join(text for text in texts if text)


# Staff actions on a group (the admin's history; contactgroups.admin.history and admin.restore store the data) ------


def moment_text(iso: str) -> str:
    """A stored time (ISO 8601) as the reader's pages show times."""
    moment = parse_datetime(iso or "")
    if moment is None:
        return iso or ""
    return date_format(timezone.localtime(moment) if timezone.is_aware(moment) else moment, "DATETIME_FORMAT")


def edit_changes_text(data: dict) -> str:
    """What a staff action changed in a group, as clauses: the rename, the conversations added and removed."""
    changes = []
    if data.get("renamed_from"):
        changes.append(_("renamed from “%(old)s” to “%(new)s”") % {"old": data["renamed_from"], "new": data["name"]})
    if data.get("added"):
        changes.append(_("added %(list)s") % {"list": _listed(conversation_text(c) for c in data["added"])})
    if data.get("removed"):
        changes.append(_("removed %(list)s") % {"list": _listed(conversation_text(c) for c in data["removed"])})
    return ", ".join(changes)


def edit_text(data: dict) -> str:
    """A staff action on a group (its history entry's ``edit`` data) in words."""
    action = data.get("action")
    name = data.get("name", "")
    changes = edit_changes_text(data)
    if action == "added":
        count = len(data.get("added", ()))
        if not count:
            return _("Added “%(name)s” with no conversations.") % {"name": name}
        return ngettext("Added “%(name)s” with %(count)d conversation: %(list)s.",
                        "Added “%(name)s” with %(count)d conversations: %(list)s.", count) % {
            "name": name, "count": count, "list": _listed(conversation_text(c) for c in data["added"])}
    if action == "deleted":
        return _("Deleted “%(name)s”.") % {"name": name}
    if action == "sync":
        return _("Asked for “%(name)s” to be synced to Chat.") % {"name": name}
    if action == "restored":
        when = moment_text(data.get("confirmed_at", ""))
        if data.get("revived"):
            count = data.get("conversations", 0)
            return ngettext(
                "Restored the deleted group as Chat confirmed it on %(when)s: “%(name)s” with %(count)d conversation.",
                "Restored the deleted group as Chat confirmed it on %(when)s: “%(name)s” with %(count)d "
                "conversations.", count) % {"when": when, "name": name, "count": count}
        return _("Restored the version Chat confirmed on %(when)s: %(changes)s.") % {
            "when": when, "changes": changes or _("the same as before")}
    if not changes:
        return _("Saved with no change to the name or the conversations.")
    return _("Changed: %(changes)s.") % {"changes": changes}


# Drift: what the user changed in the app, found by reading Chat (contactgroups.sync.drift) --------------------


def drift_lines(drift: dict, owner: str) -> list[str]:
    """What the user changed in the app that the mirror does not show, one sentence a change."""
    taken = []
    if drift.get("name_taken"):
        params = {"owner": owner, **drift["name_taken"]}
        taken.append(_("This group cannot be created again in Chat as “%(name)s”: %(owner)s has another group of "
                       "that name there (GroupId %(group_id)s).") % params if params.get("create") else
                     _("This group cannot be given the name “%(name)s” in Chat: %(owner)s has another group of that "
                       "name there (GroupId %(group_id)s).") % params)
    if drift.get("deleted"):
        return [_("%(owner)s deleted this group in the app.") % {"owner": owner}, *taken]
    lines = []
    if drift.get("remade"):
        lines.append(_("%(owner)s deleted this group in the app and made another under its name (GroupId "
                       "%(group_id)s); this group is that one now.") % {"owner": owner, "group_id": drift["remade"]})
    if drift.get("renamed_to"):
        lines.append(_("%(owner)s renamed it in the app from “%(old)s” to “%(new)s”.") % {
            "owner": owner, "old": drift.get("renamed_from", ""), "new": drift["renamed_to"]})
    if drift.get("added"):
        lines.append(ngettext("%(owner)s added %(count)d conversation in the app: %(list)s.",
                              "%(owner)s added %(count)d conversations in the app: %(list)s.", len(drift["added"]))
                     % {"owner": owner, "count": len(drift["added"]), "list": _join(drift["added"])})
    if drift.get("removed"):
        lines.append(ngettext("%(owner)s removed %(count)d conversation in the app: %(list)s.",
                              "%(owner)s removed %(count)d conversations in the app: %(list)s.",
                              len(drift["removed"]))
                     % {"owner": owner, "count": len(drift["removed"]), "list": _join(drift["removed"])})
    return lines + taken


def drift_history_text(data: dict) -> str:
    """A drift history entry: what a reading of Chat found, or the staff's version kept over the app's change."""
    code = data.get("code")
    owner = data.get("owner", "")
    if code == "drift_found":
        where = (_("The regular reading of Chat found:") if data.get("read_by") == "sweep"
                 else _("Reading Chat as the group page opened found:"))
        return " ".join([where, *drift_lines(data, owner)])
    if code == "drift_cleared":
        return (_("The regular reading of Chat found the group as the mirror shows it again.")
                if data.get("read_by") == "sweep"
                else _("Reading Chat as the group page opened found the group as the mirror shows it again."))
    if code == "drift_kept":
        if data.get("kept_as"):
            kept = _("Kept the staff's version, under the new name “%(name)s”, over the change made in the app; the "
                     "next sync sends it.") % {"name": data["kept_as"]}
        else:
            kept = _("Kept the staff's version over the change made in the app; the next sync sends it.")
        return " ".join([kept,
                         _("In the app:"), *drift_lines(data, owner)])
    return ""


def chat_read_failure_text(error: dict, seconds: float) -> str:
    """Why Chat could not be read for a group page (a stored failure, sync.outcome.error_data)."""
    kind = error.get("kind")
    if kind == "connect":
        return _("Chat could not be reached.")
    if kind == "too_slow":
        return too_slow_text(error.get("seconds", seconds))
    if kind == "too_large":
        return too_large_text(error.get("limit"))
    if kind == "transport":
        if error.get("http_status"):
            return _("Chat answered with HTTP %(status)s.") % {"status": error["http_status"]}
        return _("Chat did not answer within %(seconds)s s.") % {"seconds": f"{seconds:g}"}
    if kind == "throttled":
        return _("Chat asked for fewer calls a second (%(code)s).") % {"code": code_text(error.get("code"))}
    if kind == "answer":
        return error_text(error)
    if kind == "busy":
        return _("A sync of this group is running.")
    if kind == "internal":
        return _("An unexpected error stopped it (%(type)s); see the server log.") % {"type": error.get("type", "")}
    if _said_whole(error.get("code")):
        return code_text(error.get("code"), error.get("info") or "")
    return _("Chat error %(code)s.") % {"code": code_text(error.get("code"), error.get("info") or "")}



# What each Chat call does, in staff words, by the operation the audit stores (the endpoint's last part).
OPERATION_WORDS = {
    endpoint.rsplit("/", 1)[-1]: words for endpoint, words in {
        protocol.CREATE_CONTACT_GROUP: gettext_noop("create a group"),
        protocol.UPDATE_CONTACT_GROUP: gettext_noop("change a group"),
        protocol.DEL_CONTACT_GROUP: gettext_noop("delete a group"),
        protocol.GET_CONTACT_GROUP: gettext_noop("read a user's groups"),
        protocol.SEARCH_CONTACT_GROUP: gettext_noop("find conversations' groups"),
        protocol.MARK_CONTACT: gettext_noop("mark conversations"),
        protocol.GET_LIST: gettext_noop("read recent conversations"),
        protocol.DELETE_CONVERSATION: gettext_noop("delete a conversation"),
        protocol.ACCOUNT_IMPORT: gettext_noop("import a user"),
        protocol.MULTIACCOUNT_IMPORT: gettext_noop("import users"),
        protocol.ACCOUNT_CHECK: gettext_noop("check users are imported"),
    }.items()
}


def operation_text(operation: str) -> str:
    """What a Chat call did, in staff words; an operation the project does not call, as stored."""
    words = OPERATION_WORDS.get(operation)
    return _(words) if words else operation



def audit_pruned_text(sweep: int, others: int, sweep_days: int, days: int, dry_run: bool) -> str:
    """What ``prune_audit`` deleted (or, ``dry_run``, would delete): the drift sweep's reads older than
    ``sweep_days`` and the other Chat calls older than ``days``."""
    params = {"sweep": sweep, "others": others, "sweep_days": sweep_days, "days": days}
    if dry_run:
        parts = [
            ngettext("%(sweep)d read of the drift sweep older than %(sweep_days)d days would be deleted",
                     "%(sweep)d reads of the drift sweep older than %(sweep_days)d days would be deleted",
                     sweep) % params,
            ngettext("%(others)d other Chat call older than %(days)d days would be deleted",
                     "%(others)d other Chat calls older than %(days)d days would be deleted", others) % params,
        ]
    else:
        parts = [
            ngettext("%(sweep)d read of the drift sweep older than %(sweep_days)d days deleted",
                     "%(sweep)d reads of the drift sweep older than %(sweep_days)d days deleted", sweep) % params,
            ngettext("%(others)d other Chat call older than %(days)d days deleted",
                     "%(others)d other Chat calls older than %(days)d days deleted", others) % params,
        ]
    return _("%(sweep_reads)s; %(other_calls)s.") % {"sweep_reads": parts[0], "other_calls": parts[1]}
