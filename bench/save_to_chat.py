"""From a save's commit until Chat holds the change: ``.venv/bin/python bench/save_to_chat.py [--saves 20] [--keep]``.

Everything runs for real in a temporary folder, with the project's own settings (``imadmin.settings``, DEBUG off,
plain HTTP on loopback): a migrated SQLite file, the Chat sandbox answering every call after 50 ms
(``manage.py chat_sandbox``), the admin under ``manage.py runserver --noreload``, and in the second case
``redis-server`` with one Celery worker started as ``make run`` starts it (``celery -A imadmin worker`` with no
pool or concurrency flags: the project's settings size it).

For each case (no broker, then a broker) it saves one group of 5 conversations and waits until it is synced; then,
``--saves`` times, it opens the group's change page as staff do, renames the group in the form and POSTs it. The
clock starts at the save's history entry (``LogEntry.action_time``, written in the save's transaction just before
it commits; the admin's redirect arrives some 40 ms later, so timing from it would flatter the engine) and stops
when Chat has answered the ``update_contact_group`` that carries the new name: the sandbox's call log records when
the call was applied (its clock is the same machine's) and answers it 50 ms later. Such a sync makes two Chat
calls, a read (``get_contact_group``) and the update, so their own time, as the audit records it
(``SyncAttempt.duration_ms``), is the floor no engine can beat; it is printed beside the median and the 90th
percentile.

It exits non-zero when a rename never reached Chat. Everything it starts is stopped at the end; ``--keep`` keeps
the folder with the database and logs.
"""

import argparse
import html.parser
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sync_bench import Admin, Failure, Sandbox, environment, manage, percentile, wait_synced  # noqa: E402
from contactgroups.chat import protocol  # noqa: E402
from tests.services import RedisServer, free_port, stop, wait_for  # noqa: E402

LATENCY_MS = 50
PEERS = [f"bench_peer_{number}" for number in range(5)]
REACH_SECONDS = 30


class FormFields(html.parser.HTMLParser):
    """The named fields of a page's form, as a browser would submit them (checked boxes only, selected options)."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self.fields[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def worker(directory: Path, env: dict, name: str) -> subprocess.Popen:
    """``celery -A imadmin worker`` as ``make run`` starts it: no pool or concurrency flags."""
    log = directory / f"celery-{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "imadmin", "worker", "--loglevel=INFO", f"--hostname={name}@%h",
         f"--logfile={log}"],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    wait_for(lambda: log.exists() and " ready." in log.read_text(), 60, "The Celery worker", process, log)
    return process


def rename(admin: Admin, group_pk: int, name: str) -> float:
    """Open the group's change page, rename it in the form, POST it; when the save's history entry was written."""
    from django.contrib.admin.models import CHANGE, LogEntry

    url = f"{admin.url}/admin/contactgroups/contactgroup/{group_pk}/change/"
    page = admin.session.get(url, timeout=10)
    page.raise_for_status()
    form = FormFields()
    form.feed(page.text)
    data = dict(form.fields)
    data["name"] = name
    data["_save"] = "Save"
    response = admin.session.post(url, data=data, allow_redirects=False, timeout=60, headers={"Referer": url})
    if response.status_code != 302:
        raise Failure(f"Renaming group {group_pk} answered HTTP {response.status_code}.")
    entry = LogEntry.objects.filter(object_id=str(group_pk), action_flag=CHANGE).latest("pk")
    return entry.action_time.timestamp()


def reached(sandbox: Sandbox, since: int, owner: str, name: str) -> float:
    """When Chat answered the update carrying ``name`` (applied at the logged time, answered LATENCY_MS later)."""
    deadline = time.monotonic() + REACH_SECONDS
    while time.monotonic() < deadline:
        for call in sandbox.calls(since):
            body = call["body"] if isinstance(call["body"], dict) else {}
            if (call["endpoint"].endswith("update_contact_group") and body.get("From_Account") == owner
                    and name in str(body) and call["outcome"] == "ok"):
                return call["time"] + LATENCY_MS / 1000
        time.sleep(0.005)
    raise Failure(f"Chat never received the rename to {name!r}.")


def measure(directory: Path, env: dict, sandbox: Sandbox, owner_pk: int, owner: str, saves: int,
            label: str) -> tuple[list[float], list[float]]:
    from contactgroups.models import SyncAttempt

    admin = Admin(env, free_port(), directory / f"runserver-{label}.log")
    try:
        admin.login(env["DJANGO_SUPERUSER_USERNAME"], env["DJANGO_SUPERUSER_PASSWORD"])
        admin.save_new_group(owner_pk, f"{label} 0", [(protocol.TYPE_C2C, peer) for peer in PEERS])
        from contactgroups.models import ContactGroup

        group_pk = ContactGroup.objects.get(owner_id=owner_pk).pk
        if wait_synced([group_pk])[group_pk] != ContactGroup.State.SYNCED:
            raise Failure(f"The first group of case {label} did not sync.")
        delays, floors = [], []
        for number in range(1, saves + 1):
            since = sandbox.last_seq()
            name = f"{label} {number}"
            committed = rename(admin, group_pk, name)
            delays.append(reached(sandbox, since, owner, name) - committed)
            wait_synced([group_pk])
            calls = list(SyncAttempt.objects.filter(group_id=group_pk).order_by("-pk")
                         .values_list("duration_ms", flat=True)[:2])
            floors.append(sum(calls) / 1000)
        return delays, floors
    finally:
        admin.stop()


def run(directory: Path, saves: int) -> int:
    services = []
    try:
        redis = RedisServer(directory)
        services.append(redis)
        sandbox_port = free_port()
        base_env = environment(directory, "", f"http://127.0.0.1:{sandbox_port}")
        os.environ.update(base_env)

        import django

        django.setup()
        from contactgroups.models import ChatUser

        manage(base_env, "migrate", "--noinput")
        manage(base_env, "ensure_superuser")
        sandbox = Sandbox(base_env, sandbox_port, directory / "sandbox.log")
        services.append(sandbox)
        sandbox.set_latency(LATENCY_MS)
        cases = [("no broker", ""), ("Redis + default worker", redis.url)]
        owners = [f"bench_owner_{number}" for number in range(len(cases))]
        sandbox.import_accounts(owners + PEERS)
        rows = []
        for number, (label, broker) in enumerate(cases):
            env = {**base_env, "CELERY_BROKER_URL": broker}
            process = worker(directory, env, f"case{number}") if broker else None
            try:
                owner = ChatUser.objects.create(user_id=owners[number])
                rows.append((label, *measure(directory, env, sandbox, owner.pk, owner.user_id, saves,
                                             f"case{number}")))
            finally:
                if process is not None:
                    stop(process, signal.SIGQUIT)

        print()
        print(f"From a rename's commit until Chat has answered its update; Chat answers every call after "
              f"{LATENCY_MS} ms; {saves} renames a case (SQLite)")
        print(f"  {'engine':<26}{'median ms':>10}{'p90 ms':>9}{'max ms':>9}   floor: the two calls' own time, median")
        for label, delays, floors in rows:
            print(f"  {label:<26}{statistics.median(delays) * 1000:>10.1f}{percentile(delays, 0.9) * 1000:>9.1f}"
                  f"{max(delays) * 1000:>9.1f}   {statistics.median(floors) * 1000:.1f} ms")
        load = os.getloadavg()
        print(f"\nLoad average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs")
        return 0
    finally:
        for service in reversed(services):
            try:
                service.stop()
            except Exception as exc:  # keep stopping the others
                print(f"could not stop {service!r}: {exc}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=20, help="Renames per case.")
    parser.add_argument("--keep", action="store_true", help="Keep the folder with the database and logs.")
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="imadmin-save-to-chat-"))
    try:
        return run(directory, options.saves)
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
