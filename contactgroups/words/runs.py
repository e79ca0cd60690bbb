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


def workers_stalled_text(missing: int, seconds: float) -> str:
    """A command's run whose groups the workers have not finished for ``seconds``."""
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
