"""The admin support staff use to manage Chat users and their conversation groups."""

from django.contrib import admin
from django.db.models import Count, Q
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from contactgroups import limits
from contactgroups.forms import ContactGroupForm, ContactItemForm, ContactItemFormSet
from contactgroups.models import ChatUser, ContactGroup, ContactItem


@admin.register(ChatUser)
class ChatUserAdmin(admin.ModelAdmin):
    list_display = ["user_id", "nickname", "import_state", "checked_at"]
    list_filter = ["import_state"]
    search_fields = ["user_id", "nickname"]
    readonly_fields = ["import_state", "imported_at", "checked_at", "last_error_code", "last_error_info"]
    fieldsets = [
        (None, {"fields": ["user_id", "nickname"]}),
        (_("In Chat"), {"fields": readonly_fields}),
    ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["user_id", *self.readonly_fields]
        return self.readonly_fields


class ContactItemInline(admin.TabularInline):
    model = ContactItem
    form = ContactItemForm
    formset = ContactItemFormSet
    fields = ["type", "to_account", "to_group_id", "result_code", "result_meaning", "result_at"]
    readonly_fields = ["result_code", "result_meaning", "result_at"]
    extra = 1
    max_num = limits.GROUPED_CONVERSATIONS_PER_USER_MAX
    verbose_name = _("conversation")
    verbose_name_plural = _("conversations")

    @admin.display(description=_("meaning"))
    def result_meaning(self, item):
        if item.result_code is None:
            return "—"
        if item.result_code == 0:
            return item.result_meaning
        return format_html('<strong class="refused">{}</strong> {}', item.result_meaning, item.result_info)


@admin.register(ContactGroup)
class ContactGroupAdmin(admin.ModelAdmin):
    form = ContactGroupForm
    inlines = [ContactItemInline]
    list_display = ["name", "owner", "state", "chat_group_id", "conversation_count", "refused_count", "updated_at"]
    list_filter = ["state", "owner"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__user_id", "owner__nickname", "items__to_account", "items__to_group_id"]
    autocomplete_fields = ["owner"]
    readonly_fields = [
        "state", "chat_group_id", "confirmed_name", "last_error_code", "last_error_meaning",
        "last_error_info", "last_synced_at", "created_at", "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["owner", "name"]}),
        (_("In Chat"), {"fields": [
            "state", "chat_group_id", "confirmed_name", "last_error_code", "last_error_meaning",
            "last_error_info", "last_synced_at",
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
                _conversation_count=Count("items", distinct=True),
                _refused_count=Count("items", filter=Q(items__result_code__gt=0), distinct=True),
            )
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            # A group belongs to its owner in Chat; moving it would be a delete and a create.
            return ["owner", *self.readonly_fields]
        return self.readonly_fields

    @admin.display(description=_("conversations"), ordering="_conversation_count")
    def conversation_count(self, group):
        return group._conversation_count

    @admin.display(description=_("refused"), ordering="_refused_count")
    def refused_count(self, group):
        return group._refused_count

    @admin.display(description=_("meaning"))
    def last_error_meaning(self, group):
        return group.last_error_meaning or "—"
