"""Every example of a management command or of a request to the admin in README.md and docs/ runs as written right
after `make run`.

The setup is `make run`'s own: the .env scripts/make_env.py writes, a migrated SQLite file, the `admin` account
from ``ensure_superuser``, the Chat sandbox on a loopback port and the admin serving. Then each ```sh block that
runs ``.venv/bin/python manage.py`` or asks the admin at ``http://127.0.0.1:8000`` is run by bash, README.md's
first, then each docs/*.md file's in the order of their names, each file's in its order, in one scratch folder
(the files one example writes are there for the next), with only the interpreter's path put in for
``.venv/bin/python manage.py``, the admin's port for 8000 and that folder for the examples' own scratch folder,
``/tmp/imadmin-examples``. They run in an empty folder standing for the project's, which they leave empty: no
file of theirs is left among the project's.
"""

import re
import socket
import subprocess
import sys
import time

import pytest

from tests.make_run import ROOT, make_run_env, run
from tests.services import free_port

COMMAND = ".venv/bin/python manage.py"
ADMIN = "http://127.0.0.1:8000"
SCRATCH = "/tmp/imadmin-examples"


def documents() -> list:
    """README.md, then every docs/*.md file by name: the order the examples run in."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def command_examples() -> list[str]:
    blocks = [block for document in documents()
              for block in re.findall(r"^```sh\n(.*?)^```", document.read_text(), flags=re.DOTALL | re.MULTILINE)]
    return [block for block in blocks
            if any(line.startswith(COMMAND) or line.startswith("curl ") and ADMIN in line
                   for line in block.splitlines())]


@pytest.fixture
def after_make_run(tmp_path):
    """The environment right after `make run`, with its sandbox serving; yields (env, scratch folder)."""
    env = make_run_env(tmp_path)
    env.pop("DJANGO_SUPERUSER_PASSWORD")
    for command in (["migrate", "--noinput"], ["ensure_superuser"]):
        result = run([sys.executable, "manage.py", *command], env)
        assert result.returncode == 0, result.stderr
    port = free_port()
    env["CHAT_API_BASE_URL"] = f"http://127.0.0.1:{port}"
    env["CHAT_SANDBOX_STATE"] = str(tmp_path / "chat-sandbox.json")
    sandbox = subprocess.Popen([sys.executable, "manage.py", "chat_sandbox", "--host", "127.0.0.1", "--port",
                                str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    admin_port = free_port()
    admin = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{admin_port}"],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for process, listening, what in ((sandbox, port, "the sandbox"), (admin, admin_port, "the admin")):
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", listening), timeout=1).close()
                    break
                except OSError:
                    assert process.poll() is None and time.monotonic() < deadline, f"{what} did not start"
                    time.sleep(0.1)
        env["IMADMIN_TEST_ADMIN"] = f"http://127.0.0.1:{admin_port}"
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        yield env, scratch
    finally:
        for process in (admin, sandbox):
            process.terminate()
            process.wait(timeout=10)


def test_the_docs_have_an_example_of_every_operator_command():
    commands = {match for block in command_examples() for match in re.findall(rf"{re.escape(COMMAND)} (\w+)", block)}
    assert {"import_chat_users", "import_contact_groups", "sync_contact_groups", "pull_contact_groups",
            "export_contact_groups", "sweep_contact_groups"} <= commands


def test_every_command_example_runs_as_written_after_make_run(after_make_run):
    env, scratch = after_make_run
    project = scratch.parent / "project"
    project.mkdir()
    for block in command_examples():
        script = block.replace(COMMAND, f"{sys.executable} {ROOT / 'manage.py'}").replace(
            ADMIN, env["IMADMIN_TEST_ADMIN"]).replace(SCRATCH, str(scratch / "examples"))
        result = run(["bash", "-euo", "pipefail", "-c", script], env, cwd=project)
        assert result.returncode == 0, f"{block}\n{result.stdout}\n{result.stderr}"
        assert "axes" not in result.stdout + result.stderr.lower(), result.stderr
    assert list(project.iterdir()) == []
    assert sorted(path.name for path in (scratch / "examples").iterdir())[1:] == ["groups.csv", "users.csv"]
    [export] = (scratch / "examples").glob("groups-*.csv")
    assert export.read_text().splitlines()[1:] == [
        "user_0001,Work,1,synced,1,user_0002,0,", "user_0001,Work,1,synced,2,'@TGS#1B2AUI7RZ,0,"]
