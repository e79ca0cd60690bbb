"""The project's URLs: the admin and its second factor, the language switch and the scripts' translation catalogue."""

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from contactgroups.language import set_language
from imadmin import second_factor

admin.site.site_header = _("imadmin: Chat conversation groups")
admin.site.site_title = "imadmin"
admin.site.index_title = _("Conversation groups back-office")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("i18n/setlang/", set_language, name="set_language"),
    # The catalogue of the pages' scripts: Django's and the project's (LOCALE_PATHS) messages of domain djangojs.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    # The second factor's setup and backup codes (the login is the admin's: imadmin/second_factor.py).
    path("admin/second-factor/", include(second_factor.urlpatterns)),
    path("admin/", admin.site.urls),
]
