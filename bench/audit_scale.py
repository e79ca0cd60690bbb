"""The audit at 20 million Chat calls: ``.venv/bin/python bench/audit_scale.py [--calls N] [--database-url URL ...]``.

Fills a fresh database with ``--calls`` audit rows (20,000,000 by default) in the mix a deployment leaves: four in
five are the drift sweep's reads (``get_contact_group`` under its account), the rest staff actions and commands of
twelve staff users (creates, updates, deletes, reads before a write, the reads group pages make while staff wait,
conversation lists, searches, marks, account checks); one call in 100 refused with 50001, one in 1,000 throttled
(60007), one in 1,000 refused with 50004, one in 1,000 without an answer (HTTP 502), one in 5,000 too slow, one in
50 creates and updates partly refused (with its refusal code); started evenly over the last 400 days, for 4,000
owners holding 20,000 groups; with the counts a minute the health page reads, made from the rows.
It loads with each database's fastest path, the table's indexes dropped first and built again after: ``INSERT ...
SELECT`` from ``generate_series`` on PostgreSQL (the foreign keys' triggers off for the load), ``INSERT ... SELECT``
from a recursive CTE on SQLite in one transaction, a million rows a statement, and prints the rows a second.

It then serves the admin with the project's settings (``manage.py runserver``, DEBUG off, plain HTTP on loopback,
no second factor, as bench/sync_bench.py does), logs in as a superuser through the login page and times each page
over HTTP: the audit list's first page, each of its filters (endpoint, ErrorCode, date, the sweep's calls and one
staff member's, outcome), the owner search, a deep page, and the sync-health page. Each is measured beside its
reference in the same run: the same page of Django's default changelist (bench/audit_scale_site.py: the model in
a plain ``ModelAdmin`` on a second admin site, served by the same process), and for the health page the same
figures aggregated from the audit rows (bench/health_page.py's ``naive_figures``). It prints the queries, the median
and the 90th percentile of each, and checks each page lists the rows it should.

Last it runs ``manage.py prune_audit`` (the retention of the settings: the sweep's reads 30 days, the rest 400) and
prints the database's size before and after, and after compacting (SQLite's VACUUM, PostgreSQL's VACUUM FULL): the
size the table settles at once the space pruning frees is reused by new rows.

Without ``--database-url`` it runs on a fresh SQLite file in a temporary folder, then on PostgreSQL in a new
database ``imadmin_audit_bench`` on the server of ``IMADMIN_BENCH_POSTGRES``, or, that unset, on a throwaway
PostgreSQL 15 server it starts and stops (``bench/database_server.py``; what is missing for it is said in one
line); each is dropped at the end unless ``--keep`` (which needs ``IMADMIN_BENCH_POSTGRES``). It exits
non-zero when a page lists the wrong rows or answers other than 200; the times are printed, not held to a limit.
"""

import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import database_server, django_child  # noqa: E402
from bench.admin_scale import Writer, _check, _p90  # noqa: E402
from bench.sync_bench import Admin  # noqa: E402
from tests.services import free_port  # noqa: E402

BENCH_DATABASE = "imadmin_audit_bench"
DEFAULT_CALLS = 20_000_000
OWNERS = 4_000
GROUPS_PER_OWNER = 5
STAFF = 12
SPAN = timedelta(days=400)
CHUNK = 1_000_000
REFUSED_ITEM_CODE = 51007
SEARCHED_OWNER = 246
PASSWORD = "bench-password-" + secrets.token_hex(8)
SUPERUSER = "bench"

# The mix, by h = n * 7919 % 1000 (a permutation of each thousand calls): the bound each operation ends below.
MIX = [(800, "get_contact_group"), (860, "create_contact_group"), (940, "update_contact_group"),
       (950, "del_contact_group"), (980, "get_contact_group"), (990, "get_list"), (995, "search_contact_group"),
       (998, "mark_contact"), (1000, "account_check")]
SWEEP_BELOW = 800  # h below it: the drift sweep's reads
GROUP_BELOW = 980  # h from SWEEP_BELOW to this: calls about one group (write or read before a write)
PAGE_READS = (965, 980)  # h in this range: the reads a group page makes while staff wait (hidden from the list)
PARTIAL_BELOW = 940  # creates and updates: the calls that can partly refuse conversations
# By e = (n * 104729 + 17) % 10000: what Chat answered.
ANSWERS = "e < 100: 50001; e < 110: 60007; e < 120: 50004; e < 130: HTTP 502; e < 132: too slow; e < 332: partial"


# ----------------------------------------------------------------------------------------------------------------
# The parent: each database created, measured by a child process and dropped (bench/database_server.py);
# the child: Django on one database


def main() -> int:
    parser = database_server.parser(__doc__.split("\n\n")[0], fills="fill")
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS, help="audit rows to load (default 20,000,000)")
    parser.add_argument("--runs", type=int, default=9, help="timed requests a page (default 9)")
    parser.add_argument("--reference-runs", type=int, default=3,
                        help="timed requests a page of the reference (default 3: they take seconds)")
    parser.add_argument("--skip-prune", action="store_true", help="leave out pruning and the sizes after it")
    parser.add_argument("--prune-timeout", type=float, default=1200,
                        help="seconds prune_audit is given before it is stopped and its rate printed (default 1200)")
    args = parser.parse_args()
    if args.child:
        return child(args)

    child_args = ["--calls", str(args.calls), "--runs", str(args.runs), "--reference-runs", str(args.reference_runs),
                  "--prune-timeout", str(args.prune_timeout)]
    return database_server.measure_databases("bench/audit_scale.py", args, BENCH_DATABASE, "audit.sqlite3",
                                             child_args + (["--skip-prune"] if args.skip_prune else []))


def child(args) -> int:
    # Served over plain HTTP on loopback, as bench/sync_bench.py serves the admin, with this benchmark's URL set
    # (the reference admin beside the project's).
    env = django_child.environment(args.child, settings_module="bench.audit_scale_site",
                                   allowed_hosts="127.0.0.1,localhost", plain_http=True)
    vendor = django_child.set_up(env)
    from django.db import connection

    print(f"\n{vendor}: {args.calls:,} Chat calls ({os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f})", flush=True)
    started = time.monotonic()
    seed_people(connection)
    fill_audit(connection, args.calls)
    print(f"filled in {time.monotonic() - started:.0f} s; database {megabytes(database_size(connection))}",
          flush=True)
    failed = measure_pages(env, args.runs, args.reference_runs)
    if not args.skip_prune:
        prune(connection, args.prune_timeout)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}", flush=True)
    return 1 if failed else 0


# ----------------------------------------------------------------------------------------------------------------
# Filling


def seed_people(connection) -> None:
    """The superuser, twelve staff users, the sweep's account, the owners and their groups."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from contactgroups.conf import app_settings
    from contactgroups.models import ChatUser, ContactGroup, GroupSync

    User = get_user_model()
    now = datetime.now(UTC)
    with transaction.atomic():
        User.objects.create_superuser(SUPERUSER, password=PASSWORD)
        User.objects.create(username=app_settings.SYNC_DRIFT_SWEEP_USER, is_active=False)
        for number in range(STAFF):
            User.objects.create(username=f"staff_{number:02d}", is_staff=True)
        Writer(connection, ChatUser, ["id", "user_id"], {"import_state": "imported", "created_at": now,
                                                          "updated_at": now}).write(
            (n + 1, owner_name(n)) for n in range(OWNERS))
        adapt = connection.ops.adapt_datetimefield_value
        Writer(connection, ContactGroup, ["id", "owner_id", "name", "state", "created_at", "updated_at"]).write(
            (n + 1, n // GROUPS_PER_OWNER + 1, f"group {n}", "synced", adapt(now), adapt(now))
            for n in range(OWNERS * GROUPS_PER_OWNER))
        Writer(connection, GroupSync, ["group_id", "owner_id"]).write(
            (n + 1, n // GROUPS_PER_OWNER + 1) for n in range(OWNERS * GROUPS_PER_OWNER))
    from django.core.management.color import no_style

    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), [ChatUser, ContactGroup]):
            cursor.execute(statement)


def owner_name(n: int) -> str:
    return f"owner_{n:05d}"


def people() -> tuple[int, int, int]:
    """The pks of the sweep's account, of the first staff user, and of the superuser."""
    from django.contrib.auth import get_user_model

    from contactgroups.conf import app_settings

    User = get_user_model()
    return (User.objects.get(username=app_settings.SYNC_DRIFT_SWEEP_USER).pk,
            User.objects.get(username="staff_00").pk, User.objects.get(username=SUPERUSER).pk)


def row_select(vendor: str, calls: int, sweep: int, first_staff: int, start_us: int) -> str:
    """The SELECT list making call ``n`` (0-based) of ``calls``, in the columns of ``AUDIT_COLUMNS``."""
    step_us = SPAN.total_seconds() * 1_000_000 / calls  # a float: n times it stays far within 64 bits
    if vendor == "sqlite":
        def pad5(expr):
            return f"printf('%05d', {expr})"
        t = f"({start_us} + CAST(n * {step_us!r} AS INTEGER))"
        started = f"printf('%s.%06d', strftime('%Y-%m-%d %H:%M:%S', {t} / 1000000, 'unixepoch'), {t} % 1000000)"

        def as_json(text):
            return text
        true, false = 1, 0
    else:
        def pad5(expr):
            return f"lpad(({expr})::text, 5, '0')"
        started = f"to_timestamp(({start_us} + (n * {step_us!r})::bigint)::numeric / 1000000)"

        def as_json(text):
            return f"({text})::jsonb"
        true, false = "TRUE", "FALSE"
    h, e, o = "(n * 7919 % 1000)", "((n * 104729 + 17) % 10000)", "(n * 48271 % 4000)"
    operation = "CASE " + " ".join(f"WHEN {h} < {bound} THEN '{name}'" for bound, name in MIX[:-1]) + \
        f" ELSE '{MIX[-1][1]}' END"
    about_group = f"({h} >= {SWEEP_BELOW} AND {h} < {GROUP_BELOW})"
    partial = f"({e} >= 132 AND {e} < 332 AND {h} >= {SWEEP_BELOW} AND {h} < {PARTIAL_BELOW})"
    code = f"CASE WHEN {e} < 100 THEN 50001 WHEN {e} < 110 THEN 60007 WHEN {e} < 120 THEN 50004 END"
    outcome = (f"CASE WHEN {e} < 120 THEN 'refused' WHEN {e} < 130 THEN 'no_answer' WHEN {e} < 132 THEN 'too_slow' "
               f"WHEN {partial} THEN 'partial' ELSE 'ok' END")
    owner = f"'owner_' || {pad5(o)}"
    groups = ",".join(f'{{"GroupName":"group {k}","GroupId":{k + 1}}}' for k in range(GROUPS_PER_OWNER))
    peers = ",".join(f'{{"Type":1,"To_Account":"peer_{k:05d}"}}' for k in range(5))
    request = (f"CASE WHEN {h} >= {SWEEP_BELOW} AND {h} < {PARTIAL_BELOW} THEN '{{\"From_Account\":\"' || {owner} || "
               f"'\",\"GroupContactItem\":[{{\"GroupName\":\"group\",\"ContactItem\":[{peers}]}}]}}' "
               f"ELSE '{{\"From_Account\":\"' || {owner} || '\"}}' END")
    result_item = f'[{{"ContactItem":{{"Type":1,"To_Account":"peer_00000"}},"ResultCode":{REFUSED_ITEM_CODE}}}]'
    response = (f"CASE WHEN {e} >= 120 AND {e} < 132 THEN NULL "
                f"WHEN {e} < 120 THEN '{{\"ActionStatus\":\"FAIL\",\"ErrorCode\":' || ({code}) || "
                f"',\"ErrorInfo\":\"refused\"}}' "
                f"WHEN {partial} THEN '{{\"ActionStatus\":\"OK\",\"ErrorCode\":0,\"ErrorInfo\":\"\","
                f"\"ResultItem\":{result_item}}}' "
                f"WHEN {h} < {SWEEP_BELOW} THEN '{{\"ActionStatus\":\"OK\",\"ErrorCode\":0,\"ErrorInfo\":\"\","
                f"\"ContactGroup\":[{groups}],\"CompleteFlag\":1,\"NextStartIndex\":0}}' "
                f"ELSE '{{\"ActionStatus\":\"OK\",\"ErrorCode\":0,\"ErrorInfo\":\"\"}}' END")
    return ", ".join([
        "n + 1",
        f"CASE WHEN {about_group} THEN {o} * {GROUPS_PER_OWNER} + n % {GROUPS_PER_OWNER} + 1 END",
        owner,
        f"CASE WHEN {about_group} THEN 'group ' || ({o} * {GROUPS_PER_OWNER} + n % {GROUPS_PER_OWNER}) ELSE '' END",
        f"CASE WHEN {h} < {SWEEP_BELOW} THEN {sweep} ELSE {first_staff} + n % {STAFF} END",
        operation,
        as_json(request),
        as_json(response),
        f"CASE WHEN {e} >= 120 AND {e} < 130 THEN 502 WHEN {e} >= 130 AND {e} < 132 THEN NULL ELSE 200 END",
        f"CASE WHEN {e} < 120 THEN 'FAIL' WHEN {e} < 132 THEN '' ELSE 'OK' END",
        code,
        f"CASE WHEN {e} < 120 THEN 'refused' ELSE '' END",
        f"CASE WHEN {partial} THEN 1 ELSE 0 END",
        outcome,
        started,
        "20 + n * 7919 % 480 + CASE WHEN n % 100003 = 0 THEN 4000 ELSE 0 END",
        f"CASE WHEN {h} >= {PAGE_READS[0]} AND {h} < {PAGE_READS[1]} THEN {true} ELSE {false} END",
    ])


AUDIT_COLUMNS = ["id", "group_id", "owner_user_id", "group_name", "actor_id", "operation", "request", "response",
                 "http_status", "action_status", "error_code", "error_info", "refused_items", "outcome", "started_at",
                 "duration_ms", "page_read"]


def fill_audit(connection, calls: int) -> None:
    """Load ``calls`` audit rows, their refusal codes and the counts a minute, the tables' indexes built after."""
    from contactgroups.chat import errors
    from contactgroups.models import CallMinute, RefusalMinute, SyncAttempt, SyncAttemptRefusal
    from contactgroups.models.health import FAILED_OUTCOMES

    sweep, first_staff, _superuser = people()
    start_us = int((datetime.now(UTC) - SPAN).timestamp() * 1_000_000)
    vendor = connection.vendor
    quote = connection.ops.quote_name
    calls_table, refusals_table = SyncAttempt._meta.db_table, SyncAttemptRefusal._meta.db_table
    select = row_select(vendor, calls, sweep, first_staff, start_us)
    columns = ", ".join(quote(name) for name in AUDIT_COLUMNS)
    if vendor == "sqlite":
        minute = "substr({}, 1, 16) || ':00'"
    else:
        minute = "date_trunc('minute', {})"
    failed = ", ".join(f"'{outcome}'" for outcome in FAILED_OUTCOMES)
    throttled = ", ".join(str(code) for code in sorted(errors.THROTTLING_CODES))

    connection.close()
    raw, cursor = open_loader(connection)
    dropped = drop_indexes(vendor, cursor, [calls_table, refusals_table])
    began = time.monotonic()
    for first in range(0, calls, CHUNK):
        last = min(calls, first + CHUNK) - 1
        if vendor == "sqlite":
            source = (f"WITH RECURSIVE s(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM s WHERE n < {last}) "
                      f"SELECT {select} FROM s")
        else:
            source = f"SELECT {select} FROM generate_series({first}::bigint, {last}::bigint) AS n"
        cursor.execute(f"INSERT INTO {quote(calls_table)} ({columns}) {source}")
        seconds = time.monotonic() - began
        print(f"  {last + 1:>12,} calls, {(last + 1) / seconds:,.0f} rows a second", flush=True)
    cursor.execute(f"INSERT INTO {quote(refusals_table)} (attempt_id, code) SELECT id, {REFUSED_ITEM_CODE} "
                   f"FROM {quote(calls_table)} WHERE outcome = 'partial'")
    loaded = time.monotonic() - began
    for statement in dropped:
        cursor.execute(statement)
    indexed = time.monotonic() - began - loaded
    at = minute.format("started_at")
    cursor.execute(
        f"INSERT INTO {quote(CallMinute._meta.db_table)} (minute, operation, calls, failed, partial, throttled, "
        f"duration_total_ms, duration_max_ms) SELECT {at}, operation, count(*), "
        f"sum(CASE WHEN outcome IN ({failed}) THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN outcome = 'partial' THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN error_code IN ({throttled}) THEN 1 ELSE 0 END), sum(duration_ms), max(duration_ms) "
        f"FROM {quote(calls_table)} GROUP BY 1, 2")
    cursor.execute(
        f"INSERT INTO {quote(RefusalMinute._meta.db_table)} (minute, code, calls) SELECT m, code, count(*) FROM ("
        f"SELECT {at} AS m, error_code AS code FROM {quote(calls_table)} WHERE error_code IS NOT NULL "
        f"AND error_code <> 0 UNION ALL SELECT {minute.format('a.started_at')}, r.code FROM {quote(refusals_table)} r "
        f"JOIN {quote(calls_table)} a ON a.id = r.attempt_id) counted GROUP BY m, code")
    finish_loader(vendor, raw, cursor, calls_table)
    total = time.monotonic() - began
    print(f"loaded {calls:,} calls in {loaded:.0f} s ({calls / loaded:,.0f} rows a second), indexes built in "
          f"{indexed:.0f} s, counts a minute and statistics in {total - loaded - indexed:.0f} s", flush=True)


def open_loader(connection):
    """A raw connection of the database's own driver, set for one large load."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        import sqlite3

        raw = sqlite3.connect(settings["NAME"], isolation_level=None)
        cursor = raw.cursor()
        for pragma in ("journal_mode=DELETE", "synchronous=OFF", "foreign_keys=OFF", "cache_size=-1000000",
                       "temp_store=MEMORY"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.execute("BEGIN")
        return raw, cursor
    import psycopg

    raw = psycopg.connect(host=settings["HOST"], port=settings["PORT"], user=settings["USER"],
                          password=settings["PASSWORD"], dbname=settings["NAME"])
    cursor = raw.cursor()
    # The rows are consistent by construction: no foreign key trigger a row (20 million queued checks).
    cursor.execute("SET session_replication_role = replica")
    cursor.execute("SET maintenance_work_mem = '1GB'")
    return raw, cursor


def drop_indexes(vendor: str, cursor, tables: list[str]) -> list[str]:
    """Drop the secondary indexes of ``tables``; the statements that build them again, exactly as they were."""
    rebuild = []
    for table in tables:
        if vendor == "sqlite":
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                           "AND sql IS NOT NULL", [table])
            found = cursor.fetchall()
            for name, sql in found:
                cursor.execute(f'DROP INDEX "{name}"')
                rebuild.append(sql)
        else:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                           "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)", [table, table])
            found = cursor.fetchall()
            for name, sql in found:
                cursor.execute(f'DROP INDEX "{name}"')
                rebuild.append(sql)
    return rebuild


def finish_loader(vendor: str, raw, cursor, calls_table: str) -> None:
    if vendor == "sqlite":
        cursor.execute("COMMIT")
        cursor.execute("PRAGMA journal_mode=WAL")  # the project's mode (imadmin/settings.py)
        raw.close()
        return
    cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM " + calls_table + "))",
                   [calls_table])
    raw.commit()
    raw.autocommit = True
    cursor.execute("VACUUM ANALYZE")
    raw.close()


# ----------------------------------------------------------------------------------------------------------------
# Sizes and pruning


def database_size(connection) -> int:
    if connection.vendor == "sqlite":
        path = Path(connection.settings_dict["NAME"])
        return sum(Path(str(path) + suffix).stat().st_size for suffix in ("", "-wal")
                   if Path(str(path) + suffix).exists())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0]


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.0f} MB"


def prune(connection, timeout: float) -> None:
    """``manage.py prune_audit`` as beat runs it, given ``timeout`` seconds; the sizes before, after, and compacted.

    A run that has not ended by then is stopped (the batch in hand rolls back) and its rate printed; the rest of what
    the retention drops is then deleted in one statement, so the sizes after can still be read.
    """
    from contactgroups.models import SyncAttempt, SyncAttemptRefusal
    from contactgroups.models.audit import Retention

    before, rows = database_size(connection), SyncAttempt.objects.count()
    connection.close()
    began = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "manage.py", "prune_audit"], cwd=ROOT, capture_output=True,
                                text=True, timeout=timeout)
        ended = result.returncode == 0
        said = (result.stdout + result.stderr).strip()
    except subprocess.TimeoutExpired:
        ended, said = False, f"stopped after {timeout:.0f} s"
    pruned = time.monotonic() - began
    kept = SyncAttempt.objects.count()
    print(f"prune_audit said: {said}\n  {rows - kept:,} calls deleted in {pruned:.0f} s "
          f"({(rows - kept) / pruned:,.0f} a second), {kept:,} left", flush=True)
    if not ended:
        retention = Retention.now()
        for expired in (SyncAttempt.objects.past_sweep_retention(retention),
                        SyncAttempt.objects.past_retention(retention)):
            SyncAttemptRefusal.objects.filter(attempt__in=expired.values("pk"))._raw_delete(connection.alias)
            expired._raw_delete(connection.alias)
        kept = SyncAttempt.objects.count()
        print(f"  the rest the retention drops deleted in one statement: {kept:,} calls kept", flush=True)
    after = database_size(connection)
    connection.close()
    began = time.monotonic()
    if connection.vendor == "sqlite":
        import sqlite3

        raw = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        raw.execute("VACUUM")
        raw.close()
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM FULL {SyncAttempt._meta.db_table}")
    compacted = database_size(connection)
    print(f"database {megabytes(before)} at {rows:,} calls, {megabytes(after)} after pruning (the freed pages are "
          f"reused by new rows), {megabytes(compacted)} compacted ({time.monotonic() - began:.0f} s): the steady "
          f"state at {kept:,} calls", flush=True)


# ----------------------------------------------------------------------------------------------------------------
# Measuring over HTTP


def pages() -> list[tuple[str, str, str, str]]:
    """(name, the project's URL, the reference's URL, what the page must list) of every audit page measured."""
    from django.urls import reverse

    from contactgroups.models import SyncAttempt, SyncAttemptRefusal

    sweep, staff, _superuser = people()
    project = reverse("admin:contactgroups_syncattempt_changelist")
    reference = reverse("reference:contactgroups_syncattempt_changelist")
    total = SyncAttempt.objects.count()
    owner = owner_name(SEARCHED_OWNER)
    week_ago = (datetime.now(UTC) - timedelta(days=7)).date()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()

    def page_of(count: int, page: int = 1) -> str:
        return f"rows:{max(0, min(100, count - 100 * (page - 1)))}"

    code_calls = SyncAttempt.objects.filter(error_code=50001).count()
    both = code_calls + SyncAttemptRefusal.objects.filter(code=50001).count()
    return [
        ("first page", project, reference, page_of(total)),
        ("filtered by endpoint (create_contact_group)", f"{project}?operation=create_contact_group",
         f"{reference}?operation__exact=create_contact_group", "rows:100"),
        ("filtered by ErrorCode 50001", f"{project}?error_code=50001", f"{reference}?error_code__exact=50001",
         page_of(both)),
        ("filtered by date (last 7 days)", f"{project}?started=week",
         f"{reference}?started_at__gte={week_ago}&started_at__lt={tomorrow}", "rows:100"),
        ("the sweep's calls", f"{project}?actor__id__exact={sweep}", f"{reference}?actor__id__exact={sweep}",
         "rows:100"),
        ("one staff member's calls", f"{project}?actor__id__exact={staff}", f"{reference}?actor__id__exact={staff}",
         "rows:100"),
        ("filtered by outcome (refused)", f"{project}?outcome=refused", f"{reference}?outcome__exact=refused",
         "rows:100"),
        (f"searched by owner ({owner})", f"{project}?q={owner}", f"{reference}?q={owner}",
         page_of(SyncAttempt.objects.filter(owner_user_id=owner).count())),
        ("page 2,000", f"{project}?p=2000", f"{reference}?p=2000", page_of(total, 2000)),
        ("only the group pages' reads", f"{project}?page_reads=only", f"{reference}?page_read__exact=1",
         "rows:100"),
    ]


def timed(session, url: str, runs: int) -> tuple[list[float], object]:
    """``runs`` GETs of ``url`` after one untimed; their times in ms and the first answer."""
    first = session.get(url, timeout=900)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        session.get(url, timeout=900)
        times.append((time.perf_counter() - started) * 1000)
    return times, first


def measure_pages(env: dict, runs: int, reference_runs: int) -> bool:
    """Serve the admin, log in, time every page beside its reference; whether any listed the wrong rows."""
    from django.urls import reverse
    from django.utils import timezone

    from bench.health_page import naive_figures

    directory = Path(tempfile.mkdtemp(prefix="imadmin-audit-bench-run-"))
    admin = Admin({**env, "DJANGO_SUPERUSER_USERNAME": SUPERUSER}, free_port(), directory / "runserver.log")
    failed = False
    try:
        admin.login(SUPERUSER, PASSWORD)
        session = admin.session
        print(f"{'page':<46} {'median ms':>10} {'p90 ms':>9}   {'default changelist: median':>27} {'p90 ms':>9}",
              flush=True)
        for name, url, reference_url, expect in pages():
            times, answer = timed(session, admin.url + url, runs)
            problem = f"HTTP {answer.status_code}" if answer.status_code != 200 else _check(expect, answer.text)
            reference_times, reference_answer = timed(session, admin.url + reference_url, reference_runs)
            if reference_answer.status_code != 200:
                problem += f" (reference: HTTP {reference_answer.status_code})"
            failed |= bool(problem)
            print(f"{name:<46} {statistics.median(times):>10.1f} {_p90(times):>9.1f}   "
                  f"{statistics.median(reference_times):>27.1f} {_p90(reference_times):>9.1f}"
                  f"{'  <- ' + problem if problem else ''}", flush=True)
        health = reverse("admin:contactgroups_health")
        times, answer = timed(session, admin.url + health, runs)
        failed |= answer.status_code != 200
        naive = []
        for _ in range(reference_runs):
            started = time.perf_counter()
            naive_figures(timezone.now())
            naive.append((time.perf_counter() - started) * 1000)
        print(f"{'sync-health page (reference: naive aggregation)':<46} {statistics.median(times):>10.1f} "
              f"{_p90(times):>9.1f}   {statistics.median(naive):>27.1f} {_p90(naive):>9.1f}"
              f"{'' if answer.status_code == 200 else f'  <- HTTP {answer.status_code}'}", flush=True)
    finally:
        admin.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return failed


if __name__ == "__main__":
    sys.exit(main())
