"""The admin support staff use to manage Chat users and their conversation groups.

Saving or deleting a group queues a sync (contactgroups.tasks); actions call the sync
layer. Syncing, pulling and importing each need their own permission; a view-only
staff user sees everything, history and audit included, and changes nothing.
"""

import html
import json
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AdminTextInputWidget
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q
from django.forms.utils import ErrorList
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from contactgroups import sync, tasks
from contactgroups.chat import client as chat
from contactgroups.chat import errors, protocol
from contactgroups.forms import ContactGroupForm, ContactItemForm, ContactItemFormSet
from contactgroups.imports import csvfile
from contactgroups.imports.groups import GroupImportPlan, apply_group_import, plan_group_import
from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt
from contactgroups.permissions import IMPORT_USERS_PERMISSION, PULL_PERMISSION, SYNC_PERMISSION


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


# A group page shows up to 1,000 conversations of six inputs each. Django renders every input, and every empty
# error list, through a template, which takes most of the page's time: the widgets below write the same HTML from
# Python. Saving, Django would look up each row's id and check each row's constraint with queries of their own:
# the form and formset below do neither a row at a time.


def _escape(value) -> str:
    return html.escape(str(value))


def _attributes(attrs: dict) -> str:
    """What django/forms/widgets/attrs.html writes: ` name="value"`, a bare name for True, nothing for False."""
    return "".join(
        f" {_escape(name)}" if value is True else f' {_escape(name)}="{_escape(value)}"'
        for name, value in attrs.items() if value is not False
    )


class _InputHTML:
    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        value = "" if widget["value"] is None else f' value="{_escape(widget["value"])}"'
        return mark_safe(  # every part is escaped
            f'<input type="{_escape(widget["type"])}" name="{_escape(widget["name"])}"{value}'
            f'{_attributes(widget["attrs"])}>'
        )


class FastTextInput(_InputHTML, AdminTextInputWidget):
    pass


class FastHiddenInput(_InputHTML, forms.HiddenInput):
    pass


class FastCheckboxInput(_InputHTML, forms.CheckboxInput):
    pass


class FastSelect(forms.Select):
    """A select of plain choices (no option groups)."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = "".join(
            f'<option value="{_escape(option["value"])}"{_attributes(option["attrs"])}>'
            f'{conditional_escape(option["label"])}</option>'
            for _group, choices, _index in widget["optgroups"] for option in choices
        )
        return mark_safe(  # every part is escaped
            f'<select name="{_escape(widget["name"])}"{_attributes(widget["attrs"])}>{options}</select>'
        )


class FastErrorList(ErrorList):
    def as_ul(self):
        return super().as_ul() if self else ""


class ExistingRowField(forms.ModelChoiceField):
    """A row's hidden id, found among the rows the formset has read, where Django makes a query a row."""

    def __init__(self, formset, field):
        super().__init__(field.queryset, initial=field.initial, required=False, widget=field.widget)
        self.formset = formset

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            row = self.formset._existing_object(self.queryset.model._meta.pk.to_python(value))
        except ValidationError:
            row = None
        if row is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return row


class ContactItemInlineForm(ContactItemForm):
    def _get_validation_exclusions(self):
        # ContactItemForm.clean checks the type with its target in Python; left in, Django checks the constraint
        # contactitem_target_matches_type again in SQL, three queries a row. The constraint still guards the table.
        return {*super()._get_validation_exclusions(), "type"}


class ContactItemInlineFormSet(ContactItemFormSet):
    deletion_widget = FastCheckboxInput

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("error_class", FastErrorList)
        super().__init__(*args, **kwargs)

    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields[self.fk.name].widget = FastHiddenInput()
        pk_name = self.model._meta.pk.name
        if isinstance(form.fields.get(pk_name), forms.ModelChoiceField):
            form.fields[pk_name] = ExistingRowField(self, form.fields[pk_name])


class ContactItemInlineAdminFormSet(helpers.InlineAdminFormSet):
    @property
    def media(self):
        # Every row has the same inputs, so the formset's media is every row's; Django adds it up row by row.
        return self.opts.media + self.formset.media


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
        kwargs["widgets"] = {"id": FastHiddenInput, "type": FastSelect, "to_account": FastTextInput,
                             "to_group_id": FastTextInput}
        return super().get_formset(request, obj, **kwargs)

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


class InputFilter(admin.SimpleListFilter):
    """A filter typed into a box, for a field with too many values to list (a UserID, an ErrorCode)."""

    template = "admin/input_filter.html"

    def lookups(self, request, model_admin):
        return []

    def has_output(self):
        return True

    def choices(self, changelist):
        yield {
            "selected": not self.value(),
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("All"),
            # The box's form sends the other filters, the search and the ordering along; a new filter starts
            # again at page 1.
            "hidden": [
                (name, value)
                for name, values in changelist.filter_params.items()
                if name != self.parameter_name
                for value in values
            ],
        }


class OwnerFilter(InputFilter):
    """Groups of the owner with this exact UserID: a box, since a list of every owner would be 100,000 links."""

    title = _("owner (UserID)")
    parameter_name = "owner"

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(owner__user_id=self.value().strip())
        return queryset


# CSV import of conversation groups ---------------------------------------------------------------------------
# An upload with a preview, then a confirmation that creates the groups; contactgroups.imports does the work
# (the same checks and counting as the group form, the same code as `manage.py import_contact_groups`).

IMPORT_PAYLOAD_SALT = "contactgroups.import"
# A preview stays valid this long; the confirmation checks every group again anyway.
IMPORT_PAYLOAD_MAX_AGE_SECONDS = 3600
# At most this many refusals are listed in messages after the confirmation (the preview lists them all).
IMPORT_REFUSALS_LISTED_MAX = 20


class ContactGroupImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8, at most %(mb)d MB and %(rows)s rows.") % {
            "mb": csvfile.CSV_MAX_BYTES // (1024 * 1024), "rows": f"{csvfile.CSV_MAX_ROWS:,}"},
    )


class ContactGroupImportMixin:
    """Adds the CSV import page (``import/``) to the conversation-group admin."""

    import_template = "admin/contactgroups/contactgroup/import.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        return [path("import/", view, name=name), *super().get_urls()]

    def has_import_permission(self, request):
        """Importing creates groups and syncs them: both permissions, as for adding a group in the form."""
        return self.has_add_permission(request) and request.user.has_perm(SYNC_PERMISSION)

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        if request.method == "POST" and "confirm" in request.POST:
            return self._import_confirmed(request)
        form = ContactGroupImportForm(request.POST or None, request.FILES or None)
        context = {}
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            context = self._import_preview(form, upload)
        return TemplateResponse(request, self.import_template, {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import conversation groups from CSV"),
            "form": form,
            **context,
        })

    def _import_preview(self, form, upload) -> dict:
        """Check the upload without saving anything: the preview's context, or {} with the form's error set."""
        if upload.size > csvfile.CSV_MAX_BYTES:
            form.add_error("file", _("This file is larger than %(mb)d MB; split it into smaller files.")
                           % {"mb": csvfile.CSV_MAX_BYTES // (1024 * 1024)})
            return {}
        raw = upload.read()
        try:
            plan = plan_group_import(raw, upload.name)
        except csvfile.CsvError as exc:
            form.add_error("file", str(exc))
            return {}
        payload = signing.dumps({"name": upload.name, "csv": raw.decode("utf-8-sig")}, salt=IMPORT_PAYLOAD_SALT,
                                compress=True)
        if settings.DATA_UPLOAD_MAX_MEMORY_SIZE and len(payload) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2:
            form.add_error("file", _(
                "This file is too large to import here; use `manage.py import_contact_groups`."))
            return {}
        accepted, rejected = len(plan.accepted), len(plan.rejected)
        summary = gettext("%(groups)s with %(conversations)s would be created.") % {
            "groups": ngettext("%(count)d group", "%(count)d groups", accepted) % {"count": accepted},
            "conversations": ngettext("%(count)d conversation", "%(count)d conversations", plan.conversation_count)
            % {"count": plan.conversation_count},
        }
        if rejected or plan.problems:
            summary += " " + ngettext(
                "%(count)d group is refused; its rows are listed below.",
                "%(count)d groups are refused; their rows are listed below.", rejected,
            ) % {"count": rejected}
        summary += " " + gettext("Nothing is saved until you confirm.")
        return {"plan": plan, "rejected_rows": plan.rejected_rows(), "payload": payload, "file_name": upload.name,
                "summary": summary}

    def _import_confirmed(self, request):
        """Create the previewed groups (each checked again as it is saved) and queue each for sync."""
        here = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import")
        try:
            payload = signing.loads(request.POST.get("payload", ""), salt=IMPORT_PAYLOAD_SALT,
                                    max_age=IMPORT_PAYLOAD_MAX_AGE_SECONDS)
        except signing.BadSignature:
            self.message_user(request, _("This preview has expired or was changed; upload the file again."),
                              messages.ERROR)
            return HttpResponseRedirect(here)
        source = gettext("the upload %(name)s") % {"name": payload["name"]}
        plan = plan_group_import(payload["csv"].encode("utf-8"), payload["name"])
        result = apply_group_import(plan, request.user.pk, source)
        created = len(result.created)
        self.message_user(request, ngettext(
            "%(count)d conversation group imported from %(name)s and queued for sync to Chat.",
            "%(count)d conversation groups imported from %(name)s and queued for sync to Chat.", created,
        ) % {"count": created, "name": payload["name"]}, messages.SUCCESS if created else messages.WARNING)
        if result.rejected:
            refused = GroupImportPlan(rejected=result.rejected, problems=plan.problems).rejected_rows()
            self.message_user(request, ngettext(
                "%(count)d group was refused: %(rows)s",
                "%(count)d groups were refused: %(rows)s", len(result.rejected),
            ) % {"count": len(result.rejected),
                 "rows": " ".join(problem.line() for problem in refused[:IMPORT_REFUSALS_LISTED_MAX])
                 + (" …" if len(refused) > IMPORT_REFUSALS_LISTED_MAX else "")}, messages.WARNING)
        return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))


# End of the CSV import ---------------------------------------------------------------------------------------


@admin.register(ContactGroup)
class ContactGroupAdmin(ContactGroupImportMixin, admin.ModelAdmin):
    form = ContactGroupForm
    inlines = [ContactItemInline]
    list_display = [
        "name", "owner", "state_badge", "chat_group_id", "conversation_count", "accepted_count", "refused",
        "last_synced_at",
    ]
    list_filter = [StateFilter, OwnerFilter]
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
        inline_admin_formsets = super().get_inline_formsets(request, formsets, inline_instances, obj)
        for inline_admin_formset in inline_admin_formsets:
            inline_admin_formset.__class__ = ContactItemInlineAdminFormSet
        return inline_admin_formsets

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
            edited = [name for name in form.changed_data if name in form._meta.fields]
            obj.save(update_fields=[*edited, "state", "updated_at"])
        else:
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        group = form.instance
        group.refresh_counts()
        if self.has_sync_permission(request):
            tasks.queue_group_sync(group.pk, request.user.pk, on_not_queued=lambda exc: self.message_user(
                request, _("“%(group)s” is saved, but its sync to Chat could not be queued (%(error)s), so it is "
                           "marked failed. Use “Sync to Chat” once the task queue is back.")
                % {"group": group, "error": exc}, messages.ERROR,
            ))
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
        not_queued = []
        for group in groups:
            if not group.delete_requested:
                group.state = ContactGroup.State.QUEUED
                group.save(update_fields=["state", "updated_at"])
            tasks.queue_group_sync(group.pk, request.user.pk, on_not_queued=not_queued.append)
        queued = len(groups) - len(not_queued)
        if queued:
            self.message_user(request, ngettext(
                "%(count)d group queued for sync to Chat.", "%(count)d groups queued for sync to Chat.", queued
            ) % {"count": queued}, messages.SUCCESS)
        if not_queued:
            self.message_user(request, ngettext(
                "%(count)d group could not be queued for sync to Chat (%(error)s) and is marked failed.",
                "%(count)d groups could not be queued for sync to Chat (%(error)s) and are marked failed.",
                len(not_queued),
            ) % {"count": len(not_queued), "error": not_queued[-1]}, messages.ERROR)

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

    @admin.display(description=_("refused"), ordering="refused_count")
    def refused(self, group):
        if not group.refused_count:
            return 0
        return format_html('<strong class="refused">{}</strong>', group.refused_count)

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


class OperationFilter(admin.SimpleListFilter):
    """The endpoint called, from the client's own list rather than the distinct values of millions of rows."""

    title = _("operation")
    parameter_name = "operation"
    OPERATIONS = sorted(endpoint.rsplit("/", 1)[-1] for endpoint in [
        chat.CREATE_CONTACT_GROUP, chat.UPDATE_CONTACT_GROUP, chat.DEL_CONTACT_GROUP, chat.GET_CONTACT_GROUP,
        chat.SEARCH_CONTACT_GROUP, chat.MARK_CONTACT, chat.GET_LIST, chat.DELETE_CONVERSATION, chat.ACCOUNT_IMPORT,
        chat.MULTIACCOUNT_IMPORT, chat.ACCOUNT_CHECK,
    ])

    def lookups(self, request, model_admin):
        return [(operation, operation) for operation in self.OPERATIONS]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(operation=self.value())
        return queryset


class ErrorCodeFilter(InputFilter):
    """Calls Chat answered with this ErrorCode."""

    title = _("ErrorCode")
    parameter_name = "error_code"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(error_code=int(value))


class StartedFilter(admin.SimpleListFilter):
    """Recent calls; a date hierarchy would read the date of every row to build its links."""

    title = _("started")
    parameter_name = "started"
    PERIODS = {
        "hour": (timedelta(hours=1), _("Last hour")),
        "day": (timedelta(days=1), _("Last 24 hours")),
        "week": (timedelta(days=7), _("Last 7 days")),
        "month": (timedelta(days=30), _("Last 30 days")),
    }

    def lookups(self, request, model_admin):
        return [(key, title) for key, (_period, title) in self.PERIODS.items()]

    def queryset(self, request, queryset):
        if self.value() in self.PERIODS:
            return queryset.filter(started_at__gte=timezone.now() - self.PERIODS[self.value()][0])
        return queryset


class EstimatedCountPaginator(Paginator):
    """Pages whose count, for a whole large table on PostgreSQL, is the planner's estimate.

    Counting millions of audit rows exactly takes longer than everything else on the page, and grows with the
    table; PostgreSQL keeps an estimate (pg_class.reltuples, refreshed by autovacuum). A filtered list, a small
    table or another database is counted exactly.
    """

    EXACT_BELOW = 100_000

    @cached_property
    def count(self):
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                               [queryset.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] >= self.EXACT_BELOW:
                return int(row[0])
        return super().count


@admin.register(SyncAttempt)
class SyncAttemptAdmin(admin.ModelAdmin):
    """Every call made to Chat, read-only for everyone."""

    paginator = EstimatedCountPaginator

    list_display = ["started_at", "operation", "owner_user_id", "group_name", "actor", "result"]
    list_filter = ["outcome", OperationFilter, ErrorCodeFilter, StartedFilter]
    list_select_related = ["actor"]
    search_fields = ["owner_user_id"]
    search_help_text = _("Finds the calls made for the owner with exactly this UserID.")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    fields = [
        "started_at", "duration_ms", "actor", "group", "owner_user_id", "group_name", "operation", "outcome",
        "http_status", "action_status", "error_code", "error_meaning", "error_info", "refused_items",
        "request_json", "response_json",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["contactgroups/admin.css"]}

    def get_search_results(self, request, queryset, search_term):
        # Exact, so the index answers it: a substring search would read every one of millions of rows.
        term = search_term.strip()
        return (queryset.filter(owner_user_id=term) if term else queryset), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("meaning"))
    def error_meaning(self, attempt):
        return attempt.error_meaning or "—"

    @admin.display(description=_("result"), ordering="outcome")
    def result(self, attempt):
        parts = [attempt.get_outcome_display()]
        if attempt.error_code:
            parts.append(f"ErrorCode {attempt.error_code}")
        if attempt.refused_items:
            parts.append(ngettext("%(count)d refused", "%(count)d refused", attempt.refused_items)
                         % {"count": attempt.refused_items})
        if attempt.http_status and attempt.http_status != 200:
            parts.append(f"HTTP {attempt.http_status}")
        text = " · ".join(parts)
        if attempt.outcome == SyncAttempt.Outcome.OK:
            return text
        return format_html('<strong class="refused">{}</strong>', text)

    @admin.display(description=_("request body"))
    def request_json(self, attempt):
        return format_html("<pre>{}</pre>", json.dumps(attempt.request, indent=2, ensure_ascii=False))

    @admin.display(description=_("response body"))
    def response_json(self, attempt):
        if attempt.response is None:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(attempt.response, indent=2, ensure_ascii=False))
