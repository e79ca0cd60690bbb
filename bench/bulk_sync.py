"""Bulk sync benchmark: ``.venv/bin/python bench/bulk_sync.py [--database-url postgres://...] [--reference DIR]``.

Chat allows 200 calls a second per endpoint; that is the physical limit of a bulk sync. This benchmark measures
how close ``manage.py sync_contact_groups`` with its default options comes to it, with real parts only, beside a
naive script doing the same creates:

1. It starts the Chat sandbox as the real management command (``manage.py chat_sandbox --latency-ms 50
   --rate-limit 200``: every answer 50 ms late, 60007 past 200 calls a second per endpoint), a fresh database (a
   temporary SQLite file, or a new database on the PostgreSQL server given by ``--database-url``, dropped at the
   end), imports the owners and their peers into the sandbox, and seeds new groups of 5 conversations
   (bulk_create, queued).
2. It runs the real command in a subprocess (this script's ``--child command``, which calls it with
   ``call_command`` and counts every database statement of the command's threads, and the CPU they used, start-up
   left out), without a broker (the tasks on the command's in-process executor): ``--concurrency 1`` on 200 of the
   groups, then with its default options on the others (``--groups``, 3,000 by default). It prints the groups a
   second (the command's own figure), the CPU and the statements a group, and the 60007 answers
   (SyncAttempt.error_code and the sandbox's call log). ``--reference DIR`` also runs the default command of
   another checkout (a worktree of an older commit: same database schema) on as many other groups, in the same
   run, against the same sandbox.
3. The naive peer: 16 threads posting ``create_contact_group`` with plain ``requests`` to the same sandbox, as
   many groups, no rate limit, no database (``--child peer``). It prints the creates Chat accepted a second, the
   share it throttled (60007) and the CPU a call, and the ratio of the command's rate to the peer's.
4. It measures the command's peak memory (the maximum resident set size of the largest of its processes, from
   ``wait4``)
   syncing 50,000 groups for real: a fresh database and a sandbox without latency or rate limit, ``--rate
   100000`` so the limiter is not what bounds the run. Every one of the 50,000 groups is created in the sandbox.

5. ``make run``'s shape (``--workers``, 1 by default): Redis, and that many ``celery -A imadmin worker`` with no
   pool or concurrency flags (the project's Celery settings size them), the same default command handing the
   same number of new groups to them, their Chat calls counted together through Redis. It prints the groups a
   second and the CPU a group of the workers, of the command and of the sandbox.

It exits non-zero if the run with the broker (without one, when ``--workers 0``) is under 180 groups a second
(90% of the limit), if Chat answered 60007 to the command at all, if any group did not end synced, or if the peak
memory is 300 MB or more.
``--skip-memory`` leaves out step 4 (a few minutes).
"""

import argparse
import json
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
# A child measuring another checkout (--reference) imports that checkout's project.
sys.path.insert(0, os.environ.get("BENCH_CODE_ROOT") or str(ROOT))

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
    from contactgroups.models import ChatUser, ContactGroup, ContactItem, GroupSync

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
        GroupSync.objects.bulk_create(GroupSync.for_groups(groups), batch_size=1000)
        ContactItem.objects.bulk_create(
            [
                ContactItem(group=group, type=protocol.TYPE_C2C,
                            to_account=PEERS[(group.pk * 7 + offset) % len(PEERS)])
                for group in groups
                for offset in range(CONVERSATIONS_PER_GROUP)
            ],
            batch_size=2000,
        )


def run_command(env: dict, arguments: list[str], code_root: Path = ROOT) -> dict:
    """Run sync_contact_groups (the checkout at ``code_root``) in a child process; what it printed and cost.

    The child (``--child command``) calls the command in-process and reports the statements and CPU of every
    process it forked; ``wait4`` gives the peak memory and the wall time includes Python's start-up.
    """
    with tempfile.TemporaryDirectory(prefix="bulk-sync-counts-") as counts, \
            tempfile.TemporaryFile("w+") as output:
        child_env = {**env, "BENCH_CODE_ROOT": str(code_root), "BENCH_COUNTS_DIR": counts}
        command = [sys.executable, str(Path(__file__).resolve()), "--child", "command", "--actor", ACTOR, *arguments]
        began = time.monotonic()
        process = subprocess.Popen(command, cwd=code_root, env=child_env, stdout=output, stderr=subprocess.STDOUT,
                                   text=True)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - began
        output.seek(0)
        text = output.read()
        statements = sum(int(path.read_text() or 0) for path in Path(counts).glob("statements-*"))
        cpu_path = Path(counts) / "cpu"
        cpu = json.loads(cpu_path.read_text())["cpu"] if cpu_path.exists() else usage.ru_utime + usage.ru_stime
    # ru_maxrss is in kilobytes on Linux.
    return {"output": text, "status": os.waitstatus_to_exitcode(status), "wall": wall,
            "peak_mb": usage.ru_maxrss // 1024, "cpu": cpu, "statements": statements}


def command_rate(output: str) -> float:
    found = re.search(r"\(([\d.]+) groups/s\)", output)
    if not found:
        raise SystemExit(f"the command printed no rate:\n{output[-3000:]}")
    return float(found.group(1))


def sandbox_throttled(sandbox_url: str) -> int:
    """60007 answers in the sandbox's call log (it keeps the last 10,000 calls)."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{sandbox_url}/__sandbox__/calls", timeout=30) as response:
        calls = json.loads(response.read())["calls"]
    return sum(1 for call in calls if call.get("error_code") == 60007)


def in_child(env: dict, *arguments: str) -> dict:
    """Run one of this script's Django steps (seed, report) in a child process with ``env``; its JSON answer."""
    result = subprocess.run([sys.executable, __file__, "--child", *arguments], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{arguments[0]} failed:\n{result.stdout}{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def count_statements(directory: str) -> None:
    """Count every database statement of this process, and of each process it forks, into ``directory``.

    One file a process (``statements-PID``), written when it ends; each connection a thread opens gets the
    counting wrapper as it is created.
    """
    import atexit
    import itertools
    import multiprocessing.util

    from django.db import connections
    from django.db.backends.signals import connection_created

    class State:
        count = itertools.count()

    state = State()

    def counting(execute, sql, params, many, context):
        next(state.count)
        return execute(sql, params, many, context)

    def install(connection):
        if counting not in connection.execute_wrappers:
            connection.execute_wrappers.append(counting)

    connection_created.connect(lambda sender, connection, **kwargs: install(connection), weak=False)
    for connection in connections.all():
        install(connection)

    def write() -> None:
        made = next(state.count)
        Path(directory, f"statements-{os.getpid()}").write_text(str(made))

    def forked(_state) -> None:
        # A forked worker counts from zero and writes its own file as multiprocessing ends it.
        state.count = itertools.count()
        multiprocessing.util.Finalize(None, write, exitpriority=100)

    multiprocessing.util.register_after_fork(state, forked)
    atexit.register(write)


def naive_peer(owners: int, groups_per_owner: int, threads: int) -> dict:
    """Create groups with plain requests from ``threads`` threads, as a script written without the project would."""
    import threading

    import requests

    from contactgroups.chat.usersig import generate_usersig

    base = os.environ["CHAT_API_BASE_URL"]
    usersig = generate_usersig(SDKAPPID, SECRET_KEY, ADMIN, 86400)
    query = f"sdkappid={SDKAPPID}&identifier={ADMIN}&usersig={usersig}&contenttype=json"
    names = [f"naive_owner_{number:05d}" for number in range(owners)]
    with requests.Session() as session:
        for start in range(0, len(names), 100):
            session.post(f"{base}/v4/im_open_login_svc/multiaccount_import?{query}&random=1",
                         json={"Accounts": names[start:start + 100]}, timeout=30).raise_for_status()
    jobs = [(owner, number) for owner in names for number in range(groups_per_owner)]
    lock = threading.Lock()
    answers = {"accepted": 0, "throttled": 0, "other": 0}

    def post(session, owner, number):
        body = {"From_Account": owner, "GroupContactItem": [{"GroupName": f"naive group {number:02d}", "ContactItem": [
            {"Type": 1, "To_Account": PEERS[(number * 7 + offset) % len(PEERS)]}
            for offset in range(CONVERSATIONS_PER_GROUP)]}]}
        url = f"{base}/v4/recentcontact/create_contact_group?{query}&random={number}"
        return session.post(url, data=json.dumps(body), timeout=30).json().get("ErrorCode")

    def run():
        with requests.Session() as session:
            while True:
                with lock:
                    if not jobs:
                        return
                    owner, number = jobs.pop()
                while True:
                    code = post(session, owner, number)
                    with lock:
                        answers["accepted" if code == 0 else "throttled" if code == 60007 else "other"] += 1
                    if code != 60007:
                        break

    before = os.times()
    began = time.monotonic()
    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.monotonic() - began
    after = os.times()
    return {**answers, "seconds": seconds, "cpu": (after.user - before.user) + (after.system - before.system)}


def child(arguments: list[str]) -> int:
    """The Django side of the benchmark, in a process configured by the environment ``in_child`` gives it."""
    if arguments[0] == "peer":
        print(json.dumps(naive_peer(int(arguments[1]), int(arguments[2]), int(arguments[3]))))
        return 0
    import django

    django.setup()
    if arguments[0] == "command":
        from django.core.management import CommandError, call_command

        count_statements(os.environ["BENCH_COUNTS_DIR"])
        before = os.times()
        status = 0
        try:
            call_command("sync_contact_groups", *arguments[1:])
        except CommandError as exc:
            print(exc, file=sys.stderr)
            status = exc.returncode
        after = os.times()
        cpu = sum(after[:4]) - sum(before[:4])  # user, system, and those of the workers it waited for
        Path(os.environ["BENCH_COUNTS_DIR"], "cpu").write_text(json.dumps({"cpu": cpu}))
        return status
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
    return 0


def throughput(server_url: str | None, directory: Path, groups: int, serial_groups: int, reference: Path | None,
               peer_threads: int, verbose: bool, rate_required: bool = True) -> bool:
    database = Database(server_url, directory, "rate")
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    env = base_env(database.url, sandbox_url)
    sandbox = start_sandbox(env, port, latency_ms=50, rate_limit=200)
    groups_per_owner = 10
    try:
        migrate(env)
        began = time.monotonic()
        owners = in_child(env, "seed", "bench_owner", str((serial_groups + groups) // groups_per_owner),
                          str(groups_per_owner))["owners"]
        if reference:
            reference_owners = in_child(env, "seed", "ref_owner", str(groups // groups_per_owner),
                                        str(groups_per_owner))["owners"]
        print(f"seeded {serial_groups + groups * (2 if reference else 1)} queued groups of {CONVERSATIONS_PER_GROUP} "
              f"conversations in {time.monotonic() - began:.1f} s ({'PostgreSQL' if server_url else 'SQLite'}; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})", flush=True)

        serial_owners = owners[: serial_groups // groups_per_owner]
        if serial_owners:  # --serial-groups 0 leaves the part out
            run = run_command(env, ["--pending", "--concurrency", "1", "--owner", *serial_owners])
            if verbose:
                print(run["output"])
            print(f"this checkout, --concurrency 1: {serial_groups:5d} groups, "
                  f"{command_rate(run['output']):6.1f} groups/s, {1000 * run['cpu'] / serial_groups:.1f} ms CPU and "
                  f"{run['statements'] / serial_groups:.2f} statements a group, exit {run['status']}", flush=True)

        def default_run(label: str, run_owners: list[str], code_root: Path) -> tuple[dict, float]:
            sandbox_before = cpu_seconds(sandbox.pid)
            run = run_command(env, ["--pending", "--owner", *run_owners], code_root)
            sandbox_cpu = cpu_seconds(sandbox.pid) - sandbox_before
            if verbose:
                print(run["output"])
            rate = command_rate(run["output"])
            print(f"{label}, default options: {groups:5d} groups, {rate:6.1f} groups/s, "
                  f"{1000 * run['cpu'] / groups:.1f} ms CPU and {run['statements'] / groups:.2f} statements a group "
                  f"(wall {run['wall']:.1f} s with start-up, the sandbox's CPU {sandbox_cpu:.1f} s), "
                  f"exit {run['status']}", flush=True)
            return run, rate

        run, rate = default_run("this checkout", owners[len(serial_owners):], ROOT)
        report = in_child(env, "report")
        audited, logged = report["throttled"], sandbox_throttled(sandbox_url)
        left = report["unsynced"]
        reference_rate = None
        if reference:
            _reference_run, reference_rate = default_run(f"reference {reference}", reference_owners, reference)
            left = in_child(env, "report")["unsynced"]

        peer = json.loads(subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", "peer", str(groups // groups_per_owner),
             str(groups_per_owner), str(peer_threads)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        calls = peer["accepted"] + peer["throttled"] + peer["other"]
        peer_rate = peer["accepted"] / peer["seconds"]
        print(f"naive peer, {peer_threads} threads of plain requests: {peer['accepted']} creates accepted, "
              f"{peer_rate:6.1f} a second, {peer['throttled']} of {calls} calls throttled "
              f"({100 * peer['throttled'] / max(calls, 1):.0f}%), {1000 * peer['cpu'] / max(calls, 1):.1f} ms CPU a "
              f"call", flush=True)
        print(f"this checkout / naive peer: {rate / peer_rate:.2f}"
              + (f"; this checkout / reference: {rate / reference_rate:.2f}" if reference_rate else ""), flush=True)
        print(f"60007 answers to the command: {audited} in SyncAttempt, {logged} in the sandbox's call log; "
              f"groups not synced: {left}", flush=True)
        passed = ((rate >= TARGET_GROUPS_PER_SECOND or not rate_required) and not audited and not left
                  and run["status"] == 0)
        target = f"target {TARGET_GROUPS_PER_SECOND} groups/s, " if rate_required else ""
        print(f"throughput without a broker: {'ok' if passed else 'FAIL'} ({target}no 60007)", flush=True)
        return passed
    finally:
        stop(sandbox)
        database.drop()


def celery_throughput(server_url: str | None, directory: Path, groups: int, workers: int, verbose: bool) -> bool:
    """The same default command with a broker: it hands the groups to ``workers`` Celery workers of this checkout
    (``celery -A imadmin worker`` with no pool or concurrency flags), whose Chat calls share one rate limit through
    Redis."""
    from tests.services import CeleryWorker, RedisServer

    database = Database(server_url, directory, "celery")
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    redis = RedisServer(directory)
    env = {**base_env(database.url, sandbox_url), "CELERY_BROKER_URL": redis.url,
           "CHAT_RATE_LIMIT_STORAGE": redis.url}
    sandbox = start_sandbox(env, port, latency_ms=50, rate_limit=200)
    started = []
    groups_per_owner = 10
    try:
        migrate(env)
        owners = in_child(env, "seed", "celery_owner", str(groups // groups_per_owner), str(groups_per_owner))["owners"]
        started = [CeleryWorker(directory, env, name=f"bench{number}") for number in range(workers)]
        before = sum(cpu_seconds(worker.process.pid) for worker in started)
        sandbox_before = cpu_seconds(sandbox.pid)
        run = run_command(env, ["--pending", "--owner", *owners])
        worker_cpu = sum(cpu_seconds(worker.process.pid) for worker in started) - before
        sandbox_cpu = cpu_seconds(sandbox.pid) - sandbox_before
        if verbose:
            print(run["output"])
        rate = command_rate(run["output"])
        report = in_child(env, "report")
        print(f"this checkout, default options with a broker, {workers} Celery workers: {groups:5d} groups, "
              f"{rate:6.1f} groups/s, {1000 * (worker_cpu + run['cpu']) / groups:.1f} ms CPU a group (the workers' "
              f"{1000 * worker_cpu / groups:.1f} and the command's {1000 * run['cpu'] / groups:.1f}; the sandbox's "
              f"{1000 * sandbox_cpu / groups:.1f}), 60007 answers: {report['throttled']}, "
              f"groups not synced: {report['unsynced']}, exit {run['status']}", flush=True)
        passed = (rate >= TARGET_GROUPS_PER_SECOND and not report["throttled"] and not report["unsynced"]
                  and run["status"] == 0)
        print(f"throughput with {workers} workers: {'ok' if passed else 'FAIL'} (target "
              f"{TARGET_GROUPS_PER_SECOND} groups/s, no 60007)", flush=True)
        return passed
    finally:
        for worker in started:
            worker.stop()
        stop(sandbox)
        redis.stop()
        database.drop()


def memory(server_url: str | None, directory: Path, groups: int, verbose: bool) -> bool:
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
        run = run_command(env, ["--pending", "--rate", "100000"])
        output, status, wall, peak = run["output"], run["status"], run["wall"], run["peak_mb"]
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
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None,
                        help="A PostgreSQL server URL (its database part is replaced by a fresh one per part); "
                             "default: temporary SQLite files.")
    parser.add_argument("--groups", type=int, default=3000,
                        help="Groups of the default run (and of the reference's, and of the naive peer).")
    parser.add_argument("--serial-groups", type=int, default=200,
                        help="Groups synced with --concurrency 1 first (a multiple of 10; 0 leaves that part out).")
    parser.add_argument("--reference", type=Path, default=None,
                        help="Another checkout whose default command is measured in the same run (same schema).")
    parser.add_argument("--peer-threads", type=int, default=16, help="Threads of the naive peer (default 16).")
    parser.add_argument("--workers", type=int, default=1,
                        help="Also hand as many groups to this many default Celery workers through a Redis broker "
                             "(make run's shape: 1); 0 leaves it out.")
    parser.add_argument("--memory-groups", type=int, default=50_000, help="Groups of the memory part.")
    parser.add_argument("--skip-memory", action="store_true", help="Leave out the memory part.")
    parser.add_argument("--skip-throughput", action="store_true", help="Leave out the throughput part.")
    parser.add_argument("--verbose", action="store_true", help="Print the command's own output too.")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bulk-sync-bench-") as directory:
        passed = options.skip_throughput or throughput(
            options.database_url, Path(directory), options.groups, options.serial_groups, options.reference,
            options.peer_threads, options.verbose, rate_required=not options.workers)
        if options.workers:
            passed = celery_throughput(options.database_url, Path(directory), options.groups, options.workers,
                                       options.verbose) and passed
        if not options.skip_memory:
            passed = memory(options.database_url, Path(directory), options.memory_groups, options.verbose) and passed
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
