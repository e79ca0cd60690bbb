"""Conversation groups: the list, the page with its conversations, and the actions that sync and pull them.

Saving or deleting a group queues a sync (contactgroups.tasks). The conversations' inline is built for a page of
a thousand rows: fast widgets, and, saving, neither a query a row to find each row's id nor one to check each
row's constraint.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.forms.formsets import TOTAL_FORM_COUNT
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse, reverse_lazy
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, ngettext_lazy

from contactgroups import sync, tasks, words
from contactgroups.admin.display import ChatActions, not_imported_offers, sync_offer, with_offer
from contactgroups.admin.django_internals import SkipsModelValidation, count_inline_media_once, inline_foreign_key_name
from contactgroups.admin.drift import ChatDriftMixin
from contactgroups.admin.export import ContactGroupExportMixin
from contactgroups.admin.filters import DriftFilter, OwnerFilter, StateFilter
from contactgroups.admin.health import health_view
from contactgroups.admin.history import GroupHistoryMixin
from contactgroups.admin.import_view import ContactGroupImportMixin
from contactgroups.admin.live import (
    LiveStatusMixin,
    last_error_text,
    result_html,
    state_badge_html,
)
from contactgroups.admin.pick import pick_urls
from contactgroups.admin.restore import RestoreMixin
from contactgroups.admin.search import SearchNotesMixin
from contactgroups.admin.selection import SelectedIdsChecked
from contactgroups.admin.widgets import FastCheckboxInput, FastErrorList, FastHiddenInput, FastSelect, FastTextInput
from contactgroups.chat import errors, protocol
from contactgroups.forms import ContactGroupForm, ContactItemForm, ContactItemFormSet, save_warnings, warnings_digest
from contactgroups.models import ChatUser, ContactGroup, ContactItem
from contactgroups.outcomes import SyncOutcome
from contactgroups.permissions import PULL_PERMISSION, SYNC_PERMISSION


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

    # The checkbox of the page's warnings; its value is the digest of the warnings it confirms.
    SAVE_ANYWAY = "_save_anyway"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("error_class", FastErrorList)
        super().__init__(*args, **kwargs)
        self.unconfirmed_warnings: list[dict] = []

    def is_valid(self):
        """Valid, and the save's warnings (forms.save_warnings) are none or confirmed with "Save anyway".

        Unconfirmed warnings are no error: the page is shown again with them and the checkbox, nothing saved.
        """
        if not super().is_valid():
            return False
        owner = self.instance.owner if self.instance.owner_id else None
        warnings = save_warnings(owner, self.kept_conversations())
        confirmed = bool(warnings) and self.data.get(self.SAVE_ANYWAY) == warnings_digest(warnings)
        self.unconfirmed_warnings = [] if confirmed else warnings
        return not self.unconfirmed_warnings

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

    @admin.display(description=_("Chat's answer"))
    def result(self, item):
        return result_html(item, result_offers(item))


@admin.register(ContactGroup)
class ContactGroupAdmin(RestoreMixin, GroupHistoryMixin, ChatDriftMixin, LiveStatusMixin, SelectedIdsChecked,
                        ContactGroupImportMixin, ContactGroupExportMixin, SearchNotesMixin, admin.ModelAdmin):
    form = ContactGroupForm
    inlines = [ContactItemInline]
    list_display = [
        "group_name", "owner", "state_badge", "chat_group_id", "conversation_count", "accepted_count", "refused",
        "last_synced_at",
    ]
    list_filter = [StateFilter, DriftFilter, OwnerFilter]
    list_select_related = ["owner"]
    # Each lookup is one an index answers, and none joins the conversations (which would need DISTINCT);
    # get_search_results says how the box searches these.
    search_fields = ["name", "owner__user_id", "items__to_account", "items__to_group_id"]
    search_help_text = _(
        "Finds groups whose name starts with the text (any case), groups of owners whose UserID or nickname "
        "contains it (any case; a text of one or two characters: starts with it), and groups holding a "
        "conversation with exactly this UserID or group id."
    )
    # Most recently changed first: an index on (updated_at, id) serves it without sorting 100,000 rows. The
    # columns a click sorts by are those an index serves too.
    ordering = ["-updated_at", "-id"]
    sortable_by = ["group_name", "state_badge"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    autocomplete_fields = ["owner"]
    actions = ["sync_to_chat", "pull_from_chat", "export_selected_csv", "export_selected_xlsx"]
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
        js = [reverse_lazy("javascript-catalog"), "contactgroups/contact_item_inline.js"]
        css = {"all": ["contactgroups/admin.css"]}

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        # The union of three small subqueries, each answered by an index: no join to the conversations (which
        # would need DISTINCT), and no OR across tables (which no index answers, so every group would be read).
        named = ContactGroup.objects.filter(name__istartswith=term).values("pk").order_by()
        owners = ChatUser.objects.matching(term).values("pk").order_by()
        owned = ContactGroup.objects.filter(owner__in=owners).values("pk").order_by()
        holding = ContactItem.objects.filter(Q(to_account=term) | Q(to_group_id=term)).values("group_id").order_by()
        return queryset.filter(pk__in=named.union(owned, holding)), False

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        return count_inline_media_once(super().get_inline_formsets(request, formsets, inline_instances, obj))

    def get_urls(self):
        return [
            path("<path:object_id>/sync/", self.admin_site.admin_view(self.sync_one_view),
                 name="contactgroups_contactgroup_sync_one"),
            *pick_urls(self),
            path("health/", self.admin_site.admin_view(health_view), name="contactgroups_health"),
            *super().get_urls(),
        ]

    def chat_actions(self, request, group) -> ChatActions:
        """What the staff may do on this group's page about Chat's refusals: import a user, sync the group again."""
        actions = self.admin_site.get_model_admin(ChatUser).chat_actions(request)
        if self.has_sync_permission(request) and self.has_change_permission(request, group):
            actions = ChatActions(import_url=actions.import_url, add_users=actions.add_users,
                                  sync_url=reverse("admin:contactgroups_contactgroup_sync_one", args=[group.pk]))
        return actions

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            self._offer_chat_actions(request, context, obj)
        warnings = [warning for inline in context.get("inline_admin_formsets", ())
                    for warning in getattr(inline.formset, "unconfirmed_warnings", ())]
        if warnings:
            context["save_warnings"] = [words.save_warning_text(warning) for warning in warnings]
            context["save_warnings_digest"] = warnings_digest(warnings)
            context["save_anyway_name"] = ContactItemInlineFormSet.SAVE_ANYWAY
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _offer_chat_actions(self, request, context, group) -> None:
        """Give the page's refusals their buttons: the actions, and the import state of each user refused as not
        imported (one query for the whole page)."""
        items = [form.instance for inline in context.get("inline_admin_formsets", ()) for form in inline.formset.forms
                 if isinstance(form.instance, ContactItem)]
        context["chat_actions"] = self._attach_chat_actions(request, group, items)
        context["chat_actions_group"] = group.pk

    def _attach_chat_actions(self, request, group, items) -> ChatActions:
        actions = self.chat_actions(request, group)
        refused = {item.to_account for item in items
                   if item.type == protocol.TYPE_C2C and errors.is_account_not_imported(item.result_code)}
        refused.update(not_imported_users(group))
        states = dict(ChatUser.objects.filter(user_id__in=refused).values_list("user_id", "import_state")) \
            if refused else {}
        group.chat_actions, group.chat_user_states = actions, states
        for item in items:
            item.chat_actions, item.chat_user_states = actions, states
        return actions

    def add_offers(self, request, group, items, status) -> None:
        items = [item for item in items
                 if item.type == protocol.TYPE_C2C and errors.is_account_not_imported(item.result_code)]
        self._attach_chat_actions(request, group, items)
        status["fields"]["last_sync"]["offers"] = [offer.as_data() for offer in last_sync_offers(group)]
        conversations = {conversation["id"]: conversation for conversation in status["conversations"]}
        for item in items:
            conversations[item.pk]["offers"] = [offer.as_data() for offer in result_offers(item)]

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
            self._hand_over(
                request, [group.pk],
                queued=lambda count: words.queued_text(words.HandOver.SAVED, count, group),
                not_queued=lambda count, exc: words.not_queued_text(words.HandOver.SAVED, count, group, exc),
            )
        else:
            self.message_user(request, _(
                "Saved as a draft: you may not sync to Chat, so someone who may must sync it."
            ), messages.WARNING)

    def delete_model(self, request, obj):
        self._mark_for_deletion(obj)
        self._hand_over(
            request, [obj.pk],
            queued=lambda count: words.queued_text(words.HandOver.DELETED, count, obj),
            not_queued=lambda count, exc: words.not_queued_text(words.HandOver.DELETED, count, obj, exc),
        )

    def delete_queryset(self, request, queryset):
        groups = list(queryset)
        for group in groups:
            self._mark_for_deletion(group)
        self._hand_over(
            request, [group.pk for group in groups],
            queued=lambda count: words.queued_text(words.HandOver.DELETED_MANY, count),
            not_queued=lambda count, exc: words.not_queued_text(words.HandOver.DELETED_MANY, count, error=exc),
        )

    def _mark_for_deletion(self, group):
        group.delete_requested = True
        group.state = ContactGroup.State.DELETING
        group.save(update_fields=["delete_requested", "state", "updated_at"])

    # Saying what is true -------------------------------------------------------------------------------------
    # A save, a delete or an action only hands its syncs over (tasks.queue_group_syncs): a broker's worker or this
    # process's background runner does them, and the group's page shows how each ends. So the banner is said once
    # the transaction has committed and each sync was queued, or could not be; Django's own "was changed
    # successfully" line, which would stand over a sync that fails later, is left out.

    def _hand_over(self, request, group_pks: list[int], queued, not_queued) -> None:
        request.contactgroups_says_the_outcome = True
        refused = []
        tasks.queue_group_syncs(group_pks, request.user.pk, on_not_queued=lambda pk, exc: refused.append(exc))

        def say():
            count = len(group_pks) - len(refused)
            if count:
                self._say(request, queued(count), messages.SUCCESS)
            if refused:
                self._say(request, not_queued(len(refused), refused[-1]), messages.ERROR)

        transaction.on_commit(say)

    def message_user(self, request, message, level=messages.INFO, extra_tags="", fail_silently=False):
        if level == messages.SUCCESS and getattr(request, "contactgroups_says_the_outcome", False):
            return  # Django's "… was added / changed / deleted successfully": _hand_over says what is true
        super().message_user(request, message, level, extra_tags, fail_silently)

    def _say(self, request, message, level) -> None:
        super().message_user(request, message, level)

    def sync_one_view(self, request, object_id):
        """Sync one group again from its page (the "Sync to Chat" action on it alone), then back to the page."""
        page = reverse("admin:contactgroups_contactgroup_change", args=[object_id])
        if request.method != "POST":  # only the page's button syncs; an address typed or followed shows the page
            return HttpResponseRedirect(page)
        group = self.get_object(request, object_id)
        if group is None:
            raise Http404(_("No such conversation group."))
        if not (self.has_sync_permission(request) and self.has_change_permission(request, group)):
            raise PermissionDenied
        self.sync_to_chat(request, ContactGroup.objects.filter(pk=group.pk))
        return HttpResponseRedirect(page)

    # Actions -------------------------------------------------------------------------------------------------

    @admin.action(description=_("Sync to Chat"), permissions=["sync"])
    def sync_to_chat(self, request, queryset):
        groups = list(queryset.live())
        for group in groups:
            if not group.delete_requested:
                group.state = ContactGroup.State.QUEUED
                group.save(update_fields=["state", "updated_at"])
        sync.log_staff_actions(request.user.pk, groups, {"action": "sync"})
        self._hand_over(
            request, [group.pk for group in groups],
            queued=lambda count: words.queued_text(words.HandOver.SYNC_MANY, count),
            not_queued=lambda count, exc: words.not_queued_text(words.HandOver.SYNC_MANY, count, error=exc),
        )

    @admin.action(description=_("Pull from Chat (replaces local edits with Chat's state)"), permissions=["pull"])
    def pull_from_chat(self, request, queryset):
        owners = list(queryset.values_list("owner_id", flat=True).distinct().order_by())
        queued = tasks.queue_owner_pulls(owners, request.user.pk)
        if queued:
            self.message_user(request, ngettext(
                "Pulling from Chat the groups of %(count)d user. Each group's page and history show what Chat "
                "changed.",
                "Pulling from Chat the groups of %(count)d users. Each group's page and history show what Chat "
                "changed.", queued,
            ) % {"count": queued}, messages.SUCCESS)
        if len(owners) > queued:
            self.message_user(request, ngettext(
                "The pull from Chat of %(count)d user could not be queued (the task queue is unreachable); "
                "nothing was changed.",
                "The pull from Chat of %(count)d users could not be queued (the task queue is unreachable); "
                "nothing was changed.", len(owners) - queued,
            ) % {"count": len(owners) - queued}, messages.ERROR)

    # Columns -------------------------------------------------------------------------------------------------

    @admin.display(description=ContactGroup._meta.get_field("name").verbose_name, ordering="name")
    def group_name(self, group):
        return words.name_text(group.name)

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, group):
        badge = state_badge_html(group)
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
        return with_offer(words.outcome_text(group.last_outcome) or "—", last_sync_offers(group))

    @admin.display(description=_("last conflict"))
    def last_conflict(self, group):
        return words.conflicts_text(group.conflicts, group.owner.user_id) if group.conflicts else "—"

    @admin.display(description=_("last error"))
    def last_error(self, group):
        if group.last_error_code is None:
            return last_error_text(group)
        return format_html('<strong class="refused">{}</strong>', last_error_text(group))

    @admin.display(description=_("audit"))
    def audit_link(self, group):
        if group.pk is None:
            return "—"
        url = reverse("admin:contactgroups_syncattempt_changelist") + "?" + urlencode({"group__id__exact": group.pk})
        return format_html('<a href="{}">{}</a>', url, _("Chat calls for this group"))


def last_sync_offers(group) -> list:
    """What the last sync's field offers, when the page gives the group its actions (_attach_chat_actions): for
    each user Chat refused as not imported, an import button or that it is imported now; then a sync again."""
    users = not_imported_users(group)
    actions = getattr(group, "chat_actions", None)
    if not users or actions is None:
        return []
    offers = not_imported_offers(actions, users, getattr(group, "chat_user_states", {}))
    if actions.sync_url and group.state not in (ContactGroup.State.QUEUED, ContactGroup.State.SYNCING):
        offers.append(sync_offer(actions))
    return offers


def result_offers(item) -> list:
    """The import button under a one-to-one conversation Chat refused as not imported, when the page offers one."""
    if item.type != protocol.TYPE_C2C or not errors.is_account_not_imported(item.result_code):
        return []
    return not_imported_offers(getattr(item, "chat_actions", None), [item.to_account],
                               getattr(item, "chat_user_states", {}))


def not_imported_users(group) -> list[str]:
    """The UserIDs the group's last sync says Chat refused as not imported: the owner, whose refusal stopped the
    call, and each one-to-one conversation refused so."""
    outcome = group.outcome
    if not isinstance(outcome, SyncOutcome):
        return []
    users = []
    if outcome.error and errors.is_account_not_imported(outcome.error.code):
        users.append(group.owner.user_id)
    for refusal in outcome.refused:
        if refusal.type == protocol.TYPE_C2C and errors.is_account_not_imported(refusal.code) \
                and refusal.target not in users:
            users.append(refusal.target)
    return users
