"""Django in a database benchmark's child process: the project's settings, DEBUG off, on the one database measured.

``environment`` gives the variables (the same for every benchmark but for what it names: the settings module, the
hosts it is reached by, and whether it is served over plain HTTP on loopback); ``set_up`` sets them, starts Django,
migrates the database and returns the label each benchmark prints it under. Staff sign in without a second factor
in every benchmark: a superuser logged in with ``force_login`` (or the login page) reaches the pages measured, not
the second factor's setup wizard.
"""

import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.make_run import collected_static  # noqa: E402

SECRET_KEY = "imadmin-bench-secret-key-not-for-production"


def environment(url: str, settings_module: str = "imadmin.settings", allowed_hosts: str = "testserver",
                plain_http: bool = False) -> dict[str, str]:
    """The project's settings with DEBUG off on the database ``url``, without a second factor, no broker, logging
    warnings and worse. ``plain_http``: served over HTTP on loopback (no redirect to HTTPS, cookies sent over
    HTTP, no HSTS), as bench/sync_bench.py serves them; otherwise requests must say they are HTTPS."""
    variables = {
        "DJANGO_SETTINGS_MODULE": settings_module, "IMADMIN_ENV_FILE": "", "DATABASE_URL": url,
        "STATIC_ROOT": collected_static(),  # DEBUG off serves the hashed names collectstatic writes
        "SECRET_KEY": SECRET_KEY, "DEBUG": "false", "ALLOWED_HOSTS": allowed_hosts, "CELERY_BROKER_URL": "",
        "STAFF_SECOND_FACTOR": "false", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
    }
    if plain_http:
        variables.update({"SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false",
                          "CSRF_COOKIE_SECURE": "false", "SECURE_HSTS_SECONDS": "0"})
    return variables


def set_up(variables: dict[str, str], sqlite_version: bool = False) -> str:
    """Django started on ``variables`` (``environment``'s) and the database migrated; the database's label:
    ``SQLite`` (with its version when ``sqlite_version``) or ``PostgreSQL 15``."""
    os.environ.update(variables)
    import django

    logging.getLogger("axes").setLevel(logging.WARNING)  # it greets every process and every login
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if connection.vendor != "sqlite":
        return f"PostgreSQL {connection.pg_version // 10000}"
    if sqlite_version:
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    return "SQLite"
