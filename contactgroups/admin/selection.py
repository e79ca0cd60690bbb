"""Admin actions posted with ids no row can have (not a number, out of range): those ids are dropped, not a 500.

Django's change list filters the selected rows with the posted ids as they are, so ``_selected_action=abc``
raises in the database lookup. The mixin keeps only ids the primary key can hold; when none is left, Django says
that no item was selected, as for an empty selection.
"""

from django.contrib.admin import helpers
from django.core.exceptions import ValidationError


def readable_ids(values: list[str], pk_field) -> list[str]:
    """The values of ``values`` that ``pk_field`` reads as a primary key it can store."""
    kept = []
    for value in values:
        try:
            pk_field.run_validators(pk_field.to_python(value))
        except (ValidationError, ValueError, TypeError):
            continue
        kept.append(value)
    return kept


def check_selected_ids(request, pk_field) -> None:
    """Keep, of the ids posted with an action, those ``pk_field`` can hold, before Django looks them up."""
    if request.method == "POST" and helpers.ACTION_CHECKBOX_NAME in request.POST:
        posted = request.POST.copy()
        posted.setlist(helpers.ACTION_CHECKBOX_NAME, readable_ids(
            posted.getlist(helpers.ACTION_CHECKBOX_NAME), pk_field))
        request.POST = posted


class SelectedIdsChecked:
    """A ModelAdmin mixin: the ids posted with an action are checked before Django looks them up."""

    def changelist_view(self, request, extra_context=None):
        check_selected_ids(request, self.opts.pk)
        return super().changelist_view(request, extra_context)
