"""Real services for the tests: a Redis server and a Celery worker, each on its own, stopped at the end.

Nothing here is skipped when a binary is missing: the fixture fails and says what to install
(`make test` installs it).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port free now and not handed out before by this process. The system may offer a port again as soon
    as its probe closes, before whoever was handed it binds it: two services of one test would then share it."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_for(predicate, timeout: float, what: str, process: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.05)
    detail = log.read_text()[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not start.\n{detail}")


def stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class RedisServer:
    def __init__(self, directory: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run `make test`, or apt-get install redis-server.")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.log = directory / "redis.log"
        self.command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--dir", str(directory), "--logfile", str(self.log)]
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(self.ping, 10, "redis-server", self.process, self.log)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        stop(self.process)

    # An outage: shut_down() then start_again(), on the same port, with the same data.

    def shut_down(self) -> None:
        """Stop the way a Redis with persistence stops: write the data set to disk (SHUTDOWN SAVE), then exit.

        Clients see the connection refused until ``start_again()``.
        """
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(b"SHUTDOWN SAVE\r\n")
            conn.recv(64)  # Redis closes the connection as it exits; it answers only if it could not save.
        self.process.wait(15)

    def start_again(self) -> None:
        """Start on the same port and directory, loading the data set ``shut_down()`` saved."""
        if self.process.poll() is None:
            raise RuntimeError("redis-server is still running")
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(self.ping, 10, "redis-server", self.process, self.log)


class CeleryWorker:
    """`celery -A imadmin worker` in its own process group, with the test database and Chat sandbox.

    ``cwd`` and ``hostname`` make it another "machine": its own working directory (the project found through
    PYTHONPATH, as an installed deployment finds it) and its own node name (``-n``).
    """

    def __init__(self, directory: Path, env: dict[str, str], name: str = "worker", cwd: Path | None = None,
                 hostname: str | None = None):
        self.log = directory / f"celery-{name}-{time.monotonic_ns()}.log"
        self.hostname = hostname or f"{name}@%h"
        extra = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))} if cwd else {}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "imadmin", "worker", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--loglevel=INFO", f"--hostname={self.hostname}",
             f"--logfile={self.log}"],
            cwd=cwd or ROOT, env={**os.environ, **env, **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: self.log.exists() and " ready." in self.log.read_text(), 60, "The Celery worker",
                 self.process, self.log)

    def stop(self, sig=signal.SIGTERM):
        stop(self.process, sig)

    def kill_group(self) -> None:
        """SIGKILL the worker's whole process group at once, as a machine that dies."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(15)


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for another process to reach the database the tests use."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    if engine.endswith("postgresql"):
        return (f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD']}@{settings_dict['HOST']}:"
                f"{settings_dict['PORT']}/{settings_dict['NAME']}")
    raise RuntimeError(f"No URL form for database engine {engine}.")
