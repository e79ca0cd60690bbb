"""Syncs get through a faulty Chat: calls fail, time out or lose their connection, and nothing is done twice.

The sandbox fails 30% of the client's calls with 50004 or 50005, a read timeout or a dropped connection.
``ambiguous`` makes a dropped or timed-out write happen in Chat all the same, its answer lost on the way back:
the case where a careless retry creates a group twice. Every test reads Chat's own state (the sandbox's) and
its call log, and compares them with what the mirror and the audit say.
"""

import functools
import io
import random
import time

import pytest
from django.contrib.admin.models import LogEntry
from django.db import transaction

from contactgroups import conf, sync, tasks, words
from contactgroups.chat import errors, protocol
from contactgroups.chat.sandbox import CALL_LOG_MAX
from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt
from tests.conftest import wait_until

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
CREATE = "recentcontact/create_contact_group"

SEED = 20240611
# The client gives up reading after READ_TIMEOUT; a timed-out call is held by the sandbox for longer.
READ_TIMEOUT = 0.1
HELD_SECONDS = 0.5
MAX_ATTEMPTS = 30
# The client's own backoff between retries of a read, 0.2 s by default, shortened like SYNC_RETRY_BASE_SECONDS.
CLIENT_BACKOFF_BASE = 0.01
# 30% of the client's calls go wrong, in four ways.
FAULTS = {
    "fail_rate": 0.15,
    "fail_codes": [errors.INTERNAL_ERROR, errors.NETWORK_TIMEOUT],
    "timeout_rate": 0.075,
    "timeout_seconds": HELD_SECONDS,
    "drop_rate": 0.075,
    "ambiguous": True,
}
FEWEST, MOST = 5, 150

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def faulty_chat_settings(settings, monkeypatch):
    """Short read timeouts and enough attempts, here and in any worker process the test starts."""
    settings.CHAT_READ_TIMEOUT = READ_TIMEOUT
    monkeypatch.setattr(sync.pipeline, "chat_client", functools.partial(conf.chat_client,
                                                                       backoff_base=CLIENT_BACKOFF_BASE))
    settings.SYNC_MAX_ATTEMPTS = MAX_ATTEMPTS
    monkeypatch.setenv("CHAT_READ_TIMEOUT", str(READ_TIMEOUT))
    monkeypatch.setenv("SYNC_MAX_ATTEMPTS", str(MAX_ATTEMPTS))


def import_accounts(server, user_ids):
    for batch in protocol.chunks(list(user_ids), protocol.ACCOUNTS_PER_IMPORT_MAX):
        answer = server.import_accounts(*batch)
        assert answer["ErrorCode"] == 0, answer


def plan_groups(rng, owners, groups_per_owner, peers, group_conversations):
    """{(owner, group name): [(type, target), ...]}, 5 to 150 conversations each, both ends included.

    Each owner's groups draw from one pool of peers and group conversations, so an owner never has more
    distinct grouped conversations than the pool holds.
    """
    pool = [(C2C, peer) for peer in peers] + [(GROUP, group_id) for group_id in group_conversations]
    assert len(pool) <= protocol.GROUPED_CONVERSATIONS_PER_USER_MAX
    assert groups_per_owner <= protocol.GROUPS_PER_USER_MAX
    count = len(owners) * groups_per_owner
    sizes = [FEWEST, MOST] + [rng.randint(FEWEST, MOST) for _ in range(count - 2)]
    rng.shuffle(sizes)
    plan = {}
    for index, size in enumerate(sizes):
        owner = owners[index // groups_per_owner]
        plan[(owner, f"客户 {index % groups_per_owner:02d}")] = rng.sample(pool, size)
    return plan


def make_groups(make_group, plan):
    users = {user_id: ChatUser.objects.create(user_id=user_id) for user_id in sorted({o for o, _ in plan})}
    return {key: make_group(users[key[0]], key[1], conversations) for key, conversations in plan.items()}


def chat_groups(server):
    """{owner: {group name: (GroupId, {(type, target), ...})}} as Chat holds them now, and each owner's next
    GroupId (one more than the number of groups ever created, since GroupIds are never reused)."""
    users = server.snapshot()["users"]
    groups = {}
    for owner, user in users.items():
        names = [group["name"] for group in user["groups"]]
        assert len(names) == len(set(names)), f"{owner} has a group name twice in Chat: {names}"
        groups[owner] = {
            group["name"]: (group["group_id"], {tuple(member) for member in group["members"]})
            for group in user["groups"]
        }
    return groups, {owner: user["next_group_id"] for owner, user in users.items()}


def attempts_by_operation():
    counts = {}
    for operation in SyncAttempt.objects.values_list("operation", flat=True):
        counts[operation] = counts.get(operation, 0) + 1
    return counts


def calls_by_operation(calls):
    counts = {}
    for call in calls:
        operation = call["endpoint"].rsplit("/", 1)[-1]
        counts[operation] = counts.get(operation, 0) + 1
    return counts


def assert_audit_matches_chat_log(server):
    """One SyncAttempt per call Chat received from the client, operation by operation.

    The sandbox logs a call when it receives it, before it holds a timed-out one or drops the connection, so
    calls whose answer never came back are in its log as well as in the audit.
    """
    calls = server.calls_to()
    assert len(server.calls) < CALL_LOG_MAX, "the sandbox's call log overflowed; the counts would not be exact"
    assert SyncAttempt.objects.count() == len(calls)
    assert attempts_by_operation() == calls_by_operation(calls)
    lost = sum(1 for call in calls if call["outcome"] in ("dropped", "timed_out"))
    assert SyncAttempt.objects.filter(outcome=SyncAttempt.Outcome.NO_ANSWER).count() >= lost
    return calls


def assert_faults_were_injected(server, calls, every_kind=False):
    """The test is not vacuous: faults happened; with ``every_kind`` (enough calls for it to be sure), each kind
    happened, about as often as asked, and a create reached Chat whose answer was lost."""
    injected = [call for call in calls if call["injected"]]
    assert server.faults["faults_injected"] == len(injected) > 0
    if every_kind:
        assert 0.25 < len(injected) / len(calls) < 0.35, (len(injected), len(calls))
        outcomes = {call["outcome"] for call in injected}
        assert {"dropped", "timed_out", "error"} <= outcomes
        assert {call["error_code"] for call in injected if call["outcome"] == "error"} == {
            errors.INTERNAL_ERROR, errors.NETWORK_TIMEOUT
        }
        assert any(call["endpoint"] == CREATE and call["applied"] and call["outcome"] in ("dropped", "timed_out")
                   for call in injected)
    return injected


def test_two_hundred_groups_all_end_synced_through_thirty_percent_faults(chat_sandbox, make_group, staff):
    rng = random.Random(SEED)
    owners = [f"campaign_owner_{n:02d}" for n in range(20)]
    peers = [f"campaign_peer_{n:03d}" for n in range(300)]
    group_conversations = [f"@TGS#CAMPAIGN{n:03d}" for n in range(50)]
    import_accounts(chat_sandbox, owners + peers)
    plan = plan_groups(rng, owners, 10, peers, group_conversations)
    groups = make_groups(make_group, plan)
    chat_sandbox.set_faults(**FAULTS, seed=SEED)

    started = time.monotonic()
    for group in groups.values():
        sync.sync_with_retries(group.pk, staff.pk)
    duration = time.monotonic() - started

    unsynced = ContactGroup.objects.exclude(state=ContactGroup.State.SYNCED)
    assert not unsynced.exists(), list(unsynced.values_list("name", "state", "sync__last_outcome"))
    in_chat, next_group_id = chat_groups(chat_sandbox)
    for owner in owners:
        mine = {name: group for (who, name), group in groups.items() if who == owner}
        for group in mine.values():
            group.refresh_from_db()
        assert in_chat[owner] == {
            name: (group.sync.chat_group_id, set(plan[(owner, name)])) for name, group in mine.items()
        }
        # GroupIds are never reused: Chat created exactly one group per mirror group, none twice.
        assert next_group_id[owner] == len(mine) + 1
    assert set(ContactItem.objects.values_list("result_code", flat=True)) == {errors.OK}
    assert ContactItem.objects.count() == sum(len(conversations) for conversations in plan.values())

    calls = assert_audit_matches_chat_log(chat_sandbox)
    creates = [call for call in calls if call["endpoint"] == CREATE and call["applied"]]
    assert len(creates) == len(groups) and all(call["response"]["ErrorCode"] == 0 for call in creates)
    injected = assert_faults_were_injected(chat_sandbox, calls, every_kind=True)
    print(f"\nfault campaign: {len(groups)} groups, {ContactItem.objects.count()} conversations, "
          f"{len(calls)} Chat calls, {len(injected)} faults injected, {SyncAttempt.objects.count()} SyncAttempts, "
          f"{SyncAttempt.objects.filter(outcome=SyncAttempt.Outcome.NO_ANSWER).count()} without an answer, "
          f"{duration:.1f} s")


def test_unimported_peer_leaves_each_group_partial_through_faults(chat_sandbox, make_group, staff):
    rng = random.Random(SEED + 1)
    owners = [f"partial_owner_{n}" for n in range(2)]
    peers = [f"partial_peer_{n:03d}" for n in range(200)]
    import_accounts(chat_sandbox, owners + peers)
    plan = plan_groups(rng, owners, 10, peers, [])
    stranger = (C2C, "never_imported")
    for conversations in plan.values():
        conversations.insert(rng.randrange(len(conversations) + 1), stranger)
    groups = make_groups(make_group, plan)
    chat_sandbox.set_faults(**FAULTS, seed=SEED + 1)

    for group in groups.values():
        sync.sync_with_retries(group.pk, staff.pk)

    in_chat, next_group_id = chat_groups(chat_sandbox)
    for (owner, name), group in groups.items():
        group.refresh_from_db()
        assert group.state == ContactGroup.State.PARTIAL
        codes = {(item.type, item.target): item.result_code for item in group.items.all()}
        assert codes.pop(stranger) == errors.ACCOUNT_NOT_IMPORTED
        assert set(codes.values()) == {errors.OK}
        assert in_chat[owner][name] == (group.sync.chat_group_id, set(plan[(owner, name)]) - {stranger})
        assert [1, "never_imported", 50001] == group.sync.last_outcome["refused"][0][:3]
        assert "1 refused: never_imported, 50001" in words.outcome_text(group.sync.last_outcome)
    assert next_group_id == {owner: 11 for owner in owners}
    calls = assert_audit_matches_chat_log(chat_sandbox)
    assert_faults_were_injected(chat_sandbox, calls)


@pytest.mark.parametrize(
    "fault",
    [
        {"drop_rate": 1.0},
        {"timeout_rate": 1.0, "timeout_seconds": HELD_SECONDS},
        {"fail_rate": 1.0, "fail_codes": [errors.INTERNAL_ERROR]},
    ],
    ids=["dropped", "timed-out", "50004"],
)
def test_lost_create_answer_still_stores_every_result_code(chat_sandbox, make_group, staff, fault):
    """The create of a 150-conversation group, one of them not imported, goes wrong once; the next sync finds
    what Chat did and stores each conversation's code, as if the answer had come back."""
    owner = ChatUser.objects.create(user_id="lost_owner")
    peers = [f"lost_peer_{n:03d}" for n in range(149)]
    import_accounts(chat_sandbox, ["lost_owner", *peers])
    conversations = [(C2C, "never_imported")] + [(C2C, peer) for peer in peers]
    group = make_group(owner, "lost", conversations)
    chat_sandbox.set_faults(**fault, ambiguous=True, endpoints=[CREATE], max_faults=1)

    sync.sync_with_retries(group.pk, staff.pk)

    group.refresh_from_db()
    assert group.state == ContactGroup.State.PARTIAL
    codes = dict(group.items.values_list("to_account", "result_code"))
    assert codes.pop("never_imported") == errors.ACCOUNT_NOT_IMPORTED
    assert set(codes.values()) == {errors.OK}
    in_chat, next_group_id = chat_groups(chat_sandbox)
    assert in_chat["lost_owner"] == {"lost": (group.sync.chat_group_id, set(conversations[1:]))}
    assert next_group_id["lost_owner"] == 2
    assert chat_sandbox.faults["faults_injected"] == 1
    assert_audit_matches_chat_log(chat_sandbox)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_worker_syncs_twenty_groups_through_thirty_percent_faults(celery_worker, chat_sandbox, make_group, staff,
                                                                 tmp_path):
    rng = random.Random(SEED + 2)
    owners = ["worker_owner_0", "worker_owner_1"]
    peers = [f"worker_peer_{n:03d}" for n in range(200)]
    import_accounts(chat_sandbox, owners + peers)
    plan = plan_groups(rng, owners, 10, peers, [f"@TGS#WORKER{n:02d}" for n in range(20)])
    chat_sandbox.set_faults(**FAULTS, seed=SEED + 2)

    with transaction.atomic():
        groups = make_groups(make_group, plan)
        for group in groups.values():
            tasks.queue_group_sync(group.pk, staff.pk)

    settled = {ContactGroup.State.SYNCED, ContactGroup.State.PARTIAL, ContactGroup.State.FAILED}

    def all_settled():
        """every group synced, partly refused or failed"""
        return set(ContactGroup.objects.values_list("state", flat=True)) <= settled

    wait_until(all_settled, timeout=90)
    assert set(ContactGroup.objects.values_list("state", flat=True)) == {ContactGroup.State.SYNCED}
    in_chat, next_group_id = chat_groups(chat_sandbox)
    for (owner, name), group in groups.items():
        group.refresh_from_db()
        assert in_chat[owner][name] == (group.sync.chat_group_id, set(plan[(owner, name)]))
    assert next_group_id == {owner: 11 for owner in owners}
    assert set(ContactItem.objects.values_list("result_code", flat=True)) == {errors.OK}

    calls = assert_audit_matches_chat_log(chat_sandbox)
    assert_faults_were_injected(chat_sandbox, calls)
    # The worker retried the task: the history of some groups shows a stopped sync before the one that worked.
    retried = [
        group for group in groups.values()
        if LogEntry.objects.filter(object_id=str(group.pk), change_message__contains='"retrying": true').exists()
    ]
    assert retried
    for group in groups.values():
        last = LogEntry.objects.filter(object_id=str(group.pk)).latest("id")
        assert last.user == staff and words.history_text(last).startswith(("Created in Chat", "Synced to Chat"))
    worker_log = "".join(path.read_text() for path in tmp_path.glob("celery-*.log"))
    assert worker_log.count("retry: Retry in") >= len(retried)


@pytest.mark.django_db(transaction=True)
def test_the_bulk_command_syncs_two_hundred_groups_through_faults_creating_none_twice(
        chat_sandbox, make_group, staff):
    from django.core.management import call_command

    rng = random.Random(SEED + 3)
    owners = [f"bulk_owner_{n:02d}" for n in range(20)]
    peers = [f"bulk_peer_{n:03d}" for n in range(300)]
    import_accounts(chat_sandbox, owners + peers)
    plan = plan_groups(rng, owners, 10, peers, [f"@TGS#BULK{n:03d}" for n in range(50)])
    groups = make_groups(make_group, plan)
    chat_sandbox.set_faults(**FAULTS, seed=SEED + 3)

    call_command("sync_contact_groups", "--actor", staff.username, "--concurrency", "4",
                 stdout=io.StringIO(), stderr=io.StringIO())

    unsynced = ContactGroup.objects.exclude(state=ContactGroup.State.SYNCED)
    assert not unsynced.exists(), list(unsynced.values_list("name", "state", "sync__last_outcome"))
    in_chat, next_group_id = chat_groups(chat_sandbox)
    for (owner, name), group in groups.items():
        group.refresh_from_db()
        assert in_chat[owner][name] == (group.sync.chat_group_id, set(plan[(owner, name)]))
    assert next_group_id == {owner: 11 for owner in owners}
    assert set(ContactItem.objects.values_list("result_code", flat=True)) == {errors.OK}
    calls = assert_audit_matches_chat_log(chat_sandbox)
    assert_faults_were_injected(chat_sandbox, calls, every_kind=True)
    assert set(SyncAttempt.objects.values_list("actor", flat=True)) == {staff.pk}
    for group in groups.values():
        last = LogEntry.objects.filter(object_id=str(group.pk)).latest("id")
        assert last.user == staff and words.history_text(last).startswith(("Created in Chat", "Synced to Chat"))
