"""Security helpers the settings name: what an error report may show, and who a login attempt came from."""

import re

from django.conf import settings
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from contactgroups.chat.redaction import REDACTED, redact_usersig
from contactgroups.conf import app_settings


def redact_secrets(text: str) -> str:
    """``text`` with the value of every ``usersig=`` parameter and the Chat secret key replaced by ``<redacted>``."""
    text = redact_usersig(text)
    secret = app_settings.CHAT_SECRET_KEY
    if secret:
        text = text.replace(secret, REDACTED)
    return text


class SecretRedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter for error pages and error mails, made to hide more.

    Django hides settings and request fields whose names look secret. This also hides settings that may hold a
    password inside a URL (the Celery broker, the rate-limit storage) and local variables named like a secret
    (``secret_key``, ``usersig``, ``password``, ``token``).
    """

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|USERSIG|BROKER|STORAGE|DATABASE_URL", flags=re.I
    )
    hidden_variables = re.compile("secret|usersig|passw|token|signature", flags=re.I)

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleansed_substitute if self.hidden_variables.search(name) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]


class SecretRedactingExceptionReporter(ExceptionReporter):
    """Error pages and error mails with no Chat credential in them, wherever it hid.

    A Chat call's URL carries the admin UserSig, so a traceback through the Chat client shows it in a frame's
    local variables (the URL, a request object's repr, an exception message). The whole rendered report is
    redacted, so no representation of it escapes.
    """

    def get_traceback_data(self):
        # Before rendering: the template engine logs its whole context at DEBUG when a variable is missing.
        return _redacted(super().get_traceback_data())

    def get_traceback_html(self):
        return redact_secrets(super().get_traceback_html()).replace(REDACTED, escape(REDACTED))

    def get_traceback_text(self):
        return redact_secrets(super().get_traceback_text())


def _redacted(value):
    """``value`` with every string in it, however deep in dicts, lists and tuples, redacted."""
    if isinstance(value, str):  # lazy strings too, which say they are str
        return redact_secrets(str(value))
    if type(value) is dict:
        return {key: _redacted(item) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_redacted(item) for item in value)
    return value


def client_ip(request) -> str | None:
    """The address a request came from, for login throttling (django-axes' AXES_CLIENT_IP_CALLABLE).

    Behind ``TRUSTED_PROXY_COUNT`` reverse proxies, each appending the address it saw to X-Forwarded-For, the
    client is the entry that many places from the right; anything further left could be made up by the client.
    With no proxy (the default) it is REMOTE_ADDR, and X-Forwarded-For is ignored.
    """
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if count > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request, original_response=None, credentials=None):
    """The page django-axes shows for a locked-out login (AXES_LOCKOUT_CALLABLE): the admin's look, HTTP 429."""
    from axes.helpers import get_cool_off, get_failure_limit
    from django.contrib import admin
    from django.template.response import TemplateResponse
    from django.utils import timezone
    from django.utils.timesince import timeuntil

    cool_off = get_cool_off(request)
    now = timezone.now()
    context = {
        **admin.site.each_context(request),
        "title": _("Too many failed logins"),
        "failure_limit": get_failure_limit(request, credentials),
        "cool_off": timeuntil(now + cool_off, now) if cool_off else None,
    }
    return TemplateResponse(request, "imadmin/lockout.html", context, status=settings.AXES_HTTP_RESPONSE_CODE).render()
