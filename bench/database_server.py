"""The PostgreSQL server a benchmark measures on: the one ``IMADMIN_BENCH_POSTGRES`` names, or one it starts.

Without ``IMADMIN_BENCH_POSTGRES`` a throwaway PostgreSQL 15 server is started as CI starts one
(``scripts/postgres.sh``, root and Debian's ``postgresql-15`` needed) on a free loopback port, in a temporary
folder, and stopped and removed at the end. What is missing (the server named that does not answer, PostgreSQL not
installed, not root) is raised as ``Missing`` with one line saying what to do, which the benchmark prints instead
of a traceback. ``databases`` picks what a benchmark runs on: the URLs it was given, or a SQLite file and a
database on that server; ``parser`` gives a benchmark its options for them. ``measure_databases`` creates each, runs
the benchmark's child process on it and drops it, and prints what is missing in one line.
"""

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
ENVIRONMENT = "IMADMIN_BENCH_POSTGRES"


class Missing(Exception):
    """What a benchmark needs and does not have, in one line."""


def _without_password(url: str) -> str:
    """``url`` for messages: its password, if any, as ``***`` (a SQLite URL as it was)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.password:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.replace(":" + parts.password + "@", ":***@")))


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
def databases(given: list[str], sqlite_file: str, database: str, keep: bool = False,
              reuse: bool = False) -> Iterator[list[str]]:
    """The URLs a benchmark runs on, for as long as the block runs: ``given`` (its ``--database-url``s, each
    checked), or, none given, a SQLite file named ``sqlite_file`` in a temporary folder (removed at the end unless
    ``keep``) and the database ``database`` on the PostgreSQL server of ``server(lasting=keep or reuse)``."""
    if given:
        for url in given:
            check(url)
        yield list(given)
        return
    with server(lasting=keep or reuse) as maintenance:
        folder = tempfile.mkdtemp(prefix="imadmin-bench-")
        try:
            yield [f"sqlite:///{folder}/{sqlite_file}", with_database(maintenance, database)]
        finally:
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)


def parser(description: str, fills: str = "seed", reuse: bool = False) -> argparse.ArgumentParser:
    """The options of a benchmark that ``measure_databases`` runs: ``--database-url`` (repeatable), ``--keep``,
    with ``reuse`` ``--reuse``, and the child's own (hidden): ``--child URL`` and, with ``reuse``, ``--seed``.
    ``fills``: what the benchmark does to a new database, in the help."""
    options = argparse.ArgumentParser(description=description)
    options.add_argument("--database-url", action="append", default=[],
                         help=f"a database to create, {fills} and measure (repeatable); default: SQLite and PostgreSQL")
    options.add_argument("--keep", action="store_true", help="keep the databases after the run")
    if reuse:
        options.add_argument("--reuse", action="store_true", help="measure databases kept by an earlier run")
        options.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    options.add_argument("--child", help=argparse.SUPPRESS)
    return options


def measure_databases(program: str, args, database: str, sqlite_file: str, child_args: list[str]) -> int:
    """Runs the benchmark ``program`` (its path in the project) on each database of ``databases`` in turn, in a
    child process ``program --child URL child_args``; non-zero if any failed, 2 when something is missing (said in
    one line after ``program``'s name).

    ``args`` are the benchmark's options: ``database_url`` (the URLs given), ``keep``, and ``reuse`` where the
    benchmark has it. Each database is created, measured and dropped at the end unless ``keep``. One that exists
    already is measured again with ``reuse`` (and not dropped), else left alone and the run fails. A benchmark with
    ``reuse`` is told ``--seed`` when its database was created for the run; one without it always seeds.
    """
    reuse = getattr(args, "reuse", None)
    try:
        with databases(args.database_url, sqlite_file, database, keep=args.keep, reuse=bool(reuse)) as urls:
            failed = False
            for url in urls:
                existed = exists(url)
                if existed and not reuse:
                    again = "drop it first." if reuse is None else "pass --reuse to measure it again, or drop it."
                    print(f"{_without_password(url)} already exists: {again}", file=sys.stderr)
                    failed = True
                    continue
                if not existed:
                    create(url)
                try:
                    command = [sys.executable, str(ROOT / program), "--child", url, *child_args]
                    if reuse is not None and not existed:
                        command.append("--seed")
                    failed |= subprocess.call(command) != 0
                finally:
                    if not args.keep and not existed:
                        drop(url)
            if args.keep:
                print(f"Kept: {', '.join(_without_password(url) for url in urls)}")
            return 1 if failed else 0
    except Missing as missing:
        print(f"{program}: {missing}", file=sys.stderr)
        return 2


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def _sqlite_path(url: str) -> Path:
    return Path(urllib.parse.urlsplit(url).path)


def _maintenance(url: str):
    """An autocommit connection to the maintenance database of the URL's server, and the URL's database name."""
    import psycopg

    name = urllib.parse.urlsplit(url).path.lstrip("/")
    return psycopg.connect(with_database(url, "postgres"), autocommit=True), name


def exists(url: str) -> bool:
    """Whether the database of ``url`` exists (a SQLite file, a database on a PostgreSQL server)."""
    if _is_sqlite(url):
        return _sqlite_path(url).exists()
    connection, name = _maintenance(url)
    with connection:
        return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def create(url: str) -> None:
    """Creates the PostgreSQL database of ``url`` (a SQLite file is made by its first connection)."""
    if _is_sqlite(url):
        return
    from psycopg import sql

    connection, name = _maintenance(url)
    with connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop(url: str) -> None:
    """Drops the database of ``url``: a SQLite file with its journals, a PostgreSQL database with its sessions."""
    if _is_sqlite(url):
        path = _sqlite_path(url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    from psycopg import sql

    connection, name = _maintenance(url)
    with connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
