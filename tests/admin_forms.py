"""Build the POST data of the admin's conversation-group form, as a browser sends it."""

ITEMS_PREFIX = "items"


def group_form_data(owner=None, name="", items=(), existing=(), deleted=()):
    """Form data for the group add or change page.

    ``items`` are new conversations as (type, to_account, to_group_id); ``existing``
    are ContactItem rows already saved, kept as they are unless their pk is in ``deleted``.
    """
    data = {"name": name}
    if owner is not None:
        data["owner"] = str(owner.pk)
    rows = []
    for item in existing:
        rows.append(
            {"id": str(item.pk), "group": str(item.group_id), "type": str(item.type),
             "to_account": item.to_account, "to_group_id": item.to_group_id,
             **({"DELETE": "on"} if item.pk in deleted else {})}
        )
    for kind, account, group_id in items:
        rows.append({"id": "", "type": str(kind), "to_account": account, "to_group_id": group_id})
    data.update({
        f"{ITEMS_PREFIX}-TOTAL_FORMS": str(len(rows)),
        f"{ITEMS_PREFIX}-INITIAL_FORMS": str(len(existing)),
        f"{ITEMS_PREFIX}-MIN_NUM_FORMS": "0",
        f"{ITEMS_PREFIX}-MAX_NUM_FORMS": "1000",
    })
    for index, row in enumerate(rows):
        for field, value in row.items():
            data[f"{ITEMS_PREFIX}-{index}-{field}"] = value
    return data


def form_errors(response) -> list[str]:
    """Every error message the admin page shows: the form's, the inline formset's and each row's."""
    messages = []
    context = response.context
    adminform = context["adminform"]
    for field_errors in adminform.form.errors.values():
        messages.extend(field_errors)
    for inline in context["inline_admin_formsets"]:
        messages.extend(inline.formset.non_form_errors())
        for row_errors in inline.formset.errors:
            for field_errors in row_errors.values():
                messages.extend(field_errors)
    return messages


def states_shown(page: str) -> list[str]:
    """The sync states a group page or the changelist shows, in page order (the badge's ``state-…`` class)."""
    import re

    return re.findall(r'<span class="sync-state state-([a-z_]+)"', page)


def form_as_shown(response) -> dict:
    """The POST data a browser sends when staff save the admin page ``response`` shows as it is: each editable
    field's value, the inline's management form and rows, a ticked checkbox as "on"."""
    from django import forms

    data = {}

    def add(form):
        for field in form:
            if field.field.disabled:
                continue
            value = field.value()
            if isinstance(field.field.widget, forms.CheckboxInput):
                if value:
                    data[field.html_name] = "on"
            elif value is not None:
                data[field.html_name] = str(value.pk if hasattr(value, "pk") else value)

    context = response.context
    add(context["adminform"].form)
    for inline in context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data
