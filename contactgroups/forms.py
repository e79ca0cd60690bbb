"""Admin forms that refuse, before anything reaches Chat, what Chat would refuse.

Every number comes from limits.py. The group form checks the name and the owner's
group count; the conversation formset checks each conversation, duplicates, and the
owner's count of distinct grouped conversations across all of their groups.
"""

from django import forms
from django.db import connections, router
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactgroups import limits
from contactgroups.models import ChatUser, ContactGroup, ContactItem


def lock_owner(owner: ChatUser) -> None:
    """Serialise saves for one owner, so two staff cannot both add the 20th group.

    Only inside a transaction (the admin's change view is one); elsewhere a no-op.
    """
    connection = connections[router.db_for_write(ChatUser)]
    if connection.in_atomic_block:
        list(ChatUser.objects.select_for_update().filter(pk=owner.pk).values_list("pk"))


def live_groups(owner: ChatUser):
    """The owner's groups that count against Chat's limits (not deleted)."""
    return ContactGroup.objects.filter(owner=owner).exclude(state=ContactGroup.State.DELETED)


class ContactGroupForm(forms.ModelForm):
    class Meta:
        model = ContactGroup
        fields = ["owner", "name"]

    def clean(self):
        cleaned = super().clean()
        owner = cleaned.get("owner") or (self.instance.owner if self.instance.owner_id else None)
        name = cleaned.get("name")
        if owner is None:
            return cleaned
        lock_owner(owner)
        others = live_groups(owner)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if name and others.filter(name=name).exists():
            self.add_error(
                "name", _("%(user)s already has a conversation group named “%(name)s”.")
                % {"user": owner.user_id, "name": name}
            )
        if self.instance.pk is None or self.instance.owner_id != owner.pk:
            for message in limits.validate_group_count(others.count() + 1):
                self.add_error("owner", message)
        return cleaned


class ContactItemForm(forms.ModelForm):
    class Meta:
        model = ContactItem
        fields = ["type", "to_account", "to_group_id"]

    def clean(self):
        cleaned = super().clean()
        conversation_type = cleaned.get("type")
        if conversation_type is None:
            return cleaned
        to_account = cleaned.get("to_account", "")
        to_group_id = cleaned.get("to_group_id", "")
        messages = limits.validate_conversation(conversation_type, to_account, to_group_id)
        field = "to_account" if conversation_type == limits.TYPE_C2C else "to_group_id"
        if conversation_type == limits.TYPE_C2C and to_group_id:
            field = "to_group_id"
        elif conversation_type == limits.TYPE_GROUP and to_account:
            field = "to_account"
        for message in messages:
            self.add_error(field, message)
        return cleaned


class ContactItemFormSet(BaseInlineFormSet):
    """The conversations of one group, checked together and against the owner's other groups."""

    def kept_keys(self) -> list[tuple[int, str]]:
        keys = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or self._should_delete_form(form) or data.get("type") is None:
                continue
            target = data.get("to_account") if data["type"] == limits.TYPE_C2C else data.get("to_group_id")
            keys.append((data["type"], target or ""))
        return keys

    def clean(self):
        if any(self.errors):
            return
        keys = self.kept_keys()
        repeated = limits.find_duplicates(keys)
        if repeated:
            listed = ", ".join(target for _type, target in repeated)
            raise forms.ValidationError(
                ngettext(
                    "This conversation is listed twice in the group: %(list)s.",
                    "These conversations are listed more than once in the group: %(list)s.",
                    len(repeated),
                )
                % {"list": listed},
                code="duplicate",
            )
        owner_id = self.instance.owner_id
        if owner_id:
            elsewhere = ContactItem.objects.filter(group__owner_id=owner_id).exclude(
                group__state=ContactGroup.State.DELETED
            )
            if self.instance.pk:
                elsewhere = elsewhere.exclude(group_id=self.instance.pk)
            distinct = set(
                (kind, account or group_id)
                for kind, account, group_id in elsewhere.values_list("type", "to_account", "to_group_id").distinct()
            )
            distinct.update(keys)
            messages = limits.validate_grouped_conversation_count(len(distinct))
            if messages:
                raise forms.ValidationError(messages, code="too_many_grouped")
        super().clean()
