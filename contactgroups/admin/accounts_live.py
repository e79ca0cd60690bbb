"""Chat users' imports as they run: the list follows the users an action handed over until each has Chat's answer.

The import and check actions (and the page's "Import into Chat" button) hand the work to the engine and come back at
once; the users they name are noted in the session with the moment (``follow``). The list marks those it shows, and
its script asks ``status/?id=1&id=2`` for their import state until each was written after that moment, then shows
it without a reload. The words are made at that moment, in the reader's language.
"""

from django.core.exceptions import PermissionDenied
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime

from contactgroups import words
from contactgroups.admin.live import clock_text, json_response
from contactgroups.admin.selection import readable_ids
from contactgroups.conf import app_settings
from contactgroups.models import ChatUser

FOLLOWED = "imadmin-following-accounts"
# The most users an action's list follows, and a status request answers for.
FOLLOWED_MAX = 1000
STATUS_IDS_MAX = 100


def follow(request, user_pks: list[int]) -> None:
    """Note that the import (or check) of ``user_pks`` was handed over now: the list follows them."""
    request.session[FOLLOWED] = {"pks": list(user_pks)[:FOLLOWED_MAX], "since": timezone.now().isoformat()}


def followed(request) -> tuple[set[int], object]:
    """The users the session follows and since when (a datetime; None when it follows none)."""
    following = request.session.get(FOLLOWED) or {}
    since = parse_datetime(following.get("since") or "")
    return (set(following.get("pks") or ()) if since else set()), since


def followed_on_page(request, shown_pks) -> list[int]:
    """Those of ``shown_pks`` whose answer the list waits for; the session forgets the users once each has one."""
    pks, since = followed(request)
    if not pks:
        return []
    waiting = set(ChatUser.objects.filter(pk__in=pks, updated_at__lt=since).values_list("pk", flat=True))
    if not waiting:
        request.session.pop(FOLLOWED, None)
    return sorted(waiting & set(shown_pks))


def error_text(user: ChatUser) -> str:
    """The user's last error as the list, its page and the status show it: Chat's code, or why a call failed;
    then its next try, or that it gave up (sync.accounts)."""
    next_try = clock_text(user.retry_at) if user.retry_at and user.import_state == ChatUser.ImportState.FAILED \
        else ""
    attempts = user.attempts if user.import_state == ChatUser.ImportState.FAILED else 0
    return words.account_error_text(user.last_error_code, user.last_error_info, user.last_outcome, attempts,
                                    app_settings.SYNC_MAX_ATTEMPTS, next_try)


def status_view(model_admin, request):
    """The import state of each user of ``?id=`` (at most STATUS_IDS_MAX), in words; ``final`` once written after
    the action the list follows."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    ids = readable_ids(request.GET.getlist("id"), ChatUser._meta.pk)[:STATUS_IDS_MAX]
    _pks, since = followed(request)
    users = []
    for user in ChatUser.objects.filter(pk__in=ids).order_by("pk"):
        users.append({
            "id": user.pk,
            "state": user.import_state,
            "text": user.get_import_state_display(),
            "checked": formats.date_format(timezone.localtime(user.checked_at), "DATETIME_FORMAT")
            if user.checked_at else "-",
            "error": error_text(user),
            "final": since is None or user.updated_at >= since,
        })
    return json_response({"users": users})
