"""django-axes' pages (the login throttling's records) in the staff's words, in English and Simplified Chinese.

django-axes marks most of its words for translation but ships no Chinese: ``BORROWED`` lists them (and the few of
Django's admin that its own Chinese catalogue lacks), so that this project's catalogue, which comes first
(LOCALE_PATHS), carries their Chinese. What axes does not mark, its app's name, two columns named after their
methods and a status made of pieces, ``LoginThrottlingConfig`` and the admin classes below give words. Loaded with
the apps (the config) and by the admin site once axes' admin is registered (the classes).
"""

from axes.apps import AppConfig
from django.utils.translation import gettext, gettext_noop, ngettext
from django.utils.translation import gettext_lazy as _

# Messages of django-axes (its models' and admin's words) and of Django's admin templates that their own catalogues
# leave in English in Simplified Chinese; this project's catalogue translates them.
BORROWED = [
    # django-axes' models: names, fields and their help
    gettext_noop("access attempt"), gettext_noop("access attempts"), gettext_noop("access failure"),
    gettext_noop("access failures"), gettext_noop("access log"), gettext_noop("access logs"),
    gettext_noop("access attempt expiration"), gettext_noop("access attempt expirations"),
    gettext_noop("User Agent"), gettext_noop("IP Address"), gettext_noop("Username"), gettext_noop("HTTP Accept"),
    gettext_noop("Path"), gettext_noop("Attempt Time"), gettext_noop("Access lock out"), gettext_noop("GET Data"),
    gettext_noop("POST Data"), gettext_noop("Failed Logins"), gettext_noop("Access Attempt"),
    gettext_noop("Expires At"), gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("Logout Time"), gettext_noop("Session key hash (sha256)"),
    # django-axes' admin: fieldsets and a filter
    gettext_noop("Form Data"), gettext_noop("Meta Data"), gettext_noop("Locked Out"),
    # Django's admin: the index's table headings for screen readers
    gettext_noop("Model name"), gettext_noop("Add link"), gettext_noop("Change or view list link"),
    # Django's admin: the form that adds a staff user
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
]


class LoginThrottlingConfig(AppConfig):
    """django-axes, named for staff; its records named in words (axes names them with an English sentence)."""

    verbose_name = _("Login throttling")

    def ready(self):
        super().ready()
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        AccessAttempt.__str__ = _access_attempt_text
        AccessLog.__str__ = _access_log_text
        AccessFailureLog.__str__ = _access_failure_text


def _when(moment) -> str:
    from django.utils import formats, timezone

    return formats.localize(timezone.localtime(moment)) if moment else ""


def _access_attempt_text(attempt) -> str:
    return gettext("Failed logins of “%(username)s” from %(address)s") % {
        "username": attempt.username, "address": attempt.ip_address or "-"}


def _access_log_text(log) -> str:
    return gettext("Login of “%(username)s” from %(address)s at %(time)s") % {
        "username": log.username, "address": log.ip_address or "-", "time": _when(log.attempt_time)}


def _access_failure_text(failure) -> str:
    return gettext("Failed login of “%(username)s” from %(address)s at %(time)s") % {
        "username": failure.username, "address": failure.ip_address or "-", "time": _when(failure.attempt_time)}


def _attempts_left(model_admin, attempt) -> str:
    from axes.conf import settings

    left = settings.AXES_FAILURE_LIMIT - attempt.failures_since_start
    if left > 0:
        return ngettext("%(count)d attempt left", "%(count)d attempts left", left) % {"count": left}
    return _("Locked out")


def _expires_at(model_admin, attempt):
    return attempt.expiration.expires_at if hasattr(attempt, "expiration") else _("Not set")


def _clean_up_expired(model_admin, request, queryset) -> None:
    count = model_admin.handler.clean_expired_user_attempts(request=request)
    model_admin.message_user(request, ngettext("Cleaned up %(count)d expired access attempt.",
                                               "Cleaned up %(count)d expired access attempts.", count) % {
        "count": count})


def replace_access_attempt_admin(site) -> None:
    """Registers axes' AccessAttempt admin again, its status, expiry and clean-up in words of this project."""
    from axes.admin import AccessAttemptAdmin
    from axes.models import AccessAttempt
    from django.contrib import admin

    class WordedAccessAttemptAdmin(AccessAttemptAdmin):
        status = admin.display(description=_("Status"))(_attempts_left)
        expiration = admin.display(description=_("Expires at"))(_expires_at)
        cleanup_expired_attempts = admin.action(description=_("Clean up expired attempts"))(_clean_up_expired)

    if site.is_registered(AccessAttempt):
        site.unregister(AccessAttempt)
        site.register(AccessAttempt, WordedAccessAttemptAdmin)
