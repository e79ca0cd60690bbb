"""The benchmarks on PostgreSQL start what they need or say in one line what is missing, never a traceback.

``bench/database_server.py`` gives them a server: the one ``IMADMIN_BENCH_POSTGRES`` names when it answers, else a
throwaway PostgreSQL 15 started with scripts/postgres.sh and stopped at the end. The benchmarks themselves are not
run here (minutes of seeding); only how each begins.
"""

import argparse
import os
import sys
from pathlib import Path

import psycopg
import pytest

from bench import database_server
from tests.make_run import clean_env, run
from tests.services import free_port

BENCHMARKS = ["bench/admin_scale.py", "bench/audit_scale.py", "bench/health_page.py", "bench/user_search.py",
              "bench/group_search.py"]


def one_line(result) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.mark.parametrize("script", BENCHMARKS)
def test_a_named_server_that_does_not_answer_is_said_in_one_line(script):
    closed = free_port()
    result = run([sys.executable, script], clean_env(
        IMADMIN_BENCH_POSTGRES=f"postgres://postgres:secret-word@127.0.0.1:{closed}/postgres"), timeout=60)
    line = one_line(result)
    assert line.startswith(f"{script}: the PostgreSQL server of postgres://postgres:***@127.0.0.1:{closed}/postgres "
                           "does not answer (")
    assert "secret-word" not in line


@pytest.mark.parametrize("script", BENCHMARKS)
def test_a_database_url_that_does_not_answer_is_said_in_one_line(script):
    closed = free_port()
    result = run([sys.executable, script, "--database-url", f"postgres://postgres:x@127.0.0.1:{closed}/bench"],
                 clean_env(), timeout=60)
    assert f"127.0.0.1:{closed}/bench does not answer" in one_line(result)


def test_keeping_a_database_asks_for_a_server_that_outlives_the_run():
    line = one_line(run([sys.executable, "bench/admin_scale.py", "--keep"], clean_env(), timeout=60))
    assert "--keep and --reuse need a PostgreSQL server that outlives the run: set IMADMIN_BENCH_POSTGRES" in line


@pytest.mark.skipif(not (database_server.POSTGRES_BIN / "initdb").exists() or os.geteuid() != 0,
                    reason="starting PostgreSQL 15 needs it installed and root (make test installs it)")
def test_without_a_named_server_one_is_started_for_the_run_and_stopped_after(monkeypatch, capsys):
    monkeypatch.delenv(database_server.ENVIRONMENT, raising=False)
    with database_server.server() as url:
        with psycopg.connect(url, connect_timeout=5) as connection:
            [(version,)] = connection.execute("SHOW server_version_num").fetchall()
        assert version.startswith("15")
        assert capsys.readouterr().out.startswith("Started PostgreSQL 15 on 127.0.0.1:")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)



def test_the_databases_a_benchmark_runs_on_are_the_urls_given_or_sqlite_and_postgresql(monkeypatch, tmp_path):
    given = [f"sqlite:///{tmp_path}/mine.sqlite3"]
    with database_server.databases(given, "bench.sqlite3", "imadmin_x_bench") as urls:
        assert urls == given
    monkeypatch.setenv(database_server.ENVIRONMENT, "postgres://postgres:pw@127.0.0.1:5999/postgres")
    monkeypatch.setattr(database_server, "check", lambda url: None)  # the server named, taken as answering
    with database_server.databases([], "bench.sqlite3", "imadmin_x_bench") as urls:
        folder = urls[0].removeprefix("sqlite:///").removesuffix("/bench.sqlite3")
        assert urls == [f"sqlite:///{folder}/bench.sqlite3", "postgres://postgres:pw@127.0.0.1:5999/imadmin_x_bench"]
        assert os.path.isdir(folder)
    assert not os.path.exists(folder)


@pytest.mark.parametrize("script", BENCHMARKS)
def test_a_database_that_exists_already_is_left_alone(script, tmp_path):
    kept = tmp_path / "kept.sqlite3"
    kept.write_text("kept")
    result = run([sys.executable, script, "--database-url", f"sqlite:///{kept}"], clean_env(), timeout=60)
    again = ("drop it first." if script in ("bench/audit_scale.py", "bench/health_page.py")
             else "pass --reuse to measure it again, or drop it.")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"sqlite:///{kept} already exists: {again}\n")
    assert kept.read_text() == "kept"


CHILD = """import pathlib, sys
url = sys.argv[sys.argv.index("--child") + 1]
pathlib.Path(url.removeprefix("sqlite:///")).write_text("measured")
with open(sys.argv[0] + ".log", "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
sys.exit(1 if "--fail" in sys.argv else 0)
"""


def measure(tmp_path, capsys, urls, child_args=(), **options):
    """``measure_databases`` with a child that makes its SQLite file; its status, what it printed, the children's
    command lines."""
    program = tmp_path / "child.py"
    program.write_text(CHILD)
    args = argparse.Namespace(database_url=urls, **options)
    status = database_server.measure_databases(str(program), args, "unused", "unused.sqlite3", list(child_args))
    log = Path(str(program) + ".log")
    return status, capsys.readouterr(), log.read_text().splitlines() if log.exists() else []


def test_each_database_is_created_measured_by_a_child_and_dropped(tmp_path, capsys):
    first, second = f"sqlite:///{tmp_path}/one.sqlite3", f"sqlite:///{tmp_path}/two.sqlite3"
    status, printed, commands = measure(tmp_path, capsys, [first, second], ["--runs", "3"], keep=False, reuse=False)
    assert status == 0 and printed.out == printed.err == ""
    assert commands == [f"--child {first} --runs 3 --seed", f"--child {second} --runs 3 --seed"]
    assert not (tmp_path / "one.sqlite3").exists() and not (tmp_path / "two.sqlite3").exists()

    status, printed, _ = measure(tmp_path, capsys, [first], ["--fail"], keep=True)
    assert status == 1
    assert printed.out == f"Kept: {first}\n" and (tmp_path / "one.sqlite3").exists()


def test_a_database_that_exists_is_measured_again_only_with_reuse(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/kept.sqlite3"
    (tmp_path / "kept.sqlite3").write_text("kept")
    status, printed, commands = measure(tmp_path, capsys, [url], reuse=False, keep=False)
    assert (status, commands) == (1, [])
    assert printed.err == f"{url} already exists: pass --reuse to measure it again, or drop it.\n"

    status, printed, commands = measure(tmp_path, capsys, [url], keep=False)  # a benchmark without --reuse
    assert (status, commands) == (1, [])
    assert printed.err == f"{url} already exists: drop it first.\n"
    assert (tmp_path / "kept.sqlite3").read_text() == "kept"

    status, printed, commands = measure(tmp_path, capsys, [url], reuse=True, keep=False)
    assert (status, commands) == (0, [f"--child {url}"])  # not seeded again, and not dropped
    assert (tmp_path / "kept.sqlite3").read_text() == "measured"
