"""`make run` runs the production shape on one machine, and Ctrl-C stops all of it.

scripts/run.sh is started as `make run` starts it (after migrate, with the .env scripts/make_env.py writes), in its
own session, on free ports and a var/ folder of the test's own. The test checks that Redis, a Celery worker,
Celery beat, the Chat sandbox and the admin (gunicorn) run, each a process of the Procfile under honcho; saves a
group over HTTP as a person would and sees the worker sync it; then sends Ctrl-C (SIGINT to the script's process
group, as a terminal does) and checks that none of the processes it started is left. Another starts it on ports
of its own choosing, as `SANDBOX_PORT=... make run` does, and finds them in .env and in what it prints, the
admin account's password last.
"""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from contactgroups.chat import protocol
from tests.admin_forms import group_form_data, states_shown
from tests.conftest import wait_until
from tests.make_run import ROOT, clean_env, make_env, make_run_env, run
from tests.services import free_port

pytestmark = pytest.mark.services

NO_PROXY = {"http": "", "https": ""}


def processes_under(root: int) -> dict[int, str]:
    """Every process descending from ``root`` (honcho, which run.sh becomes, and each of the Procfile's processes
    in the session honcho gives it): pid -> command line."""
    parents, commands = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = {}, {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier and pid not in found}
        found.update({pid: commands[pid] for pid in frontier})
    if root in commands:
        found[root] = commands[root]
    return found


def still_running(processes: dict[int, str]) -> dict[int, str]:
    """Those of ``processes`` still running (the same pid with the same command line)."""
    running = {}
    for pid, command in processes.items():
        try:
            now = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if now == command:
            running[pid] = command
    return running


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1, proxies=NO_PROXY).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def make_run(tmp_path):
    env = make_run_env(tmp_path)
    ports = {"PORT": free_port(), "SANDBOX_PORT": free_port(), "REDIS_PORT": free_port()}
    yield from started(tmp_path, env, ports)


def started(tmp_path, env: dict, ports: dict):
    """scripts/run.sh, as `make run` starts it after migrate, with ``ports`` in its environment."""
    env.update({name: str(port) for name, port in ports.items()}, IMADMIN_VAR=str(tmp_path / "var"))
    assert run([sys.executable, "manage.py", "migrate", "--noinput"], env).returncode == 0
    log = tmp_path / "run.log"
    process = subprocess.Popen(["scripts/run.sh"], cwd=ROOT, env=env, stdout=log.open("w"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    process.ports, process.log, process.env, process.database = ports, log, env, tmp_path / "db.sqlite3"
    process.started = {}
    yield process
    process.started.update(processes_under(process.pid))
    if process.poll() is None:  # the test failed before its Ctrl-C
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    for pid in still_running(process.started):
        os.kill(pid, signal.SIGKILL)


def log_in(session: requests.Session, base: str, password: str) -> None:
    session.get(f"{base}/admin/login/", timeout=10).raise_for_status()
    response = session.post(f"{base}/admin/login/", data={
        "username": "admin", "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"],
        "next": "/admin/"}, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:500]


def post(session: requests.Session, url: str, data: dict) -> requests.Response:
    return session.post(url, data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
                        headers={"Referer": url}, timeout=30)


def test_make_run_starts_redis_a_worker_beat_the_sandbox_and_the_admin_and_ctrl_c_stops_them_all(make_run):
    base = f"http://127.0.0.1:{make_run.ports['PORT']}"

    def admin_up():
        """the admin answers its login page"""
        return answers(f"{base}/admin/login/") or make_run.poll() is not None

    wait_until(admin_up, timeout=120)
    assert make_run.poll() is None, make_run.log.read_text()[-3000:]
    make_run.started = processes_under(make_run.pid)
    commands = list(make_run.started.values())
    for part in [f"redis-server 127.0.0.1:{make_run.ports['REDIS_PORT']}", "chat_sandbox", "celery -A imadmin worker",
                 "celery -A imadmin beat", "gunicorn --config deploy/gunicorn.conf.py imadmin.wsgi"]:
        assert any(part in command for command in commands), (part, commands)
    redis_conf = (Path(make_run.env["IMADMIN_VAR"]) / "redis" / "redis.conf").read_text()
    assert "bind 127.0.0.1\n" in redis_conf and f"port {make_run.ports['REDIS_PORT']}\n" in redis_conf

    # A save over HTTP: the worker, through Redis, syncs it to the sandbox.
    session = requests.Session()
    session.trust_env = False
    log_in(session, base, make_run.env["DJANGO_SUPERUSER_PASSWORD"])
    users = f"{base}/admin/contactgroups/chatuser/"
    assert post(session, f"{users}add/", {"user_id": "user_0001", "nickname": "Alice"}).status_code == 200
    with sqlite3.connect(make_run.database) as database:
        [(owner_pk,)] = database.execute("select id from contactgroups_chatuser where user_id = 'user_0001'")
    imported = post(session, users, {"action": "import_into_chat", "_selected_action": str(owner_pk)})
    assert "1 user queued for import into Chat; the list shows what Chat says." in imported.text

    def imported_in_chat():
        """the user's row says Imported"""
        return re.search(r'<span class="account-state" data-user="\d+">Imported</span>',
                         session.get(users, timeout=10).text) is not None

    wait_until(imported_in_chat, timeout=60, interval=0.5)
    add = f"{base}/admin/contactgroups/contactgroup/add/"
    data = group_form_data(name="work", items=[(protocol.TYPE_GROUP, "", "@TGS#1B2AUI7RZ")])
    saved = post(session, add, {**data, "owner": str(owner_pk), "_save": "Save"})
    assert "“work (user_0001)” is saved; syncing it to Chat." in saved.text
    with sqlite3.connect(make_run.database) as database:
        [(group_pk,)] = database.execute("select id from contactgroups_contactgroup where name = 'work'")
    page = f"{base}/admin/contactgroups/contactgroup/{group_pk}/change/"

    def synced():
        """the group's page shows it synced"""
        return states_shown(session.get(page, timeout=10).text) == ["synced"]

    wait_until(synced, timeout=60, interval=0.5)
    assert re.search(r"Created in Chat as GroupId \d+: 1 conversation added\.", session.get(page, timeout=10).text)

    # Ctrl-C, as a terminal sends it: to the whole foreground process group.
    os.killpg(make_run.pid, signal.SIGINT)
    make_run.wait(60)
    deadline = time.monotonic() + 10
    while still_running(make_run.started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert still_running(make_run.started) == {}
    assert not answers(f"{base}/admin/login/")
    assert "Ctrl-C stops them all." in make_run.log.read_text()


def test_run_sh_stopped_alone_stops_everything_it_started(make_run):
    """SIGTERM to the script only (a supervisor stopping it): it stops what it started, leaving no orphan."""
    base = f"http://127.0.0.1:{make_run.ports['PORT']}"
    wait_until(lambda: answers(f"{base}/admin/login/") or make_run.poll() is not None, timeout=120)
    assert make_run.poll() is None, make_run.log.read_text()[-3000:]
    make_run.started = processes_under(make_run.pid)
    assert len(make_run.started) >= 6, make_run.started
    make_run.send_signal(signal.SIGTERM)
    make_run.wait(60)
    deadline = time.monotonic() + 10
    while still_running(make_run.started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert still_running(make_run.started) == {}


@pytest.fixture
def make_run_on_ports(tmp_path, capsys):
    """`PORT=... SANDBOX_PORT=... REDIS_PORT=... make run` on a fresh folder: the .env scripts/make_env.py writes
    for those ports (and what it printed), no DJANGO_SUPERUSER_PASSWORD, so the account gets a new password."""
    ports = {"PORT": free_port(), "SANDBOX_PORT": free_port(), "REDIS_PORT": free_port()}
    (tmp_path / ".env.example").write_text((ROOT / ".env.example").read_text())
    assert make_env.main(tmp_path, {name: str(port) for name, port in ports.items()}) == 0
    env = clean_env(IMADMIN_ENV_FILE=str(tmp_path / ".env"), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    env_printed = capsys.readouterr().out
    for process in started(tmp_path, env, ports):
        process.env_printed = env_printed
        yield process


def test_make_run_writes_and_prints_the_ports_it_is_given_and_the_admin_password_last(make_run_on_ports):
    ports, log = make_run_on_ports.ports, make_run_on_ports.log
    sandbox = f"http://127.0.0.1:{ports['SANDBOX_PORT']}"
    assert make_run_on_ports.env_printed == f"Wrote .env with new secrets (DEBUG on, Chat sandbox on 127.0.0.1:" \
                                           f"{ports['SANDBOX_PORT']}).\n"
    env_file = Path(make_run_on_ports.env["IMADMIN_ENV_FILE"]).read_text().splitlines()
    assert f"CHAT_API_BASE_URL={sandbox}" in env_file and "8081" not in "\n".join(env_file)

    def password_shown():
        """run.sh printed the admin account's password"""
        return "shown only this once:" in log.read_text() or make_run_on_ports.poll() is not None

    wait_until(password_shown, timeout=180)
    assert make_run_on_ports.poll() is None, log.read_text()[-3000:]
    time.sleep(2)  # anything printed just after it
    lines = log.read_text().splitlines()
    [password_line] = [n for n, line in enumerate(lines) if "shown only this once:" in line]
    password = lines[password_line].rsplit(": ", 1)[1].strip()
    # Last: after every process's start-up lines, and nothing but the way to set a new one after it.
    for started_line in (f"Listening at: http://127.0.0.1:{ports['PORT']}", " ready.", "beat: Starting"):
        assert max(n for n, line in enumerate(lines) if started_line in line) < password_line, started_line
    assert [line for line in lines[password_line + 1:] if line.strip()] == [
        "To set a new password: .venv/bin/python manage.py changepassword admin"]
    # Where each listens, printed just before: the ports given.
    assert lines[password_line - 2:password_line] == [
        f"imadmin is running: the admin on http://127.0.0.1:{ports['PORT']}/admin/, the Chat sandbox on {sandbox},",
        f"Redis on 127.0.0.1:{ports['REDIS_PORT']}. Ctrl-C stops them all."]
    # The sandbox answers where .env says it is, and the printed password logs in.
    health = requests.get(f"{sandbox}/__sandbox__/health", timeout=5, proxies=NO_PROXY)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    session = requests.Session()
    session.trust_env = False
    log_in(session, f"http://127.0.0.1:{ports['PORT']}", password)
