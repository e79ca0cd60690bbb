"""The PostgreSQL server a benchmark measures on: the one ``IMADMIN_BENCH_POSTGRES`` names, or one it starts.

Without ``IMADMIN_BENCH_POSTGRES`` a throwaway PostgreSQL 15 server is started as CI starts one
(``scripts/postgres.sh``, root and Debian's ``postgresql-15`` needed) on a free loopback port, in a temporary
folder, and stopped and removed at the end. What is missing (the server named that does not answer, PostgreSQL not
installed, not root) is raised as ``Missing`` with one line saying what to do, which the benchmark prints instead
of a traceback. ``databases`` picks what a benchmark runs on: the URLs it was given, or a SQLite file and a
database on that server. ``measure_databases`` runs a
measurement on them and prints what is missing in one line.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
ENVIRONMENT = "IMADMIN_BENCH_POSTGRES"


class Missing(Exception):
    """What a benchmark needs and does not have, in one line."""


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":***@"))
    return urllib.parse.urlunsplit(parts)


def with_database(url: str, name: str) -> str:
    """``url`` naming the database ``name`` on the same server."""
    return urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path="/" + name))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check(url: str) -> None:
    """Raises ``Missing`` unless the PostgreSQL server of ``url`` accepts a connection to its database
    ``postgres`` (a SQLite URL passes)."""
    if url.startswith("sqlite:"):
        return
    import psycopg

    maintenance = urllib.parse.urlunsplit(urllib.parse.urlsplit(url)._replace(path="/postgres"))
    try:
        psycopg.connect(maintenance, connect_timeout=5).close()
    except psycopg.Error as exc:
        said = [line.strip() for line in str(exc).strip().splitlines()]
        raise Missing(f"the PostgreSQL server of {_without_password(url)} does not answer "
                      f"({said[0] if said else type(exc).__name__}): start one (scripts/postgres.sh start DIR "
                      f"PORT), or leave {ENVIRONMENT} and --database-url unset for one started for the run") from None


@contextlib.contextmanager
def server(lasting: bool = False) -> Iterator[str]:
    """The URL of a PostgreSQL server's maintenance database ``postgres``, for as long as the block runs.

    ``lasting``: what the benchmark makes must outlive it (``--keep``, ``--reuse``), so a server it would start
    and stop does not do: ``IMADMIN_BENCH_POSTGRES`` must name one.
    """
    named = os.environ.get(ENVIRONMENT)
    if named:
        check(named)
        yield named
        return
    if lasting:
        raise Missing(f"--keep and --reuse need a PostgreSQL server that outlives the run: set {ENVIRONMENT}, "
                      "e.g. postgres://postgres:PASSWORD@127.0.0.1:5432/postgres")
    if not (POSTGRES_BIN / "initdb").exists():
        raise Missing(f"PostgreSQL 15 is not installed ({POSTGRES_BIN}): run scripts/system_deps.sh test as root, "
                      f"or set {ENVIRONMENT} to a server of yours, or pass --database-url sqlite:///FILE")
    if os.geteuid() != 0:
        raise Missing(f"starting a PostgreSQL server (scripts/postgres.sh) needs root: set {ENVIRONMENT} to a "
                      "server of yours, or pass --database-url sqlite:///FILE")
    folder = tempfile.mkdtemp(prefix="imadmin-bench-pg-")
    os.chmod(folder, 0o755)  # the postgres user reads its data folder inside
    port = _free_port()
    started = subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start", f"{folder}/pg", str(port)],
                             capture_output=True, text=True)
    try:
        if started.returncode != 0:
            said = (started.stderr or started.stdout).strip().splitlines()
            raise Missing(f"scripts/postgres.sh could not start PostgreSQL: {said[-1] if said else started.returncode}")
        print(f"Started PostgreSQL 15 on 127.0.0.1:{port} for this run (set {ENVIRONMENT} to use a server of yours).")
        yield f"postgres://postgres:cipass@127.0.0.1:{port}/postgres"
    finally:
        if started.returncode == 0:
            subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop", f"{folder}/pg"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def databases(given: list[str], sqlite_file: str, database: str, lasting: bool = False) -> Iterator[list[str]]:
    """The URLs a benchmark runs on, for as long as the block runs: ``given`` (its ``--database-url``s, each
    checked), or, none given, a SQLite file named ``sqlite_file`` in a temporary folder (removed at the end unless
    ``lasting``) and the database ``database`` on the PostgreSQL server of ``server(lasting)``."""
    if given:
        for url in given:
            check(url)
        yield list(given)
        return
    with server(lasting=lasting) as maintenance:
        folder = tempfile.mkdtemp(prefix="imadmin-bench-")
        try:
            yield [f"sqlite:///{folder}/{sqlite_file}", with_database(maintenance, database)]
        finally:
            if not lasting:
                shutil.rmtree(folder, ignore_errors=True)


def measure_databases(program: str, urls: list[str] | None, database: str, sqlite_file: str, lasting: bool,
                      measure: Callable[[list[str], str | None], int]) -> int:
    """``measure(urls, folder)``'s exit status on ``databases(urls, sqlite_file, database, lasting)``, with the
    SQLite file's folder (None when ``urls`` were given). What is missing is printed in one line after
    ``program``'s name, and the status is 2."""
    try:
        with databases(urls or [], sqlite_file, database, lasting) as picked:
            return measure(picked, None if urls else os.path.dirname(picked[0].removeprefix("sqlite:///")))
    except Missing as missing:
        print(f"{program}: {missing}", file=sys.stderr)
        return 2
