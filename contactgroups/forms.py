"""Admin forms that refuse, before anything reaches Chat, what Chat would refuse.

Every number comes from chat/protocol.py. The group form checks the name and the owner's
group count; the conversation formset checks each conversation, duplicates, and the
owner's count of distinct grouped conversations across all of their groups.
``save_warnings`` finds what Chat would likely refuse but staff may still mean: an owner
or a one-to-one target the mirror knows is not imported, a group id typed as a UserID.
"""

import hashlib
import json

from django import forms
from django.core.validators import MaxLengthValidator
from django.db import connections, router
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy

from contactgroups import words
from contactgroups.chat import protocol
from contactgroups.chat.types import Conversation
from contactgroups.models import ChatUser, ContactGroup, ContactItem, GroupSync
from contactgroups.outcomes import SaveWarning, WarningCode
from contactgroups.validators import validate_group_name


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


def measured_in_bytes(field: forms.Field | None, most: int, check=None) -> None:
    """Let ``field`` take its text as typed, however long: no ``maxlength`` for the browser to cut it at, no count in
    characters. Chat counts bytes: the byte limit's own validator refuses what is too long, saying so in bytes, and
    the page shows the size as staff type (``data-max-bytes``, byte_count.js).

    The byte limit must refuse in the form, not only on the model: a ModelForm leaves the fields it refused out of
    the model's validation, so the model field's count in characters (its ``max_length``) never repeats the
    refusal. ``check`` is that validator (the model field's own), run by the form field; a form whose ``clean()``
    or ``clean_<name>()`` refuses the text itself passes none."""
    if field is None:
        return
    field.widget.attrs.pop("maxlength", None)
    field.widget.attrs["data-max-bytes"] = most
    field.max_length = None
    field.validators = [validator for validator in field.validators if not isinstance(validator, MaxLengthValidator)]
    if check is not None:
        field.validators.append(check)


# Users in these states are known to the mirror as not imported into Chat (checked, or the import failed).
NOT_IMPORTED_STATES = (ChatUser.ImportState.NOT_IMPORTED, ChatUser.ImportState.FAILED)


def save_warnings(owner, conversations) -> list[dict]:
    """What Chat would likely refuse in a group of ``owner`` holding ``conversations``, as data
    (``outcomes.SaveWarning``; contactgroups.words says it).

    ``owner_not_imported``: the owner is a Chat user the mirror knows is not imported. ``targets_not_imported``:
    one-to-one targets the mirror knows are not imported. ``group_id_as_user``: one-to-one targets that have the
    form of a group id Chat assigns, or that a group conversation of the mirror has as its group id. Three
    queries at most, whatever the number of conversations.
    """
    warnings = []
    if owner is not None and owner.import_state in NOT_IMPORTED_STATES:
        warnings.append(SaveWarning(WarningCode.OWNER_NOT_IMPORTED, user=owner.user_id,
                                    state=owner.import_state).to_json())
    targets = sorted({c.target for c in conversations if c.type == protocol.TYPE_C2C})
    if not targets:
        return warnings
    not_imported = list(ChatUser.objects.filter(user_id__in=targets, import_state__in=NOT_IMPORTED_STATES)
                        .order_by("user_id").values_list("user_id", flat=True))
    if not_imported:
        warnings.append(SaveWarning(WarningCode.TARGETS_NOT_IMPORTED, users=tuple(not_imported)).to_json())
    known_groups = set(ContactItem.objects.filter(type=protocol.TYPE_GROUP, to_group_id__in=targets)
                       .values_list("to_group_id", flat=True).distinct())
    typed_as_user = [target for target in targets if target in known_groups or protocol.looks_like_group_id(target)]
    if typed_as_user:
        warnings.append(SaveWarning(WarningCode.GROUP_ID_AS_USER, targets=tuple(typed_as_user),
                                    known=tuple(sorted(known_groups & set(typed_as_user)))).to_json())
    return warnings


def warnings_digest(warnings: list[dict]) -> str:
    """A short fingerprint of ``warnings``: a "Save anyway" confirms exactly the warnings it was shown with."""
    return hashlib.sha256(json.dumps(warnings, sort_keys=True).encode()).hexdigest()[:16]


def as_posted(text: str) -> str:
    """``text`` as a browser posts it back from a one-line text box, which drops line breaks."""
    return text.replace("\r", "").replace("\n", "")


class ContactGroupForm(forms.ModelForm):
    """The group's owner and name. The name is taken exactly as given, never trimmed: it is checked as Chat checks
    a name sent to it (ContactGroup.clean_fields), unless it is the name Chat holds for the group (``keeps_name``),
    which is never sent and so kept as it is, spaces at its ends included. ``brings_back``: the form restores a
    deleted group (admin/restore.py), which then counts against the owner's limit of groups again."""

    class Meta:
        model = ContactGroup
        fields = ["owner", "name"]
        field_classes = {"owner": OwnerChoiceField}
        # Shown under the page's read-only column of that name, which reads the group's ``sync`` row.
        help_texts = {"confirmed_name": GroupSync._meta.get_field("confirmed_name").help_text}

    def __init__(self, *args, brings_back: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.brings_back = brings_back
        field = self.fields.get("name")
        measured_in_bytes(field, protocol.GROUP_NAME_MAX_BYTES)
        if field is not None:
            field.strip = False
            if self.instance.pk and self.instance.keeps_name(self.instance.name) \
                    and words.name_text(self.instance.name) != self.instance.name:
                field.help_text = words.kept_name_help(self.instance.name)

    def clean_name(self):
        name = self.cleaned_data.get("name")
        kept = self.instance.name if self.instance.pk else None
        if kept is not None and name != kept and name == as_posted(kept):
            return kept  # left unchanged: a name Chat holds with a line break comes back without it
        if not self.instance.keeps_name(name):
            validate_group_name(name)  # here, not only on the model: see measured_in_bytes
        return name

    def clean(self):
        cleaned = super().clean()
        owner = cleaned.get("owner") or (self.instance.owner if self.instance.owner_id else None)
        name = cleaned.get("name")
        if owner is None:
            return cleaned
        ChatUser.objects.lock(owner)
        others = ContactGroup.objects.live().filter(owner=owner)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if name and others.filter(name=name).exists():
            self.add_error("name", words.name_used_text(owner.user_id, name))
        if self.instance.pk is None or self.instance.owner_id != owner.pk or self.brings_back:
            count = ContactGroup.objects.count_for_owner(owner, self.instance.pk) + 1
            for message in protocol.validate_group_count(count):
                # On a saved group's page the owner is shown, not a field: the error is the form's.
                self.add_error("owner" if "owner" in self.fields else None, words.say(message))
        return cleaned


class ContactItemForm(forms.ModelForm):
    class Meta:
        model = ContactItem
        fields = ["type", "to_account", "to_group_id"]
        # The staff's words for the columns the model names as Chat's JSON does.
        labels = {"to_account": gettext_lazy("UserID"), "to_group_id": gettext_lazy("Chat group id")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        measured_in_bytes(self.fields.get("to_account"), protocol.USER_ID_MAX_BYTES)
        measured_in_bytes(self.fields.get("to_group_id"), protocol.GROUP_CONVERSATION_ID_MAX_BYTES)

    def clean(self):
        cleaned = super().clean()
        conversation_type = cleaned.get("type")
        if conversation_type is None:
            return cleaned
        to_account = cleaned.get("to_account", "")
        to_group_id = cleaned.get("to_group_id", "")
        messages = protocol.validate_conversation(conversation_type, to_account, to_group_id)
        field = "to_account" if conversation_type == protocol.TYPE_C2C else "to_group_id"
        if conversation_type == protocol.TYPE_C2C and to_group_id:
            field = "to_group_id"
        elif conversation_type == protocol.TYPE_GROUP and to_account:
            field = "to_account"
        for message in messages:
            self.add_error(field, words.say(message))
        return cleaned


class ContactItemFormSet(BaseInlineFormSet):
    """The conversations of one group, checked together and against the owner's other groups."""

    def kept_conversations(self) -> list[Conversation]:
        keys = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or self._should_delete_form(form) or data.get("type") is None:
                continue
            target_fields = (data.get("to_account") or "", data.get("to_group_id") or "")
            keys.append(ContactItem.conversation_of(data["type"], *target_fields))
        return keys

    def clean(self):
        if any(self.errors):
            return
        keys = self.kept_conversations()
        repeated = protocol.find_duplicates(keys)
        if repeated:
            raise forms.ValidationError(words.listed_twice_text([conversation.target for conversation in repeated]),
                                        code="duplicate")
        owner_id = self.instance.owner_id
        if owner_id:
            distinct = ContactItem.objects.grouped_for_owner(owner_id, self.instance.pk)
            distinct.update(keys)
            messages = protocol.validate_grouped_conversation_count(len(distinct))
            if messages:
                raise forms.ValidationError([words.say(m) for m in messages], code="too_many_grouped")
        super().clean()
