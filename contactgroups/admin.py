"""The admin support staff use to manage Chat users and their conversation groups.

Saving or deleting a group queues a sync (contactgroups.tasks); actions call the sync
layer. Syncing, pulling and importing each need their own permission; a view-only
staff user sees everything, history and audit included, and changes nothing.
"""

import json

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from contactgroups import limits, sync, tasks
from contactgroups.chat import errors
from contactgroups.forms import ContactGroupForm, ContactItemForm, ContactItemFormSet
from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt


def _has_perm(request, codename: str) -> bool:
    return request.user.has_perm(f"contactgroups.{codename}")


def _code_with_meaning(code, info="") -> str:
    if code is None:
        return "—"
    text = f"{code}: {errors.describe(code)}"
    return f"{text} ({info})" if info and code != errors.OK else text


@admin.register(ChatUser)
class ChatUserAdmin(admin.ModelAdmin):
    list_display = ["user_id", "nickname", "import_state", "checked_at", "last_error_info"]
    list_filter = ["import_state"]
    search_fields = ["user_id", "nickname"]
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
        return _has_perm(request, "import_chatuser")

    @admin.display(description=_("last error"))
    def last_error(self, user):
        return _code_with_meaning(user.last_error_code)

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


class ContactItemInline(admin.TabularInline):
    model = ContactItem
    form = ContactItemForm
    formset = ContactItemFormSet
    fields = ["type", "to_account", "to_group_id", "result"]
    readonly_fields = ["result"]
    extra = 1
    max_num = limits.GROUPED_CONVERSATIONS_PER_USER_MAX
    verbose_name = _("conversation")
    verbose_name_plural = _("conversations")

    @admin.display(description=_("Chat's answer (ResultCode)"))
    def result(self, item):
        if item.result_code is None:
            return _("not sent yet")
        text = _code_with_meaning(item.result_code, item.result_info)
        if item.result_code == errors.OK:
            return text
        return format_html('<strong class="refused">{}</strong>', text)


class StateFilter(admin.SimpleListFilter):
    """Filter by sync state, leaving deleted groups out unless asked for."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [*ContactGroup.State.choices, ("all", _("All, deleted included"))]

    def choices(self, changelist):
        value = self.value()
        yield {
            "selected": value is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("Not deleted"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset.exclude(state=ContactGroup.State.DELETED)
        if value == "all":
            return queryset
        return queryset.filter(state=value)


@admin.register(ContactGroup)
class ContactGroupAdmin(admin.ModelAdmin):
    form = ContactGroupForm
    inlines = [ContactItemInline]
    list_display = [
        "name", "owner", "state_badge", "chat_group_id", "accepted_count", "refused_count", "last_synced_at",
    ]
    list_filter = [StateFilter, "owner"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__user_id", "owner__nickname", "items__to_account", "items__to_group_id"]
    autocomplete_fields = ["owner"]
    actions = ["sync_to_chat", "pull_from_chat"]
    readonly_fields = [
        "state_badge", "chat_group_id", "confirmed_name", "last_sync_summary", "last_conflict", "last_error",
        "last_synced_at", "audit_link", "created_at", "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["owner", "name"]}),
        (_("In Chat"), {"fields": [
            "state_badge", "chat_group_id", "confirmed_name", "last_sync_summary", "last_conflict", "last_error",
            "last_synced_at", "audit_link",
        ]}),
        (_("Record"), {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    class Media:
        js = ["contactgroups/contact_item_inline.js"]
        css = {"all": ["contactgroups/admin.css"]}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _accepted_count=Count("items", filter=Q(items__result_code=errors.OK), distinct=True),
                _refused_count=Count("items", filter=Q(items__result_code__gt=0), distinct=True),
            )
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            # A group belongs to its owner in Chat; moving it would be a delete and a create.
            return ["owner", *self.readonly_fields]
        return self.readonly_fields

    def has_sync_permission(self, request):
        return _has_perm(request, "sync_contactgroup")

    def has_pull_permission(self, request):
        return _has_perm(request, "pull_contactgroup")

    def has_change_permission(self, request, obj=None):
        if obj is not None and (obj.state == ContactGroup.State.DELETED or obj.delete_requested):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Deleting removes the group from Chat, which is a sync.
        if obj is not None and (obj.state == ContactGroup.State.DELETED or obj.delete_requested):
            return False
        return super().has_delete_permission(request, obj) and self.has_sync_permission(request)

    # Saving and deleting queue a sync ------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        obj.state = ContactGroup.State.QUEUED if self.has_sync_permission(request) else ContactGroup.State.DRAFT
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        group = form.instance
        if self.has_sync_permission(request):
            tasks.queue_group_sync(group.pk, request.user.pk)
        else:
            self.message_user(request, _(
                "Saved as a draft: you may not sync to Chat, so someone who may must sync it."
            ), messages.WARNING)

    def delete_model(self, request, obj):
        self._request_deletion(obj, request.user.pk)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            self._request_deletion(group, request.user.pk)

    def _request_deletion(self, group, actor_id):
        group.delete_requested = True
        group.state = ContactGroup.State.DELETING
        group.save(update_fields=["delete_requested", "state", "updated_at"])
        tasks.queue_group_sync(group.pk, actor_id)

    # Actions -------------------------------------------------------------------------------------------------

    @admin.action(description=_("Sync to Chat"), permissions=["sync"])
    def sync_to_chat(self, request, queryset):
        groups = list(queryset.exclude(state=ContactGroup.State.DELETED))
        for group in groups:
            if not group.delete_requested:
                group.state = ContactGroup.State.QUEUED
                group.save(update_fields=["state", "updated_at"])
            tasks.queue_group_sync(group.pk, request.user.pk)
        self.message_user(request, ngettext(
            "%(count)d group queued for sync to Chat.", "%(count)d groups queued for sync to Chat.", len(groups)
        ) % {"count": len(groups)}, messages.SUCCESS)

    @admin.action(description=_("Pull from Chat (replaces local edits with Chat's state)"), permissions=["pull"])
    def pull_from_chat(self, request, queryset):
        owners = queryset.values_list("owner_id", flat=True).distinct()
        differed = 0
        for owner_pk in owners:
            try:
                report = sync.pull_owner(owner_pk, request.user.pk)
            except errors.ChatError as exc:
                self.message_user(request, _("Pull failed: %(error)s") % {"error": exc}, messages.ERROR)
                continue
            differed += report.differed
            for line in report.lines():
                self.message_user(request, line, messages.INFO)
        self.message_user(request, ngettext(
            "Pulled from Chat: %(count)d group differed.", "Pulled from Chat: %(count)d groups differed.", differed
        ) % {"count": differed}, messages.SUCCESS)

    # Columns -------------------------------------------------------------------------------------------------

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, group):
        return format_html('<span class="state-{}">{}</span>', group.state, group.get_state_display())

    @admin.display(description=_("accepted"), ordering="_accepted_count")
    def accepted_count(self, group):
        return group._accepted_count

    @admin.display(description=_("refused"), ordering="_refused_count")
    def refused_count(self, group):
        if not group._refused_count:
            return 0
        return format_html('<strong class="refused">{}</strong>', group._refused_count)

    @admin.display(description=_("last error"))
    def last_error(self, group):
        if group.last_error_code is None and not group.last_error_info:
            return "—"
        if group.last_error_code is None:
            return group.last_error_info
        return format_html('<strong class="refused">{}</strong><br>{}', _code_with_meaning(group.last_error_code),
                           group.last_error_info)

    @admin.display(description=_("audit"))
    def audit_link(self, group):
        if group.pk is None:
            return "—"
        url = reverse("admin:contactgroups_syncattempt_changelist") + "?" + urlencode({"group__id__exact": group.pk})
        return format_html('<a href="{}">{}</a>', url, _("Chat calls for this group"))


@admin.register(SyncAttempt)
class SyncAttemptAdmin(admin.ModelAdmin):
    """Every call made to Chat, read-only for everyone."""

    list_display = [
        "started_at", "operation", "owner_user_id", "group_name", "actor", "outcome", "error_code", "refused_items",
        "http_status", "duration_ms",
    ]
    list_filter = ["outcome", "operation", "error_code"]
    list_select_related = ["actor"]
    search_fields = ["owner_user_id", "group_name"]
    date_hierarchy = "started_at"
    fields = [
        "started_at", "duration_ms", "actor", "group", "owner_user_id", "group_name", "operation", "outcome",
        "http_status", "action_status", "error_code", "error_meaning", "error_info", "refused_items",
        "request_json", "response_json",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("meaning"))
    def error_meaning(self, attempt):
        return attempt.error_meaning or "—"

    @admin.display(description=_("request body"))
    def request_json(self, attempt):
        return format_html("<pre>{}</pre>", json.dumps(attempt.request, indent=2, ensure_ascii=False))

    @admin.display(description=_("response body"))
    def response_json(self, attempt):
        if attempt.response is None:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(attempt.response, indent=2, ensure_ascii=False))
