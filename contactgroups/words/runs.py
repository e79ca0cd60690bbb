"""What an operator's command says of a bulk run: each group's end, why it did not end well, the summary."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactgroups.outcomes import SyncOutcome, group_outcome
from contactgroups.words.chat import code_text, conversation_text, failure_text


def group_sync_why(error_code: int | None, error_info: str, outcome: dict | None, partial: bool) -> str:
    """Why a group's last sync did not end fully (its stored code, info and outcome), in the project's words; ""
    when it did."""
    if error_code is not None:
        return code_text(error_code, error_info)
    if error_info:
        return error_info
    typed = group_outcome(outcome or {})
    if not isinstance(typed, SyncOutcome):
        return ""
    if partial and typed.refused:
        return _("refused: %(conversations)s") % {"conversations": "; ".join(
            f"{conversation_text((refusal.type, refusal.target))}, {code_text(refusal.code, refusal.info)}"
            for refusal in typed.refused)}
    if typed.error is not None:
        return failure_text(typed.error)
    return ""


def group_sync_line(pk: int, name: str, owner: str, state_label: str, why: str) -> str:
    """One group's end in a command's run: "Group 3 “work” of user_0001: Failed (why)"."""
    params = {"pk": pk, "name": name, "owner": owner, "state": state_label}
    if why:
        return _("Group %(pk)d “%(name)s” of %(owner)s: %(state)s (%(why)s)") % {**params, "why": why}
    return _("Group %(pk)d “%(name)s” of %(owner)s: %(state)s") % params


def workers_stalled_text(missing: int, seconds: float, users: bool = False) -> str:
    """A command's run whose groups (or, with ``users``, Chat users: a pull, a sweep, an import) the workers have
    not finished for ``seconds``."""
    if users:
        return ngettext(
            "%(missing)d Chat user handed to the Celery workers has not reported in %(seconds)d s; is a worker "
            "running?",
            "%(missing)d Chat users handed to the Celery workers have not reported in %(seconds)d s; is a worker "
            "running?", missing) % {"missing": missing, "seconds": seconds}
    return ngettext(
        "%(missing)d group handed to the Celery workers has not reported in %(seconds)d s; the admin "
        "shows where it is.",
        "%(missing)d groups handed to the Celery workers have not reported in %(seconds)d s; the admin "
        "shows where they are.", missing) % {"missing": missing, "seconds": seconds}


def run_summary_text(done: int, seconds: float, states: str) -> str:
    """The last line of a bulk sync: how many groups ended, how fast, in which states."""
    per_second = done / seconds if seconds else 0.0
    return ngettext(
        "Synced %(count)d group in %(seconds).1f s (%(rate).1f groups/s): %(states)s.",
        "Synced %(count)d groups in %(seconds).1f s (%(rate).1f groups/s): %(states)s.",
        done,
    ) % {"count": done, "seconds": seconds, "rate": per_second, "states": states}


def handing_text(groups_a_task: int) -> str:
    """A bulk sync handed to the Celery workers."""
    return _("Handing them to the Celery workers, %(batch)d a task; their Chat calls share one rate limit.") % {
        "batch": groups_a_task}


# -- sync_contact_groups ----------------------------------------------------------------------------------------


def starting_text(selection: str, count: int, actor: str, concurrency: int, rate: str) -> str:
    """The line that opens a run: which groups (``selection``: "failed", "all" or pending), how many, under whom
    and how fast."""
    params = {"count": count, "actor": actor, "concurrency": concurrency, "rate": rate}
    if selection == "failed":
        return ngettext(
            "Syncing %(count)d failed group as %(actor)s, %(concurrency)d at a time, at most %(rate)s Chat calls a "
            "second per endpoint.",
            "Syncing %(count)d failed groups as %(actor)s, %(concurrency)d at a time, at most %(rate)s Chat calls a "
            "second per endpoint.", count) % params
    if selection == "all":
        return ngettext(
            "Syncing %(count)d group (all not deleted) as %(actor)s, %(concurrency)d at a time, at most %(rate)s "
            "Chat calls a second per endpoint.",
            "Syncing %(count)d groups (all not deleted) as %(actor)s, %(concurrency)d at a time, at most %(rate)s "
            "Chat calls a second per endpoint.", count) % params
    return ngettext(
        "Syncing %(count)d pending group as %(actor)s, %(concurrency)d at a time, at most %(rate)s Chat calls a "
        "second per endpoint.",
        "Syncing %(count)d pending groups as %(actor)s, %(concurrency)d at a time, at most %(rate)s Chat calls a "
        "second per endpoint.", count) % params


def dry_run_text(selection: str, count: int) -> str:
    """The last line of a dry run: how many groups of ``selection`` would be synced."""
    params = {"count": count}
    if selection == "failed":
        return ngettext(
            "Dry run: %(count)d failed group would be synced; nothing was changed and Chat was not called.",
            "Dry run: %(count)d failed groups would be synced; nothing was changed and Chat was not called.",
            count) % params
    if selection == "all":
        return ngettext(
            "Dry run: %(count)d group (all not deleted) would be synced; nothing was changed and Chat was not "
            "called.",
            "Dry run: %(count)d groups (all not deleted) would be synced; nothing was changed and Chat was not "
            "called.", count) % params
    return ngettext(
        "Dry run: %(count)d pending group would be synced; nothing was changed and Chat was not called.",
        "Dry run: %(count)d pending groups would be synced; nothing was changed and Chat was not called.",
        count) % params


def would_sync_line(pk: int, name: str, owner: str, state_label: str, *, delete: bool, create: bool,
                    group_id) -> str:
    """What a dry run would do to one group: delete it from Chat, create it there, or bring Chat's group to
    match."""
    params = {"pk": pk, "name": name, "owner": owner, "state": str(state_label).lower(), "group_id": group_id}
    if delete:
        return _("Would sync group %(pk)d “%(name)s” of %(owner)s (%(state)s): delete it from Chat.") % params
    if create:
        return _("Would sync group %(pk)d “%(name)s” of %(owner)s (%(state)s): create it in Chat.") % params
    return _("Would sync group %(pk)d “%(name)s” of %(owner)s (%(state)s): bring Chat's GroupId %(group_id)s to "
             "match.") % params


def rate_above_text(rate: float, most: int) -> str:
    return _("Warning: --rate %(rate)s is above Chat's documented %(max)d calls a second; Chat will refuse calls "
             "beyond it.") % {"rate": format(rate, "g"), "max": most}


def stopped_waiting_text(done: int, total: int, *, handed: bool) -> str:
    """A run interrupted (Ctrl-C): the workers go on when it was ``handed`` to them; else the rest are untouched."""
    params = {"done": done, "total": total}
    if handed:
        return ngettext(
            "Stopped waiting after %(done)d of %(total)d group; the Celery workers go on syncing the rest.",
            "Stopped waiting after %(done)d of %(total)d groups; the Celery workers go on syncing the rest.",
            total) % params
    return ngettext(
        "Interrupted after %(done)d of %(total)d group; what Chat confirmed for the syncs already under way "
        "was saved, and the rest are untouched.",
        "Interrupted after %(done)d of %(total)d groups; what Chat confirmed for the syncs already under way "
        "was saved, and the rest are untouched.", total) % params


def not_fully_synced_text(failed: int, done: int) -> str:
    return ngettext(
        "%(failed)d of %(done)d group did not sync fully; see the lines above and the admin.",
        "%(failed)d of %(done)d groups did not sync fully; see the lines above and the admin.",
        done,
    ) % {"failed": failed, "done": done}


def rate_help_text(most: int) -> str:
    """``--rate``'s help."""
    return _("Chat calls a second per endpoint, at most (default CHAT_RATE_LIMIT, else Chat's documented "
             "%(max)d).") % {"max": most}
