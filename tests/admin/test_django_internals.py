"""The private Django API the admin relies on (contactgroups/admin/django_internals.py) is still there and still
does what the admin needs. A failure names the attribute a Django upgrade removed or changed."""

import pytest
from django.contrib import admin
from django.contrib.admin import helpers
from django.db import connection
from django.forms.models import BaseInlineFormSet, BaseModelForm
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contactgroups.admin import django_internals
from contactgroups.admin.groups import ContactGroupAdmin, ContactItemInline, ContactItemInlineForm
from contactgroups.admin.widgets import FastHiddenInput
from contactgroups.chat import protocol
from contactgroups.models import ContactGroup, ContactItem, SyncAttempt

pytestmark = pytest.mark.django_db

C2C = protocol.TYPE_C2C


def change_page(admin_client, group):
    return admin_client.get(reverse("admin:contactgroups_contactgroup_change", args=[group.pk]))


def test_inline_admin_formsets_are_djangos_class_with_a_media_of_rows(admin_client, owner, make_group):
    group = make_group(owner, "work", [(C2C, f"peer_{n}") for n in range(3)])
    inline_admin_formset = change_page(admin_client, group).context["inline_admin_formsets"][0]
    assert isinstance(inline_admin_formset, helpers.InlineAdminFormSet), (
        "django.contrib.admin.helpers.InlineAdminFormSet is no longer the class of the change page's inline formsets"
    )
    assert type(inline_admin_formset).media is not helpers.InlineAdminFormSet.media, (
        "the change page's inline formsets add up their media row by row (count_inline_media_once was not applied)"
    )
    assert isinstance(vars(helpers.InlineAdminFormSet).get("media"), property), (
        "django.contrib.admin.helpers.InlineAdminFormSet.media is no longer a property"
    )
    assert hasattr(inline_admin_formset, "opts") and hasattr(inline_admin_formset, "formset"), (
        "django.contrib.admin.helpers.InlineAdminFormSet no longer keeps its inline in .opts and its formset in "
        ".formset"
    )
    djangos_media = helpers.InlineAdminFormSet.media.fget(inline_admin_formset)
    assert str(inline_admin_formset.media) == str(djangos_media), (
        "django.contrib.admin.helpers.InlineAdminFormSet.media now adds more than the inline's and the formset's "
        "media: count_inline_media_once would leave it out"
    )


def test_a_conversation_rows_type_is_left_out_of_the_models_validation(owner, make_group):
    assert callable(getattr(BaseModelForm, "_get_validation_exclusions", None)), (
        "django.forms.models.BaseModelForm._get_validation_exclusions is gone"
    )
    group = make_group(owner, "work")
    form = ContactItemInlineForm(data={"type": str(C2C), "to_account": "user_0002", "to_group_id": ""},
                                 instance=ContactItem(group=group))
    with CaptureQueriesContext(connection) as queries:
        assert form.is_valid(), form.errors
    assert len(queries) == 0, (
        "django.forms.models.BaseModelForm._get_validation_exclusions no longer keeps the model's validation from "
        f"checking the constraints on a row's type in SQL: {[query['sql'] for query in queries.captured_queries]}"
    )


def test_an_inline_formset_names_its_parent_field_in_fk(owner, admin_user, make_group):
    group = make_group(owner, "work", [(C2C, "user_0002")])
    request = RequestFactory().get("/")
    request.user = admin_user
    formset = ContactItemInline(ContactGroup, admin.site).get_formset(request, group)(instance=group)
    assert isinstance(formset, BaseInlineFormSet)
    assert getattr(getattr(formset, "fk", None), "name", None) == "group", (
        "django.forms.models.BaseInlineFormSet.fk no longer holds the foreign key to the parent"
    )
    assert django_internals.inline_foreign_key_name(formset) == "group"
    assert isinstance(formset.forms[0].fields["group"].widget, FastHiddenInput)


def test_a_changelist_keeps_its_query_without_the_page_in_filter_params(admin_user):
    request = RequestFactory().get("/", {"state": "synced", "q": "work", "o": "1", "p": "1"})
    request.user = admin_user
    changelist = ContactGroupAdmin(ContactGroup, admin.site).get_changelist_instance(request)
    assert getattr(changelist, "filter_params", None) == {"state": ["synced"], "q": ["work"], "o": ["1"]}, (
        "django.contrib.admin.views.main.ChangeList.filter_params no longer holds the page's query string "
        "without its page number"
    )


def test_a_querysets_where_clause_tells_a_filtered_list():
    assert hasattr(SyncAttempt.objects.all().query, "where"), "django.db.models.sql.Query.where is gone"
    assert not django_internals.is_filtered(SyncAttempt.objects.all()), (
        "django.db.models.sql.Query.where of an unfiltered queryset is no longer empty"
    )
    assert django_internals.is_filtered(SyncAttempt.objects.filter(outcome="ok")), (
        "django.db.models.sql.Query.where of a filtered queryset is empty"
    )
