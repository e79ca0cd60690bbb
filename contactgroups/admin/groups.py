"""Conversation groups: the list, the page with its conversations, and the actions that sync and pull them.

``ContactGroupAdmin`` is the one admin of the groups. Its own pages and endpoints are small views in their own
modules (live, drift, restore, export, import_view, health, pick, views), wired in its one ``get_urls``; each asks
for its permissions through the admin's public methods. Saving or deleting a group queues a sync
(contactgroups.tasks), and the admin says what is true of it (``hand_over``).
"""

from functools import partial

from django.contrib import admin, messages
from django.contrib.admin.models import DELETION
from django.contrib.admin.utils import display_for_field
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import path, reverse, reverse_lazy
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from contactgroups import sync, tasks, words
from contactgroups.admin import drift, history, live, pick, restore, search
from contactgroups.admin.display import with_offer
from contactgroups.admin.django_internals import count_inline_media_once
from contactgroups.admin.export import ExportView, export_selected_csv, export_selected_xlsx
from contactgroups.admin.filters import DriftFilter, OwnerFilter, StateFilter
from contactgroups.admin.health import HealthView
from contactgroups.admin.import_view import ImportRefusalsView, ImportSampleView, ImportView
from contactgroups.admin.inline import ContactItemInline, ContactItemInlineForm, ContactItemInlineFormSet
from contactgroups.admin.live import last_error_text, state_badge_html
from contactgroups.admin.offers import last_sync_offers, offer_on_page
from contactgroups.admin.paging import CappedCount
from contactgroups.admin.selection import check_selected_ids
from contactgroups.admin.views import RetryNowView, SyncOneView, pull_from_chat, sync_to_chat
from contactgroups.forms import ContactGroupForm, warnings_digest
from contactgroups.models import ContactGroup, GroupSync
from contactgroups.permissions import PULL_PERMISSION, SYNC_PERMISSION

__all__ = ["ContactGroupAdmin", "ContactItemInline", "ContactItemInlineForm", "ContactItemInlineFormSet"]


@admin.register(ContactGroup)
class ContactGroupAdmin(CappedCount, admin.ModelAdmin):
    form = ContactGroupForm
    change_form_template = "admin/contactgroups/contactgroup/change_form.html"
    inlines = [ContactItemInline]
    list_display = [
        "group_name", "owner", "state_badge", "chat_group_id", "conversation_count", "accepted_count", "refused",
        "last_synced_at",
    ]
    list_filter = [StateFilter, DriftFilter, OwnerFilter]
    # Every page reads the owner and the group's ``sync`` row (GroupId, last synced, the drift mark) in the same
    # query as the groups (get_queryset), never a group at a time.
    list_select_related = ["owner", "sync"]
    # What the box searches (get_search_results: ContactGroup.objects.matching, each part through an index).
    search_fields = ["name", "owner__user_id", "items__to_account", "items__to_group_id"]
    search_help_text = search.GROUP_SEARCH_HELP
    # Most recently changed first: an index on (updated_at, id) serves it without sorting 100,000 rows. The
    # columns a click sorts by are those an index serves too.
    ordering = ["-updated_at", "-id"]
    sortable_by = ["group_name", "state_badge"]
    # Counted up to a cap past the page asked for (CappedCount): a common word's 50,000 matches are never all
    # counted, and the page says "more than" beyond the cap.
    show_facets = admin.ShowFacets.NEVER
    autocomplete_fields = ["owner"]
    actions = [sync_to_chat, pull_from_chat, export_selected_csv, export_selected_xlsx]
    readonly_fields = [
        "state_badge", "chat_group_id", "confirmed_name", "last_sync", "last_conflict", "last_error",
        "last_synced_at", "audit_link", "created_at", "updated_at", "group_name",
    ]
    fieldsets = [
        (None, {"fields": ["owner", "name"]}),
        (_("In Chat"), {"fields": [
            "state_badge", "chat_group_id", "confirmed_name", "last_sync", "last_conflict", "last_error",
            "last_synced_at", "audit_link",
        ]}),
        (_("Record"), {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    class Media:
        js = [reverse_lazy("javascript-catalog"), "contactgroups/contact_item_inline.js", "contactgroups/byte_count.js"]
        css = {"all": ["contactgroups/admin.css"]}

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.matching(search_term), False  # ContactGroup.objects.matching: the one rule

    def get_changelist(self, request, **kwargs):
        return search.GroupChangeList  # a common word's page read in the list's order

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        return count_inline_media_once(super().get_inline_formsets(request, formsets, inline_instances, obj))

    def get_queryset(self, request):
        # A reading holds up to a thousand conversations; only the page's comparison reads it, when Chat fails.
        return super().get_queryset(request).select_related(*self.list_select_related).defer("sync__chat_reading")

    # The admin's own pages and endpoints ---------------------------------------------------------------------

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"

        def view(view_class):
            return self.admin_site.admin_view(view_class.as_view(model_admin=self))

        return [
            path("status/", view(live.StatusesView), name=f"{info}_statuses"),
            path("<path:object_id>/status/", view(live.StatusView), name=f"{info}_status"),
            path("<path:object_id>/chat/", view(drift.ComparisonView), name=f"{info}_chat"),
            path("<path:object_id>/chat/take/", view(drift.TakeChatVersionView), name=f"{info}_take_chat"),
            path("<path:object_id>/chat/keep/", view(drift.KeepMyEditView), name=f"{info}_keep_mine"),
            path("<path:object_id>/sync/", view(SyncOneView), name=f"{info}_sync_one"),
            path("<path:object_id>/retry/", view(RetryNowView), name=f"{info}_retry_now"),
            path("<path:object_id>/versions/<int:version_id>/restore/", view(restore.RestoreView),
                 name=f"{info}_restore"),
            path("export/<str:file_format>/", view(ExportView), name=f"{info}_export"),
            path("import/", view(ImportView), name=f"{info}_import"),
            path("import/refusals/", view(ImportRefusalsView), name=f"{info}_import_refusals"),
            path("import/sample/", view(ImportSampleView), name=f"{info}_import_sample"),
            path("health/", view(HealthView), name="contactgroups_health"),
            path("recent/", self.admin_site.admin_view(partial(pick.recent_conversations_view, self)),
                 name=f"{info}_recent"),
            path("chat-users/", self.admin_site.admin_view(partial(pick.chat_users_view, self)),
                 name=f"{info}_chat_users"),
            *super().get_urls(),
        ]

    def url_of(self, name: str, *args) -> str:
        """The URL of one of the groups' admin pages (``change``, ``history``, ``restore``, ...)."""
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args,
                       current_app=self.admin_site.name)

    # The list, the page and the history ----------------------------------------------------------------------

    def changelist_view(self, request, extra_context=None):
        check_selected_ids(request, self.opts.pk)
        response = super().changelist_view(request, extra_context)
        search.note_what_the_search_left_out(self, request, response)
        return response

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            offer_on_page(self, request, context, obj)
            if request.method == "GET" and "restore" not in context:
                # The group as the page read it (once): how it compares with Chat, or, deleted, what restores it.
                context["chat_comparison"] = drift.chat_comparison(self, request, obj)
                if obj.state == ContactGroup.State.DELETED:
                    context["restore_offer"] = restore.restore_offer(self, request, obj)
        warnings = [warning for inline in context.get("inline_admin_formsets", ())
                    for warning in getattr(inline.formset, "unconfirmed_warnings", ())]
        if warnings:
            context["save_warnings"] = [words.save_warning_text(warning) for warning in warnings]
            context["save_warnings_digest"] = warnings_digest(warnings)
            context["save_anyway_name"] = ContactItemInlineFormSet.SAVE_ANYWAY
        return super().render_change_form(request, context, add, change, form_url, obj)

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        group = (response.context_data or {}).get("object") if isinstance(response, TemplateResponse) else None
        if isinstance(group, ContactGroup):
            response.context_data["stories"] = history.stories(list(response.context_data["action_list"]))
            response.context_data.update(restore.versions_listed(self, request, group, self.versions_shown))
        return response

    # The history page lists this many versions, newest first.
    versions_shown = 100

    # Staff actions logged as data and named on the group (admin/history.py tells them as stories).

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        return [*message, {"edit": history.edit_data(form, formsets, add)}]

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        sync.record_staff_action(obj, entry)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        sync.record_staff_action(obj, entry)
        return entry

    def log_deletions(self, request, queryset):
        return [sync.log_staff_action(request.user.pk, group, [{"edit": {"action": "deleted", "name": group.name}}],
                                      DELETION)
                for group in queryset if isinstance(group, ContactGroup)]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            # Nothing is in Chat before the first save.
            return self.fieldsets[:1]
        if not self.has_change_permission(request, obj):
            # Read only: the name as the list shows it, its spaces at the ends marked.
            (title, options), *rest = self.fieldsets
            fields = ["group_name" if field == "name" else field for field in options["fields"]]
            return [(title, {**options, "fields": fields}), *rest]
        return self.fieldsets

    def get_deleted_objects(self, objs, request):
        # The rows are kept, marked deleted, and the group is deleted from Chat: list only the groups, and ask
        # for no permission on their conversations (the confirmation templates say what happens).
        groups = list(objs)
        return [str(group) for group in groups], {self.opts.verbose_name_plural: len(groups)}, set(), []

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            # A group belongs to its owner in Chat; moving it would be a delete and a create.
            return ["owner", *self.readonly_fields]
        return self.readonly_fields

    def has_sync_permission(self, request):
        return request.user.has_perm(SYNC_PERMISSION)

    def has_pull_permission(self, request):
        return request.user.has_perm(PULL_PERMISSION)

    def has_restore_permission(self, request, group: ContactGroup | None = None) -> bool:
        """The sync permission and the change permission; a group being deleted has nothing to restore yet."""
        if not (self.has_sync_permission(request) and self.has_change_permission(request)):
            return False
        return group is None or group.state == ContactGroup.State.DELETED or not group.delete_requested

    def has_import_permission(self, request) -> bool:
        """Importing creates groups and syncs them: both permissions, as for adding a group in the form."""
        return self.has_add_permission(request) and self.has_sync_permission(request)

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
        if change:
            # Only what the page edits, and the state. Saving the whole row would write back, as this request read
            # them, the columns a sync may have changed since (the state it set, the counts).
            columns = {field.name for field in obj._meta.get_fields() if field.concrete}
            edited = [name for name in form.changed_data if name in columns]
            obj.save(update_fields=[*edited, "state", "updated_at"])
        else:
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        self.save_conversations(request, form, formsets, change)
        group = form.instance
        if self.has_sync_permission(request):
            self.hand_over(
                request, [group.pk],
                queued=lambda count: words.queued_text(words.HandOver.SAVED, count, group),
                not_queued=lambda count, exc: words.not_queued_text(words.HandOver.SAVED, count, group, exc),
            )
        else:
            self.message_user(request, _(
                "Saved as a draft: you may not sync to Chat, so someone who may must sync it."
            ), messages.WARNING)

    def save_conversations(self, request, form, formsets, change):
        """Save the page's conversations (Django's ``save_related``) and count them on the group."""
        super().save_related(request, form, formsets, change)
        form.instance.refresh_counts()

    def delete_model(self, request, obj):
        self._mark_for_deletion(obj)
        self.hand_over(
            request, [obj.pk],
            queued=lambda count: words.queued_text(words.HandOver.DELETED, count, obj),
            not_queued=lambda count, exc: words.not_queued_text(words.HandOver.DELETED, count, obj, exc),
        )

    def delete_queryset(self, request, queryset):
        groups = list(queryset)
        for group in groups:
            self._mark_for_deletion(group)
        self.hand_over(
            request, [group.pk for group in groups],
            queued=lambda count: words.queued_text(words.HandOver.DELETED_MANY, count),
            not_queued=lambda count, exc: words.not_queued_text(words.HandOver.DELETED_MANY, count, error=exc),
        )

    def _mark_for_deletion(self, group):
        group.delete_requested = True
        group.state = ContactGroup.State.DELETING
        group.save(update_fields=["delete_requested", "state", "updated_at"])

    # Saying what is true ------------------------------------------------------------------------------------
    # A save, a delete or an action only hands its syncs over (tasks.queue_group_syncs): a broker's worker or this
    # process's background runner does them, and the group's page shows how each ends. So the banner is said once
    # the transaction has committed and each sync was queued, or could not be. Every add, change and delete here
    # hands a sync over (or says it saved a draft), so Django's own "… was added / changed / deleted
    # successfully" lines, which would stand over a sync that fails later, are never said: this admin's own
    # lines go through ``say``.

    def hand_over(self, request, group_pks: list[int], queued, not_queued) -> None:
        """Queue the groups' syncs; once committed, say ``queued(count)`` and, for those that could not be queued,
        ``not_queued(count, error)``."""
        refused = []
        tasks.queue_group_syncs(group_pks, request.user.pk, on_not_queued=lambda pk, exc: refused.append(exc))

        def said():
            count = len(group_pks) - len(refused)
            if count:
                self.say(request, queued(count), messages.SUCCESS)
            if refused:
                self.say(request, not_queued(len(refused), refused[-1]), messages.ERROR)

        transaction.on_commit(said)

    def message_user(self, request, message, level=messages.INFO, extra_tags="", fail_silently=False):
        if level == messages.SUCCESS:
            return  # Django's "… was added / changed / deleted successfully": hand_over says what is true
        super().message_user(request, message, level, extra_tags, fail_silently)

    def say(self, request, message, level=messages.INFO) -> None:
        """Show ``message``: this admin's own words, success included."""
        super().message_user(request, message, level)

    # Columns -------------------------------------------------------------------------------------------------

    @admin.display(description=ContactGroup._meta.get_field("name").verbose_name, ordering="name")
    def group_name(self, group):
        return words.name_text(group.name)

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, group):
        badge = state_badge_html(group)
        if group.sync.drift and group.state != ContactGroup.State.DELETED:
            badge = format_html('{} <span class="state-drift" title="{}">{}</span>', badge,
                                _("The last reading of Chat found the user changed this group in the app."),
                                _("Changed in the app"))
        return badge

    # What Chat confirmed, read from the group's ``sync`` row and shown as Django shows a column of the group.

    def confirmed(self, group, name: str):
        return display_for_field(getattr(group.sync, name), GroupSync._meta.get_field(name),
                                 self.get_empty_value_display())

    @admin.display(description=GroupSync._meta.get_field("chat_group_id").verbose_name)
    def chat_group_id(self, group):
        return self.confirmed(group, "chat_group_id")

    @admin.display(description=GroupSync._meta.get_field("confirmed_name").verbose_name)
    def confirmed_name(self, group):
        return self.confirmed(group, "confirmed_name")

    @admin.display(description=GroupSync._meta.get_field("last_synced_at").verbose_name)
    def last_synced_at(self, group):
        return self.confirmed(group, "last_synced_at")

    @admin.display(description=_("refused"), ordering="refused_count")
    def refused(self, group):
        if not group.refused_count:
            return 0
        return format_html('<strong class="refused">{}</strong>', group.refused_count)

    @admin.display(description=_("last sync"))
    def last_sync(self, group):
        return with_offer(words.outcome_text(group.sync.last_outcome) or "—", last_sync_offers(group))

    @admin.display(description=_("last conflict"))
    def last_conflict(self, group):
        conflicts = group.sync.conflicts
        return words.conflicts_text(conflicts, group.owner.user_id) if conflicts else "—"

    @admin.display(description=_("last error"))
    def last_error(self, group):
        if group.sync.last_error_code is None:
            return last_error_text(group)
        return format_html('<strong class="refused">{}</strong>', last_error_text(group))

    @admin.display(description=_("audit"))
    def audit_link(self, group):
        if group.pk is None:
            return "—"
        url = reverse("admin:contactgroups_syncattempt_changelist") + "?" + urlencode({"group__id__exact": group.pk})
        return format_html('<a href="{}">{}</a>', url, _("Chat calls for this group"))
