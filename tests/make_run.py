"""What `make run` sets up, for tests that start the project as it does: a clean environment and its .env file.

``make_env`` is scripts/make_env.py itself, loaded as a module, so the tests use the very .env it writes.
"""

import atexit
import functools
import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_spec = importlib.util.spec_from_file_location("make_env", ROOT / "scripts" / "make_env.py")
make_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_env)


def clean_env(**values) -> dict:
    """An environment holding only ``values``: no .env file, none of the test settings' variables."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "IMADMIN_ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "imadmin.settings"}
    env.update(values)
    return env


def run(args, env, timeout=120, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def make_run_env(tmp_path) -> dict:
    """The environment `make run` gives the admin: the .env scripts/make_env.py writes from .env.example."""
    (tmp_path / ".env.example").write_text((ROOT / ".env.example").read_text())
    assert make_env.main(tmp_path) == 0
    return clean_env(IMADMIN_ENV_FILE=str(tmp_path / ".env"), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                     DJANGO_SUPERUSER_PASSWORD="make-run-password-1")


@functools.cache
def collected_static() -> str:
    """A STATIC_ROOT that ``collectstatic`` filled with production's storage (hashed names, compressed), once a test
    run, for the subprocesses that serve pages with DEBUG off: as in a deployment, they need it to name a stylesheet."""
    root = tempfile.mkdtemp(prefix="imadmin-static-")
    atexit.register(shutil.rmtree, root, True)
    env = clean_env(DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64), STATIC_ROOT=root)
    result = run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], env, timeout=300)
    assert result.returncode == 0, result.stderr
    return root
