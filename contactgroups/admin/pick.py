"""Picking conversations on the group page: the owner's recent conversations in Chat, and known Chat users.

``recent/?owner=<pk>`` (a group not saved yet) or ``recent/?group=<pk>`` reads one page of the owner's
conversation list in Chat as the staff ask (``sync.recent``: the page timeout for the whole answer, a size limit, no
retry, audited), at most ROWS_A_PAGE of them, each with its type, target, last message time and whether the group
holds it; ``cursor`` asks for the rows after. A Chat failure (too slow, too much said included) is an error in
staff words, never a 500. ``chat-users/?term=`` suggests known Chat users for a one-to-one target,
found as the Chat user admin's own search finds them. Both need the add or change permission on conversation
groups; the suggestions also the view permission on Chat users. The page's script
(static/contactgroups/pick_conversations.js) puts what staff choose in the conversations' inline; nothing is saved
until the staff save.
"""

import logging

from django.contrib.admin.utils import unquote
from django.utils.translation import gettext as _

from contactgroups import words
from contactgroups.admin.live import json_response, when
from contactgroups.chat import errors, protocol
from contactgroups.chat.conversation_list import ListCursor
from contactgroups.conf import app_settings
from contactgroups.models import ChatUser, ContactItem
from contactgroups.sync.outcome import error_data
from contactgroups.sync.recent import PageReadsOff, read_recent_page

logger = logging.getLogger(__name__)

# The most Chat users one type-ahead answer suggests.
USER_SUGGESTIONS_MAX = 20
# The most conversations one answer to the panel carries, whatever the length of Chat's page: a longer page is sent
# in parts, "Show more" giving the next part (Chat's page read again) before Chat's next page.
ROWS_A_PAGE = 100


def may_pick(model_admin, request) -> bool:
    """Whether the staff may add conversations to some group: the add or the change permission on groups."""
    return model_admin.has_add_permission(request) or model_admin.has_change_permission(request)


def forbidden():
    return json_response({"error": _("You may not change conversation groups.")}, status=403)


def recent_conversations_view(model_admin, request):
    """``recent/``: one page of the owner's conversation list in Chat, marked with what the group already holds."""
    if not may_pick(model_admin, request):
        return forbidden()
    group = None
    if request.GET.get("group"):
        group = model_admin.get_object(request, unquote(request.GET["group"]))
        if group is None:
            return json_response({"error": _("There is no conversation group with this id.")}, status=404)
        if not model_admin.has_change_permission(request, group):
            return forbidden()
        owner = group.owner
    else:
        if not model_admin.has_add_permission(request):
            return forbidden()
        owner = _owner(request.GET.get("owner", ""))
        if owner is None:
            return json_response({"error": _("Choose the group's owner first: the conversations listed are the "
                                             "owner's.")}, status=400)
    try:
        cursor, skip = _position(request.GET.get("cursor", ""))
    except ValueError:
        return json_response({"error": _("This page of the list is not one Chat gave; open the list again.")},
                             status=400)
    try:
        page = read_recent_page(owner.user_id, cursor, request.user.pk, group)
    except PageReadsOff:
        return json_response({"error": _("This site reads nothing from Chat while a page waits, so the owner's "
                                         "conversations cannot be listed here.")}, status=503)
    except Exception as exc:  # any failure is said in staff words; the audit page has Chat's answer
        if not isinstance(exc, errors.ChatError):
            logger.warning("Reading the conversation list of %s failed", owner.user_id, exc_info=exc)
        reason = words.chat_read_failure_text(error_data(exc), app_settings.SYNC_PAGE_READ_TIMEOUT)
        return json_response({"error": words.chat_unreadable_text(reason)}, status=502)
    held = set(group.items.conversations()) if group is not None else set()
    shown = page.conversations[skip:skip + ROWS_A_PAGE]
    if skip + ROWS_A_PAGE < len(page.conversations):  # the rest of this page of Chat's first
        next_token = f"{(cursor or ListCursor()).token()}:{skip + ROWS_A_PAGE}"
    else:
        next_token = page.next_cursor.token() if page.next_cursor else None
    # A UserID no column can hold (a NUL Chat sent) is no Chat user here, and PostgreSQL cannot compare with it.
    targets = [entry.conversation.target for entry in shown
               if entry.conversation.type == protocol.TYPE_C2C and protocol.storable(entry.conversation.target)]
    nicknames = dict(ChatUser.objects.filter(user_id__in=targets).exclude(nickname="")
                     .values_list("user_id", "nickname")) if targets else {}
    empty = model_admin.get_empty_value_display()
    return json_response({
        "owner": owner.user_id,
        "conversations": [
            {
                "type": entry.conversation.type,
                "type_text": str(ContactItem.Type(entry.conversation.type).label),
                "target": entry.conversation.target,
                "nickname": nicknames.get(entry.conversation.target, ""),
                "last_message": when(entry.last_message_at, empty),
                "pinned": entry.pinned,
                "in_group": entry.conversation in held,
            }
            for entry in shown
            if entry.conversation.type in ContactItem.Type.values
        ],
        "next": next_token,
        "text": _listed_text(len(shown), cursor is None and not skip, next_token is not None),
    })


def _position(token: str) -> tuple[ListCursor | None, int]:
    """Where the list goes on from: Chat's cursor (None: the first page) and the rows of that page already shown.

    ``token`` is what the last answer gave as ``next``: Chat's cursor, then ``:`` and a count while a page of Chat's
    had more rows than one answer carries. ValueError for anything else.
    """
    if not token:
        return None, 0
    chat, separator, skip = token.partition(":")
    if not separator:
        return ListCursor.from_token(chat), 0
    if not (skip.isascii() and skip.isdigit() and len(skip) <= 9 and int(skip) > 0):
        raise ValueError(f"Not a position in a page: {skip!r}.")
    return ListCursor.from_token(chat), int(skip)


def _listed_text(count: int, first: bool, more: bool) -> str:
    """What the list says under its rows: nothing there at all, or that Chat has no more."""
    if more:
        return ""
    if first and not count:
        return _("This user has no conversations in Chat's list.")
    return _("That is every conversation Chat lists for this user.")


def _owner(value: str) -> ChatUser | None:
    try:
        return ChatUser.objects.filter(pk=int(value)).first()
    except (TypeError, ValueError, OverflowError):
        return None


def chat_users_view(model_admin, request):
    """``chat-users/``: known Chat users matching ``term``, as the Chat user admin's search finds them."""
    users_admin = model_admin.admin_site.get_model_admin(ChatUser)
    if not may_pick(model_admin, request) or not users_admin.has_view_permission(request):
        return json_response({"error": _("You may not look up Chat users.")}, status=403)
    term = request.GET.get("term", "").strip()
    if not term:
        return json_response({"users": []})
    # As Django's AutocompleteJsonView does: the admin's own queryset and search.
    queryset, may_have_duplicates = users_admin.get_search_results(request, users_admin.get_queryset(request), term)
    if may_have_duplicates:
        queryset = queryset.distinct()
    if not queryset.ordered:
        queryset = queryset.order_by("user_id")
    found = queryset.values_list("user_id", "nickname")[:USER_SUGGESTIONS_MAX]
    return json_response({"users": [{"user_id": user_id, "nickname": nickname} for user_id, nickname in found]})
