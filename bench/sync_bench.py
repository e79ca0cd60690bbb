"""The admin save does not wait for Chat: ``.venv/bin/python bench/sync_bench.py``.

Everything runs for real, in a temporary folder, with the project's own settings (``imadmin.settings``, read
from the environment, DEBUG off, plain HTTP on loopback): a fresh SQLite file migrated with ``manage.py migrate``,
a ``redis-server`` on a free port as the Celery broker, the Chat sandbox (``manage.py chat_sandbox --latency-ms
2000``), a Celery worker (``celery -A imadmin worker``) and the admin served over HTTP by ``manage.py runserver
--noreload``, as ``make run`` serves it. The benchmark logs in as a superuser through the login page, opens the
group add page and POSTs its form with ``requests``, as a browser would, timing the POST.

1. With every Chat answer 2 s late, 20 saves of a new group (5 conversations each): the time from sending the POST
   to receiving the admin's redirect, median, 90th percentile and maximum. Afterwards the worker must have synced
   all 20 (the latency is lowered to 50 ms for it to catch up), or the quick saves would prove nothing.
2. With 50 ms latency, one save of a new group of 150 conversations: the Chat calls the sandbox received for it
   (create with 100, then update with the other 50) and the time from the save to the group showing synced.

It prints a table and exits non-zero when the median save takes 200 ms or more, when the 150-conversation group
took other than 2 Chat calls, or when a group did not end synced. Everything it starts is stopped at the end.
"""

import argparse
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from contactgroups.chat import protocol  # noqa: E402
from contactgroups.chat.usersig import generate_usersig  # noqa: E402
from tests.admin_forms import group_form_data  # noqa: E402
from tests.make_run import collected_static  # noqa: E402
from tests.services import CeleryWorker, RedisServer, free_port, stop, wait_for  # noqa: E402

SDKAPPID = 1400000000
ADMIN_IDENTIFIER = "administrator"
STAFF = "bench-admin"

SAVES = 20
SLOW_LATENCY_MS = 2000
FAST_LATENCY_MS = 50
SAVE_LIMIT_MS = 200.0
BIG_GROUP = 150
EXPECTED_CALLS = 2
SMALL_OWNERS = ["bench_owner_0", "bench_owner_1"]
BIG_OWNER = "bench_owner_big"
PEERS = [f"bench_peer_{number:03d}" for number in range(BIG_GROUP)]
SYNC_WAIT_SECONDS = 120

ADD_URL = "/admin/contactgroups/contactgroup/add/"
LOGIN_URL = "/admin/login/"


class Failure(Exception):
    """The benchmark could not measure what it meant to."""


def environment(directory: Path, redis_url: str, sandbox_url: str) -> dict[str, str]:
    return {
        "IMADMIN_ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "imadmin.settings",
        "DEBUG": "false",
        "STATIC_ROOT": collected_static(),  # DEBUG off serves the hashed names collectstatic writes
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Production settings otherwise, but plain HTTP on loopback: no redirect to HTTPS, no secure-only cookies.
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": redis_url,
        "CHAT_SDKAPPID": str(SDKAPPID),
        "CHAT_SECRET_KEY": secrets.token_hex(16),
        "CHAT_ADMIN_IDENTIFIER": ADMIN_IDENTIFIER,
        "CHAT_API_BASE_URL": sandbox_url,
        "CHAT_SANDBOX_STATE": str(directory / "chat-sandbox.json"),
        "DJANGO_SUPERUSER_USERNAME": STAFF,
        "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16),
        "LOG_LEVEL": "WARNING",
        # The benchmarks log in with a password over HTTP; the second factor has its own tests.
        "STAFF_SECOND_FACTOR": "false",
    }


def manage(env: dict, *arguments: str) -> None:
    result = subprocess.run([sys.executable, "manage.py", *arguments], cwd=ROOT, env={**os.environ, **env},
                            capture_output=True, text=True)
    if result.returncode:
        raise Failure(f"manage.py {' '.join(arguments)} failed:\n{result.stdout}{result.stderr}")


def start_logged(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as stream:
        return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=stream,
                                stderr=subprocess.STDOUT)


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1, proxies={"http": "", "https": ""}).status_code == 200
    except requests.RequestException:
        return False


def started(process: subprocess.Popen, ready, what: str, log: Path) -> None:
    """Wait until ``ready()``; if it never is, stop the process before saying so."""
    try:
        wait_for(ready, 60, what, process, log)
    except BaseException:
        stop(process)
        raise


class Sandbox:
    """The sandbox process, reached over HTTP: its control endpoints and, as the end user's app, its API."""

    def __init__(self, env: dict, port: int, log: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.env = env
        self.process = start_logged(
            [sys.executable, "manage.py", "chat_sandbox", "--memory", "--port", str(port),
             "--latency-ms", str(SLOW_LATENCY_MS)], env, log,
        )
        started(self.process, lambda: http_ok(f"{self.url}/__sandbox__/health"), "The Chat sandbox", log)
        self.session = requests.Session()
        self.session.trust_env = False

    def set_latency(self, milliseconds: int) -> None:
        response = self.session.post(f"{self.url}/__sandbox__/faults", json={"latency_ms": milliseconds}, timeout=5)
        response.raise_for_status()

    def calls(self, since: int = 0) -> list[dict]:
        response = self.session.get(f"{self.url}/__sandbox__/calls", params={"actor": "client", "since": since},
                                    timeout=5)
        response.raise_for_status()
        return response.json()["calls"]

    def last_seq(self) -> int:
        calls = self.session.get(f"{self.url}/__sandbox__/calls", timeout=5).json()["calls"]
        return calls[-1]["seq"] if calls else 0

    def import_accounts(self, user_ids: list[str]) -> None:
        """As the app would, before its users have conversations (exempt from latency: not a client call)."""
        usersig = generate_usersig(SDKAPPID, self.env["CHAT_SECRET_KEY"], ADMIN_IDENTIFIER)
        for batch in protocol.chunks(user_ids, protocol.ACCOUNTS_PER_IMPORT_MAX):
            query = urllib.parse.urlencode({"sdkappid": SDKAPPID, "identifier": ADMIN_IDENTIFIER, "usersig": usersig,
                                            "random": secrets.randbits(32), "contenttype": "json"})
            answer = self.session.post(f"{self.url}/v4/im_open_login_svc/multiaccount_import?{query}",
                                       json={"Accounts": batch}, headers={"X-Sandbox-Actor": "app"},
                                       timeout=10).json()
            if answer["ErrorCode"]:
                raise Failure(f"multiaccount_import failed: {answer}")

    def stop(self) -> None:
        stop(self.process, signal.SIGTERM)


class Admin:
    """The admin under ``manage.py runserver``, and a browser-like session logged in as the superuser."""

    def __init__(self, env: dict, port: int, log: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.process = start_logged(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], env, log
        )
        started(self.process, lambda: http_ok(f"{self.url}{LOGIN_URL}"), "The admin (runserver)", log)
        self.session = requests.Session()
        self.session.trust_env = False
        self.log = log

    def _csrf(self) -> str:
        return self.session.cookies["csrftoken"]

    def login(self, username: str, password: str) -> None:
        self.session.get(f"{self.url}{LOGIN_URL}", timeout=10).raise_for_status()
        response = self.session.post(
            f"{self.url}{LOGIN_URL}",
            data={"username": username, "password": password, "csrfmiddlewaretoken": self._csrf(),
                  "next": "/admin/"},
            allow_redirects=False, timeout=10,
        )
        if response.status_code != 302 or "sessionid" not in self.session.cookies:
            raise Failure(f"Could not log in to the admin (HTTP {response.status_code}).")

    def save_new_group(self, owner_pk: int, name: str, conversations: list[tuple[int, str]]) -> float:
        """Open the add page, as staff do, then POST the form; the seconds from the POST to the admin's redirect."""
        self.session.get(f"{self.url}{ADD_URL}", timeout=10).raise_for_status()
        data = group_form_data(
            name=name, items=[(kind, target, "") if kind == protocol.TYPE_C2C else (kind, "", target)
                              for kind, target in conversations],
        )
        data["owner"] = str(owner_pk)
        data["csrfmiddlewaretoken"] = self._csrf()
        data["_save"] = "Save"
        started = time.perf_counter()
        response = self.session.post(f"{self.url}{ADD_URL}", data=data, allow_redirects=False, timeout=60,
                                     headers={"Referer": f"{self.url}{ADD_URL}"})
        elapsed = time.perf_counter() - started
        if response.status_code != 302:
            errors = re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.text, re.S)
            raise Failure(f"Saving group {name!r} answered HTTP {response.status_code}: {errors[:3]}")
        return elapsed

    def stop(self) -> None:
        stop(self.process, signal.SIGINT)


def wait_synced(group_pks: list[int], timeout: float = SYNC_WAIT_SECONDS, interval: float = 0.01) -> dict[int, str]:
    """Poll the database until every group is out of the queue; their states."""
    from contactgroups.models import ContactGroup

    done = {ContactGroup.State.SYNCED, ContactGroup.State.PARTIAL, ContactGroup.State.FAILED}
    deadline = time.monotonic() + timeout
    while True:
        states = dict(ContactGroup.objects.filter(pk__in=group_pks).values_list("pk", "state"))
        if all(states.get(pk) in done for pk in group_pks) or time.monotonic() > deadline:
            return states
        time.sleep(interval)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def run(directory: Path) -> int:
    services = []
    try:
        redis = RedisServer(directory)
        services.append(redis)
        sandbox_port, admin_port = free_port(), free_port()
        env = environment(directory, redis.url, f"http://127.0.0.1:{sandbox_port}")
        os.environ.update(env)

        import django

        django.setup()
        from contactgroups.models import ChatUser, ContactGroup, SyncAttempt

        manage(env, "migrate", "--noinput")
        manage(env, "ensure_superuser")
        sandbox = Sandbox(env, sandbox_port, directory / "sandbox.log")
        services.append(sandbox)
        services.append(CeleryWorker(directory, env, name="bench"))
        admin = Admin(env, admin_port, directory / "runserver.log")
        services.append(admin)
        admin.login(env["DJANGO_SUPERUSER_USERNAME"], env["DJANGO_SUPERUSER_PASSWORD"])

        owners = {user_id: ChatUser.objects.create(user_id=user_id) for user_id in [*SMALL_OWNERS, BIG_OWNER]}
        sandbox.import_accounts([*owners, *PEERS])

        # 1. Twenty saves while Chat takes 2 s to answer each call.
        saves = []
        for number in range(SAVES):
            owner = owners[SMALL_OWNERS[number % len(SMALL_OWNERS)]]
            peers = PEERS[number : number + 5]
            saves.append(admin.save_new_group(owner.pk, f"bench {number:02d}", [(protocol.TYPE_C2C, p) for p in peers]))
        small = list(ContactGroup.objects.filter(owner__user_id__in=SMALL_OWNERS).values_list("pk", flat=True))
        queued_right_after = ContactGroup.objects.filter(pk__in=small).exclude(state=ContactGroup.State.SYNCED).count()
        sandbox.set_latency(FAST_LATENCY_MS)
        small_states = wait_synced(small)

        # 2. One save of 150 conversations with 50 ms latency, the worker idle.
        since = sandbox.last_seq()
        save_started = time.perf_counter()
        big_save = admin.save_new_group(owners[BIG_OWNER].pk, "bench big", [(protocol.TYPE_C2C, p) for p in PEERS])
        big = ContactGroup.objects.get(owner__user_id=BIG_OWNER)
        big_states = wait_synced([big.pk])
        big_wall = time.perf_counter() - save_started
        big_calls = [call for call in sandbox.calls(since) if call["body"].get("From_Account") == BIG_OWNER]
        call_ms = sum(SyncAttempt.objects.filter(group=big).values_list("duration_ms", flat=True))
        big.refresh_from_db()
        accepted = big.items.filter(result_code=0).count()

        median = statistics.median(saves) * 1000
        p90 = percentile(saves, 0.9) * 1000
        worst = max(saves) * 1000
        synced = ContactGroup.State.SYNCED
        small_ok = len(small) == SAVES and all(state == synced for state in small_states.values())
        big_ok = big_states.get(big.pk) == synced and accepted == BIG_GROUP
        calls_ok = len(big_calls) == EXPECTED_CALLS
        save_ok = median < SAVE_LIMIT_MS

        print()
        print(f"Admin saves over HTTP (runserver), Celery on Redis, Chat sandbox answering after {SLOW_LATENCY_MS} ms")
        print(f"  {'saves':<38}{SAVES:>10}")
        print(f"  {'median save':<38}{median:>8.1f} ms   (limit < {SAVE_LIMIT_MS:.0f} ms)  "
              f"{'ok' if save_ok else 'TOO SLOW'}")
        print(f"  {'90th percentile':<38}{p90:>8.1f} ms")
        print(f"  {'slowest':<38}{worst:>8.1f} ms")
        print(f"  {'not yet synced right after the saves':<38}{queued_right_after:>10}")
        print(f"  {'synced by the worker afterwards':<38}{sum(s == synced for s in small_states.values()):>10}"
              f"   {'ok' if small_ok else 'NOT ALL SYNCED: ' + str(small_states)}")
        print()
        print(f"A new group of {BIG_GROUP} conversations, Chat sandbox answering after {FAST_LATENCY_MS} ms")
        print(f"  {'Chat calls':<38}{len(big_calls):>10}   (expected {EXPECTED_CALLS})  "
              f"{'ok' if calls_ok else 'WRONG'}")
        for call in big_calls:
            body = call["body"]
            items = (body.get("GroupContactItem") or [{}])[0].get("ContactItem") or \
                body.get("UpdateGroup", {}).get("ContactUpdateItem") or []
            print(f"    {call['endpoint']:<36}{len(items):>6} conversations, {call['outcome']}")
        print(f"  {'admin save':<38}{big_save * 1000:>8.1f} ms")
        print(f"  {'time in Chat calls (SyncAttempt)':<38}{call_ms:>8.0f} ms")
        print(f"  {'save to synced (wall)':<38}{big_wall * 1000:>8.1f} ms")
        print(f"  {'conversations accepted (ResultCode 0)':<38}{accepted:>10}   "
              f"{'ok' if big_ok else 'NOT SYNCED: ' + str(big_states)}")
        print()
        passed = save_ok and calls_ok and small_ok and big_ok
        print("PASS" if passed else "FAIL")
        return 0 if passed else 1
    finally:
        for service in reversed(services):
            try:
                service.stop()
            except Exception as exc:  # keep stopping the others
                print(f"could not stop {service!r}: {exc}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (database, logs).")
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="imadmin-sync-bench-"))
    try:
        return run(directory)
    except Failure as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        return 1
    finally:
        if options.keep:
            print(f"Kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
