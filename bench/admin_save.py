"""A save never waits for Chat: ``.venv/bin/python bench/admin_save.py [--saves 15] [--keep]``.

The admin is served by ``manage.py runserver --noreload`` with the project's own settings (``imadmin.settings``,
DEBUG off, plain HTTP on loopback) on a fresh migrated SQLite file, the Chat sandbox (``manage.py chat_sandbox``)
beside it, as ``make run`` serves them. Logged in as a superuser, the benchmark opens the add page and POSTs the
form with ``requests``, as a browser does, timing each POST to the admin's redirect, ``--saves`` times (each a new
group of 5 conversations) per case:

- Chat healthy (the reference, measured in the same run), Chat answering every call with HTTP 502, Chat
  unreachable (``CHAT_API_BASE_URL`` a closed loopback port), and Chat answering every call after 12 s;
- each without a broker (the web process's background runner syncs) and with one (``redis-server`` and a Celery
  worker);
- and with a broker configured but unreachable (a closed port: each save is marked not queued), and one that
  accepts connections and never answers (each save waits ``CELERY_BROKER_SOCKET_TIMEOUT``, 1 s; printed, not held
  to the limit).

For each case it prints the median and the 90th percentile beside the 200 ms limit, and what the groups showed
right after the saves (queued or syncing: the save did not wait). The admin (and worker) are started again for
each case, so no case inherits another's backlog. It exits non-zero when any median reaches 200 ms or a save
failed. Everything it starts is stopped at the end; ``--keep`` keeps the folder with the database and logs.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis as redis_lib  # noqa: E402

from bench.sync_bench import Admin, Failure, Sandbox, environment, manage, percentile  # noqa: E402
from contactgroups.chat import protocol  # noqa: E402
from tests.services import CeleryWorker, RedisServer, free_port  # noqa: E402

LIMIT_MS = 200.0
SLOW_MS = 12_000
PEERS = [f"bench_peer_{number:02d}" for number in range(40)]

CHAT_CASES = [
    ("Chat healthy (reference)", {}),
    ("Chat answering HTTP 502", {"http_error_rate": 1.0}),
    ("Chat unreachable", None),
    ("Chat answering after 12 s", {"latency_ms": SLOW_MS}),
]


def measure(directory: Path, env: dict, owner_pk: int, saves: int, label: str) -> list[float]:
    admin = Admin(env, free_port(), directory / f"runserver-{label}.log")
    try:
        admin.login(env["DJANGO_SUPERUSER_USERNAME"], env["DJANGO_SUPERUSER_PASSWORD"])
        times = []
        for number in range(saves):
            peers = PEERS[number : number + 5]
            times.append(admin.save_new_group(owner_pk, f"{label} {number:02d}",
                                              [(protocol.TYPE_C2C, peer) for peer in peers]))
        return times
    finally:
        admin.stop()


def run(directory: Path, saves: int) -> int:
    services = []
    rows = []
    try:
        redis = RedisServer(directory)
        services.append(redis)
        sandbox_port = free_port()
        base_env = environment(directory, "", f"http://127.0.0.1:{sandbox_port}")
        os.environ.update(base_env)

        import django

        django.setup()
        from contactgroups.models import ChatUser, ContactGroup

        manage(base_env, "migrate", "--noinput")
        manage(base_env, "ensure_superuser")
        sandbox = Sandbox(base_env, sandbox_port, directory / "sandbox.log")
        services.append(sandbox)
        sandbox.set_latency(0)
        redis_client = redis_lib.Redis.from_url(redis.url)
        closed = f"http://127.0.0.1:{free_port()}"

        cases = [(broker, name, faults) for broker in ("no broker", "broker") for name, faults in CHAT_CASES]
        cases.append(("broker unreachable", "Chat healthy", {}))
        cases.append(("broker silent", "Chat healthy", {}))
        sandbox.import_accounts([f"bench_owner_{number}" for number in range(len(cases))] + PEERS)
        # A "broker" that accepts connections and never answers: the save waits CELERY_BROKER_SOCKET_TIMEOUT.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(100)
        services.append(silent)
        for number, (broker, chat, faults) in enumerate(cases):
            label = f"case{number}"
            env = dict(base_env)
            env["CHAT_API_BASE_URL"] = closed if faults is None else base_env["CHAT_API_BASE_URL"]
            if broker == "broker":
                env["CELERY_BROKER_URL"] = redis.url
            elif broker == "broker unreachable":
                env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{free_port()}/0"
            elif broker == "broker silent":
                env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
            sandbox.session.delete(f"{sandbox.url}/__sandbox__/faults", timeout=5).raise_for_status()
            if faults:
                response = sandbox.session.post(f"{sandbox.url}/__sandbox__/faults", json=faults, timeout=5)
                response.raise_for_status()
            worker = CeleryWorker(directory, env, name=label) if broker == "broker" else None
            owner = ChatUser.objects.create(user_id=f"bench_owner_{number}")
            try:
                times = measure(directory, env, owner.pk, saves, label)
                states = Counter(ContactGroup.objects.filter(owner=owner).values_list("state", flat=True))
            finally:
                if worker is not None:
                    worker.stop(signal.SIGQUIT)
            rows.append((broker, chat, times, states))
            # Each case starts with no backlog: no group left waiting for the next admin's runner to take up, no
            # task left in Redis for the next worker.
            ContactGroup.objects.filter(owner=owner).update(state=ContactGroup.State.DRAFT)
            redis_client.flushall()

        print()
        print(f"Admin saves over HTTP (runserver, SQLite), {saves} new groups of 5 conversations per case; "
              f"limit: median < {LIMIT_MS:.0f} ms")
        print(f"  {'broker':<20}{'Chat':<28}{'median ms':>10}{'p90 ms':>9}{'max ms':>9}   right after the saves")
        passed = True
        for broker, chat, times, states in rows:
            median = statistics.median(times) * 1000
            if broker == "broker silent":
                verdict = "bounded by CELERY_BROKER_SOCKET_TIMEOUT, not held to the limit"
            else:
                ok = median < LIMIT_MS
                passed = passed and ok
                verdict = "ok" if ok else "TOO SLOW"
            shown = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
            print(f"  {broker:<20}{chat:<28}{median:>10.1f}{percentile(times, 0.9) * 1000:>9.1f}"
                  f"{max(times) * 1000:>9.1f}   {verdict}  ({shown})")
        load = os.getloadavg()
        print(f"\nLoad average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs")
        print("PASS" if passed else "FAIL")
        return 0 if passed else 1
    finally:
        for service in reversed(services):
            try:
                service.close() if isinstance(service, socket.socket) else service.stop()
            except Exception as exc:  # keep stopping the others
                print(f"could not stop {service!r}: {exc}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=15, help="Saves per case (at most 20: one owner's groups).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (database, logs).")
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="imadmin-admin-save-"))
    started = time.monotonic()
    try:
        return run(directory, min(options.saves, protocol.GROUPS_PER_USER_MAX))
    except Failure as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        return 1
    finally:
        print(f"({time.monotonic() - started:.0f} s)")
        if options.keep:
            print(f"Kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
