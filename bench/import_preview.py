"""Time the admin's CSV import preview of a 100,000-row file, here and (optionally) in another checkout.

    .venv/bin/python bench/import_preview.py [--rows 100000] [--runs 3] [--before PATH] [--before-runs 1]

Builds one CSV file inside the import's caps (see ``build_file``): 100,000 rows, most of them a group of
their own, about a seventh refused for an unknown type, a 21st group or an owner who is not a Chat user.
For this checkout, and for ``--before PATH`` (a checkout of an older commit, read only), it starts a process
that migrates a new SQLite database in a temporary folder, adds the owners as Chat users and a superuser, then
posts the file to the import page with Django's test client, logged in, ``--runs`` times, and reports the
median time from the POST to the whole page, the page's size and its number of queries. Nothing is saved by a
preview; Chat is never called. Exits non-zero when this checkout's median reaches 10 s.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from contactgroups.chat import protocol  # noqa: E402  (no Django: the limits only)
from tests.make_run import collected_static  # noqa: E402

LIMIT_SECONDS = 10.0
KNOWN_OWNERS = 4_400
UNKNOWN_OWNERS = 1_200
GROUPS_PER_UNKNOWN_OWNER = 10
BAD_TYPE_EVERY = 25
EXTRA_GROUP_EVERY = 50


def build_file(rows: int) -> tuple[bytes, int]:
    """The CSV text and how many owners it names that are Chat users (``owner_00000`` on).

    Each known owner gets Chat's 20 groups of one conversation each (every 25th group with an unknown type,
    so refused), every 50th owner a 21st group (refused: over the limit); then owners who are not Chat users
    (refused) fill the file up to ``rows``. Every group is its own plan entry, as a file of many small groups
    gives the preview the most to check.
    """
    lines = ["owner,group_name,type,target"]
    group = 0
    for owner in range(KNOWN_OWNERS):
        extra = 1 if owner % EXTRA_GROUP_EVERY == 0 else 0
        for name in range(protocol.GROUPS_PER_USER_MAX + extra):
            group += 1
            kind = 7 if group % BAD_TYPE_EVERY == 0 else 1
            lines.append(f"owner_{owner:05d},Group {name},{kind},peer_{owner:05d}_{name}")
    for owner in range(UNKNOWN_OWNERS):
        for name in range(GROUPS_PER_UNKNOWN_OWNER):
            lines.append(f"stranger_{owner:05d},Group {name},1,peer_{owner:05d}")
    lines = lines[: rows + 1]
    known = len({line.split(",")[0] for line in lines[1:] if line.startswith("owner_")})
    return ("\n".join(lines) + "\n").encode("utf-8"), known


def measure(root: Path, csv_path: Path, owners: int, runs: int) -> dict:
    """In this process (started by ``main`` with the checkout's settings): seed, then time the preview."""
    sys.path.remove(str(ROOT))
    sys.path.insert(0, str(root))
    for name in [name for name in sys.modules if name.split(".")[0] == "contactgroups"]:
        del sys.modules[name]  # the limits read above came from this checkout, maybe not from ``root``
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from contactgroups.models import ChatUser

    call_command("migrate", verbosity=0)
    ChatUser.objects.bulk_create([ChatUser(user_id=f"owner_{n:05d}") for n in range(owners)], batch_size=2000)
    admin = get_user_model().objects.create_superuser("bench", password="bench-password-not-secret")
    client = Client()
    client.force_login(admin)
    url = reverse("admin:contactgroups_contactgroup_import")
    data = csv_path.read_bytes()
    times, size, queries = [], 0, []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    for _ in range(runs):
        upload = SimpleUploadedFile("groups.csv", data, content_type="text/csv")
        queries.clear()
        with connection.execute_wrapper(count):
            start = time.perf_counter()
            response = client.post(url, {"file": upload})
            content = response.content
            times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
        size = len(content)
    return {"median": statistics.median(times), "times": times, "bytes": size, "queries": len(queries)}


def run_checkout(root: Path, csv_path: Path, owners: int, runs: int, folder: Path) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "imadmin.settings",
        "IMADMIN_ENV_FILE": "",
        "STATIC_ROOT": collected_static(),  # DEBUG off serves the hashed names collectstatic writes
        "SECRET_KEY": "bench-" + "x" * 50,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "CHAT_SDKAPPID": "1400000000",
        "CHAT_SECRET_KEY": "bench-chat-secret",
        "CHAT_API_BASE_URL": "http://127.0.0.1:9",
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", str(root), str(csv_path), str(owners),
         str(runs)], cwd=root, env=env, capture_output=True, text=True,
    )
    if result.returncode:
        raise SystemExit(f"The measurement in {root} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        root, csv_path, owners, runs = sys.argv[2:6]
        print(json.dumps(measure(Path(root), Path(csv_path), int(owners), int(runs))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", type=Path, help="Another checkout to measure the same way, read only.")
    parser.add_argument("--before-runs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imadmin-import-bench-") as folder:
        data, owners = build_file(args.rows)
        csv_path = Path(folder) / "groups.csv"
        csv_path.write_bytes(data)
        print(f"{args.rows:,} rows, {len(data) / 1e6:.1f} MB, {owners:,} owners, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}")
        checkouts = [("this checkout", ROOT, args.runs)]
        if args.before:
            checkouts.append((f"before ({args.before})", args.before.resolve(), args.before_runs))
        results = {}
        for label, root, runs in checkouts:
            folder_of_run = Path(folder) / str(len(results))
            folder_of_run.mkdir()
            results[label] = figures = run_checkout(root, csv_path, owners, runs, folder_of_run)
            print(f"{label}: median {figures['median']:.2f} s over {runs} run(s) "
                  f"({', '.join(f'{t:.2f}' for t in figures['times'])}), page {figures['bytes'] / 1e6:.2f} MB, "
                  f"{figures['queries']:,} queries")
    median = results["this checkout"]["median"]
    if median >= LIMIT_SECONDS:
        print(f"The preview took {median:.1f} s; the limit is {LIMIT_SECONDS:.0f} s.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
