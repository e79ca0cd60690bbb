"""The deployment in deploy/ runs as written: the systemd units start the Procfile's command lines, and the web
unit's command line, started with DEBUG off behind a TLS proxy's header, serves a page and its hashed, compressed,
long-cached CSS over HTTP, after migrate and collectstatic, the order docs/deploy.md gives."""

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import wait_until
from tests.services import ROOT, free_port

pytestmark = pytest.mark.services

UNITS = {"web": "imadmin-web.service", "worker": "imadmin-worker.service", "beat": "imadmin-beat.service"}
INSTALLED = "/srv/imadmin/"
HOST = "admin.example.org"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))


def exec_start(unit: str) -> str:
    [line] = [line for line in (ROOT / "deploy" / unit).read_text().splitlines() if line.startswith("ExecStart=")]
    return line.removeprefix("ExecStart=").replace(INSTALLED, "")


def test_the_units_run_the_procfiles_command_lines():
    processes = procfile()
    for name, unit in UNITS.items():
        assert exec_start(unit) == processes[name], unit
        text = (ROOT / "deploy" / unit).read_text()
        assert "WorkingDirectory=/srv/imadmin\n" in text and "EnvironmentFile=/etc/imadmin/env\n" in text


def test_the_example_environment_holds_no_secret():
    values = dict(line.split("=", 1) for line in (ROOT / "deploy" / "env.example").read_text().splitlines()
                  if line and not line.startswith("#"))
    for name in ("SECRET_KEY", "CHAT_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "METRICS_TOKEN", "SENTRY_DSN"):
        assert values[name] == "", name
    assert values["DEBUG"] == "false"


@pytest.fixture
def production(tmp_path):
    """The environment a unit gets from /etc/imadmin/env: DEBUG off, behind a TLS proxy, a database migrated and the
    static files collected, as docs/deploy.md orders them."""
    port = free_port()
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update({
        "IMADMIN_ENV_FILE": "", "DEBUG": "false", "SECRET_KEY": "x" * 60, "ALLOWED_HOSTS": HOST,
        "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto,https", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "", "STATIC_ROOT": str(tmp_path / "static"), "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2", "CHAT_SDKAPPID": "1400000000", "CHAT_SECRET_KEY": "y" * 32,
        "CHAT_API_BASE_URL": f"http://127.0.0.1:{free_port()}",
    })
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        result = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr
    return env, f"http://127.0.0.1:{port}"


def test_the_web_units_command_line_serves_a_page_and_its_css_with_debug_off(production, tmp_path):
    env, base = production
    command = shlex.split(exec_start(UNITS["web"]))
    command[0] = str(Path(sys.executable).parent / Path(command[0]).name)  # this checkout's virtualenv
    log = tmp_path / "gunicorn.log"
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    session = requests.Session()
    session.trust_env = False
    proxy = {"Host": HOST, "X-Forwarded-Proto": "https"}
    try:
        def serving():
            """gunicorn answers"""
            assert process.poll() is None, log.read_text()
            try:
                return session.get(f"{base}/health/", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(serving, timeout=60)
        page = session.get(f"{base}/admin/login/", headers=proxy, timeout=10)
        assert page.status_code == 200, page.text[:500]
        assert "Log in" in page.text
        [css] = re.findall(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.text)
        sheet = session.get(f"{base}{css}", headers={**proxy, "Accept-Encoding": "gzip"}, timeout=10)
        assert sheet.status_code == 200
        assert sheet.headers["Content-Type"].startswith("text/css")
        assert sheet.headers["Content-Encoding"] == "gzip"
        assert "immutable" in sheet.headers["Cache-Control"]
        assert int(re.search(r"max-age=(\d+)", sheet.headers["Cache-Control"]).group(1)) >= 365 * 86400
        assert "body" in sheet.text  # requests undid the gzip: the stylesheet itself
        # Plain http, not through the proxy: sent to https, as DEBUG off wants.
        plain = session.get(f"{base}/admin/login/", headers={"Host": HOST}, allow_redirects=False, timeout=10)
        assert (plain.status_code, plain.headers["Location"]) == (301, f"https://{HOST}/admin/login/")
        # A host the deployment does not serve is refused.
        assert session.get(f"{base}/admin/login/", headers={**proxy, "Host": "evil.example"},
                           timeout=10).status_code == 400
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0, log.read_text()[-2000:]
