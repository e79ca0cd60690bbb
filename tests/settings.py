"""Test settings: the project's settings with a fixed Chat app and fast password hashing."""

import os

os.environ["IMADMIN_ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "imadmin-test-secret-key-not-for-production")
os.environ.setdefault("CHAT_SDKAPPID", "1400000000")
os.environ.setdefault("CHAT_SECRET_KEY", "test-chat-secret-key-0123456789abcdef")
os.environ.setdefault("CHAT_ADMIN_IDENTIFIER", "administrator")
# The tests serve over plain http on the loopback address, as `make run` does (the browser suite too);
# tests/project/test_security.py checks the production defaults in a subprocess.
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
# Staff log in with a password alone here, as with `make run`: most tests are about what a signed-in staff member
# does, not how they sign in, and sign in with force_login or the login form many times a minute (an authenticator's
# code is good once a 30-second step). The tests of the second factor turn it on, as production has it
# (tests/admin/test_second_factor.py, tests/browser/test_second_factor.py); tests/project/test_security.py checks
# that production's default is on.
os.environ.setdefault("STAFF_SECOND_FACTOR", "false")

from imadmin.settings import *  # noqa: E402,F401,F403

# A file, not memory, so a Celery worker in another process sees the test database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    (BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
    # One file per test run, so two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3")}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Retries in tests wait milliseconds, not seconds.
SYNC_RETRY_BASE_SECONDS = 0.01
SYNC_RETRY_CAP_SECONDS = 0.05

# Static files served from the apps' folders, so tests need no collectstatic; tests/project/test_deploy.py runs
# the production path (collectstatic, hashed names, WhiteNoise) in a process of its own.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
