"""Searching Chat users by part of a name at scale: ``.venv/bin/python bench/user_search.py [--database-url URL ...]``.

Seeds 1,000,000 Chat users (UserIDs ``user_0000000`` on; half of them with a Latin nickname such as ``Player
123457``, half with a Chinese one of three characters such as ``王伟芳``) and 100,000 conversation groups of one in ten
of them (one in fifty deleted; each owner has a Chinese nickname), written in large batches (``executemany`` on
SQLite, ``COPY`` on PostgreSQL) with the search index kept by the migration's triggers or indexes as any insert
keeps it. Then it times ``ChatUser.objects.matching`` (the first 100 users by UserID, as a list page reads them) for
a part of a UserID, a part of a Latin nickname, a part of a Chinese nickname, a miss and a text of two characters,
beside the naive scan measured in the same run (``icontains`` on both columns, with PostgreSQL's index scans turned
off for it, since its trigram indexes answer ``icontains`` too; for the short text, the start of ``LOWER()`` of
both), and the real admin (``django.test.Client`` logged in as a superuser: every middleware, view and template):
the Chat users' list searched by part of a nickname, the owner autocomplete, and the group list searched and
filtered by part of an owner's UserID or nickname. It prints the median and 90th percentile of each, and exits
non-zero when a search finds other users than the scan or is no quicker than it, or a page answers other than 200,
lists the wrong rows or takes 300 ms or more (median).

Without ``--database-url`` it runs twice: on a fresh SQLite file in a temporary folder, and on PostgreSQL in a new
database ``imadmin_user_search`` on the server of ``IMADMIN_BENCH_POSTGRES``, or, that unset, on a throwaway
PostgreSQL 15 server it starts and stops (``bench/database_server.py``; what is missing for it is said in one
line). Each database is created for the run and dropped at the
end, unless ``--keep``; ``--reuse`` measures again a database kept by an earlier run.
"""

import functools
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import database_server, django_child  # noqa: E402
from bench.admin_scale import Writer, _p90, _rows, _times  # noqa: E402  (the same way of seeding)

BENCH_DATABASE = "imadmin_user_search"
LIMIT_MS = 300.0
DEFAULT_USERS = 1_000_000
GROUP_EVERY = 10  # one user in ten owns a group
DELETED_EVERY = 50  # one group in fifty is deleted
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉"


def nickname(n: int) -> str:
    """The n-th user's nickname: Latin for even n, three Chinese characters for odd n."""
    if n % 2 == 0:
        return f"Player {n * 7919 % 1_000_003:06d}"
    return SURNAMES[n % len(SURNAMES)] + GIVEN[n // len(SURNAMES) % len(GIVEN)] + GIVEN[n // 7 % len(GIVEN)]


def user_id(n: int) -> str:
    return f"user_{n:07d}"


# ----------------------------------------------------------------------------------------------------------------
# The parent: each database created, measured by a child process and dropped (bench/database_server.py);
# the child: Django on one database


def main() -> int:
    parser = database_server.parser(__doc__.split("\n\n")[0], reuse=True)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="Chat users to seed (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=25, help="timed runs of each search (default 25)")
    parser.add_argument("--reference-runs", type=int, default=5, help="timed runs of each naive scan (default 5)")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.seed, args.users, args.runs, args.reference_runs)

    return database_server.measure_databases("bench/user_search.py", args, BENCH_DATABASE, "user_search.sqlite3",
                                             ["--users", str(args.users), "--runs", str(args.runs),
                                              "--reference-runs", str(args.reference_runs)])


def child(url: str, seed_it: bool, users: int, runs: int, reference_runs: int) -> int:
    vendor = django_child.set_up(django_child.environment(url), sqlite_version=True)
    from django.db import connection

    from contactgroups.models import ChatUser, ContactGroup

    seconds = None
    if seed_it:
        started = time.monotonic()
        seed(connection, users)
        seconds = time.monotonic() - started
    count = ChatUser.objects.count()
    print(f"\n{vendor}: {count:,} Chat users, {ContactGroup.objects.count():,} conversation groups"
          + (f" (seeded in {seconds:.0f} s, the search index kept as rows went in)" if seconds is not None
             else " (reused)"))
    load = os.getloadavg()
    failed = False
    print(f"{'search':<52} {'found':>6} {'median ms':>10} {'p90 ms':>8} {'naive scan ms':>14} {'faster':>7}")
    for name, text in searches(count):
        result = time_search(text, runs, reference_runs)
        flag = ""
        if result["median"] >= result["reference"]:
            flag = "  <- no quicker than the scan"
        if not result["same"]:
            flag = "  <- found other users than the scan"
        failed |= bool(flag)
        print(f"{name:<52} {result['found']:>6} {result['median']:>10.1f} {result['p90']:>8.1f} "
              f"{result['reference']:>14.1f} {result['reference'] / result['median']:>6.0f}x{flag}")
    print(f"\n{'admin page':<52} {'rows':>6} {'median ms':>10} {'p90 ms':>8}")
    for page in measure_pages(count, runs):
        flag = f"  <- {page['problem']}" if page["problem"] else ""
        if page["median"] >= LIMIT_MS:
            flag = flag or "  <- over 300 ms"
        failed |= bool(flag)
        print(f"{page['name']:<52} {page['rows']:>6} {page['median']:>10.1f} {page['p90']:>8.1f}{flag}")
    print(f"load average before/after: {load[0]:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 1 if failed else 0


def seed(connection, users: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management.color import no_style
    from django.db import transaction

    from contactgroups.models import ChatUser, ContactGroup

    now = datetime.now(UTC).replace(microsecond=0)
    groups = users // GROUP_EVERY
    moments = _times(connection, groups, now - timedelta(days=60), timedelta(seconds=50))
    if connection.vendor == "sqlite":
        connection.connection.execute("PRAGMA journal_mode=WAL")
    with transaction.atomic():
        get_user_model().objects.create_superuser("bench", password="bench-password")
        Writer(connection, ChatUser, ["id", "user_id", "nickname"], {
            "import_state": "imported", "created_at": now, "updated_at": now,
        }).write((n + 1, user_id(n), nickname(n)) for n in range(users))
        Writer(connection, ContactGroup, ["id", "owner_id", "name", "state", "created_at", "updated_at"]).write(
            (g + 1, g * GROUP_EVERY + 2, f"group {g}", "deleted" if g % DELETED_EVERY == 0 else "synced",
             moments[g], moments[g]) for g in range(groups))
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [ChatUser, ContactGroup]):
                cursor.execute(statement)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


# ----------------------------------------------------------------------------------------------------------------
# Measuring


def searches(count: int) -> list[tuple[str, str]]:
    """(name, text) of each search timed, chosen from the seeded users so that each finds a few."""
    middle = count // 2 + 1  # odd: a Chinese nickname
    return [
        ("part of a UserID", user_id(middle)[3:-1]),  # "r_050000": ten users
        ("part of a Latin nickname, another case", nickname(middle - 1)[2:].upper()),
        ("part of a Chinese nickname", nickname(middle)),
        ("a miss", "zqxj_nobody"),
        ("two characters (the start of a name)", nickname(middle)[:2]),
    ]


def naive(text: str):
    from django.db.models import Q

    from contactgroups.models import ChatUser

    return ChatUser.objects.filter(Q(user_id__icontains=text) | Q(nickname__icontains=text))


def first_page(queryset) -> list[str]:
    return list(queryset.order_by("user_id").values_list("user_id", flat=True)[:100])


def timed(function, runs: int) -> list[float]:
    function()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def time_search(text: str, runs: int, reference_runs: int) -> dict:
    from django.db import connection, transaction

    from contactgroups.models import ChatUser

    found = first_page(ChatUser.objects.matching(text))
    times = timed(lambda: first_page(ChatUser.objects.matching(text)), runs)

    if len(text.strip()) < 3:
        # A short text is matched at the start of a name: the scan it replaces reads every row for that.
        def reference():
            return _scan_short(text)
    else:
        def reference():
            return first_page(naive(text))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_indexscan = off")
                cursor.execute("SET LOCAL enable_bitmapscan = off")
        expected = reference()
        reference_times = timed(reference, reference_runs)
    return {"found": len(found), "same": found == expected, "median": statistics.median(times), "p90": _p90(times),
            "reference": statistics.median(reference_times)}


def _scan_short(text: str) -> list[str]:
    """The first page of users whose UserID or nickname starts with ``text``, read by a scan of every row."""
    from django.db.models import Q
    from django.db.models.functions import Lower

    from contactgroups.models import ChatUser

    lowered = text.lower()
    # Lower() of the column keeps any index out, on both databases.
    return first_page(ChatUser.objects.annotate(low_user_id=Lower("user_id"), low_nickname=Lower("nickname"))
                      .filter(Q(low_user_id__startswith=lowered) | Q(low_nickname__startswith=lowered)))


def measure_pages(count: int, runs: int) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from contactgroups.models import ChatUser, ContactGroup

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    get = functools.partial(client.get, secure=True)
    users = reverse("admin:contactgroups_chatuser_changelist")
    groups = reverse("admin:contactgroups_contactgroup_changelist")
    autocomplete = reverse("admin:autocomplete") + "?app_label=contactgroups&model_name=contactgroup&field_name=owner"
    owner = count // 2 - 9  # owns a group that is not deleted, and has a Chinese nickname
    chinese = nickname(owner)
    owner_part = user_id(owner)[4:-1]  # "_049999": ten users, one of them this owner
    owners = ChatUser.objects.matching(owner_part)
    owned = ContactGroup.objects.live().filter(owner__in=owners.values("pk")).count()
    owned_chinese = ContactGroup.objects.live().filter(owner__in=ChatUser.objects.matching(chinese).values("pk"))
    expect_chinese_users = min(ChatUser.objects.matching(chinese).count(), 100)
    cases = [
        ("Chat users searched by part of a Chinese nickname", f"{users}?q={chinese}", f"rows:{expect_chinese_users}"),
        ("owner autocomplete, part of a nickname", f"{autocomplete}&term={chinese}", "status"),
        ("groups searched by part of an owner's UserID", f"{groups}?q={owner_part}", f"rows:{owned}"),
        ("groups searched by part of an owner's nickname", f"{groups}?q={chinese}",
         f"rows:{min(owned_chinese.count(), 100)}"),
        ("groups filtered by owner, part of a UserID", f"{groups}?owner={owner_part}", f"rows:{owned}"),
        ("groups filtered by owner, nobody matching", f"{groups}?owner=zqxj_nobody", "rows:0"),
    ]
    results = []
    for name, url, expect in cases:
        response = get(url)
        html = response.content.decode()
        problem = f"HTTP {response.status_code}" if response.status_code != 200 else ""
        kind, _, value = expect.partition(":")
        if not problem and kind == "rows" and _rows(html) != int(value):
            problem = f"{_rows(html)} rows, expected {value}"
        times = timed(lambda url=url: get(url), runs)
        results.append({"name": name, "rows": _rows(html) if kind == "rows" else len(response.json()["results"]),
                        "median": statistics.median(times), "p90": _p90(times), "problem": problem})
    return results


if __name__ == "__main__":
    sys.exit(main())
