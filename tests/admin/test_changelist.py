"""The group changelist makes the same number of queries however many groups it lists."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup, ContactItem

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:contactgroups_contactgroup_changelist")


def seed(make_group, count):
    for number in range(count):
        owner = ChatUser.objects.create(user_id=f"owner_{count}_{number}")
        make_group(owner, f"group {number}", [(protocol.TYPE_C2C, f"peer_{n}") for n in range(3)])


def changelist_queries(client, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CHANGELIST, params)
    assert response.status_code == 200
    return len(queries), response


@pytest.mark.parametrize("params", [{}, {"state": "draft"}, {"q": "group"}])
def test_query_count_does_not_grow_from_5_to_50_groups(admin_client, make_group, params):
    seed(make_group, 5)
    with_five, response = changelist_queries(admin_client, **params)
    assert response.context["cl"].result_count == 5
    seed(make_group, 45)
    with_fifty, response = changelist_queries(admin_client, **params)
    assert response.context["cl"].result_count == 50
    assert with_fifty == with_five


def test_changelist_shows_accepted_and_refused_counts(admin_client, make_group):
    seed(make_group, 2)
    group = ContactGroup.objects.get(owner__user_id="owner_2_0")
    first, second, third = group.items.order_by("id")
    ContactItem.objects.filter(pk__in=[first.pk, second.pk]).update(result_code=0)
    ContactItem.objects.filter(pk=third.pk).update(result_code=50001)
    group.refresh_counts()
    _count, response = changelist_queries(admin_client, q="owner_2_0")
    [row] = response.context["cl"].result_list
    assert (row.accepted_count, row.refused_count) == (2, 1)
    assert '<strong class="refused">1</strong>' in response.content.decode()
