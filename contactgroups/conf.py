"""The app's settings: each named once with its default and meaning (``app_settings``), and the Chat client built
from them.

Every module of the app reads its settings here, never from django.conf.settings directly (tests/project/test_conf.py
checks). A setting is read when it is used, never at import time, so tests (pytest-django's ``settings`` fixture,
``override_settings``) and commands that change settings see the change. imadmin/settings.py reads the environment
and gives each setting the default written here (``default``); a project that leaves one out gets the same default.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from contactgroups.chat import protocol
from contactgroups.chat.client import ChatClient
from contactgroups.chat.config import CALL_DEADLINE_SECONDS, MAX_ANSWER_BYTES, REGION_DOMAINS, ChatConfig

_CHAT_DEFAULTS = {field.name: field.default for field in fields(ChatConfig)}


def stranded_after(retry_cap_seconds: float, lease_seconds: float) -> float:
    """SYNC_STRANDED_SECONDS when not set: longer than the longest wait before a retry plus a lease, so a group
    waiting for its retry, or for the worker that holds its task, is not queued twice."""
    return retry_cap_seconds + lease_seconds + 60


class Setting:
    """One app setting: read from django.conf.settings each time, ``default`` when the project does not set it."""

    def __init__(self, default, meaning: str):
        self.default, self.meaning = default, meaning

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return getattr(settings, self.name, self.default)


class AppSettings:
    """The app's settings (docs/configuration.md and .env.example say how to set them)."""

    CHAT_SDKAPPID = Setting(0, "the Chat app's SDKAppID; 0: not configured")
    CHAT_SECRET_KEY = Setting("", "the Chat app's secret key, from which UserSigs are made")
    CHAT_ADMIN_IDENTIFIER = Setting("administrator", "the Chat app's App admin account the calls are made as")
    CHAT_REGION = Setting("", "the region of the Chat app (chat/config.py's REGION_DOMAINS)")
    CHAT_API_BASE_URL = Setting("", "Chat's address, winning over CHAT_REGION (the sandbox's, say)")
    CHAT_RATE_LIMIT = Setting(protocol.CALLS_PER_SECOND_MAX, "calls a second per endpoint")
    CHAT_RATE_LIMIT_STORAGE = Setting("", "where calls are counted against the rate: memory:// or a Redis URL; "
                                          "empty: this process")
    CHAT_CONNECT_TIMEOUT = Setting(_CHAT_DEFAULTS["connect_timeout"], "seconds to wait for Chat to accept a connection")
    CHAT_READ_TIMEOUT = Setting(_CHAT_DEFAULTS["read_timeout"], "seconds to wait for each part of Chat's answer")
    CHAT_ANSWER_MAX_BYTES = Setting(MAX_ANSWER_BYTES, "the most bytes of one Chat answer read; a longer one is "
                                                      "refused unread")
    CHAT_SANDBOX_STATE = Setting(str(Path(__file__).resolve().parent.parent / "var" / "chat-sandbox.json"),
                                 "the file the Chat sandbox (manage.py chat_sandbox) keeps its state in")
    CELERY_BROKER_URL = Setting("", "Celery's broker; empty: no broker, the tasks run on the in-process executor")
    CELERY_WORKER_CONCURRENCY = Setting(24, "threads of a Celery worker (and of a command's run without a broker)")
    CELERY_BROKER_TRANSPORT_OPTIONS = Setting({}, "Celery's broker transport options; the app reads their "
                                                  "visibility_timeout")
    SYNC_MAX_ATTEMPTS = Setting(10, "tries of a sync that failed for a reason that may pass, the first included")
    SYNC_RETRY_BASE_SECONDS = Setting(1.0, "the first wait before a retry, doubling each time (full jitter)")
    SYNC_RETRY_CAP_SECONDS = Setting(300.0, "the longest wait before a retry")
    SYNC_LEASE_SECONDS = Setting(60.0, "how long a sync holds its group's lease without renewing it")
    SYNC_RECOVER_SECONDS = Setting(60.0, "how often stranded groups are looked for and queued again")
    SYNC_STRANDED_SECONDS = Setting(stranded_after(SYNC_RETRY_CAP_SECONDS.default, SYNC_LEASE_SECONDS.default),
                                    "how long a stranded group must be unchanged before it is queued again")
    SYNC_STALL_SECONDS = Setting(None, "how long a command (sync, pull, sweep, user import) waits with nothing it "
                                       "handed to the workers ending before it stops; unset: twice the broker's "
                                       "visibility timeout and the lease, at least 300 s")
    SYNC_RUNNER_THREADS = Setting(4, "threads of the in-process executor of a web process (no broker)")
    SYNC_TASK_GROUPS = Setting(25, "groups a bulk sync's task claims, syncs one after the other and stores together")
    SYNC_DRIFT_SWEEP_SECONDS = Setting(600.0, "the drift sweep's period (Celery beat)")
    SYNC_DRIFT_SWEEP_CONCURRENCY = Setting(16, "the drift sweep's threads")
    SYNC_DRIFT_SWEEP_RATE_SHARE = Setting(0.8, "the share of each endpoint's rate the drift sweep's calls may take")
    SYNC_DRIFT_SWEEP_USER = Setting("chat-drift-sweep", "the inactive account the sweep records its history under")
    SYNC_PAGE_READ_TIMEOUT = Setting(1.5, "seconds a page waits for a read of Chat, whole answer included; "
                                          "0: pages never read")
    SYNC_PAGE_READING_REUSE_SECONDS = Setting(60, "seconds the group page shows a reading of Chat kept on the group "
                                                  "(that found nothing changed) instead of reading Chat again; 0: it "
                                                  "always reads")
    SYNC_CALL_DEADLINE = Setting(CALL_DEADLINE_SECONDS, "seconds any other call to Chat may take in all, whole "
                                                        "answer included")
    AUDIT_KEEP_DAYS = Setting(400, "days the audit keeps a Chat call a staff action or command caused")
    AUDIT_KEEP_SWEEP_DAYS = Setting(30, "days the audit keeps a read of the drift sweep")
    AUDIT_PRUNE_BATCH = Setting(1000, "calls deleted a statement when the audit is pruned")
    AUDIT_PRUNE_SECONDS = Setting(3600.0, "how often Celery beat prunes the audit")
    HEALTH_WORKER_SEEN_SECONDS = Setting(60.0, "how recently a Celery worker must have been seen for /health/ to "
                                               "answer 200 (with a broker)")
    METRICS_ALLOWED_IPS = Setting(["127.0.0.1", "::1"], "the addresses and networks that may read /metrics")
    METRICS_TOKEN = Setting("", "a token that lets any address read /metrics (Authorization: Bearer TOKEN); "
                                "empty: none does")
    STAFF_SECOND_FACTOR = Setting(None, "whether staff must sign in with a second factor (an authenticator "
                                        "app's code, or a backup code); unset: yes unless DEBUG is on")


app_settings = AppSettings()
# Every app setting's name.
NAMES = frozenset(name for name, value in vars(AppSettings).items() if isinstance(value, Setting))


def second_factor_required() -> bool:
    """Whether staff must sign in with a second factor: STAFF_SECOND_FACTOR, or when it is unset, unless DEBUG."""
    required = app_settings.STAFF_SECOND_FACTOR
    return not settings.DEBUG if required is None else bool(required)


def default(name: str):
    """The default of the app setting ``name`` (for imadmin/settings.py, which reads the environment)."""
    return vars(AppSettings)[name].default


def chat_config(**overrides) -> ChatConfig:
    """A ChatConfig from the CHAT_* settings; ``overrides`` (ChatConfig field names) win over them.

    Raises ImproperlyConfigured naming every missing or invalid setting at once.
    """
    values = {
        "sdkappid": app_settings.CHAT_SDKAPPID or None,
        "secret_key": app_settings.CHAT_SECRET_KEY or None,
        "admin_identifier": app_settings.CHAT_ADMIN_IDENTIFIER or None,
        "region": (app_settings.CHAT_REGION or "").strip().lower() or None,
        "base_url": app_settings.CHAT_API_BASE_URL or None,
        "rate_limit": app_settings.CHAT_RATE_LIMIT or None,
        "rate_limit_storage": app_settings.CHAT_RATE_LIMIT_STORAGE or None,
        "connect_timeout": app_settings.CHAT_CONNECT_TIMEOUT or None,
        "read_timeout": app_settings.CHAT_READ_TIMEOUT or None,
        "deadline": app_settings.SYNC_CALL_DEADLINE or None,
        "max_answer_bytes": app_settings.CHAT_ANSWER_MAX_BYTES or None,
    }
    values.update(overrides)

    missing = [
        setting
        for setting, key in (
            ("CHAT_SDKAPPID", "sdkappid"),
            ("CHAT_SECRET_KEY", "secret_key"),
            ("CHAT_ADMIN_IDENTIFIER", "admin_identifier"),
        )
        if not values.get(key)
    ]
    if not values.get("region") and not values.get("base_url"):
        missing.append("CHAT_REGION or CHAT_API_BASE_URL")
    if missing:
        raise ImproperlyConfigured(
            f"Tencent Cloud Chat is not configured: set {', '.join(missing)} in the environment or in .env "
            f"(see .env.example)."
        )
    if values.get("region") and not values.get("base_url") and values["region"] not in REGION_DOMAINS:
        raise ImproperlyConfigured(
            f"CHAT_REGION {values['region']!r} is not a Chat region; use one of: {', '.join(REGION_DOMAINS)}."
        )
    for optional in ("rate_limit", "rate_limit_storage", "connect_timeout", "read_timeout", "deadline",
                     "max_answer_bytes"):
        if values.get(optional) is None:
            values.pop(optional)
    try:
        values["sdkappid"] = int(values["sdkappid"])
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"CHAT_SDKAPPID must be a number, not {values['sdkappid']!r}.") from None
    try:
        return ChatConfig(**values)
    except ValueError as exc:
        raise ImproperlyConfigured(f"Tencent Cloud Chat settings are invalid. {exc}") from None


def usersig_credentials() -> tuple[int, str, str]:
    """The SDKAppID, secret key and administrator identifier: all a UserSig depends on (no region or base URL).

    Raises ImproperlyConfigured naming every missing setting at once.
    """
    values = {
        "CHAT_SDKAPPID": app_settings.CHAT_SDKAPPID or None,
        "CHAT_SECRET_KEY": app_settings.CHAT_SECRET_KEY or None,
        "CHAT_ADMIN_IDENTIFIER": app_settings.CHAT_ADMIN_IDENTIFIER or None,
    }
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ImproperlyConfigured(
            f"Tencent Cloud Chat is not configured: set {', '.join(missing)} in the environment or in .env "
            f"(see .env.example)."
        )
    try:
        sdkappid = int(values["CHAT_SDKAPPID"])
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"CHAT_SDKAPPID must be a number, not {values['CHAT_SDKAPPID']!r}.") from None
    return sdkappid, str(values["CHAT_SECRET_KEY"]), str(values["CHAT_ADMIN_IDENTIFIER"])


def chat_client(**kwargs) -> ChatClient:
    """A ChatClient for the configured app. ``on_call``, ``session``, ``clock`` and ``sleep`` go to the client;
    anything else overrides a ChatConfig field."""
    client_keys = {"on_call", "session", "clock", "sleep"}
    client_kwargs = {key: value for key, value in kwargs.items() if key in client_keys}
    config_overrides = {key: value for key, value in kwargs.items() if key not in client_keys}
    return ChatClient(chat_config(**config_overrides), **client_kwargs)


@contextmanager
def page_read_client(on_call) -> Iterator[ChatClient]:
    """A client for a read made while a page waits: all of it, each page and the whole of each answer included,
    within SYNC_PAGE_READ_TIMEOUT from now, never tried again (ChatTooSlowError past it).

    The caller checks that the setting is not 0 (no reads while a page waits).
    """
    seconds = app_settings.SYNC_PAGE_READ_TIMEOUT
    with chat_client(on_call=on_call, connect_timeout=seconds, read_timeout=seconds, deadline=seconds,
                     max_retries=0) as client, client.within(seconds):
        yield client
