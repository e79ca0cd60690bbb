"""Searching groups by part of a name or of a group conversation's id at scale: ``.venv/bin/python
bench/group_search.py [--database-url URL ...]``.

Seeds 1,000,000 conversation groups of 100,000 Chat users (ten each), named like ``Support 工作组 0123457`` (one of
17 English words, one of 19 Chinese words of three characters, seven digits), each holding one group conversation
with an id like ``@TGS#1B2AUI7RZ``, written in large batches (bench/user_search.py's way, bench/admin_scale.py's
``Writer``) with the search indexes kept by migration 0019's triggers or indexes as any insert keeps them. Then it
times ``ContactGroup.objects.matching`` (the group list's first page of 100, most recently changed first) and the
group list's search page itself over HTTP (the project's WSGI application behind a loopback HTTP server, a logged-in
superuser: every middleware, view and template) for a rare and a common part of a name, a part of a Chinese word,
a part of a group conversation's id without its ``@``, a miss and texts of two characters, beside the naive scan
measured in the same run (the same rule with ``icontains``, PostgreSQL's index scans turned off since its trigram
indexes answer ``icontains`` too). It prints the median and 90th percentile of each, and exits non-zero when a
search finds other groups than the scan, a text of three characters or more is no quicker than it, or a page
answers other than 200 or lists other rows than the search found.

Without ``--database-url`` it runs twice: on a fresh SQLite file in a temporary folder, and on PostgreSQL in a new
database ``imadmin_group_search`` on the server of ``IMADMIN_BENCH_POSTGRES``, or, that unset, on a throwaway
PostgreSQL 15 server it starts and stops (``bench/database_server.py``). Each database is created for the run and
dropped at the end, unless ``--keep``; ``--reuse`` measures again a database kept by an earlier run.
"""

import os
import statistics
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import database_server, django_child  # noqa: E402
from bench.admin_scale import Writer, _p90, _rows, _times  # noqa: E402
from bench.user_search import timed, user_id  # noqa: E402

BENCH_DATABASE = "imadmin_group_search"
DEFAULT_GROUPS = 1_000_000
GROUPS_EACH = 10  # groups of each owner
ENGLISH = ["Support", "Work", "Sales", "Family", "Friends", "Project", "Team", "Night shift", "Billing", "VIP",
           "Partners", "Launch", "Ops", "Design", "Travel", "Study", "Football"]
CHINESE = ["工作组", "客服部", "销售组", "家人们", "老朋友", "项目组", "夜班组", "财务部", "贵宾区", "合作方", "运营部",
           "设计组", "旅行团", "学习群", "足球队", "同学会", "邻居们", "售后部", "技术部"]
ID_LETTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def group_name(n: int) -> str:
    return f"{ENGLISH[n % len(ENGLISH)]} {CHINESE[n // len(ENGLISH) % len(CHINESE)]} {n * 7919 % 1_000_003:07d}"


def group_id(n: int) -> str:
    """The n-th group's group conversation: nine letters or digits after ``@TGS#``, as Chat's ids have."""
    value, letters = (n * 2_654_435_761 + 12_345) % 36 ** 9, []
    for _ in range(9):
        value, digit = divmod(value, 36)
        letters.append(ID_LETTERS[digit])
    return "@TGS#" + "".join(letters)


# ----------------------------------------------------------------------------------------------------------------
# The parent: each database created, measured by a child process and dropped (bench/database_server.py);
# the child: Django on one database


def main() -> int:
    parser = database_server.parser(__doc__.split("\n\n")[0], reuse=True)
    parser.add_argument("--groups", type=int, default=DEFAULT_GROUPS, help="groups to seed (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each search and page (default 15)")
    parser.add_argument("--reference-runs", type=int, default=3, help="timed runs of each naive scan (default 3)")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.seed, args.groups, args.runs, args.reference_runs)

    return database_server.measure_databases("bench/group_search.py", args, BENCH_DATABASE, "group_search.sqlite3",
                                             ["--groups", str(args.groups), "--runs", str(args.runs),
                                              "--reference-runs", str(args.reference_runs)])


def child(url: str, seed_it: bool, groups: int, runs: int, reference_runs: int) -> int:
    # Served over plain HTTP on loopback (``serving``); the test client's host for its login.
    vendor = django_child.set_up(django_child.environment(url, allowed_hosts="127.0.0.1,testserver", plain_http=True),
                                 sqlite_version=True)
    from django.db import connection

    from contactgroups.models import ContactGroup, ContactItem

    seconds = None
    if seed_it:
        started = time.monotonic()
        seed(connection, groups)
        seconds = time.monotonic() - started
    count = ContactGroup.objects.count()
    print(f"\n{vendor}: {count:,} conversation groups, {ContactItem.objects.count():,} conversations"
          + (f" (seeded in {seconds:.0f} s, the search indexes kept as rows went in)" if seconds is not None
             else " (reused)"))
    load = os.getloadavg()
    failed = False
    with serving() as get:
        print(f"{'search':<44} {'text':<14} {'found':>7} {'query ms':>9} {'page ms':>8} {'page p90':>9} "
              f"{'naive scan ms':>14} {'faster':>7}")
        for name, text in searches(count):
            result = time_search(get, text, runs, reference_runs)
            flag = result["problem"]
            if not flag and len(text) >= 3 and result["median"] >= result["reference"]:
                flag = "no quicker than the scan"
            failed |= bool(flag)
            print(f"{name:<44} {text:<14} {result['found']:>7} {result['median']:>9.1f} {result['page']:>8.1f} "
                  f"{result['page_p90']:>9.1f} {result['reference']:>14.1f} "
                  f"{result['reference'] / result['median']:>6.0f}x" + (f"  <- {flag}" if flag else ""))
    print(f"load average before/after: {load[0]:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 1 if failed else 0


def seed(connection, groups: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management.color import no_style
    from django.db import transaction

    from contactgroups.chat import protocol
    from contactgroups.models import ChatUser, ContactGroup, ContactItem, GroupSync

    now = datetime.now(UTC).replace(microsecond=0)
    owners = -(-groups // GROUPS_EACH)
    moments = _times(connection, groups, now - timedelta(days=60), timedelta(seconds=5))
    if connection.vendor == "sqlite":
        connection.connection.execute("PRAGMA journal_mode=WAL")
    with transaction.atomic():
        get_user_model().objects.create_superuser("bench", password="bench-password")
        Writer(connection, ChatUser, ["id", "user_id", "nickname"], {
            "import_state": "imported", "created_at": now, "updated_at": now,
        }).write((n + 1, user_id(n), f"Owner {n}") for n in range(owners))
        Writer(connection, ContactGroup, ["id", "owner_id", "name", "state", "conversation_count", "created_at",
                                          "updated_at"]).write(
            (g + 1, g // GROUPS_EACH + 1, group_name(g), "synced", 1, moments[g], moments[g]) for g in range(groups))
        Writer(connection, GroupSync, ["group_id", "owner_id"]).write(
            (g + 1, g // GROUPS_EACH + 1) for g in range(groups))
        Writer(connection, ContactItem, ["id", "group_id", "type", "to_group_id"], {"created_at": now}).write(
            (g + 1, g + 1, protocol.TYPE_GROUP, group_id(g)) for g in range(groups))
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [ChatUser, ContactGroup, ContactItem]):
                cursor.execute(statement)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


# ----------------------------------------------------------------------------------------------------------------
# Measuring


def searches(count: int) -> list[tuple[str, str]]:
    """(name, text) of each search timed, chosen from the seeded groups."""
    middle = count // 2
    return [
        ("part of a name, rare (digits)", group_name(middle)[-6:-1]),
        ("part of a name, common (1 in 17), any case", "ORK"),
        ("part of a Chinese word (1 in 19)", "工作组"),
        ("part of a group conversation's id, no @", group_id(middle)[1:10]),
        ("a miss", "zqxj_nobody"),
        ("two Chinese characters (every name read)", "工作"),
        ("two digits (every name read)", "20"),
    ]


def first_page(queryset) -> tuple[int, list[int]]:
    """What the group list reads of a search: its count, up to a cap past the page (admin/paging.py), and the first
    page of them, most recently changed first."""
    from contactgroups.admin.paging import CappedCountPaginator

    ordered = queryset.order_by("-updated_at", "-id")
    return CappedCountPaginator(ordered, 100).count, list(ordered.values_list("pk", flat=True)[:100])


def naive(text: str):
    """The same rule as ``ContactGroup.objects.matching``, read with ``icontains`` (``istartswith`` and whole ids
    for a short text) and no search index: what ``search_fields`` would do."""
    from django.db.models import Q

    from contactgroups.models import ChatUser, ContactGroup, ContactItem

    text = text.strip()
    short = len(text) < 3
    if short:
        owners = ChatUser.objects.filter(Q(user_id__istartswith=text) | Q(nickname__istartswith=text))
        items = ContactItem.objects.filter(Q(to_account=text) | Q(to_group_id=text))
    else:
        owners = ChatUser.objects.filter(Q(user_id__icontains=text) | Q(nickname__icontains=text))
        items = ContactItem.objects.filter(Q(to_account=text) | Q(to_group_id__icontains=text))
    return ContactGroup.objects.filter(Q(name__icontains=text) | Q(owner__in=owners.values("pk"))
                                       | Q(pk__in=items.values("group_id")))


def time_search(get, text: str, runs: int, reference_runs: int) -> dict:
    from django.db import connection, transaction

    from contactgroups.models import ContactGroup

    found = first_page(ContactGroup.objects.matching(text))
    every = ContactGroup.objects.matching(text).count()
    times = timed(lambda: first_page(ContactGroup.objects.matching(text)), runs)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_indexscan = off")
                cursor.execute("SET LOCAL enable_bitmapscan = off")
        expected = first_page(naive(text))
        every_expected = naive(text).count()
        reference_times = timed(lambda: first_page(naive(text)), reference_runs)

    url = "/admin/contactgroups/contactgroup/?" + urllib.parse.urlencode({"q": text})
    response = get(url)
    problem = "" if (found, every) == (expected, every_expected) else "found other groups than the scan"
    if not problem and response.status_code != 200:
        problem = f"HTTP {response.status_code}"
    if not problem and _rows(response.text) != len(found[1]):
        problem = f"the page lists {_rows(response.text)} rows, the search found {len(found[1])}"
    page_times = timed(lambda: get(url), runs)
    return {"found": every, "median": statistics.median(times), "page": statistics.median(page_times),
            "page_p90": _p90(page_times), "reference": statistics.median(reference_times), "problem": problem}


class serving:
    """The project's WSGI application behind a loopback HTTP server in a thread, and a ``get(path)`` of a
    logged-in superuser's session."""

    def __enter__(self):
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        import requests
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.wsgi import get_wsgi_application
        from django.test import Client

        class Quiet(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        self.server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        client = Client()
        client.force_login(get_user_model().objects.get(username="bench"))
        session = requests.Session()
        session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
        base = f"http://127.0.0.1:{self.server.server_port}"
        return lambda path: session.get(base + path, timeout=120)

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()


if __name__ == "__main__":
    sys.exit(main())
