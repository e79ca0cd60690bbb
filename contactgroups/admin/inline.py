"""The group page's conversations: the inline, built for a page of a thousand rows.

Fast widgets, and, saving, neither a query a row to find each row's id nor one to check each row's constraint.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.formsets import TOTAL_FORM_COUNT
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from contactgroups.admin.django_internals import SkipsModelValidation, inline_foreign_key_name
from contactgroups.admin.live import result_html
from contactgroups.admin.offers import result_offers
from contactgroups.admin.widgets import FastCheckboxInput, FastErrorList, FastHiddenInput, FastSelect, FastTextInput
from contactgroups.chat import protocol
from contactgroups.forms import ContactItemForm, ContactItemFormSet, save_warnings, warnings_digest
from contactgroups.models import ContactItem


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
