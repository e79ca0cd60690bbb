"""Conversation groups: the list, the page with its conversations, and the actions that sync and pull them.

Saving or deleting a group queues a sync (contactgroups.tasks). The conversations' inline is built for a page of
a thousand rows: fast widgets, and, saving, neither a query a row to find each row's id nor one to check each
row's constraint.
"""

from collections import Counter

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.formsets import TOTAL_FORM_COUNT
from django.urls import reverse, reverse_lazy
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, ngettext_lazy

from contactgroups import sync, tasks, words
from contactgroups.admin.display import code_with_meaning
from contactgroups.admin.django_internals import SkipsModelValidation, count_inline_media_once, inline_foreign_key_name
from contactgroups.admin.drift import ChatDriftMixin
from contactgroups.admin.filters import DriftFilter, OwnerFilter, StateFilter
from contactgroups.admin.import_view import ContactGroupImportMixin
from contactgroups.admin.selection import SelectedIdsChecked
from contactgroups.admin.widgets import FastCheckboxInput, FastErrorList, FastHiddenInput, FastSelect, FastTextInput
from contactgroups.chat import errors, protocol
from contactgroups.forms import ContactGroupForm, ContactItemForm, ContactItemFormSet
from contactgroups.models import ContactGroup, ContactItem
from contactgroups.permissions import PULL_PERMISSION, SYNC_PERMISSION
from contactgroups.sync.outcome import error_data


class ExistingRowField(forms.ModelChoiceField):
    """A row's hidden id, found among the rows the formset has read, where Django's field makes a query a row."""

    def __init__(self, formset, field):
        super().__init__(field.queryset, initial=field.initial, required=False, widget=field.widget)
        self.formset = formset

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            row = self.formset.existing_rows.get(self.queryset.model._meta.pk.to_python(value))
        except ValidationError:
            row = None
        if row is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return row


class ContactItemInlineForm(SkipsModelValidation, ContactItemForm):
    # ContactItemForm.clean checks the type with its target in Python, and the formset the duplicates; left in,
    # Django checks the constraints on the type again in SQL, three queries a row. They still guard the table.
    skip_model_validation = ("type",)


class ContactItemInlineFormSet(ContactItemFormSet):
    deletion_widget = FastCheckboxInput
    default_error_messages = {
        "too_many_forms": ngettext_lazy(
            "A conversation group holds at most %(num)d conversation (Chat's limit); this page sent more. "
            "Open the group again and make your change there.",
            "A conversation group holds at most %(num)d conversations (Chat's limit); this page sent more. "
            "Open the group again and make your change there.",
            "num",
        ),
    }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("error_class", FastErrorList)
        super().__init__(*args, **kwargs)

    def claims_too_many_forms(self) -> bool:
        """A posted page that claims more rows than a group can hold: no browser sends it, so none are built."""
        if not self.is_bound or not self.management_form.is_valid():
            return False
        return self.management_form.cleaned_data[TOTAL_FORM_COUNT] > self.absolute_max

    def total_form_count(self):
        # Django builds up to absolute_max forms before it refuses the count; this refuses it (the error is
        # full_clean's "too_many_forms") without building any.
        return 0 if self.claims_too_many_forms() else super().total_form_count()

    def initial_form_count(self):
        return 0 if self.claims_too_many_forms() else super().initial_form_count()

    @cached_property
    def existing_rows(self) -> dict:
        """The group's rows by primary key, from the one query that reads them all."""
        return {row.pk: row for row in self.get_queryset()}

    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields[inline_foreign_key_name(self)].widget = FastHiddenInput()
        pk_name = self.model._meta.pk.name
        if isinstance(form.fields.get(pk_name), forms.ModelChoiceField):
            form.fields[pk_name] = ExistingRowField(self, form.fields[pk_name])


class ContactItemInline(admin.TabularInline):
    model = ContactItem
    form = ContactItemInlineForm
    formset = ContactItemInlineFormSet
    fields = ["type", "to_account", "to_group_id", "result"]
    readonly_fields = ["result"]
    extra = 1
    max_num = protocol.GROUPED_CONVERSATIONS_PER_USER_MAX
    verbose_name = _("conversation")
    verbose_name_plural = _("conversations")

    def get_formset(self, request, obj=None, **kwargs):
        # No more forms built from a POST than a group may hold (Django's default allows max_num + 1,000).
        kwargs.setdefault("absolute_max", self.max_num)
        kwargs["widgets"] = {"id": FastHiddenInput, "type": FastSelect, "to_account": FastTextInput,
                             "to_group_id": FastTextInput}
        return super().get_formset(request, obj, **kwargs)

    @admin.display(description=_("Chat's answer (ResultCode)"))
    def result(self, item):
        if item.result_code is None:
            return _("not sent yet")
        text = code_with_meaning(item.result_code, item.result_info)
        if item.result_code == errors.OK:
            return text
        return format_html('<strong class="refused">{}</strong>', text)


@admin.register(ContactGroup)
class ContactGroupAdmin(ChatDriftMixin, SelectedIdsChecked, ContactGroupImportMixin, admin.ModelAdmin):
    form = ContactGroupForm
    inlines = [ContactItemInline]
    list_display = [
        "name", "owner", "state_badge", "chat_group_id", "conversation_count", "accepted_count", "refused",
        "last_synced_at",
    ]
    list_filter = [StateFilter, DriftFilter, OwnerFilter]
    list_select_related = ["owner"]
    # Each lookup is one an index answers, and none joins the conversations (which would need DISTINCT);
    # get_search_results says how the box searches these.
    search_fields = ["name", "owner__user_id", "items__to_account", "items__to_group_id"]
    search_help_text = _(
        "Finds groups whose name starts with the text (any case), groups of the owner with exactly this UserID, "
        "and groups holding a conversation with exactly this UserID or group id."
    )
    # Most recently changed first: an index on (updated_at, id) serves it without sorting 100,000 rows. The
    # columns a click sorts by are those an index serves too.
    ordering = ["-updated_at", "-id"]
    sortable_by = ["name", "state_badge"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    autocomplete_fields = ["owner"]
    actions = ["sync_to_chat", "pull_from_chat"]
    readonly_fields = [
        "state_badge", "chat_group_id", "confirmed_name", "last_sync", "last_conflict", "last_error",
        "last_synced_at", "audit_link", "created_at", "updated_at",
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
        js = [reverse_lazy("javascript-catalog"), "contactgroups/contact_item_inline.js"]
        css = {"all": ["contactgroups/admin.css"]}

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # The union of three small subqueries, each answered by an index: no join to the conversations (which
        # would need DISTINCT), and no OR across tables (which no index answers, so every group would be read).
        named = ContactGroup.objects.filter(name__istartswith=term).values("pk").order_by()
        owned = ContactGroup.objects.filter(owner__user_id=term).values("pk").order_by()
        holding = ContactItem.objects.filter(Q(to_account=term) | Q(to_group_id=term)).values("group_id").order_by()
        return queryset.filter(pk__in=named.union(owned, holding)), False

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        return count_inline_media_once(super().get_inline_formsets(request, formsets, inline_instances, obj))

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            # Nothing is in Chat before the first save.
            return self.fieldsets[:1]
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
            # them, the columns a sync may have changed since: what Chat confirmed, and the sync's lease, so that
            # the next sync would start while the running one still calls Chat.
            columns = {field.name for field in obj._meta.get_fields() if field.concrete}
            edited = [name for name in form.changed_data if name in columns]
            obj.save(update_fields=[*edited, "state", "updated_at"])
        else:
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        group = form.instance
        group.refresh_counts()
        if self.has_sync_permission(request):
            tasks.queue_group_sync(group.pk, request.user.pk, on_not_queued=lambda exc: self.message_user(
                request, _("“%(group)s” is saved, but its sync to Chat could not be queued, so it is marked failed. "
                           "Use “Sync to Chat” once the task queue is back.")
                % {"group": group}, messages.ERROR,
            ), on_synced=lambda pk: self._say_how_the_sync_ended(request, pk))
        else:
            self.message_user(request, _(
                "Saved as a draft: you may not sync to Chat, so someone who may must sync it."
            ), messages.WARNING)

    def delete_model(self, request, obj):
        self._request_deletion(obj, request, on_synced=lambda pk: self._say_how_the_sync_ended(request, pk))

    def delete_queryset(self, request, queryset):
        synced = []
        for group in queryset:
            self._request_deletion(group, request, on_synced=synced.append)
        if synced:
            self._say_how_the_syncs_ended(request, synced)

    def _request_deletion(self, group, request, on_synced):
        group.delete_requested = True
        group.state = ContactGroup.State.DELETING
        group.save(update_fields=["delete_requested", "state", "updated_at"])
        tasks.queue_group_sync(group.pk, request.user.pk, on_synced=on_synced, on_not_queued=lambda exc: (
            self.message_user(request, _("“%(group)s” is marked for deletion, but its deletion from Chat could not "
                                         "be queued, so it is marked failed. Use “Sync to Chat” once the task queue "
                                         "is back.") % {"group": group}, messages.ERROR)))

    # Actions -------------------------------------------------------------------------------------------------

    @admin.action(description=_("Sync to Chat"), permissions=["sync"])
    def sync_to_chat(self, request, queryset):
        groups = list(queryset.live())
        not_queued, synced = [], []
        for group in groups:
            if not group.delete_requested:
                group.state = ContactGroup.State.QUEUED
                group.save(update_fields=["state", "updated_at"])
            tasks.queue_group_sync(group.pk, request.user.pk, on_not_queued=not_queued.append,
                                   on_synced=synced.append)
        queued = len(groups) - len(not_queued) - len(synced)
        if queued:
            self.message_user(request, ngettext(
                "%(count)d group queued for sync to Chat.", "%(count)d groups queued for sync to Chat.", queued
            ) % {"count": queued}, messages.SUCCESS)
        if synced:
            self._say_how_the_syncs_ended(request, synced)
        if not_queued:
            self.message_user(request, ngettext(
                "%(count)d group could not be queued for sync to Chat (%(error)s) and is marked failed.",
                "%(count)d groups could not be queued for sync to Chat (%(error)s) and are marked failed.",
                len(not_queued),
            ) % {"count": len(not_queued), "error": not_queued[-1]}, messages.ERROR)

    # How a sync that ran in this request ended, as the level of its message says: an error is an error.
    SYNC_END_LEVELS = {
        ContactGroup.State.SYNCED: messages.SUCCESS, ContactGroup.State.DELETED: messages.SUCCESS,
        ContactGroup.State.PARTIAL: messages.WARNING, ContactGroup.State.QUEUED: messages.WARNING,
        ContactGroup.State.DELETING: messages.WARNING,
    }

    def _say_how_the_syncs_ended(self, request, group_pks: list[int]) -> None:
        """The groups synced in this request, counted by how they ended, each count at its own level."""
        states = Counter(ContactGroup.objects.filter(pk__in=group_pks).values_list("state", flat=True))
        done = states[ContactGroup.State.SYNCED] + states[ContactGroup.State.DELETED]
        if done:
            self.message_user(request, ngettext("%(count)d group synced to Chat.", "%(count)d groups synced to Chat.",
                                                done) % {"count": done}, messages.SUCCESS)
        if states[ContactGroup.State.PARTIAL]:
            count = states[ContactGroup.State.PARTIAL]
            self.message_user(request, ngettext(
                "%(count)d group synced, but Chat refused some of its conversations: see the group.",
                "%(count)d groups synced, but Chat refused some of their conversations: see each group.", count,
            ) % {"count": count}, messages.WARNING)
        waiting = states[ContactGroup.State.QUEUED] + states[ContactGroup.State.DELETING]
        if waiting:
            self.message_user(request, ngettext(
                "%(count)d group could not be synced yet; it will be tried again.",
                "%(count)d groups could not be synced yet; they will be tried again.", waiting,
            ) % {"count": waiting}, messages.WARNING)
        failed = states[ContactGroup.State.FAILED]
        if failed:
            self.message_user(request, ngettext(
                "%(count)d group failed to sync: see the group for Chat's answer.",
                "%(count)d groups failed to sync: see each group for Chat's answer.", failed,
            ) % {"count": failed}, messages.ERROR)

    def _say_how_the_sync_ended(self, request, group_pk: int) -> None:
        group = ContactGroup.objects.filter(pk=group_pk).values("state", "last_outcome").first()
        if group is None:
            return
        level = self.SYNC_END_LEVELS.get(group["state"], messages.ERROR)
        text = words.outcome_text(group["last_outcome"]) or ContactGroup.State(group["state"]).label
        self.message_user(request, text, level)

    @admin.action(description=_("Pull from Chat (replaces local edits with Chat's state)"), permissions=["pull"])
    def pull_from_chat(self, request, queryset):
        owners = queryset.values_list("owner_id", flat=True).distinct()
        differed = 0
        for owner_pk in owners:
            try:
                report = sync.pull_owner(owner_pk, request.user.pk)
            except errors.ChatError as exc:
                self.message_user(request, _("Pull failed: %(error)s") % {"error": words.error_text(error_data(exc))},
                                  messages.ERROR)
                continue
            differed += report.differed
            for line in words.pull_report_lines(report):
                self.message_user(request, line, messages.INFO)
        self.message_user(request, ngettext(
            "Pulled from Chat: %(count)d group differed.", "Pulled from Chat: %(count)d groups differed.", differed
        ) % {"count": differed}, messages.SUCCESS)

    # Columns -------------------------------------------------------------------------------------------------

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, group):
        badge = format_html('<span class="state-{}">{}</span>', group.state, group.get_state_display())
        if group.drift and group.state != ContactGroup.State.DELETED:
            badge = format_html('{} <span class="state-drift" title="{}">{}</span>', badge,
                                _("The last reading of Chat found the user changed this group in the app."),
                                _("Changed in the app"))
        return badge

    @admin.display(description=_("refused"), ordering="refused_count")
    def refused(self, group):
        if not group.refused_count:
            return 0
        return format_html('<strong class="refused">{}</strong>', group.refused_count)

    @admin.display(description=_("last sync"))
    def last_sync(self, group):
        return words.outcome_text(group.last_outcome) or "—"

    @admin.display(description=_("last conflict"))
    def last_conflict(self, group):
        return words.conflicts_text(group.conflicts, group.owner.user_id) if group.conflicts else "—"

    @admin.display(description=_("last error"))
    def last_error(self, group):
        if group.last_error_code is None and not group.last_error_info:
            return "—"
        if group.last_error_code is None:
            return group.last_error_info
        return format_html('<strong class="refused">{}</strong><br>{}', code_with_meaning(group.last_error_code),
                           group.last_error_info)

    @admin.display(description=_("audit"))
    def audit_link(self, group):
        if group.pk is None:
            return "—"
        url = reverse("admin:contactgroups_syncattempt_changelist") + "?" + urlencode({"group__id__exact": group.pk})
        return format_html('<a href="{}">{}</a>', url, _("Chat calls for this group"))
