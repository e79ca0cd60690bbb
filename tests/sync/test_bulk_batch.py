"""The batch path of a bulk sync: the same outcome as one sync at a time, in a few statements for a whole batch."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contactgroups import bulk
from contactgroups.chat import errors, protocol
from contactgroups.conf import chat_client
from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt
from contactgroups.sync import batch

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
    with chat_client() as client, CaptureQueriesContext(connection) as claimed:
        works, others = batch.claim(pks)
    with chat_client() as client:
        done = [batch.run(work, actor_id, client) for work in works]
    with CaptureQueriesContext(connection) as saved:
        results = batch.save(done, actor_id)
    assert others == []
    return results, len(claimed), len(saved)


def test_a_batch_of_thirty_groups_takes_the_statements_of_a_batch_of_three(owners, make_group, staff,
                                                                            chat_sandbox):
    ContentType.objects.get_for_model(ContactGroup)  # read once a process, then cached
    small = [group.pk for group in new_groups(make_group, owners, 3)]
    _results, small_claim, small_save = sync_in_one_thread(small, staff.pk)
    ContactGroup.objects.all().delete()
    large = [group.pk for group in new_groups(make_group, owners, 30, "large")]

    results, large_claim, large_save = sync_in_one_thread(large, staff.pk)

    assert (large_claim, large_save) == (small_claim, small_save)
    # 15 for the mirror and the audit, one INSERT of the batch's versions, two for the calls' counts a minute.
    assert large_claim + large_save <= 18
    assert [result.result.state for result in results] == [ContactGroup.State.SYNCED] * 30
    for group in ContactGroup.objects.filter(pk__in=large):
        assert group.chat_group_id is not None and group.create_intent == "" and group.sync_lock_token == ""
        assert (group.conversation_count, group.accepted_count) == (2, 2)
        assert group.confirmed_conversations == [[C2C, "peer_1"], [C2C, "peer_2"]]
    assert set(ContactItem.objects.filter(group_id__in=large).values_list("result_code", "result_info")) == {
        (errors.OK, "")}
    assert SyncAttempt.objects.filter(group_id__in=large, actor=staff, operation="create_contact_group").count() == 30
    assert LogEntry.objects.filter(object_id__in=[str(pk) for pk in large], user=staff).count() == 30


def test_claim_marks_the_groups_syncing_with_their_create_intent_before_any_call(owners, make_group, chat_sandbox):
    pks = [group.pk for group in new_groups(make_group, owners, 4)]

    works, _others = batch.claim(pks)

    assert chat_sandbox.calls_to(CREATE) == []
    for group in ContactGroup.objects.filter(pk__in=pks):
        assert group.state == ContactGroup.State.SYNCING
        assert group.create_intent == group.name
        assert group.sync_lock_until is not None
    batch.unclaim(works)
    for group in ContactGroup.objects.filter(pk__in=pks):
        assert (group.state, group.create_intent, group.sync_lock_token, group.sync_lock_until) == (
            ContactGroup.State.DRAFT, "", "", None)


def test_a_group_another_sync_holds_is_left_to_the_one_by_one_path(owners, make_group, chat_sandbox):
    held, free = new_groups(make_group, owners, 2)
    from contactgroups.sync.lease import Lease

    lease = Lease.take(held.pk)
    works, others = batch.claim([held.pk, free.pk])
    lease.release()

    assert [work.group.pk for work in works] == [free.pk] and others == [held.pk]
    held.refresh_from_db()
    assert held.state == ContactGroup.State.DRAFT and held.create_intent == ""


def test_a_rename_by_staff_during_the_sync_is_kept_and_leaves_the_group_partial(owners, make_group, staff,
                                                                                  chat_sandbox):
    group = new_groups(make_group, owners, 1)[0]
    works, _others = batch.claim([group.pk])
    with chat_client() as client:
        done = [batch.run(work, staff.pk, client) for work in works]
    ContactGroup.objects.filter(pk=group.pk).update(name="renamed by staff")

    [saved] = batch.save(done, staff.pk)

    group.refresh_from_db()
    assert saved.result.state == group.state == ContactGroup.State.PARTIAL
    assert (group.name, group.confirmed_name) == ("renamed by staff", "group 00")
    assert group.chat_group_id == saved.result.group_id is not None


def test_a_run_stopped_early_saves_what_chat_confirmed_and_gives_back_the_rest(owners, make_group, staff,
                                                                               chat_sandbox):
    chat_sandbox.set_faults(latency_ms=50)
    pks = [group.pk for group in new_groups(make_group, owners, 60)]
    results = bulk.sync_batched(iter(pks), staff.pk, 2, bulk.ThreadClients(), batch_size=20)

    next(results)
    results.close()

    created = {(call["body"]["From_Account"], call["body"]["GroupContactItem"][0]["GroupName"])
               for call in chat_sandbox.calls_to(CREATE)}
    assert 1 <= len(created) < 60
    for group in ContactGroup.objects.select_related("owner").filter(pk__in=pks):
        assert group.sync_lock_token == "" and group.sync_lock_until is None
        if (group.owner.user_id, group.name) in created:
            assert group.state == ContactGroup.State.SYNCED and group.chat_group_id is not None
        else:
            assert (group.state, group.create_intent, group.chat_group_id) == (ContactGroup.State.DRAFT, "", None)
    assert SyncAttempt.objects.count() == len(created)
