"""The group's sync as it runs: its state in words, and the JSON the pages' script polls to follow it live.

``<id>/status/`` gives one group with each conversation's answer (and, while it waits for a retry, the "Retry now"
button as data); ``status/?id=1&id=2`` gives the state of the
groups of a changelist page. Both are for staff who may view conversation groups; the words are made at that
moment, in the reader's language (contactgroups.words), from what the sync stores as it goes
(contactgroups.sync.live).
"""

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import JsonResponse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from contactgroups import sync, words
from contactgroups.admin.display import offers_html, with_offer
from contactgroups.admin.offers import offer_in_status, retry_offers
from contactgroups.admin.selection import readable_ids
from contactgroups.admin.views import GroupAdminView
from contactgroups.chat import errors
from contactgroups.conf import app_settings
from contactgroups.models import ContactGroup
from contactgroups.outcomes import SyncOutcome


class EscapedJSONEncoder(DjangoJSONEncoder):
    """JSON with <, > and & as escapes: text Chat or the app stored never reads as markup, whoever opens it."""

    ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}

    def encode(self, o):
        return super().encode(o).translate(self.ESCAPES)


def json_response(data: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, encoder=EscapedJSONEncoder)


# States after which nothing changes until staff act again.
FINAL_STATES = frozenset({ContactGroup.State.DRAFT, ContactGroup.State.SYNCED, ContactGroup.State.PARTIAL,
                          ContactGroup.State.FAILED, ContactGroup.State.DELETED})


def is_final(group: ContactGroup) -> bool:
    return group.state in FINAL_STATES


def progress(group: ContactGroup) -> tuple[int, int]:
    """How far the group's running sync is: (calls made, calls planned), both 0 when no sync of more than one call
    runs. Counts that do not add up (more made than planned) read as not known: (0, 0), never a bar past its end."""
    done, planned = group.sync.calls_done, group.sync.calls_planned
    if is_final(group) or planned < 2 or not 0 <= done <= planned:
        return 0, 0
    return done, planned


def clock_text(value) -> str:
    """A moment of the next minutes as staff read it: the time of day with its seconds, in the staff's zone."""
    return formats.date_format(timezone.localtime(value), "H:i:s")


def state_text(group: ContactGroup) -> str:
    """The group's sync state in words, at this moment (words.sync_state_text): with the attempt and the time of
    the next try while a retry waits (sync.retries)."""
    confirmed = group.sync
    running = confirmed.lock_until is not None and confirmed.lock_until > timezone.now()
    done, planned = progress(group)
    return words.sync_state_text(
        group.state, running=running, calls_done=done, calls_planned=planned,
        refused=group.refused_count, error_code=confirmed.last_error_code, last_outcome=confirmed.last_outcome,
        attempts=confirmed.attempts, most=app_settings.SYNC_MAX_ATTEMPTS,
        next_try=clock_text(confirmed.retry_at) if sync.waits(group) else "",
    )


def group_status(group: ContactGroup) -> dict:
    """What the pages' script shows of one group: its state, in words, and how far its sync is."""
    done, planned = progress(group)
    return {
        "id": group.pk,
        "state": group.state,
        "final": is_final(group),
        "text": state_text(group),
        "calls": {"done": done, "planned": planned},
    }


def result_text(code: int | None, info: str = "") -> str:
    """A conversation's last answer from Chat in words: its ResultCode with the meaning, or not sent yet."""
    return _("not sent yet") if code is None else words.code_with_meaning(code, info)


def last_error_text(group: ContactGroup) -> str:
    """The group's last error: Chat's code with its meaning (Chat's own text only for a code the project does not
    document), or, for a failure without a code, what the last sync says of it."""
    confirmed = group.sync
    if confirmed.last_error_code is not None:
        return words.code_with_meaning(confirmed.last_error_code, confirmed.last_error_info)
    outcome = confirmed.outcome
    error = outcome.error if isinstance(outcome, SyncOutcome) else None
    return words.failure_text(error) if error else "—"


def shown(text, refused: bool = False) -> dict:
    """A value as a page shows it: its text, and whether it stands out as refused (in red). Text only: the script
    writes it as text. Where a value carries buttons, ``offers.offer_in_status`` adds them as data (``offers``)."""
    return {"text": str(text), "refused": refused}


def when(value, empty: str) -> str:
    """A time as the admin shows it: in the staff's zone and format."""
    return empty if value is None else formats.localize(timezone.template_localtime(value))


def page_fields(group: ContactGroup, empty: str) -> dict:
    """The group page's read-only fields a sync changes, as the page shows them, by the fields' names."""
    confirmed = group.sync
    return {
        "chat_group_id": shown(empty if confirmed.chat_group_id is None else confirmed.chat_group_id),
        "confirmed_name": shown(confirmed.confirmed_name or empty),
        "last_sync": shown(words.outcome_text(confirmed.last_outcome) or "—"),
        "last_error": shown(last_error_text(group), confirmed.last_error_code is not None),
        "last_synced_at": shown(when(confirmed.last_synced_at, empty)),
    }


def list_columns(group: ContactGroup, empty: str) -> dict:
    """The changelist's columns a sync changes, as the list shows them, by the columns' names."""
    confirmed = group.sync
    return {
        "chat_group_id": shown(empty if confirmed.chat_group_id is None else confirmed.chat_group_id),
        "conversation_count": shown(group.conversation_count),
        "accepted_count": shown(group.accepted_count),
        "refused": shown(group.refused_count, group.refused_count > 0),
        "last_synced_at": shown(when(confirmed.last_synced_at, empty)),
    }


def is_refused(code: int | None) -> bool:
    return code is not None and code != errors.OK


def state_badge_html(group: ContactGroup):
    """The state as the page and the list show it, marked for the script that keeps it current."""
    done, planned = progress(group)
    bar = ""
    if planned:
        bar = format_html('<progress class="sync-progress" max="{}" value="{}"></progress>', planned, done)
    badge = format_html('<span class="sync-state state-{}" data-group="{}" data-final="{}">{}</span>{}',
                        group.state, group.pk, "true" if is_final(group) else "false", state_text(group), bar)
    if getattr(group, "chat_actions", None) is None:
        return badge  # the list: no buttons
    # The group's page: "Retry now" while a retry waits, kept current by the script (the status's ``offers``).
    return format_html('{}<span class="sync-state-offers" data-group="{}">{}</span>', badge, group.pk,
                       offers_html(retry_offers(group)))


def result_html(item, offers=()):
    """A conversation's answer cell, marked with its row for the script that fills it in as Chat answers: Chat's
    answer in words (in red when refused), then any buttons (display.Offer)."""
    text = result_text(item.result_code, item.result_info)
    inner = format_html('<strong class="refused">{}</strong>', text) if is_refused(item.result_code) else text
    inner = with_offer(inner, offers)
    if item.pk is None:
        return inner
    return format_html('<span class="sync-result" data-item="{}">{}</span>', item.pk, inner)


class StatusView(GroupAdminView):
    """``<id>/status/``: one group, its state, words, progress, last sync, GroupId and each conversation's answer."""

    def get(self, request, object_id):
        model_admin = self.model_admin
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        group = model_admin.get_object(request, unquote(object_id))
        if group is None:
            return json_response({"error": _("There is no conversation group with this id.")}, status=404)
        status = group_status(group)
        status["fields"] = page_fields(group, model_admin.get_empty_value_display())
        items = list(group.items.order_by("id"))
        status["conversations"] = [
            {"id": item.pk, **shown(result_text(item.result_code, item.result_info), is_refused(item.result_code)),
             "code": item.result_code}
            for item in items
        ]
        offer_in_status(model_admin, request, group, items, status)
        return json_response(status)


class StatusesView(GroupAdminView):
    """``status/?id=1&id=2``: the groups of a changelist page, each one's state, words and progress."""

    def get(self, request):
        model_admin = self.model_admin
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        asked = request.GET.getlist("id")
        ids = readable_ids(asked, model_admin.opts.pk)
        most = model_admin.list_max_show_all
        if len(ids) != len(asked):
            return json_response({"error": _("A conversation group's id is a whole number.")}, status=400)
        if len(ids) > most:
            return json_response({"error": words.too_many_ids_text(most)}, status=400)
        groups = model_admin.get_queryset(request).filter(pk__in=ids).order_by("pk")
        empty = model_admin.get_empty_value_display()
        return json_response({"groups": [{**group_status(group), "columns": list_columns(group, empty)}
                                         for group in groups]})
