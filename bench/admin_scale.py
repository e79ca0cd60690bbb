"""The admin at scale: ``.venv/bin/python bench/admin_scale.py [--database-url URL ...]``.

Seeds 20,000 Chat users with 5 conversation groups of 10 conversations each (100,000 groups, 1,000,000
conversations), one more group with 150 conversations, and 1,000,000 audit rows of Chat calls (about one in 53
partly refused, with the code it refused a conversation with), then drives the real admin
(``django.test.Client`` logged in as a superuser: every middleware, view and template; the group page shows the
kept reading of Chat, ``SYNC_PAGE_READ_TIMEOUT=0``, so it is the admin's own work that is timed) and prints,
for each page, the number of queries and the median and 90th percentile of the time to answer. It exits non-zero
when any page's median is 300 ms or more, or when a page lists the wrong rows.

Without ``--database-url`` it runs twice: on a fresh SQLite file in a temporary folder, and on PostgreSQL in a new
database ``imadmin_bench`` on the server of ``IMADMIN_BENCH_POSTGRES`` (a URL of its maintenance database
``postgres``), or, that unset, on a throwaway PostgreSQL 15 server it starts and stops (``bench/database_server.py``;
what is missing for it is said in one line). Each database is created for the run and dropped at the end, unless
``--keep``. ``--reuse`` measures again a database kept by an earlier run (migrating it first), which
saves the seeding while tuning. Seeding writes rows in large batches (``executemany`` on SQLite, ``COPY`` on
PostgreSQL): 30 to 40 s a database on a quiet 2-core machine.
"""

import functools
import json
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import database_server, django_child  # noqa: E402

BENCH_DATABASE = "imadmin_bench"
LIMIT_MS = 300.0

OWNERS = 20_000
GROUPS_PER_OWNER = 5
CONVERSATIONS_PER_GROUP = 10
BIG_GROUP_CONVERSATIONS = 150
DEFAULT_ATTEMPTS = 1_000_000
PEERS = 250_000  # distinct one-to-one targets: each one sits in about four groups
GROUP_NAMES = ["work", "family", "friends", "clients", "archive"]
BATCH = 20_000

# One group in fifty of each of these states; the rest synced.
STATE_CYCLE = ["synced"] * 45 + ["partial", "partial", "failed", "draft", "deleted"]
# Partly refused calls refused a conversation with this code, which no seeded call has as its ErrorCode.
REFUSED_ITEM_CODE = 51007
OPERATIONS = ["create_contact_group", "update_contact_group", "get_contact_group", "del_contact_group"]


# ----------------------------------------------------------------------------------------------------------------
# The parent: each database created, measured by a child process and dropped (bench/database_server.py);
# the child: Django on one database


def main() -> int:
    parser = database_server.parser(__doc__.split("\n\n")[0], reuse=True)
    parser.add_argument("--runs", type=int, default=25, help="timed requests a page (default 25)")
    parser.add_argument("--attempts", type=int, default=DEFAULT_ATTEMPTS, help="audit rows to seed")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.seed, args.runs, args.attempts)

    return database_server.measure_databases("bench/admin_scale.py", args, BENCH_DATABASE, "admin_scale.sqlite3",
                                             ["--runs", str(args.runs), "--attempts", str(args.attempts)])


def child(url: str, seed_it: bool, runs: int, attempts: int) -> int:
    vendor = django_child.set_up({**django_child.environment(url), "SYNC_PAGE_READ_TIMEOUT": "0"})
    from django.db import connection

    seconds = None
    if seed_it:
        started = time.monotonic()
        seed(connection, attempts)
        seconds = time.monotonic() - started
    counts = _table_counts()
    print(f"\n{vendor}: {counts['groups']:,} groups, {counts['conversations']:,} conversations, "
          f"{counts['users']:,} Chat users, {counts['attempts']:,} Chat calls"
          + (f" (seeded in {seconds:.0f} s)" if seconds is not None else " (reused)"))
    load = os.getloadavg()
    results = measure(runs)
    print(f"{'page':<44} {'queries':>7} {'rows':>5} {'median ms':>10} {'p90 ms':>8}")
    failed = False
    for page in results:
        flag = ""
        if page["median"] >= LIMIT_MS:
            flag, failed = "  <- over 300 ms", True
        if page["problem"]:
            flag, failed = f"  <- {page['problem']}", True
        print(f"{page['name']:<44} {page['queries']:>7} {page['rows']:>5} {page['median']:>10.1f} "
              f"{page['p90']:>8.1f}{flag}")
    print(f"load average before/after: {load[0]:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 1 if failed else 0


def _table_counts() -> dict:
    from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt

    return {"groups": ContactGroup.objects.count(), "conversations": ContactItem.objects.count(),
            "users": ChatUser.objects.count(), "attempts": SyncAttempt.objects.count()}


# ----------------------------------------------------------------------------------------------------------------
# Seeding


class Writer:
    """Writes rows of one model's table in large batches: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

    Every concrete column gets a value: the varying ones from each row, the others from ``fixed`` or the field's
    default, prepared for the database once.
    """

    def __init__(self, connection, model, varying: list[str], fixed: dict | None = None):
        self.connection = connection
        fixed = fixed or {}
        fields = {field.attname: field for field in model._meta.concrete_fields}
        self.varying = varying
        self.constant = {}
        for attname, field in fields.items():
            if attname in varying or (field.primary_key and attname not in fixed):
                continue
            value = fixed[attname] if attname in fixed else field.get_default()
            self.constant[attname] = self.prepare(field, value)
        self.datetime_fields = {name for name in varying if fields[name].get_internal_type() == "DateTimeField"}
        columns = [*varying, *self.constant]
        quoted = ", ".join(connection.ops.quote_name(fields[name].column) for name in columns)
        self.table = connection.ops.quote_name(model._meta.db_table)
        self.columns = quoted
        self.tail = tuple(self.constant.values())

    def prepare(self, field, value):
        if field.get_internal_type() == "JSONField":
            return json.dumps(value)
        if field.get_internal_type() == "DateTimeField" and value is not None:
            return self.connection.ops.adapt_datetimefield_value(value)
        return value

    def write(self, rows) -> int:
        written = 0
        batch = []
        for row in rows:
            batch.append(row + self.tail)
            if len(batch) >= BATCH:
                written += self._flush(batch)
                batch = []
        return written + self._flush(batch)

    def _flush(self, batch) -> int:
        if not batch:
            return 0
        raw = self.connection.connection
        if self.connection.vendor == "sqlite":
            marks = ", ".join("?" * len(batch[0]))
            raw.executemany(f"INSERT INTO {self.table} ({self.columns}) VALUES ({marks})", batch)
        else:
            with raw.cursor() as cursor, cursor.copy(f"COPY {self.table} ({self.columns}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
        return len(batch)


def _times(connection, count: int, start: datetime, step: timedelta) -> list:
    """``count`` distinct moments, prepared for the database."""
    adapt = connection.ops.adapt_datetimefield_value
    return [adapt(start + step * n) for n in range(count)]


def peer(group_index: int, position: int) -> str:
    return f"peer_{(group_index * CONVERSATIONS_PER_GROUP + position) * 7919 % PEERS:06d}"


def conversation(group_index: int, position: int, big: bool) -> tuple:
    """(type, target, type, To_Account, ToGroupId) of one seeded conversation: the last of a group is a group chat."""
    if position == CONVERSATIONS_PER_GROUP - 1 and not big:
        target = f"@TGS#bench{group_index % 30000:05d}"
        return (2, target, 2, "", target)
    return (1, peer(group_index, position), 1, peer(group_index, position), "")


def attempt_code(n: int) -> int | None:
    """The ErrorCode Chat answered the n-th seeded call with, if it refused the call."""
    return 50001 if n % 97 == 0 else (60007 if n % 389 == 0 else None)


def attempt_refused(n: int) -> int | None:
    """The ResultCode the n-th seeded call refused one conversation with, if it was partly refused: one in 53."""
    if attempt_code(n) or n % 53:
        return None
    return REFUSED_ITEM_CODE


def seed(connection, attempts: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management.color import no_style
    from django.db import transaction

    from contactgroups.models import ChatUser, ContactGroup, ContactItem, GroupSync, SyncAttempt, SyncAttemptRefusal

    now = datetime.now(UTC).replace(microsecond=0)
    user_count = OWNERS
    group_count = OWNERS * GROUPS_PER_OWNER
    moments = _times(connection, group_count + 1, now - timedelta(days=60), timedelta(seconds=50))
    group_fields = {field.attname for field in ContactGroup._meta.concrete_fields}
    counted = {"conversation_count", "accepted_count", "refused_count"} <= group_fields

    if connection.vendor == "sqlite":
        connection.connection.execute("PRAGMA journal_mode=WAL")
    with transaction.atomic():
        get_user_model().objects.create_superuser("bench", password="bench-password")
        Writer(connection, ChatUser, ["id", "user_id", "nickname"], {
            "import_state": "imported", "created_at": now, "updated_at": now,
        }).write((n + 1, f"owner_{n:05d}", f"Owner {n}") for n in range(user_count))

        def group_rows():
            for index in range(group_count + 1):
                big = index == group_count
                state = "synced" if big else STATE_CYCLE[index % len(STATE_CYCLE)]
                synced = state in ("synced", "partial", "deleted")
                size = BIG_GROUP_CONVERSATIONS if big else CONVERSATIONS_PER_GROUP
                refused = 1 if state == "partial" else 0
                owner = 1 if big else index // GROUPS_PER_OWNER + 1
                name = "big group" if big else f"{GROUP_NAMES[index % GROUPS_PER_OWNER]} {index // 7 % 1000}"
                # What a synced group's row holds: Chat's copy of its conversations and the outcome of its sync.
                confirmed = [list(conversation(index, position, big)[:2]) for position in range(refused, size)]
                outcome = {"code": "synced", "group_id": index + 1, "added": size - refused}
                if refused:
                    outcome["refused"] = [[1, peer(index, 0), 50001, ""]]
                row = (index + 1, owner, name, state, moments[index], moments[index])
                if counted:
                    row += (size, size - refused if synced else 0, refused)
                # Its sync row: what Chat confirmed.
                confirmed_row = (index + 1, owner, name if synced else "", json.dumps(confirmed if synced else []),
                                 json.dumps(outcome if synced else {}), index + 1 if synced else None,
                                 state == "deleted")
                yield row, confirmed_row

        varying = ["id", "owner_id", "name", "state", "created_at", "updated_at"]
        if counted:
            varying += ["conversation_count", "accepted_count", "refused_count"]
        Writer(connection, ContactGroup, varying).write(row for row, _confirmed in group_rows())
        Writer(connection, GroupSync, ["group_id", "owner_id", "confirmed_name", "confirmed_conversations",
                                       "last_outcome", "chat_group_id", "deleted"]).write(
            confirmed for _row, confirmed in group_rows())

        def item_rows():
            item_id = 0
            for index in range(group_count + 1):
                big = index == group_count
                state = "synced" if big else STATE_CYCLE[index % len(STATE_CYCLE)]
                synced = state in ("synced", "partial", "deleted")
                size = BIG_GROUP_CONVERSATIONS if big else CONVERSATIONS_PER_GROUP
                for position in range(size):
                    item_id += 1
                    kind, account, group_id = conversation(index, position, big)[2:]
                    code = None
                    if synced:
                        code = 50001 if state == "partial" and position == 0 else 0
                    yield (item_id, index + 1, kind, account, group_id, code, moments[index] if synced else None,
                           moments[index])

        Writer(connection, ContactItem, ["id", "group_id", "type", "to_account", "to_group_id", "result_code",
                                         "result_at", "created_at"]).write(item_rows())

        attempt_moments = _times(connection, 100_000, now - timedelta(days=90), timedelta(seconds=77))

        def attempt_rows():
            for n in range(attempts):
                index = n % group_count
                owner = f"owner_{index // GROUPS_PER_OWNER:05d}"
                operation = OPERATIONS[n % len(OPERATIONS)]
                code = attempt_code(n)
                refused = attempt_refused(n)
                outcome = "refused" if code else ("partial" if refused else "ok")
                request = json.dumps({"From_Account": owner})
                answer = {"ActionStatus": "FAIL" if code else "OK", "ErrorCode": code or 0}
                if refused:
                    answer["ResultItem"] = [{"ContactItem": {"Type": 1, "To_Account": peer(index, 0)},
                                             "ResultCode": refused, "ResultInfo": ""}]
                yield (n + 1, index + 1, owner, GROUP_NAMES[index % GROUPS_PER_OWNER], operation, request,
                       json.dumps(answer), 200, "FAIL" if code else "OK", code, 1 if refused else 0, outcome,
                       attempt_moments[n % len(attempt_moments)], 20 + n % 50)

        Writer(connection, SyncAttempt, [
            "id", "group_id", "owner_user_id", "group_name", "operation", "request", "response", "http_status",
            "action_status", "error_code", "refused_items", "outcome", "started_at", "duration_ms",
        ]).write(attempt_rows())
        # What the audit writes beside each partly refused call: the code it refused a conversation with.
        Writer(connection, SyncAttemptRefusal, ["attempt_id", "code"]).write(
            (n + 1, attempt_refused(n)) for n in range(attempts) if attempt_refused(n))
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [ChatUser, ContactGroup, ContactItem,
                                                                              SyncAttempt, SyncAttemptRefusal]):
                cursor.execute(statement)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


# ----------------------------------------------------------------------------------------------------------------
# Measuring


def pages() -> list[tuple[str, str, str]]:
    """(name, URL, what must be on the page) of every page measured."""
    from django.urls import reverse

    from contactgroups.models import ContactGroup, SyncAttempt, SyncAttemptRefusal

    def page_of(count: int) -> int:
        return min(count, 100)

    groups = reverse("admin:contactgroups_contactgroup_changelist")
    users = reverse("admin:contactgroups_chatuser_changelist")
    attempts = reverse("admin:contactgroups_syncattempt_changelist")
    big = ContactGroup.objects.get(name="big group")
    # How many Chat calls there are depends on --attempts: these pages must list what the ORM counts.
    error_calls = SyncAttempt.objects.filter(error_code=50001).count()
    item_code_calls = SyncAttemptRefusal.objects.filter(code=REFUSED_ITEM_CODE).count()
    owner_calls = SyncAttempt.objects.filter(owner_user_id="owner_00246").count()
    group_calls = SyncAttempt.objects.filter(group_id=1234).count()
    target = peer(12_345, 3)
    return [
        ("group changelist", groups, "rows:100"),
        ("group changelist, page 10", f"{groups}?p=10", "rows:100"),
        ("groups filtered by state and owner", f"{groups}?state=synced&owner=owner_01234", "rows:5"),
        ("groups filtered by state", f"{groups}?state=failed", "rows:100"),
        ("groups searched by owner", f"{groups}?q=owner_01234", "rows:5"),
        ("groups searched by conversation target", f"{groups}?q={target}", "rows:4"),
        ("groups searched by name prefix", f"{groups}?q=family+12", "rows:100"),
        ("groups sorted by name", f"{groups}?o=1", "rows:100"),
        ("group page, 150 conversations", reverse("admin:contactgroups_contactgroup_change", args=[big.pk]),
         "text:peer_"),
        ("owner autocomplete", reverse("admin:autocomplete") + "?app_label=contactgroups&model_name=contactgroup"
         "&field_name=owner&term=owner_0123", "text:owner_01234"),
        ("Chat user changelist", users, "rows:100"),
        ("Chat users searched by UserID", f"{users}?q=owner_01234", "rows:1"),
        ("Chat call changelist", attempts, "rows:100"),
        ("Chat calls filtered by ErrorCode", f"{attempts}?error_code=50001", f"rows:{page_of(error_calls)}"),
        ("Chat calls filtered by a refused item's code", f"{attempts}?error_code={REFUSED_ITEM_CODE}",
         f"rows:{page_of(item_code_calls)}"),
        ("Chat calls of one group", f"{attempts}?group__id__exact=1234", f"rows:{page_of(group_calls)}"),
        ("Chat calls searched by owner", f"{attempts}?q=owner_00246", f"rows:{page_of(owner_calls)}"),
    ]


def _rows(html: str) -> int:
    """Rows of the changelist's result table."""
    body = re.search(r'<table id="result_list">.*?<tbody>(.*?)</tbody>', html, re.S)
    return body.group(1).count("<tr") if body else 0


def _check(expect: str, html: str) -> str:
    kind, _, value = expect.partition(":")
    if kind == "rows":
        rows = _rows(html)
        return "" if rows == int(value) else f"{rows} rows, expected {value}"
    return "" if value in html else f"{value!r} not on the page"


def _p90(times: list[float]) -> float:
    return statistics.quantiles(times, n=10, method="inclusive")[-1] if len(times) > 1 else times[0]


def measure(runs: int) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    get = functools.partial(client.get, secure=True)  # HTTPS, as the settings ask for when DEBUG is off
    results = []
    for name, url, expect in pages():
        with CaptureQueriesContext(connection) as queries:
            response = get(url)
        query_count = len(queries)  # now: the next request empties the log the count is read from
        html = response.content.decode()
        problem = f"HTTP {response.status_code}" if response.status_code != 200 else _check(expect, html)
        for _ in range(2):
            get(url)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            get(url)
            times.append((time.perf_counter() - started) * 1000)
        results.append({
            "name": name, "queries": query_count, "rows": _rows(html),
            "median": statistics.median(times), "p90": _p90(times), "problem": problem,
        })
    return results


if __name__ == "__main__":
    sys.exit(main())
