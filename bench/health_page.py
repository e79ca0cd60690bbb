"""The sync-health page at a million Chat calls: ``.venv/bin/python bench/health_page.py [--database-url URL ...]``.

Seeds 20,000 conversation groups (one in fifty failed, partly refused, a draft or deleted; 400 changed in the
app) and 1,000,000 audit rows of Chat calls over the last 8 days (about 90 a minute; one in 97 refused with 50001,
one in 389 throttled with 60007, one in 53 partly refused with 51007), with their counts a minute made by the
audit's own ``minute_counts``, as the write path makes them. It then drives the real page
(``django.test.Client`` logged in as a superuser: every middleware, view and template) and prints the number of
queries and the median and 90th percentile of the time to answer, beside a reference measured in the same run:
the same figures computed by naive aggregation over the audit rows (what the page would cost without the counts
a minute). It checks the page's figures equal the reference's, and exits non-zero when they differ or the page's
median is 300 ms or more.

Without ``--database-url`` it runs twice: on a fresh SQLite file in a temporary folder, and on PostgreSQL in a new
database ``imadmin_health_bench`` on the server of ``IMADMIN_BENCH_POSTGRES``, or, that unset, on a throwaway
PostgreSQL 15 server it starts and stops (``bench/database_server.py``; what is missing for it is said in one
line). Each database is created for the run and dropped at the
end, unless ``--keep``.
"""

import json
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import database_server, django_child  # noqa: E402
from bench.admin_scale import Writer, _p90  # noqa: E402

BENCH_DATABASE = "imadmin_health_bench"
LIMIT_MS = 300.0
DEFAULT_ATTEMPTS = 1_000_000
OWNERS = 4_000
GROUPS = 20_000
DRIFTED_EVERY = 50
SPAN = timedelta(days=8)
STATE_CYCLE = ["synced"] * 45 + ["partial", "partial", "failed", "draft", "deleted"]
OPERATIONS = ["create_contact_group", "update_contact_group", "get_contact_group", "del_contact_group"]
REFUSED_ITEM_CODE = 51007


def main() -> int:
    parser = database_server.parser(__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed requests (default 15)")
    parser.add_argument("--attempts", type=int, default=DEFAULT_ATTEMPTS, help="audit rows to seed")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.runs, args.attempts)

    return database_server.measure_databases("bench/health_page.py", args, BENCH_DATABASE, "health.sqlite3",
                                             ["--runs", str(args.runs), "--attempts", str(args.attempts)])


def child(url: str, runs: int, attempts: int) -> int:
    vendor = django_child.set_up(django_child.environment(url))
    from django.db import connection

    started = time.monotonic()
    minutes = seed(connection, attempts)
    print(f"\n{vendor}: {GROUPS:,} groups, {attempts:,} Chat calls in {minutes:,} counts a minute "
          f"(seeded in {time.monotonic() - started:.0f} s)")
    load = os.getloadavg()
    page, reference = measure(runs)
    print(f"{'':<44} {'queries':>7} {'median ms':>10} {'p90 ms':>8}")
    for name, result in (("the health page", page), ("reference: naive aggregation of the audit", reference)):
        print(f"{name:<44} {result['queries']:>7} {result['median']:>10.1f} {result['p90']:>8.1f}")
    print(f"load average before/after: {load[0]:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    failed = False
    if page["figures"] != reference["figures"]:
        print("!! the page's figures differ from the audit's:", page["figures"], reference["figures"])
        failed = True
    if page["median"] >= LIMIT_MS:
        print(f"!! the page's median is {page['median']:.0f} ms, over {LIMIT_MS:.0f} ms")
        failed = True
    return 1 if failed else 0


def attempt_code(n: int) -> int | None:
    return 50001 if n % 97 == 0 else (60007 if n % 389 == 0 else None)


def attempt_refused(n: int) -> int | None:
    return None if attempt_code(n) or n % 53 else REFUSED_ITEM_CODE


def seed(connection, attempts: int) -> int:
    """The groups, the audit rows and their counts a minute; returns how many counts a minute."""
    from django.contrib.auth import get_user_model
    from django.core.management.color import no_style
    from django.db import transaction

    from contactgroups.models import (
        CallMinute,
        ChatUser,
        ContactGroup,
        GroupSync,
        RefusalMinute,
        SyncAttempt,
        SyncAttemptRefusal,
    )
    from contactgroups.models.health import minute_counts

    now = datetime.now(UTC)
    adapt = connection.ops.adapt_datetimefield_value
    step = SPAN / attempts
    if connection.vendor == "sqlite":
        connection.connection.execute("PRAGMA journal_mode=WAL")
    with transaction.atomic():
        get_user_model().objects.create_superuser("bench", password="bench-password")
        Writer(connection, ChatUser, ["id", "user_id"], {"import_state": "imported", "created_at": now,
                                                          "updated_at": now}).write(
            (n + 1, f"owner_{n:05d}") for n in range(OWNERS))
        drift = json.dumps({"renamed_from": "work", "renamed_to": "work (app)"})
        Writer(connection, ContactGroup, ["id", "owner_id", "name", "state", "created_at", "updated_at"]).write(
            (n + 1, n % OWNERS + 1, f"group {n}", STATE_CYCLE[n % len(STATE_CYCLE)],
             adapt(now - timedelta(seconds=n)), adapt(now - timedelta(seconds=n)))
            for n in range(GROUPS))
        Writer(connection, GroupSync, ["group_id", "owner_id", "drift", "chat_read_at"], {"last_outcome": {}}).write(
            (n + 1, n % OWNERS + 1, drift if n % DRIFTED_EVERY == 0 else None,
             adapt(now - timedelta(minutes=n % 600)))
            for n in range(GROUPS))

        def calls():
            for n in range(attempts):
                code = attempt_code(n)
                yield SimpleNamespace(
                    n=n, started_at=now - step * (n + 1), operation=OPERATIONS[n % len(OPERATIONS)],
                    outcome="refused" if code else ("partial" if attempt_refused(n) else "ok"), error_code=code,
                    duration_ms=20 + n * 7919 % 480 + (4000 if n % 100_003 == 0 else 0))

        Writer(connection, SyncAttempt, [
            "id", "group_id", "owner_user_id", "group_name", "operation", "request", "response", "http_status",
            "action_status", "error_code", "refused_items", "outcome", "started_at", "duration_ms",
        ]).write(
            (row.n + 1, row.n % GROUPS + 1, f"owner_{row.n % GROUPS % OWNERS:05d}", f"group {row.n % GROUPS}",
             row.operation, "{}", json.dumps({"ErrorCode": row.error_code or 0}), 200,
             "FAIL" if row.error_code else "OK", row.error_code, 1 if row.outcome == "partial" else 0, row.outcome,
             adapt(row.started_at), row.duration_ms)
            for row in calls())
        Writer(connection, SyncAttemptRefusal, ["attempt_id", "code"]).write(
            (n + 1, attempt_refused(n)) for n in range(attempts) if attempt_refused(n))
        # The counts a minute, as the audit's write path makes them.
        counted, refused = minute_counts(
            (row, (REFUSED_ITEM_CODE,) if row.outcome == "partial" else ()) for row in calls())
        Writer(connection, CallMinute, ["minute", "operation", "calls", "failed", "partial", "throttled",
                                        "duration_total_ms", "duration_max_ms"]).write(
            (adapt(minute), operation, *values) for (minute, operation), values in counted.items())
        Writer(connection, RefusalMinute, ["minute", "code", "calls"]).write(
            (adapt(minute), code, value) for (minute, code), value in refused.items())
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [
                    ChatUser, ContactGroup, SyncAttempt, SyncAttemptRefusal, CallMinute, RefusalMinute]):
                cursor.execute(statement)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return len(counted) + len(refused)


def naive_figures(now) -> dict:
    """The page's figures counted from the audit rows themselves (what the page avoids)."""
    from django.db.models import Count, Max, Q
    from django.db.models.functions import TruncMinute

    from contactgroups.admin import health
    from contactgroups.models import ContactGroup, SyncAttempt, SyncAttemptRefusal
    from contactgroups.models.health import minute_of

    this_minute = minute_of(now)
    day_start = this_minute - health.DAY + timedelta(minutes=1)
    hour_start = this_minute - health.HOUR + timedelta(minutes=1)
    week_start = this_minute - health.WEEK + timedelta(minutes=1)
    states = dict(ContactGroup.objects.order_by().values_list("state").annotate(Count("pk")))
    day = SyncAttempt.objects.filter(started_at__gte=day_start)
    calls = {row["operation"]: (row["day"], row["hour"], row["failed"], row["longest"]) for row in
             day.order_by().values("operation").annotate(
                 day=Count("pk"), hour=Count("pk", filter=Q(started_at__gte=hour_start)),
                 failed=Count("pk", filter=Q(outcome__in=["refused", "no_answer"])), longest=Max("duration_ms"))}
    busiest = {}
    for row in (day.annotate(bucket=TruncMinute("started_at", tzinfo=UTC)).order_by().values("operation", "bucket")
                .annotate(calls=Count("pk"))):
        busiest[row["operation"]] = max(busiest.get(row["operation"], 0), row["calls"])
    week = SyncAttempt.objects.filter(started_at__gte=week_start)
    refusals = {}
    for code, total in week.exclude(error_code=None).exclude(error_code=0).order_by().values_list(
            "error_code").annotate(Count("pk")):
        refusals[code] = refusals.get(code, 0) + total
    for code, total in (SyncAttemptRefusal.objects.filter(attempt__started_at__gte=week_start).order_by()
                        .values_list("code").annotate(Count("pk"))):
        refusals[code] = refusals.get(code, 0) + total
    slowest = list(day.order_by("-duration_ms").values_list("duration_ms", flat=True)[:health.LISTED])
    drifted = ContactGroup.objects.filter(sync__drift__isnull=False).count()
    return {"states": states, "calls": {op: (*values, busiest[op]) for op, values in calls.items()},
            "refusals": refusals, "slowest": slowest, "drifted": drifted}


def page_figures(context) -> dict:
    return {
        "states": {row["state"]: row["count"] for row in context["states"] if row["count"]},
        "calls": {row["operation"]: (row["day"], row["hour"], row["failed"], row["longest_ms"], row["busiest"])
                  for row in context["calls"]},
        "refusals": {row["code"]: row["week"] for row in context["refusals"]},
        "slowest": [row["attempt"].duration_ms for row in context["slowest"]],
        "drifted": context["drift"]["count"],
    }


def measure(runs: int) -> tuple[dict, dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    url = reverse("admin:contactgroups_health")
    client.get(url, secure=True)
    for _ in range(2):  # again if a minute began between the page and the reference: their windows differ then
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, secure=True)
        with CaptureQueriesContext(connection) as naive_queries:
            figures = naive_figures(timezone.now())
        assert response.status_code == 200, response.status_code
        assert re.search(r'id="health-calls-table"', response.content.decode())
        page = {"queries": len(queries), "figures": page_figures(response.context_data)}
        if page["figures"] == figures:
            break
    reference = {"queries": len(naive_queries), "figures": figures}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(url, secure=True)
        times.append((time.perf_counter() - started) * 1000)
    page.update(median=statistics.median(times), p90=_p90(times))

    times = []
    for _ in range(max(3, runs // 3)):
        started = time.perf_counter()
        naive_figures(timezone.now())
        times.append((time.perf_counter() - started) * 1000)
    reference.update(median=statistics.median(times), p90=_p90(times))
    return page, reference


if __name__ == "__main__":
    sys.exit(main())
