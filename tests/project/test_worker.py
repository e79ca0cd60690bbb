"""With a broker configured, the admin save returns at once and a real Celery worker syncs."""

import pytest
from django.urls import reverse

from contactgroups.chat import protocol
from contactgroups.models import ContactGroup, SyncAttempt
from tests.admin_forms import group_form_data
from tests.conftest import command_in_thread, wait_until

CREATE = "recentcontact/create_contact_group"

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
    assert group.sync.chat_group_id == 1
    assert dict(group.items.values_list("to_account", "result_code")) == {"user_0002": 0, "user_9": 50001}
    attempt = SyncAttempt.objects.get(group=group)
    assert attempt.actor == staff and attempt.operation == "create_contact_group"
    page = client.get(reverse("admin:contactgroups_contactgroup_history", args=[group.pk])).content.decode()
    assert f"Created in Chat as GroupId {group.sync.chat_group_id}" in page
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


def test_the_bulk_command_hands_groups_to_workers_and_one_killed_mid_task_loses_and_doubles_nothing(
        short_lease, celery_worker, chat_sandbox, make_group, staff):
    import signal

    from django.contrib.admin.models import LogEntry

    from contactgroups import words
    from contactgroups.models import ChatUser

    owners = [ChatUser.objects.create(user_id=f"bulk_owner_{n}") for n in range(10)]
    chat_sandbox.import_accounts(*[owner.user_id for owner in owners], "user_0002", "user_0003")
    for owner in owners:
        for number in range(12):
            make_group(owner, f"group {number:02d}", [(protocol.TYPE_C2C, "user_0002"),
                                                      (protocol.TYPE_C2C, "user_0003")])
    chat_sandbox.set_faults(latency_ms=1000)
    runner = command_in_thread("sync_contact_groups", "--actor", staff.username)
    out, err = runner.out, runner.err
    wait_until(lambda: len(chat_sandbox.calls_to(CREATE)) >= 20, timeout=60)
    celery_worker.workers[0].stop(signal.SIGKILL)
    celery_worker()  # another worker takes the task again once the broker gives it back
    runner.join(timeout=240)

    assert not runner.is_alive() and runner.failures == [], out.getvalue()[-3000:]
    assert "Handing them to the Celery workers" in out.getvalue()
    assert "Synced 120 groups" in out.getvalue() and "120 synced" in out.getvalue()
    assert "sync_contact_groups: 120/120 groups (100%), 0 failed" in err.getvalue()

    def settled():
        """no second delivery of a task is still running (the test's visibility timeout is 5 s: a task that ran
        longer was delivered again, and its second run finds nothing to do)"""
        return not ContactGroup.objects.filter(state=ContactGroup.State.SYNCING).exists()

    wait_until(settled, timeout=60)
    users = chat_sandbox.snapshot()["users"]
    for owner in owners:
        # Chat created each group once: GroupIds are never reused, so 12 groups leave the next one at 13.
        assert users[owner.user_id]["next_group_id"] == 13
        assert sorted(group["name"] for group in users[owner.user_id]["groups"]) == [
            f"group {number:02d}" for number in range(12)]
    for group in ContactGroup.objects.all():
        assert group.state == ContactGroup.State.SYNCED and group.sync.chat_group_id is not None
        assert set(group.items.values_list("result_code", flat=True)) == {0}
        last = LogEntry.objects.filter(object_id=str(group.pk)).latest("id")
        assert last.user == staff and words.history_text(last).startswith(("Created in Chat", "Synced to Chat"))
    # The killed worker's batch was delivered again: its groups were read from Chat before anything was sent.
    assert chat_sandbox.calls_to("recentcontact/get_contact_group")
    # Only the calls of the tasks the worker died in can be missing from the audit (their rows and outcomes were to
    # be stored together); the sync that finished each of those groups is in it, so every group has its rows.
    assert 0 <= len(chat_sandbox.calls_to()) - SyncAttempt.objects.count()
    assert SyncAttempt.objects.values("group").distinct().count() == 120


def test_pull_sweep_and_user_import_commands_hand_their_work_to_the_workers_and_report_it(
        celery_worker, chat_sandbox, owner, staff, tmp_path):
    """With a broker, each of these commands sends its work to the workers as tasks and prints, from their
    results, what it printed when it did the work itself: the lines and the summary, failures included."""
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from contactgroups.models import ChatUser

    def run(*args):
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command(*args, "--actor", staff.username, stdout=out, stderr=err)
        except CommandError as exc:
            return out.getvalue(), str(exc)
        return out.getvalue(), ""

    chat_sandbox.import_accounts("user_0001", "user_0002", "user_0003")
    ChatUser.objects.create(user_id="aaa_not_in_chat")
    chat_sandbox.post(CREATE, {"From_Account": owner.user_id, "GroupContactItem": [
        {"GroupName": "from the app", "ContactItem": [{"Type": protocol.TYPE_C2C, "To_Account": "user_0003"}]}]})

    out, failure = run("pull_contact_groups", "--all-owners")
    assert "user_0001: new from Chat: from the app" in out
    assert "aaa_not_in_chat: the pull failed:" in out
    assert "1 group differed (1 new from Chat, 0 changed, 0 gone from Chat)" in out
    assert failure == "The pull failed for 1 of 2 Chat users; see the lines above."
    adopted = ContactGroup.objects.get(name="from the app")
    assert adopted.sync.chat_group_id is not None

    chat_sandbox.post(CREATE, {"From_Account": owner.user_id, "GroupContactItem": [
        {"GroupName": "also from the app", "ContactItem": [{"Type": protocol.TYPE_C2C, "To_Account": "user_0002"}]}]})
    out, failure = run("sweep_contact_groups")
    assert failure == "" and "Read 1 of 1 Chat user in" in out

    users = tmp_path / "users.csv"
    users.write_text("user_id,nickname\nalice,Alice\nbob,\n")
    out, failure = run("import_chat_users", str(users))
    assert failure == "" and "Imported into Chat: 2 of 2 users" in out
    assert dict(ChatUser.objects.filter(user_id__in=["alice", "bob"]).values_list("user_id", "import_state")) == {
        "alice": "imported", "bob": "imported"}

    # The worker ran every piece of it: the command in this process only handed it over and read the results.
    log = celery_worker.workers[0].log.read_text()
    for task in ("pull_owners_report", "sweep_owners_report", "import_users_report"):
        assert f"contactgroups.tasks.{task}[" in log, task


def test_with_a_broker_and_no_worker_each_command_stops_when_nothing_ends_for_the_stall_time_and_says_so(
        celery_workers, chat_sandbox, owner, staff, make_group, settings, tmp_path):
    """No worker runs: the tasks wait in the broker. Each command that waits for its tasks stops once none has ended
    for SYNC_STALL_SECONDS, says how many groups or Chat users are left, and exits non-zero."""
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from imadmin.celery import app

    settings.SYNC_STALL_SECONDS = 1
    make_group(owner, "in Chat", [(protocol.TYPE_C2C, "user_0002")], chat_group_id=1, state=ContactGroup.State.QUEUED)
    users = tmp_path / "users.csv"
    users.write_text("user_id\nalice\nbob\n")
    waiting_users = "Chat users handed to the Celery workers have not reported in 1 s; is a worker running?"
    expected = [
        (["pull_contact_groups", "--all-owners"],
         "1 Chat user handed to the Celery workers has not reported in 1 s; is a worker running?"),
        (["sweep_contact_groups"],
         "1 Chat user handed to the Celery workers has not reported in 1 s; is a worker running?"),
        (["import_chat_users", str(users)], f"2 {waiting_users}"),
        (["sync_contact_groups"],
         "1 group handed to the Celery workers has not reported in 1 s; the admin shows where it is."),
    ]
    try:
        for args, said in expected:
            with pytest.raises(CommandError) as caught:
                call_command(*args, "--actor", staff.username, stdout=io.StringIO(), stderr=io.StringIO())
            assert (str(caught.value), caught.value.returncode) == (said, 1), args[0]
    finally:
        app.control.purge()  # the tasks no worker took: none is left for a later test's worker
