"""Widgets that write in Python the HTML Django's templates write, for pages of a thousand inputs.

A group page shows up to 1,000 conversations of six inputs each. Django renders every input, and every empty
error list, through a template, which takes most of the page's time: these write the same HTML from Python
(tests/admin/test_scale.py compares each with Django's own).
"""

import html

from django import forms
from django.contrib.admin.widgets import AdminTextInputWidget
from django.forms.utils import ErrorList
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe


def _escape(value) -> str:
    return html.escape(str(value))


def _attributes(attrs: dict) -> str:
    """What django/forms/widgets/attrs.html writes: ` name="value"`, a bare name for True, nothing for False."""
    return "".join(
        f" {_escape(name)}" if value is True else f' {_escape(name)}="{_escape(value)}"'
        for name, value in attrs.items() if value is not False
    )


class _InputHTML:
    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        value = "" if widget["value"] is None else f' value="{_escape(widget["value"])}"'
        return mark_safe(  # every part is escaped
            f'<input type="{_escape(widget["type"])}" name="{_escape(widget["name"])}"{value}'
            f'{_attributes(widget["attrs"])}>'
        )


class FastTextInput(_InputHTML, AdminTextInputWidget):
    pass


class FastHiddenInput(_InputHTML, forms.HiddenInput):
    pass


class FastCheckboxInput(_InputHTML, forms.CheckboxInput):
    pass


class FastSelect(forms.Select):
    """A select of plain choices (no option groups)."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = "".join(
            f'<option value="{_escape(option["value"])}"{_attributes(option["attrs"])}>'
            f'{conditional_escape(option["label"])}</option>'
            for _group, choices, _index in widget["optgroups"] for option in choices
        )
        return mark_safe(  # every part is escaped
            f'<select name="{_escape(widget["name"])}"{_attributes(widget["attrs"])}>{options}</select>'
        )


class FastErrorList(ErrorList):
    def as_ul(self):
        return super().as_ul() if self else ""
