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


def live_groups(owner):
    """The owner's groups (a ChatUser or its pk) that count against Chat's limits (not deleted)."""
    return ContactGroup.objects.filter(owner=owner).exclude(state=ContactGroup.State.DELETED)


def group_count(owner, exclude_group_id: int | None = None) -> int:
    """How many groups count against the owner's limit of groups, leaving out ``exclude_group_id``.

    The admin form and the CSV import both count with this, so they refuse the same 21st group.
    """
    groups = live_groups(owner)
    if exclude_group_id is not None:
        groups = groups.exclude(pk=exclude_group_id)
    return groups.count()


def grouped_conversations(owner, exclude_group_id: int | None = None) -> set[tuple[int, str]]:
    """The distinct (type, target) conversations in the owner's live groups, leaving out ``exclude_group_id``.

    Chat counts a conversation once however many of the user's groups hold it; the admin formset
    and the CSV import add their own conversations to this set and check its size.
    """
    items = ContactItem.objects.filter(group__owner=owner).exclude(group__state=ContactGroup.State.DELETED)
    if exclude_group_id is not None:
        items = items.exclude(group_id=exclude_group_id)
    return {
        (kind, account or group_id)
        for kind, account, group_id in items.values_list("type", "to_account", "to_group_id").distinct()
    }


class OwnerChoiceField(forms.ModelChoiceField):
    """The owner chooser. A posted value that cannot be a ChatUser id is refused as any unknown choice is, and
    not shown again: the admin's autocomplete widget would look it up and fail with a server error."""

    def bound_data(self, data, initial):
        connection = connections[router.db_for_read(ChatUser)]
        low, high = connection.ops.integer_field_range(ChatUser._meta.pk.get_internal_type())
        try:
            fits = low <= int(data) <= high
        except (TypeError, ValueError):
            fits = False
        return data if fits else None


class ContactGroupForm(forms.ModelForm):
    class Meta:
        model = ContactGroup
        fields = ["owner", "name"]
        field_classes = {"owner": OwnerChoiceField}

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
            for message in limits.validate_group_count(group_count(owner, self.instance.pk) + 1):
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
            distinct = grouped_conversations(owner_id, self.instance.pk)
            distinct.update(keys)
            messages = limits.validate_grouped_conversation_count(len(distinct))
            if messages:
                raise forms.ValidationError(messages, code="too_many_grouped")
        super().clean()
