"""The pipeline's batch strategy: the same outcome as one sync at a time, in a few statements for a whole batch."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contactgroups.chat import errors, protocol
from contactgroups.conf import chat_client
from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt
from contactgroups.sync import pipeline, store

C2C = protocol.TYPE_C2C
CREATE = "recentcontact/create_contact_group"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owners(chat_sandbox):
    users = [ChatUser.objects.create(user_id=f"owner_{n:02d}") for n in range(6)]
    chat_sandbox.import_accounts(*[user.user_id for user in users], "peer_1", "peer_2")
    return users


def new_groups(make_group, owners, count, prefix="group"):
    return [make_group(owners[n % len(owners)], f"{prefix} {n:02d}", [(C2C, "peer_1"), (C2C, "peer_2")])
            for n in range(count)]


def sync_in_one_thread(pks, actor_id):
    """Claim, call and save one batch in this thread; the statements each step sent."""
    with CaptureQueriesContext(connection) as claiming:
        claimed, others = pipeline.claim_many(pks)
    with chat_client() as client:
        done = pipeline.send_all(claimed, actor_id, client)
    with CaptureQueriesContext(connection) as saved:
        results = store.store_many(done, actor_id)
    assert others == []
    return results, len(claiming), len(saved)


def test_a_batch_of_thirty_groups_takes_the_statements_of_a_batch_of_three(owners, make_group, staff,
                                                                            chat_sandbox):
    ContentType.objects.get_for_model(ContactGroup)  # read once a process, then cached
    small = [group.pk for group in new_groups(make_group, owners, 3)]
    _results, small_claim, small_save = sync_in_one_thread(small, staff.pk)
    ContactGroup.objects.all().delete()
    large = [group.pk for group in new_groups(make_group, owners, 30, "large")]

    results, large_claim, large_save = sync_in_one_thread(large, staff.pk)

    assert (large_claim, large_save) == (small_claim, small_save)
    # 17 for the mirror (the groups and their sync rows apart) and the audit, one INSERT of the batch's versions,
    # two for the calls' counts a minute.
    assert large_claim + large_save <= 20
    assert [result.state for result in results] == [ContactGroup.State.SYNCED] * 30
    for group in ContactGroup.objects.filter(pk__in=large):
        assert group.sync.chat_group_id is not None and group.sync.create_intent == "" and group.sync.lock_token == ""
        assert (group.conversation_count, group.accepted_count) == (2, 2)
        assert group.sync.confirmed_conversations == [[C2C, "peer_1"], [C2C, "peer_2"]]
    assert set(ContactItem.objects.filter(group_id__in=large).values_list("result_code", "result_info")) == {
        (errors.OK, "")}
    assert SyncAttempt.objects.filter(group_id__in=large, actor=staff, operation="create_contact_group").count() == 30
    assert LogEntry.objects.filter(object_id__in=[str(pk) for pk in large], user=staff).count() == 30


def test_claim_marks_the_groups_syncing_with_their_create_intent_before_any_call(owners, make_group, chat_sandbox):
    pks = [group.pk for group in new_groups(make_group, owners, 4)]

    claimed, _others = pipeline.claim_many(pks)

    assert chat_sandbox.calls_to(CREATE) == []
    for group in ContactGroup.objects.filter(pk__in=pks):
        assert group.state == ContactGroup.State.SYNCING
        assert group.sync.create_intent == group.name
        assert group.sync.lock_until is not None
    pipeline.give_back(claimed)
    for group in ContactGroup.objects.filter(pk__in=pks):
        assert (group.state, group.sync.create_intent, group.sync.lock_token, group.sync.lock_until) == (
            ContactGroup.State.DRAFT, "", "", None)


def test_a_group_another_sync_holds_is_left_to_the_one_by_one_path(owners, make_group, chat_sandbox):
    held, free = new_groups(make_group, owners, 2)
    from contactgroups.sync.lease import Lease

    lease = Lease.take(held.pk)
    claimed, others = pipeline.claim_many([held.pk, free.pk])
    lease.release()

    assert [one.group.pk for one in claimed] == [free.pk] and others == [held.pk]
    held.refresh_from_db()
    assert held.state == ContactGroup.State.DRAFT and held.sync.create_intent == ""


def test_a_rename_by_staff_during_the_sync_is_kept_and_leaves_the_group_partial(owners, make_group, staff,
                                                                                  chat_sandbox):
    group = new_groups(make_group, owners, 1)[0]
    claimed, _others = pipeline.claim_many([group.pk])
    with chat_client() as client:
        done = pipeline.send_all(claimed, staff.pk, client)
    ContactGroup.objects.filter(pk=group.pk).update(name="renamed by staff")

    [saved] = store.store_many(done, staff.pk)

    group.refresh_from_db()
    assert saved.state == group.state == ContactGroup.State.PARTIAL
    assert (group.name, group.sync.confirmed_name) == ("renamed by staff", "group 00")
    assert group.sync.chat_group_id == saved.group_id is not None


def test_a_batch_stopped_early_gives_back_the_groups_not_sent_and_keeps_the_intent_of_those_sent(
        owners, make_group, staff, chat_sandbox):
    pks = [group.pk for group in new_groups(make_group, owners, 20)]
    claimed, _others = pipeline.claim_many(pks)
    client = chat_client()
    create = client.create_contact_group

    def create_until_told_to_stop(*args, **kwargs):
        if len(chat_sandbox.calls_to(CREATE)) == 5:
            raise KeyboardInterrupt  # the worker is stopping
        return create(*args, **kwargs)

    client.create_contact_group = create_until_told_to_stop
    with pytest.raises(KeyboardInterrupt):
        pipeline.send_all(claimed, staff.pk, client)

    created = {call["body"]["GroupContactItem"][0]["GroupName"] for call in chat_sandbox.calls_to(CREATE)}
    assert len(created) == 5
    for group in ContactGroup.objects.filter(pk__in=pks):
        if group.name in created:
            # Its answer was never stored: the intent written at the claim makes the next sync look for it first.
            assert (group.state, group.sync.create_intent) == (ContactGroup.State.SYNCING, group.name)
        else:
            assert (group.state, group.sync.create_intent, group.sync.lock_token) == (ContactGroup.State.DRAFT, "", "")
    assert SyncAttempt.objects.count() == 0
