"""The admin site staff sign in to: with STAFF_SECOND_FACTOR on, no admin page before a second factor.

With the setting on (the default unless DEBUG is on; ``contactgroups.conf.second_factor_required``), a staff member
reaches an admin page only in a session that passed a second factor at the login (imadmin/second_factor.py, where
the login and the setup wizard are). One who has no authenticator yet is signed in after the password and taken to
the setup wizard by every admin page. Loaded with the apps, so it imports no model.
"""

from functools import wraps

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django_otp import user_has_device

from contactgroups.conf import second_factor_required

SETUP_URL = "two_factor:setup"


def context(request) -> dict:
    """Template context for every page: whether staff must sign in with a second factor, and the site's names for
    the pages drawn in the admin's look outside its views (the 403 and 404 pages; the admin's own views say them)."""
    return {"staff_second_factor": second_factor_required(), "site_header": admin.site.site_header,
            "site_title": admin.site.site_title}


def needs_second_factor(request) -> bool:
    """Whether this signed-in staff member must pass a second factor before any admin page."""
    user = request.user
    return (second_factor_required() and user.is_authenticated and user.is_active and user.is_staff
            and not user.is_verified())


class StaffAdminSite(admin.AdminSite):
    """The admin site: staff need a session verified by a second factor while STAFF_SECOND_FACTOR is on."""

    def has_permission(self, request):
        return super().has_permission(request) and not needs_second_factor(request)

    def admin_view(self, view, cacheable=False):
        guarded = super().admin_view(view, cacheable)

        @wraps(guarded)
        def inner(request, *args, **kwargs):
            if needs_second_factor(request):
                if request.path == reverse("admin:logout", current_app=self.name):
                    return view(request, *args, **kwargs)
                if not user_has_device(request.user):
                    return redirect(SETUP_URL)
                from django.contrib.auth.views import redirect_to_login

                # A session signed in before the setting was on, or without the login page: sign in again.
                logout(request)
                return redirect_to_login(request.get_full_path(), reverse("admin:login", current_app=self.name))
            return guarded(request, *args, **kwargs)

        return inner

    def login(self, request, extra_context=None):
        if request.method == "GET" and self.has_permission(request):
            return redirect("admin:index")
        from imadmin.second_factor import StaffLoginView

        request.current_app = self.name
        return StaffLoginView.as_view(admin_site=self)(request)


class StaffAdminConfig(AdminConfig):
    """Django's admin, with StaffAdminSite as ``admin.site``."""

    default_site = "imadmin.admin_site.StaffAdminSite"

    def ready(self):
        super().ready()
        from django_otp.plugins.otp_static.models import StaticDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice

        # Devices are an operator's business (`manage.py two_factor_disable USERNAME`), not the support staff's
        # pages: django-otp's admin would show a device's secret to any superuser.
        for model in (TOTPDevice, StaticDevice):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
        from imadmin.login_throttling import replace_access_attempt_admin
        from imadmin.staff_accounts import replace_user_and_group_admins

        replace_access_attempt_admin(admin.site)
        replace_user_and_group_admins(admin.site)
