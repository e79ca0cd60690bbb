"""The sync-health page: how syncing goes, at a glance, from counts kept a minute at a time.

Every section is one or two queries over the minutes' counts or an index, so the page takes as many queries,
and about as long, at a million Chat calls as at a hundred.
"""

from datetime import timedelta
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.db.models import Count, FloatField, Max, Q, Sum
from django.db.models.functions import Cast
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from contactgroups import words
from contactgroups.admin.views import GroupAdminView
from contactgroups.chat import protocol
from contactgroups.models import CallMinute, ContactGroup, RefusalMinute, SyncAttempt
from contactgroups.models.health import calls_a_minute_cap, minute_of

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
# Rows each list shows; its link leads to all of them.
LISTED = 10
FAILING_STATES = (ContactGroup.State.FAILED, ContactGroup.State.PARTIAL)


class HealthView(GroupAdminView):
    """The page; staff who may view conversation groups may see it (403 for others)."""

    def get(self, request):
        if not self.model_admin.has_view_permission(request):
            raise PermissionDenied
        request.current_app = self.model_admin.admin_site.name
        return TemplateResponse(request, "admin/contactgroups/health.html", self.context(request))

    def context(self, request) -> dict:
        now = timezone.now()
        states, drift = group_counts()
        calls, minutes = call_counts(now)
        refusals = refusal_counts(now)
        return {
            **self.model_admin.admin_site.each_context(request),
            "title": _("Sync health"),
            "reach": chat_reach(),
            "states": states,
            "group_total": sum(row["count"] for row in states),
            "calls": calls,
            "minutes": minutes,
            "refusals": refusals,
            "slowest": slowest_calls(now),
            "failing": failing_groups(),
            "failing_links": [row for row in states if row["state"] in FAILING_STATES],
            "drift": drift,
            "drifted": drifted_groups() if drift["count"] else [],
            "chart_data": chart_data(states, minutes, refusals),
        }


def changelist_url(**params) -> str:
    return reverse("admin:contactgroups_contactgroup_changelist") + "?" + urlencode(params)


def audit_url(**params) -> str:
    return reverse("admin:contactgroups_syncattempt_changelist") + "?" + urlencode(params)


def chat_reach() -> dict:
    """When a call last reached Chat (it answered, whatever it said), and since when no call has (each was not
    sent: no connection), if the calls after it all failed so: two reads of the audit by its time index, the
    first of which stops at the newest call that reached Chat."""
    reached = (SyncAttempt.objects.exclude(outcome=SyncAttempt.Outcome.NOT_SENT).order_by("-started_at")
               .values_list("started_at", flat=True).first())
    not_sent = SyncAttempt.objects.filter(outcome=SyncAttempt.Outcome.NOT_SENT)
    if reached is not None:
        not_sent = not_sent.filter(started_at__gt=reached)
    return {"last_reached": reached,
            "down_since": not_sent.order_by("started_at").values_list("started_at", flat=True).first()}


def group_counts() -> tuple[list[dict], dict]:
    """The groups in each state, and how many the last reading of Chat found changed in the app (one query)."""
    counted = {
        row["state"]: row for row in ContactGroup.objects.order_by().values("state").annotate(
            count=Count("pk"), drifted=Count("pk", filter=Q(sync__drift__isnull=False)),
            last_read=Max("sync__chat_read_at"))
    }
    states = [{"state": state, "label": label, "count": counted.get(state, {}).get("count", 0),
               "url": changelist_url(state=state)} for state, label in ContactGroup.State.choices]
    reads = [row["last_read"] for row in counted.values() if row["last_read"] is not None]
    drift = {"count": sum(row["drifted"] for row in counted.values()), "last_read": max(reads, default=None),
             "url": changelist_url(drift="yes", state="all")}
    return states, drift


def next_minute(now):
    """The first minute that has not begun at ``now``. A machine whose clock runs ahead counts calls in such minutes:
    the page counts them apart, at an unknown time, not in the last hour or day."""
    return minute_of(now) + timedelta(minutes=1)


def average(total: int, count: int) -> int | None:
    """``total`` / ``count``, rounded; 0 with no count; None (unknown) for a total below 0, which no call makes."""
    if total < 0:
        return None
    return round(total / count) if count else 0


def call_counts(now) -> tuple[list[dict], dict]:
    """Each operation's calls over the last hour and day against Chat's cap (one query), and the last hour's
    calls a minute (one query). The durations are summed as floating point, which no total overflows (SQLite's
    SUM of integers fails past 2**63)."""
    this_minute = minute_of(now)
    hour_start, day_start = this_minute - HOUR + timedelta(minutes=1), this_minute - DAY + timedelta(minutes=1)
    calls = []
    for row in (CallMinute.objects.filter(minute__gte=day_start, minute__lt=next_minute(now)).order_by()
                .values("operation").annotate(
            hour=Sum("calls", filter=Q(minute__gte=hour_start), default=0), day=Sum("calls"), busiest=Max("calls"),
            failed=Sum("failed"), partial=Sum("partial"), throttled=Sum("throttled"),
            total_ms=Sum(Cast("duration_total_ms", FloatField())), longest_ms=Max("duration_max_ms"))):
        cap = calls_a_minute_cap(row["operation"])
        calls.append({**row, "words": words.operation_text(row["operation"]), "cap": cap,
                      "busiest_share": round(100 * row["busiest"] / cap, 1),
                      "average_ms": average(row["total_ms"], row["day"]),
                      "url": audit_url(operation=row["operation"], started="day")})
    calls.sort(key=lambda row: (-row["day"], row["words"]))
    labels = [this_minute - HOUR + timedelta(minutes=n + 1) for n in range(60)]
    index = {minute: n for n, minute in enumerate(labels)}
    series: dict[str, list[int]] = {}
    later = 0
    for minute, operation, count in CallMinute.objects.filter(minute__gte=hour_start).values_list(
            "minute", "operation", "calls"):
        if minute >= next_minute(now):
            later += count
            continue
        series.setdefault(operation, [0] * len(labels))[index[minute_of(minute)]] += count
    minutes = {
        "later": later,
        "labels": [date_format(timezone.localtime(minute), "H:i") for minute in labels],
        "series": [{"operation": operation, "words": words.operation_text(operation), "calls": counts}
                   for operation, counts in sorted(series.items(), key=lambda item: -sum(item[1]))],
        "caps": sorted({calls_a_minute_cap(operation) for operation in series}
                       or {protocol.CALLS_PER_SECOND_MAX * 60}, reverse=True),
    }
    return calls, minutes


def refusal_counts(now) -> list[dict]:
    """The calls Chat refused, whole or for a conversation, by code over the last 24 hours and 7 days (one query)."""
    this_minute = minute_of(now)
    rows = (RefusalMinute.objects.filter(minute__gt=this_minute - WEEK, minute__lt=next_minute(now)).order_by()
            .values("code")
            .annotate(day=Sum("calls", filter=Q(minute__gt=this_minute - DAY), default=0), week=Sum("calls"))
            .order_by("-week", "code"))
    return [{**row, "meaning": words.code_with_meaning(row["code"]),
             "day_url": audit_url(error_code=words.code_number(row["code"]), started="day"),
             "week_url": audit_url(error_code=words.code_number(row["code"]), started="week")} for row in rows]


def slowest_calls(now) -> list[dict]:
    """The slowest calls of the last 24 hours (two queries at most).

    Each of the slowest calls is the longest of its minute and operation, so they are among the calls of the
    minutes with the longest calls: those few minutes' rows are read through the index on the start time.
    """
    this_minute = minute_of(now)
    buckets = list(CallMinute.objects.filter(minute__gt=this_minute - DAY, minute__lt=next_minute(now))
                   .order_by("-duration_max_ms")
                   .values_list("minute", "operation", "duration_max_ms")[:LISTED])
    if not buckets:
        return []
    # One SELECT a minute, each read through the index on the start time (an OR of the ranges, or a condition on
    # the operation, has SQLite read far more). A minute's other calls as long are among the slowest too.
    fields = ("pk", "started_at", "operation", "owner_user_id", "group_name", "outcome", "duration_ms")
    each = [SyncAttempt.objects.filter(started_at__gte=minute, started_at__lt=minute + timedelta(minutes=1),
                                       duration_ms__gte=buckets[-1][2]).only(*fields).order_by()
            for minute in sorted({minute for minute, _operation, _longest in buckets})]
    attempts = each[0].union(*each[1:], all=True).order_by("-duration_ms", "-started_at")[:LISTED]
    return [{"attempt": attempt, "words": words.operation_text(attempt.operation),
             "url": reverse("admin:contactgroups_syncattempt_change", args=[attempt.pk])} for attempt in attempts]


def failing_groups() -> list[dict]:
    """The groups whose last sync failed or was partly refused, most recently changed first (one query)."""
    groups = (ContactGroup.objects.filter(state__in=FAILING_STATES).select_related("owner", "sync")
              .order_by("-updated_at", "-id")[:LISTED])
    return [{"group": group, "state": words.sync_state_text(
                group.state, refused=group.refused_count, error_code=group.sync.last_error_code,
                last_outcome=group.sync.last_outcome),
             "url": reverse("admin:contactgroups_contactgroup_change", args=[group.pk])} for group in groups]


def drifted_groups() -> list[dict]:
    """The groups the last reading of Chat found changed in the app, most recently changed first (one query)."""
    groups = (ContactGroup.objects.drifted().select_related("owner", "sync")
              .order_by("-updated_at", "-id")[:LISTED])
    return [{"group": group, "changes": words.drift_text(group.sync.drift, group.owner.user_id),
             "url": reverse("admin:contactgroups_contactgroup_change", args=[group.pk])} for group in groups]


def chart_data(states: list[dict], minutes: dict, refusals: list[dict]) -> dict:
    """What the page's script draws: the same figures as its tables."""
    return {
        "states": {"labels": [str(row["label"]) for row in states], "counts": [row["count"] for row in states]},
        "minutes": minutes,
        "refusals": {"labels": [str(row["code"]) for row in refusals], "meanings": [row["meaning"] for row in refusals],
                     "day": [row["day"] for row in refusals], "week": [row["week"] for row in refusals]},
    }
