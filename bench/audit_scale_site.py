"""bench/audit_scale.py's settings and URLs: the project's, plus the audit under Django's default changelist.

Only the benchmark uses this module (``DJANGO_SETTINGS_MODULE=bench.audit_scale_site``, which also makes it the URL
set): every URL of the project stays where it is, and ``reference/`` serves a second admin site holding the audit's
model in a plain ``admin.ModelAdmin`` with Django's defaults: the same columns, its filters and its search declared
the plain way (choices read from the rows, a date filter, a substring search), a count of the rows and a count of
the whole table on every page. That is the reference the project's tuned audit list is measured beside.
"""

from imadmin.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.audit_scale_site"
REFERENCE_PREFIX = "reference/"


def __getattr__(name):
    """The URL set, made when Django first resolves a URL (the apps are ready then; they are not as settings load)."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.contrib import admin
    from django.urls import path

    from contactgroups.models import SyncAttempt
    from imadmin.urls import urlpatterns as project

    class DefaultAudit(admin.ModelAdmin):
        list_display = ["started_at", "operation", "owner_user_id", "group_name", "actor", "outcome"]
        list_filter = ["outcome", "operation", "error_code", "started_at", "actor"]
        search_fields = ["owner_user_id"]

    reference = admin.AdminSite(name="reference")
    reference.register(SyncAttempt, DefaultAudit)
    patterns = [path(REFERENCE_PREFIX, reference.urls), *project]
    globals()["urlpatterns"] = patterns
    return patterns
