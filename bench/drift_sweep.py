"""Drift sweep benchmark: ``.venv/bin/python bench/drift_sweep.py [--owners 10000] [--database-url postgres://...]``.

The sweep reads every owner's groups with one ``get_contact_group`` call an owner (the sandbox pages 50
conversations, and each owner here has 3), so Chat's 200 calls a second per endpoint make 200 owners a second the
ceiling, and the sweep's share of the rate (``SYNC_DRIFT_SWEEP_RATE_SHARE``, 0.8) makes 160 its own. With real
parts only:

1. It starts a Redis server (the shared rate-limit storage, as with a broker), the Chat sandbox as the real
   management command, a fresh database (a temporary SQLite file, or a new database on the PostgreSQL server of
   ``--database-url``, dropped at the end), and seeds ``--owners`` owners with one synced group of 3 conversations
   each, in Chat and in the mirror; every tenth owner then renames the group in the app.
2. It turns the sandbox's rate limit on (200 calls a second, 60007 beyond) and its latency (``--latency-ms``, 50),
   runs ``manage.py sweep_contact_groups`` in a subprocess and prints its owners a second beside the 200 of the
   cap, the groups it found changed in the app (must be every tenth) and the 60007 answers (must be none).
3. It sweeps again while another process reads Chat as staff would, as fast as 8 threads can under the same
   shared limit, and prints both rates: the staff calls a second are what the sweep leaves free.

It exits non-zero if the sweep found other than every tenth group changed, if Chat answered 60007 at all, if
the staff process got fewer than 20% of the cap while the sweep ran, or if the sweep alone made under 70% of
its share of the cap.
"""

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bulk_sync import Database, base_env, free_port, migrate, start_sandbox, stop  # noqa: E402

CAP = 200
ACTOR = "bench-support"
PEERS = ["bench_peer_1", "bench_peer_2", "bench_peer_3"]
CHANGED_EVERY = 10


def control(sandbox_url: str, method: str, path: str, body: dict | None = None) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{sandbox_url}/__sandbox__/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with opener.open(request, timeout=60) as response:
        return json.loads(response.read())


def child(arguments: list[str]) -> None:
    """The Django side, in a process configured by the environment: ``seed N`` or ``staff``."""
    import django

    django.setup()
    if arguments[0] == "seed":
        seed(int(arguments[1]))
    elif arguments[0] == "staff":
        staff_reads(int(arguments[1]))


def seed(count: int) -> None:
    from django.contrib.auth import get_user_model

    from contactgroups import bulk
    from contactgroups.chat import protocol
    from contactgroups.chat.types import Conversation
    from contactgroups.conf import chat_client
    from contactgroups.models import ChatUser, ContactGroup, ContactItem, GroupSync

    owners = [f"sweep_owner_{number:05d}" for number in range(count)]
    conversations = [Conversation(protocol.TYPE_C2C, peer) for peer in PEERS]
    fast = {"rate_limit": 100_000, "rate_limit_storage": "memory://"}
    with chat_client(**fast) as client:
        for batch in protocol.chunks(owners + PEERS, protocol.ACCOUNTS_PER_IMPORT_MAX):
            client.multiaccount_import(batch)

    def create(owner):
        with chat_client(**fast) as client:
            answer = client.create_contact_group(owner, "work", conversations)
            if int(owner[-5:]) % CHANGED_EVERY == 0:
                client.rename_contact_group(owner, "work", "renamed in the app")
            return answer.group_id

    ids = dict(bulk.run_concurrently(owners, create, 8))
    failed = [owner for owner, group_id in ids.items() if not isinstance(group_id, int)]
    if failed:
        raise SystemExit(f"seeding failed for {len(failed)} owners, first: {ids[failed[0]]!r}")
    User = get_user_model()
    User.objects.create_superuser(ACTOR, password=None)
    ChatUser.objects.bulk_create([ChatUser(user_id=user_id, import_state=ChatUser.ImportState.IMPORTED)
                                  for user_id in owners + PEERS], batch_size=1000)
    pks = dict(ChatUser.objects.filter(user_id__in=owners).values_list("user_id", "pk"))
    confirmed = [[c.type, c.target] for c in conversations]
    ContactGroup.objects.bulk_create(
        [ContactGroup(owner_id=pks[owner], name="work", state=ContactGroup.State.SYNCED, conversation_count=3,
                      accepted_count=3) for owner in owners], batch_size=1000)
    GroupSync.objects.bulk_create(
        [GroupSync(group_id=group_pk, owner_id=owner_pk, confirmed_name="work", chat_group_id=ids[user_id],
                   confirmed_conversations=confirmed)
         for group_pk, owner_pk, user_id in ContactGroup.objects.values_list("pk", "owner_id", "owner__user_id")],
        batch_size=1000)
    ContactItem.objects.bulk_create(
        [ContactItem(group_id=group_pk, type=c.type, to_account=c.target, result_code=0)
         for group_pk in ContactGroup.objects.values_list("pk", flat=True) for c in conversations],
        batch_size=2000)
    print(json.dumps({"owners": count}))


def staff_reads(threads: int) -> None:
    """Read owners' groups as staff do (the whole rate, not the sweep's share) until SIGTERM; print calls/s."""
    import threading

    from contactgroups.conf import chat_client

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    counts = [0] * threads
    began = time.monotonic()

    def read(index):
        with chat_client() as client:
            number = index
            while not stopping.is_set():
                client.get_contact_group(f"sweep_owner_{number % 1000:05d}")
                counts[index] += 1
                number += threads

    workers = [threading.Thread(target=read, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    print("reading", flush=True)
    while not stopping.is_set():
        time.sleep(0.05)
    elapsed = time.monotonic() - began
    for worker in workers:
        worker.join()
    print(json.dumps({"calls": sum(counts), "seconds": elapsed}), flush=True)


def sweep(env: dict, concurrency: int) -> tuple[str, int, float]:
    command = [sys.executable, "manage.py", "sweep_contact_groups", "--actor", ACTOR, "--concurrency",
               str(concurrency)]
    began = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    return result.stdout + result.stderr, result.returncode, time.monotonic() - began


def rate_of(output: str) -> tuple[float, int]:
    found = re.search(r"\(([\d.]+) users/s\): .*?(\d+) changed in the app", output)
    if not found:
        raise SystemExit(f"the command printed no rate:\n{output[-3000:]}")
    return float(found.group(1)), int(found.group(2))


def throttled(sandbox_url: str, since: int) -> int:
    calls = control(sandbox_url, "GET", f"calls?since={since}")["calls"]
    return sum(1 for call in calls if call.get("error_code") in (60007, 60011))


def last_seq(sandbox_url: str) -> int:
    calls = control(sandbox_url, "GET", "calls")["calls"]
    return calls[-1]["seq"] if calls else 0


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owners", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16,
                        help="The sweep's threads (default 16, as SYNC_DRIFT_SWEEP_CONCURRENCY's default).")
    parser.add_argument("--database-url", default=None, help="A PostgreSQL server URL; default: SQLite.")
    options = parser.parse_args()

    from tests.services import RedisServer

    with tempfile.TemporaryDirectory(prefix="imadmin-sweep-bench-") as folder:
        directory = Path(folder)
        redis = RedisServer(directory)
        database = Database(options.database_url, directory, "sweep")
        port = free_port()
        sandbox_url = f"http://127.0.0.1:{port}"
        env = {**base_env(database.url, sandbox_url), "CHAT_RATE_LIMIT_STORAGE": redis.url,
               "CHAT_RATE_LIMIT": str(CAP)}
        concurrency = options.concurrency
        sandbox = start_sandbox(env, port, latency_ms=0, rate_limit=0)
        try:
            migrate(env)
            began = time.monotonic()
            subprocess.run([sys.executable, __file__, "--child", "seed", str(options.owners)], cwd=ROOT, env=env,
                           check=True, capture_output=True, text=True)
            print(f"seeded {options.owners} owners with a synced group each, every {CHANGED_EVERY}th renamed in "
                  f"the app, in {time.monotonic() - began:.0f} s "
                  f"({'PostgreSQL' if options.database_url else 'SQLite'})", flush=True)
            control(sandbox_url, "POST", "faults", {"rate_limit": CAP, "latency_ms": options.latency_ms})

            since = last_seq(sandbox_url)
            output, status, wall = sweep(env, concurrency)
            rate, changed = rate_of(output)
            refused = throttled(sandbox_url, since)
            expected = len(range(0, options.owners, CHANGED_EVERY))
            print(f"sweep alone: {options.owners} owners at {rate:.1f} owners/s (wall {wall:.1f} s with start-up; "
                  f"{concurrency} threads, {options.latency_ms} ms latency); reference: the cap of {CAP} calls/s is "
                  f"{CAP} owners/s, the sweep's share {0.8 * CAP:.0f}; changed in the app: {changed} (expected "
                  f"{expected}); 60007 answers: {refused}; exit {status}", flush=True)

            staff = subprocess.Popen([sys.executable, __file__, "--child", "staff", "8"], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, text=True)
            assert staff.stdout.readline().strip() == "reading"
            since = last_seq(sandbox_url)
            output, status_with, wall_with = sweep(env, concurrency)
            staff.send_signal(signal.SIGTERM)
            staff_result = json.loads(staff.stdout.read().strip().splitlines()[-1])
            staff.wait()
            rate_with, _changed = rate_of(output)
            refused_with = throttled(sandbox_url, since)
            staff_rate = staff_result["calls"] / staff_result["seconds"]
            print(f"sweep with staff reading: sweep {rate_with:.1f} owners/s, staff {staff_rate:.1f} calls/s, "
                  f"together {rate_with + staff_rate:.1f} of the cap's {CAP}; 60007 answers: {refused_with}; "
                  f"exit {status_with}", flush=True)
            passed = (changed == expected and not refused and not refused_with and status == 0
                      and status_with == 0 and staff_rate >= 0.2 * CAP and rate >= 0.7 * 0.8 * CAP)
            print(f"drift sweep: {'ok' if passed else 'FAIL'}", flush=True)
            return 0 if passed else 1
        finally:
            stop(sandbox)
            database.drop()
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())
