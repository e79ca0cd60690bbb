"""Restore a version Chat confirmed: from the group's history (any version) and from a deleted group's page (its
last version).

A GET shows what will be restored and how it differs from the group now; a POST sets the group's name and
conversations to the version as the staff's edit, leaving the base (what Chat last confirmed) as it is, so the sync
is three-way and shows conflicts as usual, and hands the sync over as a save does. A deleted group comes back with
no base, so the sync creates it in Chat again. Every limit a save enforces is checked first; when one is not met,
the page says why and nothing is changed. Restoring needs the sync permission and the change permission.
"""

import copy

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

from contactgroups import sync, words
from contactgroups.chat import protocol
from contactgroups.forms import ContactGroupForm, save_warnings
from contactgroups.models import ChatUser, ContactGroup, ContactItem, GroupVersion
from contactgroups.sync.outcome import conversation_data


class RestoreRefused(Exception):
    """The version cannot be restored now; ``problems`` say why, in the reader's language."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


def restore_problems(group: ContactGroup, version: GroupVersion) -> list[str]:
    """Why ``group`` cannot take ``version`` now (empty when it can): the limits a save of the group page enforces."""
    if group.delete_requested and group.state != ContactGroup.State.DELETED:
        return [_("This group is being deleted from Chat; restore it once its deletion has ended.")]
    # The save's own check of the name, on the group as the restore leaves it (a copy: the form sets the name it
    # checks on its instance): a name sent to Chat must be one Chat takes; the name Chat holds is kept, not sent.
    restored = copy.copy(group)
    if group.state == ContactGroup.State.DELETED:
        _revive(restored)
    form = ContactGroupForm(data={"owner": str(group.owner_id), "name": version.name}, instance=restored)
    problems = [str(error) for errors in form.errors.values() for error in errors] if not form.is_valid() else []
    if group.state == ContactGroup.State.DELETED:
        count = ContactGroup.objects.count_for_owner(group.owner_id, exclude_pk=group.pk) + 1
        problems += [words.say(message) for message in protocol.validate_group_count(count)]
    conversations = version.conversation_set
    for conversation in sorted(conversations):
        problems += [words.say(message) for message in conversation.problems()]
    unstorable = [{"conversation": conversation_data(c), **problem} for c in sorted(conversations)
                  if (problem := ContactItem.storage_problem(c)) is not None]
    if unstorable:
        problems.append(words.not_stored_text(unstorable))
    grouped = ContactItem.objects.grouped_for_owner(group.owner_id, exclude_group_pk=group.pk) | conversations
    problems += [words.say(message) for message in protocol.validate_grouped_conversation_count(len(grouped))]
    return list(dict.fromkeys(problems))


def _revive(group: ContactGroup) -> list[str]:
    """Bring a deleted group back (not saved): Chat confirmed the delete, so nothing of the group is in Chat and
    the sync creates it again, its name sent. The fields set."""
    group.delete_requested = False
    group.confirmed_name, group.confirmed_conversations = "", []
    group.chat_group_id = None
    group.create_intent = ""
    group.conflicts, group.drift = [], None
    return ["delete_requested", "confirmed_name", "confirmed_conversations", "chat_group_id", "create_intent",
            "conflicts", "drift"]


def differences(group: ContactGroup, version: GroupVersion) -> dict:
    """What restoring ``version`` changes in ``group`` as it is now, as data (the history's ``edit`` shape)."""
    current = set(group.items.conversations())
    wanted = version.conversation_set
    data = {"action": "restored", "version": version.pk, "confirmed_at": version.confirmed_at.isoformat(),
            "name": version.name, "conversations": len(wanted)}
    if group.state == ContactGroup.State.DELETED:
        data["revived"] = True
    if group.name != version.name:
        data["renamed_from"] = group.name
    if added := wanted - current:
        data["added"] = [conversation_data(c) for c in sorted(added)]
    if removed := current - wanted:
        data["removed"] = [conversation_data(c) for c in sorted(removed)]
    return data


@transaction.atomic
def restore_version(group_pk: int, version_pk: int, actor_id: int) -> dict:
    """Set the group's name and conversations to the version, as the staff's edit, and log it; the edit as data.

    Raises RestoreRefused (nothing changed) when a limit is not met. The caller hands the sync over.
    """
    owner_pk = ContactGroup.objects.values_list("owner_id", flat=True).get(pk=group_pk)
    ChatUser.objects.lock(owner_pk)
    group = ContactGroup.objects.select_for_update(of=("self",)).select_related("owner").get(pk=group_pk)
    version = GroupVersion.objects.get(pk=version_pk, group_id=group.pk)
    problems = restore_problems(group, version)
    if problems:
        raise RestoreRefused(problems)
    edit = differences(group, version)
    wanted = version.conversation_set
    stale = [item.pk for item in group.items.all() if item.conversation not in wanted]
    ContactItem.objects.filter(pk__in=stale).delete()
    ContactItem.objects.bulk_create(
        ContactItem(group=group, **ContactItem.fields_of(conversation))
        for conversation in sorted(wanted - set(group.items.conversations())))
    fields = ["name", "state", "updated_at"]
    group.name = version.name
    group.state = ContactGroup.State.QUEUED
    if edit.get("revived"):
        fields += _revive(group)
        group.items.update(result_code=None, result_info="", result_at=None)
    group.save(update_fields=fields)
    group.refresh_counts()
    sync.log_staff_action(actor_id, group, [{"edit": edit}])
    return edit


class RestoreMixin:
    """For the ContactGroup admin: "Restore this version" on the history page and on a deleted group's page."""

    restore_confirmation_template = "admin/contactgroups/contactgroup/restore_confirmation.html"
    # The history page lists this many versions, newest first.
    versions_shown = 100

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/versions/<int:version_id>/restore/",
                 self.admin_site.admin_view(self.restore_view), name=f"{info}_restore"),
            *super().get_urls(),
        ]

    def has_restore_permission(self, request, group: ContactGroup | None = None) -> bool:
        """The sync permission and the change permission; a group being deleted has nothing to restore yet."""
        if not (self.has_sync_permission(request) and self.has_change_permission(request)):
            return False
        return group is None or group.state == ContactGroup.State.DELETED or not group.delete_requested

    def restore_url(self, group: ContactGroup, version: GroupVersion) -> str:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return reverse(f"admin:{info}_restore", args=[group.pk, version.pk], current_app=self.admin_site.name)

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        group = (response.context_data or {}).get("object") if isinstance(response, TemplateResponse) else None
        if isinstance(group, ContactGroup):
            versions = list(group.versions.select_related("actor")[:self.versions_shown + 1])
            if self.has_restore_permission(request, group):
                for version in versions:
                    version.restore_url = self.restore_url(group, version)
            response.context_data["versions"] = versions[:self.versions_shown]
            response.context_data["versions_cut"] = len(versions) > self.versions_shown
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            group = self.get_object(request, unquote(object_id))
            if group is not None and group.state == ContactGroup.State.DELETED:
                version = group.versions.first()
                offer = {"version": version, "history_url": reverse(
                    f"admin:{self.opts.app_label}_{self.opts.model_name}_history", args=[group.pk],
                    current_app=self.admin_site.name)}
                if version is not None and self.has_restore_permission(request, group):
                    offer["restore_url"] = self.restore_url(group, version)
                extra_context = {**(extra_context or {}), "restore_offer": offer}
        return super().change_view(request, object_id, form_url, extra_context)

    def restore_view(self, request, object_id, version_id):
        group = self.get_object(request, unquote(object_id))
        if group is None:
            raise Http404(_("No such conversation group."))
        if not self.has_restore_permission(request):
            raise PermissionDenied
        version = get_object_or_404(GroupVersion, pk=version_id, group=group)
        if request.method == "POST":
            try:
                edit = restore_version(group.pk, version.pk, request.user.pk)
            except RestoreRefused as refused:
                return self._restore_page(request, group, version, refused.problems)
            group.refresh_from_db()
            when = words.moment_text(edit["confirmed_at"])
            self._hand_over(
                request, [group.pk],
                queued=lambda count: _(
                    "“%(group)s” is restored as Chat confirmed it on %(when)s, and saved; syncing it to Chat. Its "
                    "page shows how the sync ends.") % {"group": group, "when": when},
                not_queued=lambda count, exc: _(
                    "“%(group)s” is restored and saved, but its sync to Chat could not be queued, so it is marked "
                    "failed. Use “Sync to Chat” once the task queue is back.") % {"group": group},
            )
            info = f"{self.opts.app_label}_{self.opts.model_name}"
            return HttpResponseRedirect(reverse(f"admin:{info}_change", args=[group.pk],
                                                current_app=self.admin_site.name))
        return self._restore_page(request, group, version, restore_problems(group, version))

    def _restore_page(self, request, group, version, problems):
        edit = differences(group, version)
        conversations = sorted(version.conversation_set)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Restore this version of “%(group)s”") % {"group": group},
            "subtitle": None,
            "opts": self.opts,
            "object": group,
            "version": version,
            "conversations": [words.conversation_text((c.type, c.target)) for c in conversations],
            "changes": words.edit_changes_text(edit),
            "revived": edit.get("revived", False),
            "problems": problems,
            "warnings": [words.save_warning_text(warning) for warning in save_warnings(group.owner, conversations)]
            if not problems else [],
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.restore_confirmation_template, context)
