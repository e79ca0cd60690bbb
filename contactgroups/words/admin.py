"""What the admin's pages say that no stored outcome holds: Chat users' imports, searches, exports, the calls' audit,
the live status, the pull action, a restored version's title and a request the site cannot read."""

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactgroups.chat import errors
from contactgroups.words.chat import meaning, operation_text
from contactgroups.words.history import account_failure_text
from contactgroups.words.sync import next_try_text

# -- Chat's codes as the admin's columns show them ---------------------------------------------------------------


def code_with_meaning(code, info: str = "") -> str:
    """``code: meaning``, with Chat's ``info`` only for a code the project does not document; a dash for no code."""
    if code is None:
        return "—"
    text = meaning(code) if code == errors.CODE_UNREADABLE else f"{code}: {meaning(code)}"
    return f"{text} ({info})" if info and not errors.is_documented(code) else text


def account_error_text(code, info: str, outcome: dict, attempts: int, most: int, next_try: str) -> str:
    """A Chat user's last error: Chat's code with its meaning, or, for a call that failed with none, why (its
    stored outcome); then its retry that waits, or that it gave up (``next_try_text``)."""
    text = code_with_meaning(code, info)
    if code is None:
        text = account_failure_text(outcome) or text
    retry = next_try_text(attempts, most, next_try)
    return f"{text} {retry}" if retry else text


def call_title(operation: str, time: str, outcome: str) -> str:
    """A Chat call as its page's title names it: what it did (the API's name beside), when, how it ended."""
    return _("%(operation)s at %(time)s: %(outcome)s") % {"operation": operation_label(operation), "time": time,
                                                          "outcome": outcome}


def operation_label(operation: str) -> str:
    """A Chat call's operation in staff words with the API's name beside it, for the audit's filter and titles."""
    text = operation_text(operation)
    if text == operation:
        return operation
    return _("%(words)s (%(api)s)") % {"words": text, "api": operation}


def body_summary_text(lines: int) -> str:
    """The fold of a long request or answer body on a Chat call's page."""
    return ngettext("Show the whole body (%(lines)d line)", "Show the whole body (%(lines)d lines)", lines) % {
        "lines": lines}


def call_result_text(outcome: str, error_code: str | None, refused: int, http_status: int | None) -> str:
    """The audit list's "result": the outcome, Chat's ErrorCode, how many items Chat refused, an HTTP status other
    than 200."""
    parts = [outcome]
    if error_code:
        parts.append(f"ErrorCode {error_code}")
    if refused:
        parts.append(ngettext("%(count)d refused", "%(count)d refused", refused) % {"count": refused})
    if http_status and http_status != 200:
        parts.append(f"HTTP {http_status}")
    return " · ".join(parts)


def http_answer_text(status: int) -> str:
    return _("Chat answered with HTTP %(status)s: the request may have taken effect.") % {"status": status}


def chat_unreadable_text(reason: str) -> str:
    """The conversation picker's error: Chat could not be read, and why."""
    return _("Chat could not be read now: %(reason)s") % {"reason": reason}


# -- Chat users ----------------------------------------------------------------------------------------------------


def not_imported_text(problems) -> str:
    """A UserID the import button cannot send: why (the protocol's words, already said)."""
    return _("Not imported: %(problems)s") % {"problems": " ".join(problems)}


def not_a_user_here_text(user_id: str) -> str:
    return _("Not imported: %(user)s is no Chat user here, and you may not add Chat users; someone who may must "
             "import it.") % {"user": user_id}


def import_not_queued_text(user_id: str) -> str:
    return _("The import of %(user)s into Chat could not be queued, so nothing was sent to Chat. Try again once the "
             "task queue is back.") % {"user": user_id}


def import_queued_text(user_id: str) -> str:
    return _("Queued for import into Chat: %(user)s. Its Chat user page shows the result once Chat has answered.") % {
        "user": user_id}


def accounts_queued_text(count: int, *, check_only: bool) -> str:
    """The selected users' import (or check) handed over."""
    if check_only:
        return ngettext(
            "%(count)d user queued for a check in Chat; the list shows what Chat says.",
            "%(count)d users queued for a check in Chat; the list shows what Chat says.", count,
        ) % {"count": count}
    return ngettext(
        "%(count)d user queued for import into Chat; the list shows what Chat says.",
        "%(count)d users queued for import into Chat; the list shows what Chat says.", count,
    ) % {"count": count}


# -- the group list ------------------------------------------------------------------------------------------------


def no_user_matches_text(text: str, *, at_start: bool) -> str:
    """A search of Chat users that found none: what was searched, and how (``at_start``: a text too short to be
    matched inside)."""
    if at_start:
        return _("No Chat user's UserID or nickname starts with “%(text)s” (a text of one or two characters is "
                 "matched at the start), so no group is listed.") % {"text": text}
    return _("No Chat user's UserID or nickname contains “%(text)s”, so no group is listed.") % {"text": text}


def short_group_search_text(text: str) -> str:
    """How the group list searched a text too short for its trigram indexes (one or two characters)."""
    return _("“%(text)s” has fewer than three characters, so every group's name was read to find it (slower on a "
             "long list); owners were found by the start of the UserID or nickname, group conversations only by "
             "their whole id. Three characters or more are found anywhere, quickly.") % {"text": text}


def deleted_also_match_text(count: int) -> str:
    return ngettext("%(count)d deleted group also matches;", "%(count)d deleted groups also match;", count) % {
        "count": count}


def xlsx_too_many_rows_text(rows: int, most: int) -> str:
    """An XLSX export of more rows than a sheet holds."""
    return ngettext(
        "These groups make %(rows)s row, more than an XLSX sheet holds (%(most)s), so nothing was "
        "exported. Export them as CSV, which has no such limit.",
        "These groups make %(rows)s rows, more than an XLSX sheet holds (%(most)s), so nothing was "
        "exported. Export them as CSV, which has no such limit.", rows,
    ) % {"rows": f"{rows:,}", "most": f"{most:,}"}


def too_many_ids_text(most: int) -> str:
    """The live status asked for more groups than a page lists."""
    return ngettext("Give the ids of at most %(most)d conversation group.",
                    "Give the ids of at most %(most)d conversation groups.", most) % {"most": most}


def pulling_text(count: int) -> str:
    return ngettext(
        "Pulling from Chat the groups of %(count)d user. Each group's page and history show what Chat "
        "changed.",
        "Pulling from Chat the groups of %(count)d users. Each group's page and history show what Chat "
        "changed.", count,
    ) % {"count": count}


def pull_not_queued_text(count: int) -> str:
    return ngettext(
        "The pull from Chat of %(count)d user could not be queued (the task queue is unreachable); "
        "nothing was changed.",
        "The pull from Chat of %(count)d users could not be queued (the task queue is unreachable); "
        "nothing was changed.", count,
    ) % {"count": count}


def restore_title(group) -> str:
    return _("Restore this version of “%(group)s”") % {"group": group}


def nul_address_text() -> str:
    """A request whose address holds a NUL, which no filter, search or name can hold."""
    return _("The address holds a NUL character (%(escape)s), which no filter, search or name here can hold. Remove "
             "it and try again.") % {"escape": "%00"}
