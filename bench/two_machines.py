"""Two machines syncing in bulk: ``.venv/bin/python bench/two_machines.py [--groups 3000] [--database-url URL]``.

Two Celery worker groups stand for two machines: each ``celery -A imadmin worker -n machine-X@%h`` with no pool or
concurrency flags (the project's settings size it), its own working directory and process group, both on one
database and one Redis (the broker, and CHAT_RATE_LIMIT_STORAGE: the count of Chat calls they share). The Chat
sandbox runs as its own process (``manage.py chat_sandbox --latency-ms 50 --rate-limit 200``: Chat's 200 calls a
second per endpoint, 60007 past it). bench/bulk_sync.py's parts are reused: the fresh database (a temporary SQLite
file, or a new database on the PostgreSQL server of ``--database-url``), the seeding of ``--groups`` new groups of
five conversations, the command run in a child process, and the naive peer.

It runs ``manage.py sync_contact_groups`` with its default options (it hands the groups to the workers, a task of
a few dozen) and prints the groups a second (the command's own figure), the tasks each machine ran (their logs)
and the 60007 answers (the audit's and the sandbox's call log), beside the naive peer of bench/bulk_sync.py in the
same run against the same sandbox: 16 threads of plain ``requests`` creating as many groups, retrying each 60007.
It exits non-zero if a group did not end synced, if Chat answered 60007 to the workers, or if one machine ran no
task.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import bulk_sync  # noqa: E402
from tests.services import CeleryWorker, RedisServer  # noqa: E402

GROUPS_PER_OWNER = 10


def machine_tasks(log: Path) -> int:
    """The bulk sync's tasks a worker's log shows it ran to their end."""
    return len(re.findall(r"sync_groups_task\[[0-9a-f-]+\] succeeded", log.read_text()))


def run(server_url: str | None, directory: Path, groups: int, peer_threads: int) -> bool:
    database = bulk_sync.Database(server_url, directory, "machines")
    port = bulk_sync.free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    redis = RedisServer(directory)
    env = {**bulk_sync.base_env(database.url, sandbox_url), "CELERY_BROKER_URL": redis.url,
           "CHAT_RATE_LIMIT_STORAGE": redis.url}
    sandbox = bulk_sync.start_sandbox(env, port, latency_ms=50, rate_limit=200)
    machines = []
    try:
        bulk_sync.migrate(env)
        owners = bulk_sync.in_child(env, "seed", "machines_owner", str(groups // GROUPS_PER_OWNER),
                                    str(GROUPS_PER_OWNER))["owners"]
        for letter in "ab":
            cwd = directory / f"machine-{letter}"
            cwd.mkdir()
            machines.append(CeleryWorker(directory, env, name=f"machine-{letter}", cwd=cwd,
                                         hostname=f"machine-{letter}@%h"))
        load = os.getloadavg()[0]
        result = bulk_sync.run_command(env, ["--pending", "--owner", *owners])
        rate = bulk_sync.command_rate(result["output"])
        report = bulk_sync.in_child(env, "report")
        logged = bulk_sync.sandbox_throttled(sandbox_url)
        tasks = {worker.hostname.split("@")[0]: machine_tasks(worker.log) for worker in machines}
        print(f"two machines ({', '.join(f'{name}: {count} tasks' for name, count in tasks.items())}), default "
              f"options, {'PostgreSQL' if server_url else 'SQLite'}: {groups} groups, {rate:.1f} groups/s, 60007 "
              f"answers: {report['throttled']} in the audit, {logged} in the sandbox's call log; groups not "
              f"synced: {report['unsynced']}; exit {result['status']} (load average {load:.1f} at the start, "
              f"{os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} CPUs)", flush=True)
        began = time.monotonic()
        peer = json.loads(subprocess.run(
            [sys.executable, bulk_sync.__file__, "--child", "peer", str(groups // GROUPS_PER_OWNER),
             str(GROUPS_PER_OWNER), str(peer_threads)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
        calls = peer["accepted"] + peer["throttled"] + peer["other"]
        peer_rate = peer["accepted"] / peer["seconds"]
        print(f"naive peer, {peer_threads} threads of plain requests: {peer['accepted']} creates accepted, "
              f"{peer_rate:.1f} a second, {peer['throttled']} of {calls} calls throttled "
              f"({100 * peer['throttled'] / max(calls, 1):.0f}%) in {time.monotonic() - began:.1f} s", flush=True)
        print(f"two machines / naive peer: {rate / peer_rate:.2f}", flush=True)
        passed = (not report["throttled"] and not report["unsynced"] and result["status"] == 0
                  and all(tasks.values()))
        print(f"two machines: {'ok' if passed else 'FAIL'} (every group synced, no 60007, both machines ran tasks)")
        return passed
    finally:
        for worker in machines:
            worker.stop()
        bulk_sync.stop(sandbox)
        redis.stop()
        database.drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None,
                        help="A PostgreSQL server URL (its database part is replaced by a fresh one); default: a "
                             "temporary SQLite file.")
    parser.add_argument("--groups", type=int, default=3000, help="New groups to sync (and for the naive peer).")
    parser.add_argument("--peer-threads", type=int, default=16, help="Threads of the naive peer (default 16).")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="two-machines-bench-") as directory:
        return 0 if run(options.database_url, Path(directory), options.groups, options.peer_threads) else 1


if __name__ == "__main__":
    sys.exit(main())
