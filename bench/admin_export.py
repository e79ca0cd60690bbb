"""Time the admin's export of conversation groups, CSV and XLSX, and show its memory does not grow with the groups.

    .venv/bin/python bench/admin_export.py [--groups 10000 100000] [--conversations 3]

For each size, a process migrates a new SQLite database in a temporary folder, adds the groups (of 500 owners,
``--conversations`` one-to-one conversations each) and a superuser, then downloads ``export/csv/`` and
``export/xlsx/`` with Django's test client, logged in, reading the streamed body piece by piece as a browser
would, and reports the time, the file's size, and the peak of Python's allocations during the download
(tracemalloc, in a second download, as tracing slows it). The reference, in the same process: the command
``export_contact_groups --output`` of the same groups. Exits non-zero when the peak at the largest size is more
than twice the peak at the smallest (memory growing with the export).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWNERS = 500


def measure(groups: int, conversations: int, folder: Path) -> dict:
    """In this process (started by ``main`` with the project's settings): seed, then export."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from contactgroups.models import ChatUser, ContactGroup, ContactItem, GroupSync

    call_command("migrate", verbosity=0)
    owners = ChatUser.objects.bulk_create([ChatUser(user_id=f"owner_{n:04d}") for n in range(OWNERS)])
    ContactGroup.objects.bulk_create(
        [ContactGroup(owner=owners[n % OWNERS], name=f"Group {n}") for n in range(groups)], batch_size=2000)
    GroupSync.objects.bulk_create(GroupSync.for_groups(ContactGroup.objects.only("pk", "owner_id")), batch_size=2000)
    pks = list(ContactGroup.objects.values_list("pk", flat=True))
    ContactItem.objects.bulk_create(
        [ContactItem(group_id=pk, type=1, to_account=f"peer_{pk}_{c}") for pk in pks for c in range(conversations)],
        batch_size=5000)
    admin = get_user_model().objects.create_superuser("bench", password="bench-password-not-secret")
    client = Client()
    client.force_login(admin)
    figures = {}
    for file_format in ("csv", "xlsx"):
        url = reverse("admin:contactgroups_contactgroup_export", args=[file_format])
        start = time.perf_counter()
        size = sum(len(piece) for piece in client.get(url).streaming_content)
        seconds = time.perf_counter() - start
        tracemalloc.start()
        for _piece in client.get(url).streaming_content:
            pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        figures[file_format] = {"seconds": seconds, "bytes": size, "peak": peak}
    start = time.perf_counter()
    call_command("export_contact_groups", "--actor", "bench", "--output", str(folder / "command.csv"),
                 stderr=open(os.devnull, "w"))
    figures["command"] = {"seconds": time.perf_counter() - start, "bytes": (folder / "command.csv").stat().st_size}
    return figures


def run(groups: int, conversations: int, folder: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.make_run import collected_static

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
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", str(groups),
                             str(conversations), str(folder)], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"The measurement of {groups} groups failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--conversations", type=int, default=3)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    peaks = {}
    for groups in args.groups:
        with tempfile.TemporaryDirectory(prefix="imadmin-export-bench-") as folder:
            figures = run(groups, args.conversations, Path(folder))
        rows = groups * args.conversations
        command = figures["command"]
        print(f"{groups:,} groups, {rows:,} rows: command (reference) {command['seconds']:.2f} s, "
              f"{command['bytes'] / 1e6:.1f} MB")
        for file_format in ("csv", "xlsx"):
            got = figures[file_format]
            print(f"  admin {file_format}: {got['seconds']:.2f} s, {got['bytes'] / 1e6:.1f} MB, "
                  f"peak Python memory {got['peak'] / 1e6:.1f} MB")
            peaks.setdefault(file_format, []).append(got["peak"])
    grew = [name for name, values in peaks.items() if max(values) > 2 * min(values)]
    if grew:
        print(f"Memory grew with the export: {', '.join(grew)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
