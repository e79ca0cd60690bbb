"""Settings for imadmin, read from the environment (12-factor) or an untracked .env file.

Every variable is documented in .env.example.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# IMADMIN_ENV_FILE names another file, or none when empty (the tests read none).
ENV_FILE = env.str("IMADMIN_ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY in the environment or in .env (see .env.example).")
    SECRET_KEY = "imadmin-insecure-development-key-only-used-when-DEBUG-is-on"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "contactgroups",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
            ],
        },
    },
]

WSGI_APPLICATION = "imadmin.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a writer instead of failing at once when the worker and the admin write together.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A group page posts about six fields a conversation, and a group may hold up to 1,000.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "admin:login"

# Tencent Cloud Chat. Read by contactgroups.conf.chat_config(), the one place that
# turns them into a client configuration. CHAT_API_BASE_URL wins over CHAT_REGION.
CHAT_SDKAPPID = env.int("CHAT_SDKAPPID", default=0)
CHAT_SECRET_KEY = env.str("CHAT_SECRET_KEY", default="")
CHAT_ADMIN_IDENTIFIER = env.str("CHAT_ADMIN_IDENTIFIER", default="administrator")
CHAT_REGION = env.str("CHAT_REGION", default="")
CHAT_API_BASE_URL = env.str("CHAT_API_BASE_URL", default="")
CHAT_RATE_LIMIT = env.float("CHAT_RATE_LIMIT", default=0) or None
# Where the client counts calls against the rate limit: this process (memory://), or a
# Redis shared by every worker. Unset: the Celery broker's Redis when there is one.
CHAT_RATE_LIMIT_STORAGE = env.str("CHAT_RATE_LIMIT_STORAGE", default="")
CHAT_CONNECT_TIMEOUT = env.float("CHAT_CONNECT_TIMEOUT", default=0) or None
CHAT_READ_TIMEOUT = env.float("CHAT_READ_TIMEOUT", default=0) or None
CHAT_SANDBOX_STATE = env.str("CHAT_SANDBOX_STATE", default=str(BASE_DIR / "var" / "chat-sandbox.json"))

# Celery. Unset broker: a sync runs in this process right after the transaction commits.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
if not CHAT_RATE_LIMIT_STORAGE and CELERY_BROKER_URL.startswith("redis://"):
    CHAT_RATE_LIMIT_STORAGE = CELERY_BROKER_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A redelivered task must not wait for Redis's default one-hour visibility timeout.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300)}

# Retries of a sync that failed for a reason that may pass (timeouts, throttling, 5xx):
# exponential backoff with full jitter, SYNC_RETRY_BASE_SECONDS doubling up to the cap.
SYNC_MAX_ATTEMPTS = env.int("SYNC_MAX_ATTEMPTS", default=10)
SYNC_RETRY_BASE_SECONDS = env.float("SYNC_RETRY_BASE_SECONDS", default=1.0)
SYNC_RETRY_CAP_SECONDS = env.float("SYNC_RETRY_CAP_SECONDS", default=300.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
