"""The parts of Django's private API the admin relies on, for speed, each in one small function or class here.

Nothing else in the admin touches them. tests/admin/test_django_internals.py fails, naming the attribute, when a Django
upgrade removes or changes one; then measure the group page again (``bench/admin_scale.py``) before and after
replacing it, and let tests/admin/test_scale.py count the queries of a save.
"""

from django.contrib.admin import helpers


class _InlineMediaOnce(helpers.InlineAdminFormSet):
    @property
    def media(self):
        # Every row has the same inputs, so the formset's media is every row's; Django adds it up row by row.
        return self.opts.media + self.formset.media


def count_inline_media_once(inline_admin_formsets: list) -> list:
    """Give each of the change page's inline formsets (``helpers.InlineAdminFormSet``) a media read once, not once
    a row. Django offers no hook for the class it builds them with, so each one's class is switched."""
    for inline_admin_formset in inline_admin_formsets:
        inline_admin_formset.__class__ = _InlineMediaOnce
    return inline_admin_formsets


class SkipsModelValidation:
    """A ModelForm mixin: the model fields named in ``skip_model_validation`` are left out of the model's own
    validation (``BaseModelForm._get_validation_exclusions``), and with them the constraints that name them."""

    skip_model_validation: tuple[str, ...] = ()

    def _get_validation_exclusions(self):
        return {*super()._get_validation_exclusions(), *self.skip_model_validation}


def inline_foreign_key_name(formset) -> str:
    """The form field of an inline formset's rows that holds the parent (``BaseInlineFormSet.fk``)."""
    return formset.fk.name


def filter_params(changelist) -> dict[str, list[str]]:
    """The query string of a change list page without its page number: filters, search, ordering
    (``ChangeList.filter_params``)."""
    return changelist.filter_params


def is_filtered(queryset) -> bool:
    """Whether ``queryset`` has a WHERE clause (``QuerySet.query.where``)."""
    return bool(queryset.query.where)
