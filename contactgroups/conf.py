"""The one place that turns Django settings into a Chat client configuration.

Settings are read when these functions are called, never at import time, so tests and commands that change
settings see the change.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from contactgroups.chat.client import ChatClient
from contactgroups.chat.config import REGION_DOMAINS, ChatConfig


def chat_config(**overrides) -> ChatConfig:
    """A ChatConfig from the CHAT_* settings; ``overrides`` (ChatConfig field names) win over them.

    Raises ImproperlyConfigured naming every missing or invalid setting at once.
    """
    values = {
        "sdkappid": getattr(settings, "CHAT_SDKAPPID", None) or None,
        "secret_key": getattr(settings, "CHAT_SECRET_KEY", None) or None,
        "admin_identifier": getattr(settings, "CHAT_ADMIN_IDENTIFIER", None) or None,
        "region": (getattr(settings, "CHAT_REGION", None) or "").strip().lower() or None,
        "base_url": getattr(settings, "CHAT_API_BASE_URL", None) or None,
        "rate_limit": getattr(settings, "CHAT_RATE_LIMIT", None) or None,
        "rate_limit_storage": getattr(settings, "CHAT_RATE_LIMIT_STORAGE", None) or None,
        "connect_timeout": getattr(settings, "CHAT_CONNECT_TIMEOUT", None) or None,
        "read_timeout": getattr(settings, "CHAT_READ_TIMEOUT", None) or None,
        "deadline": getattr(settings, "SYNC_CALL_DEADLINE", None) or None,
        "max_answer_bytes": getattr(settings, "CHAT_ANSWER_MAX_BYTES", None) or None,
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
        "CHAT_SDKAPPID": getattr(settings, "CHAT_SDKAPPID", None) or None,
        "CHAT_SECRET_KEY": getattr(settings, "CHAT_SECRET_KEY", None) or None,
        "CHAT_ADMIN_IDENTIFIER": getattr(settings, "CHAT_ADMIN_IDENTIFIER", None) or None,
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
    within settings.SYNC_PAGE_READ_TIMEOUT from now, never tried again (ChatTooSlowError past it).

    The caller checks that the setting is not 0 (no reads while a page waits).
    """
    seconds = settings.SYNC_PAGE_READ_TIMEOUT
    with chat_client(on_call=on_call, connect_timeout=seconds, read_timeout=seconds, deadline=seconds,
                     max_retries=0) as client, client.within(seconds):
        yield client
