"""The services around a sync fail mid-run: nothing queued is lost, nothing is done twice in Chat, every failure
shows in the audit.

- A Celery worker is killed (SIGKILL) in the middle of a run and a new one takes over: late acknowledgement
  brings the killed task back after the broker's visibility timeout, and the sync reads Chat before it writes.
- Chat (the sandbox, with a state file) stops and starts again on the same port; Redis shuts down for ten
  seconds and comes back with what it held.
- Two staff users save the same group at once while two workers sync: the last save wins, and the group's lease
  keeps the two syncs' Chat calls apart.

Each test reads Chat's own state and call log (the sandbox's) and compares them with the mirror, the admin
history and the SyncAttempt audit.
"""

import json
import random
import re
import signal
import threading
import time
from datetime import datetime, timedelta

import pytest
import redis
from django.contrib.admin.models import LogEntry
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from contactgroups import words
from contactgroups.chat import errors, protocol
from contactgroups.chat.sandbox import SandboxServer
from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt
from contactgroups.tasks import requeue_stranded
from tests.admin_forms import group_form_data
from tests.conftest import wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
CREATE = "recentcontact/create_contact_group"
SEED = 20240612

# Every Chat answer takes this long, so a kill or an outage lands while calls are in flight.
LATENCY_MS = 80
# Short enough that a lease left behind by a killed worker lapses before its task comes back (the fixture sets
# the broker's visibility timeout to 5 s).
LEASE_SECONDS = 3
# Enough attempts, spaced enough, to outlast each outage here.
MAX_ATTEMPTS = 40
RETRY_BASE_SECONDS = 0.2
RETRY_CAP_SECONDS = 1.0
READ_TIMEOUT = 2.0

SETTLED = {ContactGroup.State.SYNCED, ContactGroup.State.PARTIAL, ContactGroup.State.FAILED}


@pytest.fixture(autouse=True)
def service_fault_settings(settings, monkeypatch):
    """Short leases, patient retries, short read timeouts: here and in every worker process the test starts."""
    values = {
        "SYNC_LEASE_SECONDS": LEASE_SECONDS,
        "SYNC_MAX_ATTEMPTS": MAX_ATTEMPTS,
        "SYNC_RETRY_BASE_SECONDS": RETRY_BASE_SECONDS,
        "SYNC_RETRY_CAP_SECONDS": RETRY_CAP_SECONDS,
        "CHAT_READ_TIMEOUT": READ_TIMEOUT,
    }
    for name, value in values.items():
        setattr(settings, name, value)
        monkeypatch.setenv(name, str(value))


def _record_with_connection(original):
    def record(self, *args):
        original(self, *args)
        # Called in the thread that serves one client connection: its name tells the connections apart.
        self._calls[-1]["connection"] = threading.current_thread().name

    return record


@pytest.fixture
def chat_sandbox(settings, tmp_path, monkeypatch):
    """The Chat sandbox with a state file, so it can stop and start again like Chat; each logged call also names
    the client connection it came on (a sync opens one)."""
    monkeypatch.setattr(SandboxServer, "_record", _record_with_connection(SandboxServer._record))
    server = SandboxServer(
        settings.CHAT_SDKAPPID, settings.CHAT_SECRET_KEY, settings.CHAT_ADMIN_IDENTIFIER,
        state_path=tmp_path / "chat-sandbox.json",
    ).start()
    settings.CHAT_API_BASE_URL = server.base_url
    settings.CELERY_BROKER_URL = ""
    yield server
    server.stop()


# ----------------------------------------------------------------------------------------------------------------
# Helpers


def plan_groups(rng, prefix, owners, groups_per_owner, peers_per_owner=30):
    """{(owner, group name): [(type, target), ...]}: 2 to 6 conversations each, and every peer to import."""
    plan, peers = {}, []
    for owner_index in range(owners):
        owner = f"{prefix}_owner_{owner_index}"
        mine = [f"{prefix}_peer_{owner_index}_{n:02d}" for n in range(peers_per_owner)]
        peers += mine
        pool = [(C2C, peer) for peer in mine] + [(GROUP, f"@TGS#{prefix.upper()}{n}") for n in range(5)]
        for index in range(groups_per_owner):
            plan[(owner, f"{prefix} {index:02d}")] = rng.sample(pool, rng.randint(2, 6))
    return plan, sorted({owner for owner, _ in plan}) + peers


def make_groups(make_group, plan):
    users = {user_id: ChatUser.objects.create(user_id=user_id) for user_id in sorted({o for o, _ in plan})}
    return {key: make_group(users[key[0]], key[1], conversations) for key, conversations in plan.items()}


def import_accounts(server, user_ids):
    for batch in protocol.chunks(list(user_ids), protocol.ACCOUNTS_PER_IMPORT_MAX):
        answer = server.import_accounts(*batch)
        assert answer["ErrorCode"] == 0, answer


def sync_in_admin(client, groups):
    """Select the groups on the admin's change list and run "Sync to Chat", as staff would."""
    response = client.post(reverse("admin:contactgroups_contactgroup_changelist"), {
        "action": "sync_to_chat", "index": "0", "_selected_action": [str(group.pk) for group in groups],
    })
    assert response.status_code == 302, response.content[:2000]


def states():
    counts = {}
    for state in ContactGroup.objects.values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts


def wait_settled(timeout):
    """Wait until every group is synced, partly refused or failed; fail showing the states otherwise."""
    deadline = time.monotonic() + timeout
    while not set(now := states()) <= SETTLED:
        assert time.monotonic() < deadline, f"Not settled after {timeout} s: {now}"
        time.sleep(0.2)


def wait_synced(count, timeout=60):
    def enough():
        return states().get(ContactGroup.State.SYNCED, 0) >= count

    enough.__doc__ = f"at least {count} groups synced"
    wait_until(enough, timeout=timeout, interval=0.02)


def chat_groups(server):
    """{owner: {group name: (GroupId, {(type, target), ...})}} as Chat holds them, and each owner's next GroupId
    (one more than the groups Chat ever created for the owner: GroupIds are never reused)."""
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


def assert_chat_holds_the_plan(server, groups, plan):
    """Every group synced; Chat holds each exactly once, with its conversations; each conversation accepted."""
    assert states() == {ContactGroup.State.SYNCED: len(groups)}
    in_chat, next_group_id = chat_groups(server)
    owners = sorted({owner for owner, _ in plan})
    for owner in owners:
        mine = {name: group for (who, name), group in groups.items() if who == owner}
        for group in mine.values():
            group.refresh_from_db()
        assert in_chat[owner] == {name: (group.sync.chat_group_id, set(plan[(owner, name)]))
                                  for name, group in mine.items()}
        # Chat created one group per mirror group and none twice.
        assert next_group_id[owner] == len(mine) + 1
    assert set(ContactItem.objects.values_list("result_code", flat=True)) == {errors.OK}
    creates = [call for call in server.calls_to(CREATE) if call["applied"]]
    assert len(creates) == len(groups)
    return creates


def worker_logs(tmp_path):
    return "".join(path.read_text() for path in sorted(tmp_path.glob("celery-*.log")))


def task_ids(log, event):
    """The ids of the sync tasks a worker's log shows as ``event`` ("received", "succeeded"), in order."""
    return re.findall(rf"sync_group_task\[([0-9a-f-]+)\] {event}", log.read_text())


def last_history(group):
    return words.history_text(LogEntry.objects.filter(object_id=str(group.pk)).latest("id"))


# ----------------------------------------------------------------------------------------------------------------
# 1. A worker killed mid-run

# The kill lands within KILL_WITHIN_MS of Chat receiving a create that it answers KILL_LATENCY_MS later.
KILL_LATENCY_MS = 100
KILL_WITHIN_MS = 20


@pytest.fixture
def one_task_at_a_time(monkeypatch):
    """The workers the test starts run one task at a time (CELERY_WORKER_CONCURRENCY), so one call is in flight."""
    monkeypatch.setenv("CELERY_WORKER_CONCURRENCY", "1")


def test_worker_killed_mid_sync_loses_nothing_and_doubles_nothing(one_task_at_a_time, celery_worker, chat_sandbox,
                                                                   make_group, staff, client, tmp_path):
    """SIGKILL lands while a create is in Chat and its answer on the way back; a new worker finishes the run."""
    rng = random.Random(SEED)
    plan, accounts = plan_groups(rng, "kill", owners=5, groups_per_owner=20)
    import_accounts(chat_sandbox, accounts)
    groups = make_groups(make_group, plan)
    chat_sandbox.set_faults(latency_ms=KILL_LATENCY_MS)
    client.force_login(staff)

    sync_in_admin(client, groups.values())
    wait_synced(20)

    def create_in_flight():
        """a create has reached Chat and its answer is still being held"""
        calls = chat_sandbox.calls_to()
        return calls[-1]["endpoint"] == CREATE and time.time() - calls[-1]["time"] < KILL_WITHIN_MS / 1000

    wait_until(create_in_flight, timeout=10, interval=0.002)
    [killed] = celery_worker.workers
    killed.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    calls_at_kill = chat_sandbox.calls_to()
    lost = calls_at_kill[-1]
    unsynced = len(groups) - states().get(ContactGroup.State.SYNCED, 0)
    assert unsynced > 0
    # Chat did the create; the worker died before it could record the answer.
    assert lost["applied"] and lost["response"]["ErrorCode"] == 0
    assert SyncAttempt.objects.count() == len(calls_at_kill) - 1
    lost_owner = lost["body"]["From_Account"]
    lost_name = lost["body"]["GroupContactItem"][0]["GroupName"]
    lost_group = groups[(lost_owner, lost_name)]
    lost_group.refresh_from_db()
    assert lost_group.state == ContactGroup.State.SYNCING and lost_group.sync.chat_group_id is None

    replacement = celery_worker("replacement")
    wait_settled(timeout=60)
    recovered = time.monotonic() - killed_at

    creates = assert_chat_holds_the_plan(chat_sandbox, groups, plan)
    assert sorted((c["body"]["From_Account"], c["body"]["GroupContactItem"][0]["GroupName"]) for c in creates) == \
        sorted(groups)
    # The killed task came back to the new worker, whose sync found the group Chat had created and said so.
    killed_task = task_ids(killed.log, "received")[-1]
    assert killed_task in task_ids(replacement.log, "succeeded")
    lost_group.refresh_from_db()
    history = last_history(lost_group)
    assert history.startswith(f"Synced to Chat as GroupId {lost_group.sync.chat_group_id}: nothing to change")
    assert lost_group.sync.last_outcome["interrupted"] is True
    assert "An earlier sync stopped before it could record Chat's answer, so Chat was read first." in history
    assert set(lost_group.items.values_list("result_code", flat=True)) == {errors.OK}
    # Every call is in the audit but the one whose answer died with the worker; the new sync read Chat once more.
    calls = chat_sandbox.calls_to()
    assert SyncAttempt.objects.count() == len(calls) - 1
    assert len(calls) == len(groups) + 1
    print(f"\nworker killed: {len(groups)} groups, {unsynced} unsynced at the kill, {len(calls)} Chat calls, "
          f"recovered in {recovered:.1f} s")


# ----------------------------------------------------------------------------------------------------------------
# 2. Chat and Redis go away mid-run and come back


CHAT_OUTAGE_SECONDS = 3
REDIS_OUTAGE_SECONDS = 10


def test_chat_restarting_mid_run_is_retried_and_shows_in_the_audit(celery_worker, chat_sandbox, make_group, staff,
                                                                   client, tmp_path):
    """Chat stops (its state saved to its file) and starts again on the same port three seconds later."""
    rng = random.Random(SEED + 1)
    plan, accounts = plan_groups(rng, "chat", owners=3, groups_per_owner=15)
    import_accounts(chat_sandbox, accounts)
    groups = make_groups(make_group, plan)
    chat_sandbox.set_faults(latency_ms=LATENCY_MS)
    client.force_login(staff)

    sync_in_admin(client, groups.values())
    wait_synced(10)
    port = chat_sandbox.port
    stopped_at = timezone.now()
    chat_sandbox.stop()
    saved = json.loads(chat_sandbox.state_path.read_text())
    created_before = sum(len(user["groups"]) for user in saved["users"].values())
    time.sleep(CHAT_OUTAGE_SECONDS)
    chat_sandbox.start()
    restarted_at = timezone.now()
    assert chat_sandbox.port == port
    wait_settled(timeout=60)

    assert 10 <= created_before < len(groups)
    assert_chat_holds_the_plan(chat_sandbox, groups, plan)
    # Every call that went unanswered is in the audit, none hidden, each made while Chat was down (or in flight
    # as it stopped: one worker has at most one call in flight).
    # Those made while it was down are "not sent" (no connection was made).
    unanswered = (SyncAttempt.Outcome.NO_ANSWER, SyncAttempt.Outcome.NOT_SENT)
    no_answer = SyncAttempt.objects.filter(outcome__in=unanswered)
    assert SyncAttempt.objects.filter(outcome=SyncAttempt.Outcome.NOT_SENT).exists()
    assert all(stopped_at - timedelta(seconds=1) <= attempt.started_at <= restarted_at for attempt in no_answer)
    assert all(attempt.http_status is None and attempt.response is None for attempt in no_answer)
    # Every call Chat received is in the audit with Chat's answer, but those in flight as it stopped (one a worker
    # thread at most), each of which is in the audit as a call that got no answer.
    answered = SyncAttempt.objects.exclude(outcome__in=unanswered)
    calls = chat_sandbox.calls_to()
    cut_off = SyncAttempt.objects.filter(outcome=SyncAttempt.Outcome.NO_ANSWER).count()
    assert 0 <= len(calls) - answered.count() <= cut_off
    # The groups the outage caught say so in their history, then say what the retry did.
    stopped = {
        int(entry.object_id) for entry in LogEntry.objects.filter(change_message__contains='"code": "stopped"')
    }
    assert stopped
    for group in groups.values():
        if group.pk in stopped:
            entries = list(LogEntry.objects.filter(object_id=str(group.pk)).order_by("id"))
            assert words.history_text(entries[0]) == f"Asked for “{group.name}” to be synced to Chat."
            assert "It will be tried again" in words.history_text(entries[1])
            assert words.history_text(entries[-1]).startswith(("Created in Chat", "Synced to Chat"))
    retries = worker_logs(tmp_path).count("retry: Retry in")
    assert retries >= len(stopped)
    print(f"\nChat restarted: {len(groups)} groups, {len(calls)} Chat calls received, {no_answer.count()} "
          f"SyncAttempts with no answer, {len(stopped)} groups stopped and retried ({retries} task retries), "
          f"outage {CHAT_OUTAGE_SECONDS} s")


def wait_drained(broker, timeout=60):
    """Wait until Redis holds no task: none waiting (the ``celery`` list) and none delivered but not acknowledged
    (kombu's ``unacked`` hash), twice a second apart, so a task taken between the two reads is not missed."""
    def drained():
        return broker.llen("celery") == 0 and broker.hlen("unacked") == 0

    def drained_twice():
        if not drained():
            return False
        time.sleep(1)
        return drained()

    drained_twice.__doc__ = "no task left in Redis"
    wait_until(drained_twice, timeout=timeout, interval=0.2)


def test_redis_outage_mid_run_loses_no_queued_task(one_task_at_a_time, redis_server, celery_worker, chat_sandbox,
                                                    make_group, staff, client, tmp_path):
    """Redis shuts down (saving its data) for ten seconds while most tasks wait in it; the worker reconnects.

    Every task waiting in Redis survives the outage. Only the one a worker may have in flight can be lost: kombu's
    Redis transport takes a task off the list (BRPOP) and then records it as unacknowledged in a second command,
    and an outage between the two leaves Redis with neither. Its group stays queued, and the recovery task Celery
    beat runs (``requeue_stranded``) hands it over again; the test runs that task once Redis holds no task.
    """
    rng = random.Random(SEED + 2)
    plan, accounts = plan_groups(rng, "redis", owners=3, groups_per_owner=15)
    import_accounts(chat_sandbox, accounts)
    groups = make_groups(make_group, plan)
    chat_sandbox.set_faults(latency_ms=LATENCY_MS)
    client.force_login(staff)
    [worker] = celery_worker.workers
    broker = redis.Redis.from_url(redis_server.url)

    sync_in_admin(client, groups.values())
    wait_synced(5)
    waiting = broker.llen("celery")
    broker.close()
    redis_server.shut_down()
    try:
        synced_at_outage = states().get(ContactGroup.State.SYNCED, 0)
        time.sleep(REDIS_OUTAGE_SECONDS)
        assert worker.process.poll() is None
    finally:
        redis_server.start_again()
    broker = redis.Redis.from_url(redis_server.url)
    wait_drained(broker)
    broker.close()
    # With one task at a time (and one prefetched), at most one was between the two commands at the outage.
    lost = [group.pk for group in groups.values() if ContactGroup.objects.get(pk=group.pk).state
            == ContactGroup.State.QUEUED]
    assert len(lost) <= 1, states()
    if lost:
        assert requeue_stranded(0) == len(lost)
    wait_settled(timeout=60)

    assert waiting >= 30 and synced_at_outage < len(groups) - 30
    assert_chat_holds_the_plan(chat_sandbox, groups, plan)
    # The same worker lost the broker, reconnected and went on.
    assert worker.process.poll() is None
    log = worker.log.read_text()
    assert "Connection to broker lost" in log
    assert log.count("Connected to redis://") == 2
    # A task whose acknowledgement the outage swallowed ran again; its second sync found nothing to do.
    ran = task_ids(worker.log, "succeeded")
    again = {task for task in ran if ran.count(task) > 1}
    assert len(ran) == len(groups) + len(again)
    synced_twice = [
        group for group in groups.values()
        if LogEntry.objects.filter(object_id=str(group.pk), change_message__contains='"code": "synced"').exists()
    ]
    assert len(synced_twice) == len(again)
    for group in synced_twice:
        assert "nothing to change, Chat already matched" in last_history(group)
    calls = chat_sandbox.calls_to()
    assert SyncAttempt.objects.count() == len(calls) == len(groups) + len(again)
    print(f"\nRedis outage: {len(groups)} groups, {waiting} tasks waiting in Redis and "
          f"{len(groups) - synced_at_outage} groups unsynced at the outage, {len(calls)} Chat calls, "
          f"{len(again)} task run again, {len(lost)} lost in flight and queued again, outage {REDIS_OUTAGE_SECONDS} s")


def test_saving_while_redis_is_down_says_so_and_marks_the_group_failed(redis_server, celery_worker, chat_sandbox,
                                                                       owner, staff, client, make_group):
    """The change is saved, nothing reaches Chat, the page says the sync was not queued; a later sync works."""
    chat_sandbox.import_accounts("user_0001", "user_0002", "user_0003")
    group = make_group(owner, "客户", [(C2C, "user_0002")])
    client.force_login(staff)

    redis_server.shut_down()
    try:
        response = client.post(
            reverse("admin:contactgroups_contactgroup_change", args=[group.pk]),
            group_form_data(name="客户 VIP", existing=list(group.items.all()), items=[(C2C, "user_0003", "")]),
            follow=True,
        )
    finally:
        redis_server.start_again()

    assert response.status_code == 200
    # Only the error: no "syncing" banner over a sync that was never queued.
    shown = [(message.level_tag, str(message)) for message in response.context["messages"]]
    assert shown == [("error", "“客户 VIP (user_0001)” is saved, but its sync to Chat could not be queued, so it is "
                               "marked failed. Use “Sync to Chat” once the task queue is back.")]
    group.refresh_from_db()
    assert group.name == "客户 VIP" and group.state == ContactGroup.State.FAILED
    assert group.sync.last_outcome["code"] == "not_queued" and group.sync.last_error_info == ""
    assert last_history(group).startswith("Not synced: the task queue could not be reached")
    assert chat_sandbox.calls_to() == [] and chat_groups(chat_sandbox)[0] == {}

    sync_in_admin(client, [group])
    wait_settled(timeout=30)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED
    assert chat_groups(chat_sandbox)[0]["user_0001"] == {
        "客户 VIP": (group.sync.chat_group_id, {(C2C, "user_0002"), (C2C, "user_0003")})
    }


def test_sync_action_while_redis_is_down_counts_the_groups_it_could_not_queue(redis_server, celery_worker,
                                                                            chat_sandbox, owner, staff, client,
                                                                            make_group):
    chat_sandbox.import_accounts("user_0001", "user_0002")
    groups = [make_group(owner, f"客户 {n}", [(C2C, "user_0002")]) for n in range(2)]
    client.force_login(staff)

    redis_server.shut_down()
    try:
        response = client.post(reverse("admin:contactgroups_contactgroup_changelist"), {
            "action": "sync_to_chat", "index": "0", "_selected_action": [str(group.pk) for group in groups],
        }, follow=True)
    finally:
        redis_server.start_again()

    shown = [(message.level_tag, str(message)) for message in response.context["messages"]]
    assert len(shown) == 1 and shown[0][0] == "error"
    assert shown[0][1].startswith("2 groups could not be queued for sync to Chat (") and "marked failed" in shown[0][1]
    assert states() == {ContactGroup.State.FAILED: 2}
    assert chat_sandbox.calls_to() == []


def test_deleting_and_pulling_while_redis_is_down_say_so_as_errors(redis_server, celery_worker, chat_sandbox, owner,
                                                                  staff, client, make_group):
    """A delete and a pull that cannot be queued say so at once, as errors; nothing reaches Chat."""
    chat_sandbox.import_accounts("user_0001", "user_0002")
    group = make_group(owner, "客户", [(C2C, "user_0002")])
    client.force_login(staff)
    changelist = reverse("admin:contactgroups_contactgroup_changelist")

    redis_server.shut_down()
    try:
        deleted = client.post(reverse("admin:contactgroups_contactgroup_delete", args=[group.pk]), {"post": "yes"},
                              follow=True)
        pulled = client.post(changelist, {"action": "pull_from_chat", "_selected_action": [str(group.pk)]},
                             follow=True)
    finally:
        redis_server.start_again()

    assert [(m.level_tag, str(m)) for m in deleted.context["messages"]] == [(
        "error", "“客户 (user_0001)” is marked for deletion, but its deletion from Chat could not be queued, so it "
                 "is marked failed. Use “Sync to Chat” once the task queue is back.")]
    assert [(m.level_tag, str(m)) for m in pulled.context["messages"]] == [(
        "error", "The pull from Chat of 1 user could not be queued (the task queue is unreachable); nothing was "
                 "changed.")]
    group.refresh_from_db()
    assert group.state == ContactGroup.State.FAILED and group.delete_requested
    assert group.sync.last_outcome["code"] == "not_queued"
    assert chat_sandbox.calls_to() == []


# ----------------------------------------------------------------------------------------------------------------
# 3. Two staff users save one group at once

ROUNDS = 5


def task_receipts(tmp_path):
    """When each worker received each sync task: [(seconds since the epoch, worker log name)], in time order."""
    receipts = []
    for path in tmp_path.glob("celery-*.log"):
        for line in path.read_text().splitlines():
            if "sync_group_task[" in line and line.endswith("received"):
                stamp = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                receipts.append((stamp, path.name))
    return sorted(receipts)


def post_at_once(browsers, url, forms):
    """Each browser (a logged-in test client) posts its form to ``url`` at the same moment; their HTTP statuses."""
    together = threading.Barrier(len(browsers))
    statuses = {}

    def save(username):
        together.wait()
        statuses[username] = browsers[username].post(url, forms[username]).status_code
        connections.close_all()

    threads = [threading.Thread(target=save, args=(username,)) for username in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def wait_for_syncs(group, count):
    def synced():
        done = LogEntry.objects.filter(object_id=str(group.pk), change_message__contains='"code": "synced"')
        return done.count() >= count and set(states()) <= SETTLED

    synced.__doc__ = f"{count} syncs of {group.pk} done"
    wait_until(synced, timeout=30)


def sync_blocks(calls):
    """The calls of each sync, in the order Chat received them: [[call, ...], ...], one list per connection.

    Fails if a connection's calls do not form one contiguous run: two syncs' calls interleaved.
    """
    blocks = []
    for call in sorted(calls, key=lambda call: call["seq"]):
        if blocks and blocks[-1][-1]["connection"] == call["connection"]:
            blocks[-1].append(call)
            continue
        assert all(block[0]["connection"] != call["connection"] for block in blocks), "interleaved syncs"
        blocks.append([call])
    return blocks


def test_two_staff_saving_one_group_at_once_last_save_wins_and_syncs_never_interleave(
        celery_worker, chat_sandbox, owner, staff, django_user_model, make_group, client, tmp_path, settings):
    """Each round, two staff users post the group's page at the same moment, each renaming it and adding a
    conversation; two workers sync. Chat ends as the last save left the group, and the group's lease keeps the
    two syncs' Chat calls apart."""
    settings.SYNC_PAGE_READ_TIMEOUT = 0  # the page opens without reading Chat: the only calls here are the syncs'
    celery_worker("second")
    other = django_user_model.objects.create_superuser("support_2", password="support-password-2")
    peers = [f"user_{n:04d}" for n in range(2, 2 + 2 * ROUNDS + 2)]
    import_accounts(chat_sandbox, ["user_0001", *peers])
    group = make_group(owner, "客户", [(C2C, peers[0]), (C2C, peers[1])])
    client.force_login(staff)
    sync_in_admin(client, [group])
    wait_settled(timeout=30)
    chat_sandbox.set_faults(latency_ms=LATENCY_MS)
    url = reverse("admin:contactgroups_contactgroup_change", args=[group.pk])
    users = {staff.username: "A", other.username: "B"}
    browsers = {}
    for user in (staff, other):
        browsers[user.username] = type(client)()
        browsers[user.username].force_login(user)

    for round_ in range(ROUNDS):
        existing = list(group.items.all())
        forms = {
            username: group_form_data(name=f"客户 {letter}{round_}", existing=existing,
                                      items=[(C2C, peers[2 + 2 * round_ + (letter == "B")], "")])
            for username, letter in users.items()
        }
        for browser in browsers.values():
            assert browser.get(url).status_code == 200
        assert post_at_once(browsers, url, forms) == {username: 302 for username in browsers}
        wait_for_syncs(group, 2 * (round_ + 1))
        group.refresh_from_db()
        last_save = LogEntry.objects.filter(object_id=str(group.pk), change_message__contains='"changed"').latest("id")
        assert group.name == f"客户 {users[last_save.user.username]}{round_}"
        assert group.state == ContactGroup.State.SYNCED
        desired = {(item.type, item.target) for item in group.items.all()}
        assert len(desired) == 2 + 2 * (round_ + 1)
        assert chat_groups(chat_sandbox)[0]["user_0001"] == {group.name: (group.sync.chat_group_id, desired)}

    calls = [call for call in chat_sandbox.calls_to() if call["body"].get("From_Account") == "user_0001"]
    blocks = sync_blocks(calls[1:])
    assert len(blocks) == 2 * ROUNDS
    # Each sync's first call came after the answer to the previous sync's last call (held LATENCY_MS by Chat).
    for before, after in zip(blocks, blocks[1:], strict=False):
        assert after[0]["time"] >= before[-1]["time"] + LATENCY_MS / 1000
    # ... although in some round the second task reached its worker while the first sync was still calling Chat:
    # the lease, not luck, kept them apart.
    receipts = task_receipts(tmp_path)[1:]
    waited = [
        round_ for round_ in range(ROUNDS)
        if receipts[2 * round_ + 1][0] < blocks[2 * round_][-1]["time"] + LATENCY_MS / 1000
        and receipts[2 * round_][1] != receipts[2 * round_ + 1][1]
    ]
    assert waited
    print(f"\ntwo staff users: {ROUNDS} rounds, {len(calls)} Chat calls in {len(blocks)} syncs, none interleaved; "
          f"the second sync waited for the lease in rounds {waited}")
