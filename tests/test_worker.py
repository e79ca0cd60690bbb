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


def test_beat_queues_again_the_groups_a_stopped_worker_left_and_only_those(celery_worker, chat_sandbox, owner,
                                                                           staff, make_group, settings):
    """Celery beat's entry runs tasks.requeue_stranded: it queues each stranded group once, and a worker syncs it."""
    from datetime import timedelta

    from django.utils import timezone

    from contactgroups import sync, tasks
    from imadmin.celery import app

    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"].endswith("requeue_stranded")]
    assert app.tasks[entry["task"]].name == tasks.requeue_stranded.name
    chat_sandbox.import_accounts("user_0001", "user_0002")
    long_ago = timezone.now() - timedelta(seconds=settings.SYNC_STRANDED_SECONDS + 60)
    lost = make_group(owner, "task lost", [(protocol.TYPE_C2C, "user_0002")])
    waiting = make_group(owner, "task waiting", [(protocol.TYPE_C2C, "user_0002")])
    ContactGroup.objects.filter(pk=lost.pk).update(state=ContactGroup.State.QUEUED, updated_at=long_ago)
    ContactGroup.objects.filter(pk=waiting.pk).update(state=ContactGroup.State.QUEUED)
    sync.log_history(staff.pk, lost, [{"added": {}}])

    assert tasks.requeue_stranded() == 1
    assert tasks.requeue_stranded() == 0  # touched: the next run leaves it to its task

    def synced():
        """the stranded group is synced"""
        return ContactGroup.objects.get(pk=lost.pk).state == ContactGroup.State.SYNCED

    wait_until(synced)
    assert ContactGroup.objects.get(pk=waiting.pk).state == ContactGroup.State.QUEUED
    assert SyncAttempt.objects.get(group=lost).actor == staff
