"""Restore a version Chat confirmed: from the group's history (any version) and from a deleted group's page (its
last version).

As django-simple-history's revert does, restoring opens the group's ordinary change form filled from the version:
its name as the form's, its conversations as the inline's (the rows it lacks marked for deletion, those it adds
filled in), with a note saying which version it is and that nothing is saved until the staff save. Saving is the
form's own: its validation (the name, the owner's group and conversation limits, the warnings) and the admin's
save, which leaves the base (what Chat last confirmed) as it is, so the sync is three-way and shows conflicts as
usual. A deleted group comes back with no base, so the sync creates it in Chat again. The history shows the save
as the restore it is. Restoring needs the sync permission and the change permission.
"""

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms.formsets import DELETION_FIELD_NAME, all_valid
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from contactgroups import words
from contactgroups.admin.views import GroupAdminView
from contactgroups.models import ContactGroup, ContactItem, GroupVersion
from contactgroups.sync.outcome import conversation_data

# What bringing a deleted group back sets on its sync row.
BROUGHT_BACK_SYNC_FIELDS = ("confirmed_name", "confirmed_conversations", "chat_group_id", "create_intent", "deleted",
                            "conflicts", "drift")


def bring_back(group: ContactGroup) -> list[str]:
    """Bring a deleted group back (not saved): Chat confirmed the delete, so nothing of the group is in Chat and
    the sync creates it again, its name sent. The group's fields set (its sync row's: BROUGHT_BACK_SYNC_FIELDS)."""
    group.delete_requested = False
    confirmed = group.sync
    confirmed.confirmed_name, confirmed.confirmed_conversations = "", []
    confirmed.chat_group_id = None
    confirmed.create_intent = ""
    confirmed.deleted = False
    confirmed.conflicts, confirmed.drift = [], None
    return ["delete_requested"]


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


def restore_offer(model_admin, request, group: ContactGroup) -> dict:
    """What a deleted group's page offers: its last version, and the link that restores it for staff who may."""
    version = group.versions.first()
    offer = {"version": version, "history_url": model_admin.url_of("history", group.pk)}
    if version is not None and model_admin.has_restore_permission(request, group):
        offer["restore_url"] = model_admin.url_of("restore", group.pk, version.pk)
    return offer


def versions_listed(model_admin, request, group: ContactGroup, most: int) -> dict:
    """The history page's versions (the newest ``most``), each with its restore link for staff who may."""
    versions = list(group.versions.select_related("actor")[:most + 1])
    if model_admin.has_restore_permission(request, group):
        for version in versions:
            version.restore_url = model_admin.url_of("restore", group.pk, version.pk)
    return {"versions": versions[:most], "versions_cut": len(versions) > most}


class RestoreView(GroupAdminView):
    """``<id>/versions/<version>/restore/``: the change form filled from the version (GET), saved (POST)."""

    def dispatch(self, request, object_id, version_id):
        model_admin = self.model_admin
        group = self.group(request, object_id)
        if not model_admin.has_restore_permission(request):
            raise PermissionDenied
        version = get_object_or_404(GroupVersion, pk=version_id, group=group)
        if group.delete_requested and group.state != ContactGroup.State.DELETED:
            model_admin.say(request, _("This group is being deleted from Chat; restore it once its deletion has "
                                       "ended."), messages.ERROR)
            return self.back_to_page(group.pk)
        note = self.note(group, version)
        revived = bring_back(group) if note["revived"] else []
        if revived:
            # Shown, and checked, as the group it becomes: not deleted, nothing of it in Chat, not yet sent.
            group.state = ContactGroup.State.DRAFT
        if request.method == "POST":
            with transaction.atomic():
                return self.save(request, group, version, note, revived)
        form = self.form_class(request, group)(instance=group, initial={"name": version.name},
                                               brings_back=bool(revived))
        formsets, inlines = self.formsets(request, group, version)
        return self.render(request, group, version, note, form, formsets, inlines)

    def note(self, group: ContactGroup, version: GroupVersion) -> dict:
        """What the page says of the version: which it is, what it holds, and how it differs from the group now."""
        edit = differences(group, version)
        return {
            "version": version,
            "conversations": [words.conversation_text((c.type, c.target)) for c in sorted(version.conversation_set)],
            "changes": words.edit_changes_text(edit),
            "revived": edit.get("revived", False),
        }

    def form_class(self, request, group):
        return self.model_admin.get_form(request, group, change=True)

    def formsets(self, request, group, version, data=None):
        """The inline's formsets: bound to ``data``, or (no data) filled from the version, as the page shows them."""
        wanted = version.conversation_set
        formsets, inlines = [], []
        for inline in self.model_admin.get_inline_instances(request, group):
            queryset = inline.get_queryset(request)
            if data is None:
                added = sorted(wanted - set(queryset.filter(group=group).conversations()))
                formset_class = inline.get_formset(request, group, extra=len(added))
                formset = formset_class(instance=group, prefix=formset_class.get_default_prefix(), queryset=queryset,
                                        initial=[ContactItem.fields_of(c) for c in added])
                for form in formset.initial_forms:
                    if form.instance.conversation not in wanted:
                        form.initial[DELETION_FIELD_NAME] = True
            else:
                formset_class = inline.get_formset(request, group)
                formset = formset_class(data, request.FILES, instance=group,
                                        prefix=formset_class.get_default_prefix(), queryset=queryset)
            formsets.append(formset)
            inlines.append(inline)
        return formsets, inlines

    def save(self, request, group, version, note, revived):
        """The admin's own save of the posted form; the page again with the form's errors when it is not valid."""
        model_admin = self.model_admin
        form = self.form_class(request, group)(request.POST, request.FILES, instance=group, brings_back=bool(revived))
        formsets, inlines = self.formsets(request, group, version, request.POST)
        if not (form.is_valid() and all_valid(formsets)):
            return self.render(request, group, version, note, form, formsets, inlines)
        if revived:
            group.save(update_fields=[*revived, "updated_at"])
            group.sync.save(update_fields=BROUGHT_BACK_SYNC_FIELDS)
            group.items.update(result_code=None, result_info="", result_at=None)
        group = model_admin.save_form(request, form, change=True)
        model_admin.save_model(request, group, form, change=True)
        model_admin.save_conversations(request, form, formsets, change=True)
        message = model_admin.construct_change_message(request, form, formsets, add=False)
        restored = {"action": "restored", "version": version.pk, "confirmed_at": version.confirmed_at.isoformat(),
                    "conversations": group.conversation_count, **({"revived": True} if revived else {})}
        for part in message:
            if isinstance(part, dict) and "edit" in part:
                part["edit"].update(restored)
        model_admin.log_change(request, group, message)
        when = words.moment_text(version.confirmed_at.isoformat())
        model_admin.hand_over(
            request, [group.pk],
            queued=lambda count: words.queued_text(words.HandOver.RESTORED, count, group, when=when),
            not_queued=lambda count, exc: words.not_queued_text(words.HandOver.RESTORED, count, group, exc),
        )
        return self.back_to_page(group.pk)

    def render(self, request, group, version, note, form, formsets, inlines):
        """The ordinary change page (``render_change_form``) with the form, the inline and the version's note."""
        model_admin = self.model_admin
        admin_form = helpers.AdminForm(form, list(model_admin.get_fieldsets(request, group)),
                                       model_admin.get_prepopulated_fields(request, group),
                                       model_admin.get_readonly_fields(request, group), model_admin=model_admin)
        inline_formsets = model_admin.get_inline_formsets(request, formsets, inlines, group)
        media = model_admin.media + admin_form.media
        for inline_formset in inline_formsets:
            media += inline_formset.media
        context = {
            **model_admin.admin_site.each_context(request),
            "title": words.restore_title(group),
            "subtitle": None,
            "adminform": admin_form,
            "object_id": group.pk,
            "original": group,
            "is_popup": False,
            "to_field": None,
            "media": media,
            "inline_admin_formsets": inline_formsets,
            "errors": helpers.AdminErrorList(form, formsets),
            "preserved_filters": model_admin.get_preserved_filters(request),
            "restore": note,
            # One way on: save (to the group's page); no other button the change page has means anything here.
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        request.current_app = model_admin.admin_site.name
        return model_admin.render_change_form(request, context, change=True, obj=group,
                                              form_url=self.url("restore", group.pk, version.pk))
