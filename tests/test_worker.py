"""With a broker configured, the admin save returns at once and a real Celery worker syncs."""

import pytest
from django.urls import reverse

from contactgroups.chat import protocol
from contactgroups.models import ContactGroup, SyncAttempt
from tests.admin_forms import group_form_data
from tests.conftest import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_admin_save_is_synced_by_the_worker(celery_worker, chat_sandbox, owner, staff, client):
    chat_sandbox.import_accounts("user_0001", "user_0002")
    client.force_login(staff)
    response = client.post(
        reverse("admin:contactgroups_contactgroup_add"),
        group_form_data(owner=owner, name="会议", items=[(protocol.TYPE_C2C, "user_0002", ""),
                                                        (protocol.TYPE_C2C, "user_9", "")]),
    )
    assert response.status_code == 302
    group = ContactGroup.objects.get()

    def synced():
        """the worker stored Chat's answer"""
        group.refresh_from_db()
        return group.state in (ContactGroup.State.SYNCED, ContactGroup.State.PARTIAL)

    wait_until(synced)
    assert group.state == ContactGroup.State.PARTIAL
    assert group.chat_group_id == 1
    assert dict(group.items.values_list("to_account", "result_code")) == {"user_0002": 0, "user_9": 50001}
    attempt = SyncAttempt.objects.get(group=group)
    assert attempt.actor == staff and attempt.operation == "create_contact_group"
    page = client.get(reverse("admin:contactgroups_contactgroup_history", args=[group.pk])).content.decode()
    assert f"Created in Chat as GroupId {group.chat_group_id}" in page
    assert "support" in page
