"""The base of the group admin's own pages and endpoints; its two actions, "Sync to Chat" and "Pull from Chat",
and the group page's "Sync to Chat" and "Retry now" buttons.

Each is a small view given the ``ContactGroupAdmin`` it serves (``View.as_view(model_admin=...)``, as Django's
``AutocompleteJsonView`` is given its site), wired in that admin's one ``get_urls`` behind
``admin_site.admin_view``, and asking for its permissions through the admin's public methods.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from kombu.exceptions import OperationalError

from contactgroups import sync, tasks, words
from contactgroups.models import ContactGroup


class GroupAdminView(View):
    """A view of the conversation-group admin: ``model_admin`` is the ContactGroupAdmin it serves."""

    model_admin = None

    def dispatch(self, request, *args, **kwargs):
        # As the admin's own views do: a method the view has no answer of its own for is answered as a GET (these
        # pages and endpoints change nothing on a GET), never with a 405 the admin's pages never give.
        handler = getattr(self, request.method.lower(), None) if request.method != "OPTIONS" else None
        return (handler or self.get)(request, *args, **kwargs)

    def url(self, name: str, *args) -> str:
        """The admin URL ``name`` of the groups (``change``, ``history``, ``restore``, ...)."""
        opts = self.model_admin.opts
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=args,
                       current_app=self.model_admin.admin_site.name)

    def group(self, request, object_id) -> ContactGroup:
        """The group the URL names, as the admin finds it (``get_object``), or 404."""
        group = self.model_admin.get_object(request, unquote(object_id))
        if group is None:
            raise Http404(_("No such conversation group."))
        return group

    def back_to_page(self, group_pk) -> HttpResponseRedirect:
        return HttpResponseRedirect(self.url("change", group_pk))


class SyncOneView(GroupAdminView):
    """Sync one group again from its page (the "Sync to Chat" action on it alone), then back to the page."""

    def dispatch(self, request, object_id):
        if request.method != "POST":  # only the page's button syncs; an address typed or followed shows the page
            return HttpResponseRedirect(self.url("change", object_id))
        group = self.group(request, object_id)
        model_admin = self.model_admin
        if not (model_admin.has_sync_permission(request) and model_admin.has_change_permission(request, group)):
            raise PermissionDenied
        sync_to_chat(model_admin, request, ContactGroup.objects.filter(pk=group.pk))
        return self.back_to_page(group.pk)


class RetryNowView(GroupAdminView):
    """"Retry now" on a group waiting for a retry: its next try handed to the workers at once (the engine, whose
    Chat calls the shared limiter paces), then back to the page, which shows how it ends. The sync permission and
    the change permission on the group, as "Sync to Chat" needs."""

    def dispatch(self, request, object_id):
        if request.method != "POST":  # only the page's button retries; an address typed or followed shows the page
            return HttpResponseRedirect(self.url("change", object_id))
        group = self.group(request, object_id)
        model_admin = self.model_admin
        if not (model_admin.has_sync_permission(request) and model_admin.has_change_permission(request, group)):
            raise PermissionDenied
        name = words.name_text(group.name)
        try:
            handed = tasks.retry_group_now(group.pk, request.user.pk)
        except OperationalError:
            model_admin.say(request, words.retry_not_queued_text(name), messages.ERROR)
        else:
            if handed:
                model_admin.say(request, words.retry_handed_over_text(name), messages.SUCCESS)
            else:
                model_admin.say(request, words.retry_not_waiting_text(name), messages.WARNING)
        return self.back_to_page(group.pk)


@admin.action(description=gettext_lazy("Sync to Chat"), permissions=["sync"])
def sync_to_chat(model_admin, request, queryset):
    groups = list(queryset.live())
    for group in groups:
        if not group.delete_requested:
            group.state = ContactGroup.State.QUEUED
            group.save(update_fields=["state", "updated_at"])
    sync.log_staff_actions(request.user.pk, groups, {"action": "sync"})
    model_admin.hand_over(
        request, [group.pk for group in groups],
        queued=lambda count: words.queued_text(words.HandOver.SYNC_MANY, count),
        not_queued=lambda count, exc: words.not_queued_text(words.HandOver.SYNC_MANY, count, error=exc),
    )


@admin.action(description=gettext_lazy("Pull from Chat (replaces local edits with Chat's state)"), permissions=["pull"])
def pull_from_chat(model_admin, request, queryset):
    owners = list(queryset.values_list("owner_id", flat=True).distinct().order_by())
    queued = tasks.queue_owner_pulls(owners, request.user.pk)
    if queued:
        model_admin.say(request, words.pulling_text(queued), messages.SUCCESS)
    if len(owners) > queued:
        model_admin.say(request, words.pull_not_queued_text(len(owners) - queued), messages.ERROR)
