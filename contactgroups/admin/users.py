"""Chat users: the list, the page, and the actions that import them into Chat and check them."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from contactgroups import sync
from contactgroups.admin.display import code_with_meaning
from contactgroups.admin.selection import SelectedIdsChecked
from contactgroups.models import ChatUser
from contactgroups.permissions import IMPORT_USERS_PERMISSION


@admin.register(ChatUser)
class ChatUserAdmin(SelectedIdsChecked, admin.ModelAdmin):
    list_display = ["user_id", "nickname", "import_state", "checked_at", "last_error_info"]
    list_filter = ["import_state"]
    search_fields = ["user_id", "nickname"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = ["import_state", "imported_at", "checked_at", "last_error", "last_error_info"]
    fieldsets = [
        (None, {"fields": ["user_id", "nickname"]}),
        (_("In Chat"), {"fields": readonly_fields}),
    ]
    actions = ["import_into_chat", "check_in_chat"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["user_id", *self.readonly_fields]
        return self.readonly_fields

    def has_import_permission(self, request):
        return request.user.has_perm(IMPORT_USERS_PERMISSION)

    @admin.display(description=_("last error"))
    def last_error(self, user):
        return code_with_meaning(user.last_error_code)

    @admin.action(description=_("Import into Chat"), permissions=["import"])
    def import_into_chat(self, request, queryset):
        report = sync.import_users(list(queryset.values_list("pk", flat=True)), request.user.pk)
        self._report(request, report)

    @admin.action(description=_("Check in Chat"), permissions=["import"])
    def check_in_chat(self, request, queryset):
        report = sync.check_users(list(queryset.values_list("pk", flat=True)), request.user.pk)
        self._report(request, report)

    def _report(self, request, report):
        if report.imported:
            self.message_user(request, ngettext(
                "%(count)d user is imported in Chat.", "%(count)d users are imported in Chat.", len(report.imported)
            ) % {"count": len(report.imported)}, messages.SUCCESS)
        if report.not_imported:
            self.message_user(request, _("Not imported in Chat: %(list)s.") % {"list": ", ".join(report.not_imported)},
                              messages.WARNING)
        if report.failed:
            self.message_user(request, _("Chat could not say for: %(list)s.") % {"list": ", ".join(report.failed)},
                              messages.ERROR)
