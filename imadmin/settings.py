"""Settings for imadmin, read from the environment (12-factor) or an untracked .env file.

Every variable is documented in .env.example.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from contactgroups.conf import default as app_default
from contactgroups.conf import stranded_after

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# IMADMIN_ENV_FILE names another file, or none when empty (the tests read none).
ENV_FILE = env.str("IMADMIN_ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# No key is ever written in the source, not even for DEBUG: `make run` generates one into .env.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "Set SECRET_KEY in the environment or in .env (see .env.example; `make run` writes one)."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Django's admin, its site the staff's (imadmin/admin_site.py): a second factor when STAFF_SECOND_FACTOR is on.
    "imadmin.admin_site.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # django-axes (login throttling), named for staff.
    "imadmin.login_throttling.LoginThrottlingConfig",
    # The second factor: django-otp's devices (an authenticator app's codes, backup codes) and
    # django-two-factor-auth's sign-in and setup wizard.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "two_factor",
    "contactgroups",
]

MIDDLEWARE = [
    # /health/ and /metrics, answered first: no redirect to HTTPS, no host check, no session (contactgroups.probes).
    "contactgroups.probes.Probes",
    "django.middleware.security.SecurityMiddleware",
    # Static files, served by the web process itself, compressed, with far-future caching for hashed names.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The Content-Security-Policy header (CONTENT_SECURITY_POLICY below), on every response.
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of each page: the one the staff member chose (a cookie), else the browser's.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Whether this session passed the second factor (request.user.is_verified()).
    "django_otp.middleware.OTPMiddleware",
    # The language a staff member chose, kept for them: it follows them to a new browser.
    "contactgroups.language.StaffLanguageMiddleware",
    # An address holding a NUL is refused (400) before any view compares it with a column (contactgroups.unstorable).
    "contactgroups.unstorable.RefuseNulAddress",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out login before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "imadmin.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # Whether staff must sign in with a second factor: every admin page says so when they need not.
                "imadmin.admin_site.context",
            ],
        },
    },
]

WSGI_APPLICATION = "imadmin.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    sqlite_options = DATABASES["default"].setdefault("OPTIONS", {})
    # Wait for a writer instead of failing at once when the worker and the admin write together.
    sqlite_options.setdefault("timeout", 20)
    # Several writers at once (a worker, the admin, sync_contact_groups' threads): a transaction takes the write
    # lock when it begins, so two never deadlock upgrading a read lock (which SQLite answers at once with "database
    # is locked", without waiting); the write-ahead log lets readers go on while one writes, and commits without
    # an fsync each (synchronous=NORMAL: a power cut may lose the last commits, never corrupt the file).
    sqlite_options.setdefault("transaction_mode", "IMMEDIATE")
    sqlite_options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A group page posts about six fields a conversation, and a group may hold up to 1,000.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The language of the management commands' output, and of pages for a browser that asks for none of LANGUAGES.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The zone staff work in: every time on a page is shown in it (stored times are UTC).
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` gathers every static file here (make run does it first, and so does a deployment:
# docs/deploy.md), each under its own name and a name holding a hash of its content, compressed (gzip, and Brotli
# when installed); WhiteNoise serves them from the web process, a hashed name cached for a year and more.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# The production path in development too (WhiteNoise would otherwise look in the apps' folders when DEBUG is on):
# what is served is what collectstatic gathered.
WHITENOISE_USE_FINDERS = False
WHITENOISE_AUTOREFRESH = False

LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"

# Security. With DEBUG off the defaults are the production ones (HTTPS only, secure cookies, HSTS), so
# `manage.py check --deploy` is clean; with DEBUG on (make run, plain http on 127.0.0.1) they stay out of the
# way. Each can be changed in the environment.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 86400)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)


def _proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """``X-Forwarded-Proto,https`` (or ``HTTP_X_FORWARDED_PROTO,https``) as Django's (META key, value) pair."""
    if not value:
        return None
    header, _, expected = (part.strip() for part in value.partition(","))
    if not header or not expected:
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER must be a header and its value, such as X-Forwarded-Proto,https; not {value!r}."
        )
    key = header.upper().replace("-", "_")
    return (key if key.startswith("HTTP_") else f"HTTP_{key}", expected)


# Only behind a proxy that terminates TLS and always sets (never passes on) this header.
SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(env.str("SECURE_PROXY_SSL_HEADER", default=""))
# How many reverse proxies append to X-Forwarded-For in front of the admin; 0: the peer address is the client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# The language chosen on the admin's pages: a cookie like the others.
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A staff session lasts a working day, not Django's two weeks.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
X_FRAME_OPTIONS = "DENY"
# Scripts and styles from the site's own static files only: no inline script, no event handler in markup, no
# style attribute or <style> element (a script may still set element.style). A name an end user set in the app
# that slipped through as markup would be shown, never run. Never framed, forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Error pages and error mails never show the Chat secret key, a UserSig or a password in a URL.
DEFAULT_EXCEPTION_REPORTER = "imadmin.security.SecretRedactingExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "imadmin.security.SecretRedactingExceptionReporterFilter"

# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one address,
# that username is refused from that address, even with the right password, for AXES_COOLOFF_MINUTES. Other
# users, and the same user elsewhere (a shared office address too), are unaffected. A success clears the count;
# `manage.py axes_reset_username NAME` lifts a lockout early.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "imadmin.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "imadmin.security.client_ip"


# The app's settings below (CHAT_*, SYNC_*, CELERY_BROKER_URL) take their defaults from contactgroups/conf.py, which
# names each with its default and meaning, and through which the app reads them.
def app_setting(read, name: str):
    """The app setting ``name`` from the environment (``read``: env.int, env.str...), else its default."""
    return read(name, default=app_default(name))


# Staff sign in with a second factor (imadmin/second_factor.py, docs/security.md): an authenticator app's code
# (TOTP) or a backup code after the password. Unset: on unless DEBUG is on, so `make run` signs in with a password
# alone and says so on every page.
STAFF_SECOND_FACTOR = app_setting(env.bool, "STAFF_SECOND_FACTOR")
# A password step left this long without its code is started again.
TWO_FACTOR_LOGIN_TIMEOUT = 600
# The admin site is the project's own (imadmin.admin_site.StaffAdminSite): no patching of Django's.
TWO_FACTOR_PATCH_ADMIN = False


# Tencent Cloud Chat. Read by contactgroups.conf.chat_config(), the one place that
# turns them into a client configuration. CHAT_API_BASE_URL wins over CHAT_REGION.
CHAT_SDKAPPID = app_setting(env.int, "CHAT_SDKAPPID")
CHAT_SECRET_KEY = app_setting(env.str, "CHAT_SECRET_KEY")
CHAT_ADMIN_IDENTIFIER = app_setting(env.str, "CHAT_ADMIN_IDENTIFIER")
CHAT_REGION = app_setting(env.str, "CHAT_REGION")
CHAT_API_BASE_URL = app_setting(env.str, "CHAT_API_BASE_URL")
CHAT_RATE_LIMIT = app_setting(env.float, "CHAT_RATE_LIMIT")
# Where the client counts calls against the rate limit: this process (memory://), or a
# Redis shared by every worker. Unset: the Celery broker's Redis when there is one.
CHAT_RATE_LIMIT_STORAGE = app_setting(env.str, "CHAT_RATE_LIMIT_STORAGE")
CHAT_CONNECT_TIMEOUT = app_setting(env.float, "CHAT_CONNECT_TIMEOUT")
CHAT_READ_TIMEOUT = app_setting(env.float, "CHAT_READ_TIMEOUT")
# The most bytes of one Chat answer read; a longer one is refused unread. Unset: 4 MiB, reasoned from Chat's largest
# answers in contactgroups/chat/config.py (MAX_ANSWER_BYTES).
CHAT_ANSWER_MAX_BYTES = app_setting(env.int, "CHAT_ANSWER_MAX_BYTES")
CHAT_SANDBOX_STATE = app_setting(env.str, "CHAT_SANDBOX_STATE")

# Celery, the one engine of background work (contactgroups/tasks.py). Unset broker: the same tasks run on this
# process's in-process executor (contactgroups/engine.py), outside the request, once the transaction commits.
CELERY_BROKER_URL = app_setting(env.str, "CELERY_BROKER_URL")
if not CHAT_RATE_LIMIT_STORAGE and CELERY_BROKER_URL.startswith("redis://"):
    CHAT_RATE_LIMIT_STORAGE = CELERY_BROKER_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# `celery -A imadmin worker` with no flags: threads, not processes (a task waits on Chat and the database, not on
# the CPU, and one process stops cleanly), as many as keep Chat's 200 calls a second busy at 50 ms an answer with
# room for the database's share (docs/operations.md, Bulk sync throughput); each thread reserves one task at a
# time, so a worker killed mid-run holds few and a second worker shares the rest.
CELERY_WORKER_POOL = env.str("CELERY_WORKER_POOL", default="threads")
CELERY_WORKER_CONCURRENCY = app_setting(env.int, "CELERY_WORKER_CONCURRENCY")
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
# Results are kept only for the tasks a command waits for (engine.with_result: pulls, account imports, the sweep's
# readings), in the broker's Redis, for a day; every other task's result is ignored.
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or "") or None
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A redelivered task must not wait for Redis's default one-hour visibility timeout. Workers look for tasks left
# unacknowledged longer than that (a worker killed mid-task) every unacked_restore_interval seconds times
# unacked_restore_throttle: kombu's 10 x 10 would add up to 100 s to a short timeout, so look every tenth of
# the timeout, between 1 and 10 s.
_visibility_timeout = env.int("CELERY_VISIBILITY_TIMEOUT", default=300)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _visibility_timeout,
    "unacked_restore_interval": max(1, min(10, _visibility_timeout // 10)),
    "unacked_restore_throttle": 1,
}

# A save never waits long for an unreachable broker: publishing a task is tried twice (the second on a new
# connection, at once), each connection attempt given CELERY_BROKER_CONNECTION_TIMEOUT and each command
# CELERY_BROKER_SOCKET_TIMEOUT (a broker that accepts and never answers); then the group is marked not queued and
# the staff told. A broker that refuses (stopped, wrong port) costs milliseconds.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=0.5)
CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = CELERY_BROKER_CONNECTION_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"] = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=1.0)
# Celery beat's schedule (`celery -A imadmin beat`, which `make run` starts): a plain dict, one entry a task.
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILENAME",
                                        default=str(BASE_DIR / "var" / "celerybeat-schedule"))

# Retries of a sync that failed for a reason that may pass (timeouts, throttling, 5xx):
# exponential backoff with full jitter, SYNC_RETRY_BASE_SECONDS doubling up to the cap.
SYNC_MAX_ATTEMPTS = app_setting(env.int, "SYNC_MAX_ATTEMPTS")
SYNC_RETRY_BASE_SECONDS = app_setting(env.float, "SYNC_RETRY_BASE_SECONDS")
SYNC_RETRY_CAP_SECONDS = app_setting(env.float, "SYNC_RETRY_CAP_SECONDS")
# How long a sync holds its group's lease without renewing it: after a worker dies mid-sync, the group waits
# this long before another sync may take it.
SYNC_LEASE_SECONDS = app_setting(env.float, "SYNC_LEASE_SECONDS")

# How often stranded groups (queued, syncing or being deleted, no live lease, unchanged for SYNC_STRANDED_SECONDS)
# are looked for and queued again: by beat with a broker, by the web process's in-process executor without one.
SYNC_RECOVER_SECONDS = app_setting(env.float, "SYNC_RECOVER_SECONDS")
# Unset: past the longest wait before a retry plus a lease (contactgroups.conf.stranded_after).
SYNC_STRANDED_SECONDS = env.float("SYNC_STRANDED_SECONDS",
                                  default=stranded_after(SYNC_RETRY_CAP_SECONDS, SYNC_LEASE_SECONDS))
# How long a command waits with nothing it handed over ending (no worker running, say) before it stops and says so;
# unset: long enough for a dead worker's task to be delivered again and its lease to lapse (contactgroups.engine).
SYNC_STALL_SECONDS = app_setting(env.float, "SYNC_STALL_SECONDS")
# Threads of the in-process executor (no broker): background tasks running at once in a web process.
SYNC_RUNNER_THREADS = app_setting(env.int, "SYNC_RUNNER_THREADS")
# Groups one task of a bulk sync claims, syncs one after the other and stores together (contactgroups/runs.py).
SYNC_TASK_GROUPS = app_setting(env.int, "SYNC_TASK_GROUPS")
# Drift: what users change in their apps, found by reading Chat (contactgroups/sync/drift.py).
# The sweep reads every owner's groups this often (Celery beat), in this many threads, its calls taking at most
# this share of each endpoint's rate while staff calls wait for nothing; the sweep's history entries are made under
# this username (an inactive account it creates, which can log in nowhere).
SYNC_DRIFT_SWEEP_SECONDS = app_setting(env.float, "SYNC_DRIFT_SWEEP_SECONDS")
SYNC_DRIFT_SWEEP_CONCURRENCY = app_setting(env.int, "SYNC_DRIFT_SWEEP_CONCURRENCY")
SYNC_DRIFT_SWEEP_RATE_SHARE = app_setting(env.float, "SYNC_DRIFT_SWEEP_RATE_SHARE")
SYNC_DRIFT_SWEEP_USER = app_setting(env.str, "SYNC_DRIFT_SWEEP_USER")
# A group's page reads Chat when it opens, and the picker the owner's conversations, each read ending within this
# many seconds, every page and the whole answer included (no retry), before the group page shows the sweep's last
# reading instead; 0 never reads.
SYNC_PAGE_READ_TIMEOUT = app_setting(env.float, "SYNC_PAGE_READ_TIMEOUT")
# The group page shows a reading of Chat this recent (one that found nothing changed in the app) instead of reading
# every page of the owner's conversations again; "Refresh from Chat" reads anyway. 0: the page always reads.
SYNC_PAGE_READING_REUSE_SECONDS = app_setting(env.float, "SYNC_PAGE_READING_REUSE_SECONDS")
# Every other call to Chat (syncs, pulls, sweeps, imports) ends within this many seconds, whole answer included;
# its retries each have their own. Unset: 30 s (contactgroups/chat/config.py, CALL_DEADLINE_SECONDS).
SYNC_CALL_DEADLINE = app_setting(env.float, "SYNC_CALL_DEADLINE")
# How long the audit keeps a Chat call (days): one a staff action or a command caused, and a read of the drift sweep
# (at 10,000 owners and a 10-minute sweep, about 1.4 million reads a day). Beat deletes older ones every
# AUDIT_PRUNE_SECONDS, AUDIT_PRUNE_BATCH a statement; `manage.py prune_audit --dry-run` says what it would delete.
AUDIT_KEEP_DAYS = app_setting(env.int, "AUDIT_KEEP_DAYS")
AUDIT_KEEP_SWEEP_DAYS = app_setting(env.int, "AUDIT_KEEP_SWEEP_DAYS")
AUDIT_PRUNE_BATCH = app_setting(env.int, "AUDIT_PRUNE_BATCH")
AUDIT_PRUNE_SECONDS = app_setting(env.float, "AUDIT_PRUNE_SECONDS")
# /health/ (for a load balancer) answers 503 unless a Celery worker was seen within this many seconds (with a
# broker); /metrics (Prometheus) answers only these addresses or networks, or a request bearing METRICS_TOKEN.
HEALTH_WORKER_SEEN_SECONDS = app_setting(env.float, "HEALTH_WORKER_SEEN_SECONDS")
METRICS_ALLOWED_IPS = app_setting(env.list, "METRICS_ALLOWED_IPS")
METRICS_TOKEN = app_setting(env.str, "METRICS_TOKEN")
CELERY_BEAT_SCHEDULE = {
    "prune-audit": {
        "task": "contactgroups.tasks.prune_audit_task",
        "schedule": AUDIT_PRUNE_SECONDS,
        "options": {"expires": AUDIT_PRUNE_SECONDS},
    },
    "requeue-stranded-syncs": {"task": "contactgroups.tasks.requeue_stranded", "schedule": SYNC_RECOVER_SECONDS},
    "drift-sweep": {
        "task": "contactgroups.tasks.drift_sweep_task",
        "schedule": SYNC_DRIFT_SWEEP_SECONDS,
        # A sweep not started within its period is dropped: the next one reads everything anyway.
        "options": {"expires": SYNC_DRIFT_SWEEP_SECONDS},
    },
}

# Errors (an exception in a page, a task or a command, and every log line at ERROR) go to Sentry when SENTRY_DSN
# is set; nothing personal is sent (send_default_pii off), and the Chat secret key is never in an event: it is read
# into settings only, never into a variable of a frame the SDK could capture.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,
        include_local_variables=False,
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes announces itself at INFO whenever Django starts, so every management command would print it
    # first; its warnings (lockouts) still show.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes.apps": {"level": "WARNING"}},
}
