"""Bulk sync benchmark: ``.venv/bin/python bench/bulk_sync.py [--database-url postgres://...]``.

Chat allows 200 calls a second per endpoint; that is the physical limit of a bulk sync. This benchmark measures
how close ``manage.py sync_contact_groups --pending`` comes to it, with real parts only:

1. It starts the Chat sandbox as the real management command (``manage.py chat_sandbox --latency-ms 50
   --rate-limit 200``: every answer 50 ms late, 60007 past 200 calls a second per endpoint), a fresh database (a
   temporary SQLite file, or a new database on the PostgreSQL server given by ``--database-url``, dropped at the
   end), imports the owners and their peers into the sandbox, and seeds 2,000 new groups of 5 conversations
   (bulk_create, queued).
2. It runs the real command in a subprocess, ``--concurrency 1`` on 200 of the groups (one owner subset), then
   ``--concurrency 16`` on the other 1,800, and prints the groups a second of each (the command's own figure,
   which leaves out Python's start-up) and the 60007 answers (SyncAttempt.error_code and the sandbox's call log).
3. It measures the command's peak memory (the maximum resident set size of its process, from ``wait4``) syncing
   50,000 groups for real: a fresh database and a sandbox without latency or rate limit, ``--rate 100000`` so the
   limiter is not what bounds the run, 16 threads. Every one of the 50,000 groups is created in the sandbox.

It exits non-zero if the concurrent run is under 180 groups a second (90% of the limit), if Chat answered 60007
at all, if any group did not end synced, or if the peak memory is 300 MB or more. ``--skip-memory`` leaves out
step 3 (a few minutes).
"""

import argparse
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SDKAPPID = 1400000000
SECRET_KEY = "bench-chat-secret-key-0123456789abcdef"
ADMIN = "administrator"
ACTOR = "bench-support"
PEERS = [f"bench_peer_{number:03d}" for number in range(100)]
CONVERSATIONS_PER_GROUP = 5
TARGET_GROUPS_PER_SECOND = 180
PEAK_MEMORY_LIMIT_MB = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def base_env(database_url: str, sandbox_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "imadmin.settings",
        "IMADMIN_ENV_FILE": "",
        "SECRET_KEY": "bench-only-django-secret-key",
        "DATABASE_URL": database_url,
        "CHAT_SDKAPPID": str(SDKAPPID),
        "CHAT_SECRET_KEY": SECRET_KEY,
        "CHAT_ADMIN_IDENTIFIER": ADMIN,
        "CHAT_API_BASE_URL": sandbox_url,
        "CELERY_BROKER_URL": "",
        "CHAT_RATE_LIMIT_STORAGE": "memory://",
        "LOG_LEVEL": "WARNING",
    }


def start_sandbox(env: dict, port: int, latency_ms: int, rate_limit: int) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "chat_sandbox", "--port", str(port), "--memory",
               "--latency-ms", str(latency_ms), "--rate-limit", str(rate_limit)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline() if ready else ""
    if "listening on" not in line:
        process.kill()
        raise SystemExit(f"the sandbox did not start: {line!r}")
    return process


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a running process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Database:
    """A fresh database for one part of the benchmark: a SQLite file, or a new PostgreSQL database."""

    def __init__(self, server_url: str | None, directory: Path, label: str):
        self.server_url = server_url
        if server_url:
            parts = urllib.parse.urlsplit(server_url)
            self.name = f"imadmin_bench_{label}_{os.getpid()}"
            self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.name}"))
            self._admin("CREATE DATABASE {}")
        else:
            self.name = None
            self.url = f"sqlite:///{directory / f'bench-{label}.sqlite3'}"

    def _admin(self, statement: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(sql.SQL(statement).format(sql.Identifier(self.name)))

    def drop(self) -> None:
        if self.server_url:
            self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")


def migrate(env: dict) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def seed(owners: list[str], groups_per_owner: int) -> None:
    """Import owners and peers into the sandbox, then bulk-create queued groups of five conversations each."""
    from django.contrib.auth import get_user_model

    from contactgroups.chat import protocol
    from contactgroups.conf import chat_client
    from contactgroups.models import ChatUser, ContactGroup, ContactItem

    with chat_client(rate_limit=100_000) as client:
        for batch in protocol.chunks(owners + PEERS, protocol.ACCOUNTS_PER_IMPORT_MAX):
            refused = client.multiaccount_import(batch)
            if refused:
                raise SystemExit(f"the sandbox refused to import {refused}")
    User = get_user_model()
    if not User.objects.filter(username=ACTOR).exists():
        User.objects.create_superuser(ACTOR, password=None)
    ChatUser.objects.bulk_create(
        [ChatUser(user_id=user_id, import_state=ChatUser.ImportState.IMPORTED) for user_id in owners + PEERS],
        ignore_conflicts=True,
    )
    by_user_id = dict(ChatUser.objects.filter(user_id__in=owners).values_list("user_id", "pk"))
    for owner_batch in protocol.chunks(owners, 200):
        groups = ContactGroup.objects.bulk_create(
            [
                ContactGroup(owner_id=by_user_id[owner], name=f"bench group {number:02d}",
                             state=ContactGroup.State.QUEUED)
                for owner in owner_batch
                for number in range(groups_per_owner)
            ],
            batch_size=1000,
        )
        if any(group.pk is None for group in groups):
            # Backends that do not return ids from bulk_create: read them back.
            groups = list(ContactGroup.objects.filter(owner__user_id__in=owner_batch).order_by("pk"))
        ContactItem.objects.bulk_create(
            [
                ContactItem(group=group, type=protocol.TYPE_C2C,
                            to_account=PEERS[(group.pk * 7 + offset) % len(PEERS)])
                for group in groups
                for offset in range(CONVERSATIONS_PER_GROUP)
            ],
            batch_size=2000,
        )


def run_command(env: dict, arguments: list[str]) -> tuple[str, int, float, int, float]:
    """Run sync_contact_groups in a subprocess: its output, exit status, wall time, peak RSS (MB) and CPU time."""
    command = [sys.executable, "manage.py", "sync_contact_groups", "--actor", ACTOR, *arguments]
    began = time.monotonic()
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - began
        output.seek(0)
        text = output.read()
    # ru_maxrss is in kilobytes on Linux.
    return text, process.returncode, wall, usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime


def command_rate(output: str) -> float:
    found = re.search(r"\(([\d.]+) groups/s\)", output)
    if not found:
        raise SystemExit(f"the command printed no rate:\n{output[-3000:]}")
    return float(found.group(1))


def sandbox_throttled(sandbox_url: str) -> int:
    """60007 answers in the sandbox's call log (it keeps the last 10,000 calls)."""
    import json
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{sandbox_url}/__sandbox__/calls", timeout=30) as response:
        calls = json.loads(response.read())["calls"]
    return sum(1 for call in calls if call.get("error_code") == 60007)


def in_child(env: dict, *arguments: str) -> dict:
    """Run one of this script's Django steps (seed, report) in a child process with ``env``; its JSON answer."""
    import json

    result = subprocess.run([sys.executable, __file__, "--child", *arguments], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{arguments[0]} failed:\n{result.stdout}{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def child(arguments: list[str]) -> None:
    """The Django side of the benchmark, in a process configured by the environment ``in_child`` gives it."""
    import json

    import django

    django.setup()
    if arguments[0] == "seed":
        prefix, owner_count, groups_per_owner = arguments[1], int(arguments[2]), int(arguments[3])
        owners = [f"{prefix}_{number:05d}" for number in range(owner_count)]
        seed(owners, groups_per_owner)
        print(json.dumps({"owners": owners}))
    elif arguments[0] == "report":
        from contactgroups.chat import errors
        from contactgroups.models import ContactGroup, SyncAttempt

        print(json.dumps({
            "throttled": SyncAttempt.objects.filter(error_code__in=errors.THROTTLING_CODES).count(),
            "unsynced": ContactGroup.objects.exclude(state=ContactGroup.State.SYNCED).count(),
            "attempts": SyncAttempt.objects.count(),
        }))


def throughput(server_url: str | None, directory: Path, groups: int, serial_groups: int, concurrency: int,
               verbose: bool) -> bool:
    database = Database(server_url, directory, "rate")
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    env = base_env(database.url, sandbox_url)
    sandbox = start_sandbox(env, port, latency_ms=50, rate_limit=200)
    try:
        migrate(env)
        groups_per_owner = 10
        began = time.monotonic()
        owners = in_child(env, "seed", "bench_owner", str(groups // groups_per_owner), str(groups_per_owner))["owners"]
        print(f"seeded {groups} queued groups of {CONVERSATIONS_PER_GROUP} conversations for {len(owners)} owners "
              f"in {time.monotonic() - began:.1f} s ({'PostgreSQL' if server_url else 'SQLite'})", flush=True)

        serial_owners = owners[: serial_groups // groups_per_owner]
        output, status, wall, _rss, cpu = run_command(
            env, ["--pending", "--concurrency", "1", "--owner", *serial_owners])
        if verbose:
            print(output)
        serial_rate = command_rate(output)
        print(f"concurrency  1: {serial_groups:5d} groups, {serial_rate:6.1f} groups/s "
              f"(wall {wall:.1f} s with start-up, CPU {cpu:.1f} s), exit {status}", flush=True)

        sandbox_before = cpu_seconds(sandbox.pid)
        output, status, wall, _rss, cpu = run_command(env, ["--pending", "--concurrency", str(concurrency)])
        sandbox_cpu = cpu_seconds(sandbox.pid) - sandbox_before
        if verbose:
            print(output)
        rate = command_rate(output)
        report = in_child(env, "report")
        audited, left, logged = report["throttled"], report["unsynced"], sandbox_throttled(sandbox_url)
        print(f"concurrency {concurrency:2d}: {groups - serial_groups:5d} groups, {rate:6.1f} groups/s "
              f"(wall {wall:.1f} s with start-up, CPU {cpu:.1f} s; the sandbox's CPU {sandbox_cpu:.1f} s), "
              f"exit {status}", flush=True)
        print(f"60007 answers: {audited} in SyncAttempt, {logged} in the sandbox's call log; "
              f"groups not synced: {left}", flush=True)
        passed = rate >= TARGET_GROUPS_PER_SECOND and not audited and not logged and not left and status == 0
        print(f"throughput: {'ok' if passed else 'FAIL'} (target {TARGET_GROUPS_PER_SECOND} groups/s, "
              f"no 60007)", flush=True)
        return passed
    finally:
        stop(sandbox)
        database.drop()


def memory(server_url: str | None, directory: Path, groups: int, concurrency: int, verbose: bool) -> bool:
    database = Database(server_url, directory, "memory")
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    env = base_env(database.url, sandbox_url)
    sandbox = start_sandbox(env, port, latency_ms=0, rate_limit=0)
    try:
        migrate(env)
        groups_per_owner = 20
        began = time.monotonic()
        in_child(env, "seed", "mem_owner", str(groups // groups_per_owner), str(groups_per_owner))
        print(f"seeded {groups} queued groups in {time.monotonic() - began:.1f} s", flush=True)
        output, status, wall, peak, _cpu = run_command(
            env, ["--pending", "--concurrency", str(concurrency), "--rate", "100000"])
        if verbose:
            print(output)
        rate = command_rate(output)
        left = in_child(env, "report")["unsynced"]
        passed = peak < PEAK_MEMORY_LIMIT_MB and status == 0 and not left
        print(f"memory: {groups} groups synced against the sandbox (no latency, no rate limit) at {rate:.1f} groups/s "
              f"in {wall:.0f} s; peak RSS of the command {peak} MB (limit {PEAK_MEMORY_LIMIT_MB}); "
              f"not synced {left}: {'ok' if passed else 'FAIL'}", flush=True)
        return passed
    finally:
        stop(sandbox)
        database.drop()


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None,
                        help="A PostgreSQL server URL (its database part is replaced by a fresh one per part); "
                             "default: temporary SQLite files.")
    parser.add_argument("--groups", type=int, default=2000, help="Groups seeded for the throughput part.")
    parser.add_argument("--serial-groups", type=int, default=200, help="Of those, synced with --concurrency 1.")
    parser.add_argument("--concurrency", type=int, default=16, help="Threads of the concurrent run (default 16).")
    parser.add_argument("--memory-groups", type=int, default=50_000, help="Groups of the memory part.")
    parser.add_argument("--skip-memory", action="store_true", help="Leave out the memory part.")
    parser.add_argument("--skip-throughput", action="store_true", help="Leave out the throughput part.")
    parser.add_argument("--verbose", action="store_true", help="Print the command's own output too.")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bulk-sync-bench-") as directory:
        passed = options.skip_throughput or throughput(
            options.database_url, Path(directory), options.groups, options.serial_groups, options.concurrency,
            options.verbose)
        if not options.skip_memory:
            passed = memory(options.database_url, Path(directory), options.memory_groups, options.concurrency,
                            options.verbose) and passed
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
