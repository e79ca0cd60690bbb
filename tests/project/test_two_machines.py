"""Two machines share the database and the broker: a bulk sync at Chat's rate limit survives one dying mid-run.

Each "machine" is a Celery worker group of its own (`celery -A imadmin worker -n machine-a@%h`, its own working
directory and process group) on the test database and the test Redis, which is also where both count their Chat
calls (CHAT_RATE_LIMIT_STORAGE). The sandbox enforces Chat's 200 calls a second per endpoint over loopback HTTP.
"""

import re

import pytest

from contactgroups.chat import errors, protocol
from contactgroups.models import ChatUser, ContactGroup, SyncAttempt
from tests.conftest import command_in_thread, wait_until

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

OWNERS = 40
GROUPS_PER_OWNER = 12
GROUPS = OWNERS * GROUPS_PER_OWNER
PEERS = ["peer_a", "peer_b", "peer_c"]
# The machine is killed once this many groups are synced (read from the database, not after a sleep).
KILL_AFTER_SYNCED = GROUPS // 4


def sync_tasks(log, event: str) -> list[str]:
    """The ids of the bulk sync's tasks a worker's log shows as ``event`` ("received", "succeeded")."""
    return re.findall(rf"sync_groups_task\[([0-9a-f-]+)\] {event}", log.read_text() if log.exists() else "")


def test_two_machines_sync_in_bulk_at_the_cap_and_one_dying_mid_run_loses_and_doubles_nothing(
        short_lease, celery_workers, chat_sandbox, redis_server, make_group, staff, settings, monkeypatch, tmp_path):
    from django.contrib.admin.models import LogEntry

    from contactgroups import words

    # Both machines count their calls in the one Redis (the broker's, as the settings default to; said here).
    monkeypatch.setenv("CHAT_RATE_LIMIT_STORAGE", redis_server.url)
    # Eight threads a machine keep Chat's rate in flight at the sandbox's 20 ms (more only wait their turn, and
    # load the two cores); tasks of 10 groups, more than one machine holds (a task a thread), so both take some.
    monkeypatch.setenv("CELERY_WORKER_CONCURRENCY", "8")
    settings.SYNC_TASK_GROUPS = 10
    machines = {}
    for letter in "ab":
        cwd = tmp_path / f"machine-{letter}"
        cwd.mkdir()
        machines[letter] = celery_workers("machine", cwd=cwd, hostname=f"machine-{letter}@%h")

    owners = [ChatUser.objects.create(user_id=f"machines_owner_{n:02d}") for n in range(OWNERS)]
    chat_sandbox.import_accounts(*[owner.user_id for owner in owners], *PEERS)
    for n, owner in enumerate(owners):
        for number in range(GROUPS_PER_OWNER):
            make_group(owner, f"group {number:02d}",
                       [(protocol.TYPE_C2C, PEERS[(n + number + k) % len(PEERS)]) for k in range(1 + number % 3)])
    chat_sandbox.set_faults(latency_ms=20, rate_limit=200)
    runner = command_in_thread("sync_contact_groups", "--actor", staff.username)
    out = runner.out

    a, b = machines["a"], machines["b"]

    def both_working_and_a_busy():
        """a quarter of the groups are synced, both machines took tasks, and machine a has one in hand"""
        return (ContactGroup.objects.filter(state=ContactGroup.State.SYNCED).count() >= KILL_AFTER_SYNCED
                and sync_tasks(b.log, "received")
                and len(sync_tasks(a.log, "received")) > len(sync_tasks(a.log, "succeeded")))

    wait_until(both_working_and_a_busy, timeout=60, interval=0.2)
    received_by_a = sync_tasks(a.log, "received")
    left_by_a = set(received_by_a) - set(sync_tasks(a.log, "succeeded"))
    a.kill_group()
    runner.join(timeout=240)

    assert not runner.is_alive() and runner.failures == [], out.getvalue()[-3000:]
    assert "Handing them to the Celery workers" in out.getvalue()
    assert f"Synced {GROUPS} groups" in out.getvalue() and f"{GROUPS} synced" in out.getvalue()

    def settled():
        """no second delivery of a task is still running"""
        return not ContactGroup.objects.filter(state=ContactGroup.State.SYNCING).exists()

    wait_until(settled, timeout=60)
    # Both machines took tasks before the kill; every task the dead one left unfinished was run to its end by the
    # other, once the broker gave it back.
    assert received_by_a and sync_tasks(b.log, "received")
    assert left_by_a and left_by_a <= set(sync_tasks(b.log, "succeeded"))
    # Every group is synced, in the database and in Chat: each created once (GroupIds are never reused, so 12
    # groups leave the next one at 13), with its conversations.
    users = chat_sandbox.snapshot()["users"]
    for owner in owners:
        in_chat = users[owner.user_id]
        assert in_chat["next_group_id"] == GROUPS_PER_OWNER + 1
        held = {group["name"]: sorted(map(tuple, group["members"])) for group in in_chat["groups"]}
        assert len(held) == len(in_chat["groups"]) == GROUPS_PER_OWNER
        for group in ContactGroup.objects.filter(owner=owner):
            assert group.state == ContactGroup.State.SYNCED and group.sync.chat_group_id is not None
            assert held[group.name] == sorted((item.type, item.to_account) for item in group.items.all())
            assert set(group.items.values_list("result_code", flat=True)) == {0}
            last = LogEntry.objects.filter(object_id=str(group.pk)).latest("id")
            assert last.user == staff and words.history_text(last).startswith(("Created in Chat", "Synced to Chat"))
    # The two machines together kept within Chat's limit: Chat refused no call for its rate.
    throttled = [call for call in chat_sandbox.calls_to() if call["error_code"] in errors.THROTTLING_CODES]
    assert len(chat_sandbox.calls_to(protocol.CREATE_CONTACT_GROUP)) >= GROUPS
    assert throttled == []
    assert not SyncAttempt.objects.filter(error_code__in=errors.THROTTLING_CODES).exists()
