"""Chat users: the list, the page, and the actions that import them into Chat and check them.

Where Chat refused a user as not imported (50001), the pages offer "Import this user into Chat": a POST to
``import_one_view``, which queues the import (contactgroups.tasks) and says how it ended once it has.
"""

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import path, reverse, reverse_lazy
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from contactgroups import sync, tasks, words
from contactgroups.admin import accounts_live
from contactgroups.admin.display import ChatActions, not_imported_offers, with_offer
from contactgroups.admin.search import USER_SEARCH_HELP
from contactgroups.admin.selection import SelectedIdsChecked
from contactgroups.chat import errors, protocol
from contactgroups.forms import measured_in_bytes
from contactgroups.models import ChatUser
from contactgroups.permissions import IMPORT_USERS_PERMISSION
from contactgroups.validators import validate_user_id


class ChatUserForm(forms.ModelForm):
    """A Chat user's UserID taken as typed, however long, and refused in bytes when too long (as Chat counts)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        measured_in_bytes(self.fields.get("user_id"), protocol.USER_ID_MAX_BYTES, validate_user_id)


@admin.register(ChatUser)
class ChatUserAdmin(SelectedIdsChecked, admin.ModelAdmin):
    list_display = ["user_id", "nickname", "import_state_shown", "checked_at", "last_error"]
    list_filter = ["import_state"]
    # get_search_results searches these by any part (ChatUser.objects.matching), through an index.
    search_fields = ["user_id", "nickname"]
    search_help_text = USER_SEARCH_HELP
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = ["import_state", "imported_at", "checked_at", "last_error"]
    fieldsets = [
        (None, {"fields": ["user_id", "nickname"]}),
        (_("In Chat"), {"fields": readonly_fields}),
    ]
    actions = ["import_into_chat", "check_in_chat"]

    def get_urls(self):
        return [
            path("import-one/", self.admin_site.admin_view(self.import_one_view),
                 name="contactgroups_chatuser_import_one"),
            path("status/", self.admin_site.admin_view(partial(accounts_live.status_view, self)),
                 name="contactgroups_chatuser_statuses"),
            *super().get_urls(),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["user_id", *self.readonly_fields]
        return self.readonly_fields

    class Media:
        js = [reverse_lazy("javascript-catalog"), "contactgroups/byte_count.js"]

    def get_form(self, request, obj=None, **kwargs):
        kwargs.setdefault("help_texts", {"nickname": _(
            "Sent to Chat as the user's nickname when the user is imported into Chat.")})
        kwargs.setdefault("form", ChatUserForm)
        return super().get_form(request, obj, **kwargs)
    def get_search_results(self, request, queryset, search_term):
        """The users whose UserID or nickname contains the text (the list's box, and the autocompletes of Chat
        users, as Django's AutocompleteJsonView calls it): never needing DISTINCT."""
        if not search_term.strip():
            return queryset, False
        return queryset.matching(search_term), False

    def has_import_permission(self, request):
        return request.user.has_perm(IMPORT_USERS_PERMISSION)

    def may_import_one(self, request) -> bool:
        """Importing one user from a page changes its Chat user: the change and the import permission."""
        return self.has_change_permission(request) and self.has_import_permission(request)

    def chat_actions(self, request) -> ChatActions:
        if not self.may_import_one(request):
            return ChatActions()
        return ChatActions(import_url=reverse("admin:contactgroups_chatuser_import_one"),
                           add_users=self.has_add_permission(request))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            obj.chat_actions = context["chat_actions"] = self.chat_actions(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if hasattr(response, "context_data") and "cl" in response.context_data:
            shown = [user.pk for user in response.context_data["cl"].result_list]
            response.context_data["following"] = accounts_live.followed_on_page(request, shown)
        return response

    @admin.display(description=ChatUser._meta.get_field("import_state").verbose_name, ordering="import_state")
    def import_state_shown(self, user):
        """The import state, marked for the list's script to follow while Chat's answer is awaited."""
        return format_html('<span class="account-state" data-user="{}">{}</span>', user.pk,
                           user.get_import_state_display())

    @admin.display(description=_("last error"))
    def last_error(self, user):
        text = accounts_live.error_text(user)
        if user.import_state == ChatUser.ImportState.IMPORTED or not (
                user.import_state == ChatUser.ImportState.NOT_IMPORTED
                or errors.is_account_not_imported(user.last_error_code)):
            return text
        offer = not_imported_offers(getattr(user, "chat_actions", None), [user.user_id],
                                    {user.user_id: user.import_state})
        return with_offer(text, offer)

    # Import one user from a page ------------------------------------------------------------------------------

    def import_one_view(self, request):
        """Import the posted UserID into Chat (queued), creating its Chat user if the staff may; back to ``next``."""
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            back = reverse("admin:contactgroups_chatuser_changelist")
        if request.method != "POST":  # only a page's button imports; an address typed or followed shows the list
            return HttpResponseRedirect(back)
        if not self.may_import_one(request):
            raise PermissionDenied
        user_id = request.POST.get("user_id", "")
        problems = protocol.validate_user_id(user_id)
        if problems:
            self.message_user(request, words.not_imported_text(words.say(problem) for problem in problems),
                              messages.ERROR)
            return HttpResponseRedirect(back)
        not_queued = []
        with transaction.atomic():
            user = ChatUser.objects.filter(user_id=user_id).first()
            if user is None:
                if not self.has_add_permission(request):
                    self.message_user(request, words.not_a_user_here_text(user_id), messages.ERROR)
                    return HttpResponseRedirect(back)
                user = ChatUser.objects.create(user_id=user_id)
                sync.log_history(request.user.pk, user, [{"added": {}}], action_flag=ADDITION)
            tasks.queue_account_import([user.pk], request.user.pk, on_not_queued=not_queued.append)
        if not_queued:
            self.message_user(request, words.import_not_queued_text(user_id), messages.ERROR)
        else:
            accounts_live.follow(request, [user.pk])
            self.message_user(request, words.import_queued_text(user_id), messages.INFO)
        return HttpResponseRedirect(back)

    # Actions -------------------------------------------------------------------------------------------------

    @admin.action(description=_("Import into Chat"), permissions=["import"])
    def import_into_chat(self, request, queryset):
        self._queue_accounts(request, queryset, check_only=False)

    @admin.action(description=_("Check in Chat"), permissions=["import"])
    def check_in_chat(self, request, queryset):
        self._queue_accounts(request, queryset, check_only=True)

    def _queue_accounts(self, request, queryset, check_only: bool) -> None:
        """Hand the import (or the check) of the selected users over, and say so; each user's page and the list's
        import column show what Chat then says."""
        pks = list(queryset.values_list("pk", flat=True))
        not_queued = []
        tasks.queue_account_import(pks, request.user.pk, on_not_queued=not_queued.append, check_only=check_only)
        if not_queued:
            self.message_user(request, _(
                "Nothing was sent to Chat: the task queue could not take the work. Try again once it is back."),
                messages.ERROR)
        else:
            accounts_live.follow(request, pks)
            self.message_user(request, words.accounts_queued_text(len(pks), check_only=check_only), messages.INFO)
