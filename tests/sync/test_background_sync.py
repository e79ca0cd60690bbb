"""A save never waits for Chat: without a broker the same Celery tasks run on the web process's in-process
executor after the request, and a group a stopped process left waiting is taken up again.

Everything is real: the admin over Django's test client (and, for a restart, ``manage.py runserver`` in its own
process), the Chat sandbox over loopback HTTP holding its answers as told, the database committed.
"""

import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from contactgroups import sync, tasks
from contactgroups.chat import protocol
from contactgroups.engine import LocalExecutor
from contactgroups.models import ContactGroup, GroupSync, SyncAttempt
from tests.admin_forms import group_form_data, states_shown
from tests.conftest import wait_until
from tests.services import ROOT, database_url, free_port, stop, wait_for

C2C = protocol.TYPE_C2C
ADD_URL = reverse("admin:contactgroups_contactgroup_add")
CREATE = "recentcontact/create_contact_group"
UPDATE = "recentcontact/update_contact_group"

pytestmark = pytest.mark.django_db(transaction=True)


def change_url(group):
    return reverse("admin:contactgroups_contactgroup_change", args=[group.pk])


@pytest.fixture
def support(client, staff, chat_sandbox):
    chat_sandbox.import_accounts("user_0001", "user_0002", "user_0003")
    client.force_login(staff)
    return client


def state_shown(page: str) -> str:
    [state] = states_shown(page)
    return state


def test_a_save_returns_while_chat_still_holds_the_create_and_the_page_then_follows(
        support, owner, chat_sandbox, background_syncs):
    chat_sandbox.set_faults(latency_ms=5000, endpoints=[CREATE])
    response = support.post(ADD_URL, group_form_data(owner=owner, name="work", items=[(C2C, "user_0002", "")]),
                            follow=True)
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
        ("success", "“work (user_0001)” is saved; syncing it to Chat. Its page shows how the sync ends.")]
    group = ContactGroup.objects.get()

    def chat_holds_the_create():
        """the sandbox has the create and holds its answer"""
        return len(chat_sandbox.calls_to(CREATE)) == 1

    wait_until(chat_holds_the_create, timeout=10, interval=0.01)
    # Chat has the call but has not answered: the page says so, and no ResultCode is shown yet.
    page = support.get(change_url(group)).content.decode()
    assert state_shown(page) in ("queued", "syncing")
    assert "not sent yet" in page and "0: Accepted by Chat." not in page

    background_syncs.wait()
    page = support.get(change_url(group)).content.decode()
    assert state_shown(page) == "synced"
    assert "Created in Chat as GroupId 1: 1 conversation added." in page and "0: Accepted by Chat." in page


def test_a_save_while_chat_is_down_says_syncing_and_the_page_then_shows_the_failure(
        support, owner, chat_sandbox, background_syncs, settings):
    settings.SYNC_MAX_ATTEMPTS = 3
    chat_sandbox.set_faults(http_error_rate=1.0)
    response = support.post(ADD_URL, group_form_data(owner=owner, name="work", items=[(C2C, "user_0002", "")]),
                            follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["success"]
    background_syncs.wait()
    group = ContactGroup.objects.get()
    page = support.get(change_url(group)).content.decode()
    assert state_shown(page) == "failed"
    assert "Gave up after 3 attempts" in page
    calls = chat_sandbox.calls_to()
    assert {call["http_status"] for call in calls} == {502}
    assert SyncAttempt.objects.filter(group=group, http_status=502).count() == len(calls)


def test_a_group_saved_again_during_its_sync_is_synced_again_and_never_twice_at_once(
        support, owner, chat_sandbox, background_syncs):
    support.post(ADD_URL, group_form_data(owner=owner, name="work", items=[(C2C, "user_0002", "")]))
    background_syncs.wait()
    group = ContactGroup.objects.get()
    chat_sandbox.clear_calls()
    chat_sandbox.set_faults(latency_ms=1000)
    [item] = group.items.all()
    support.post(change_url(group), group_form_data(name="office", existing=[item]))
    wait_until(lambda: len(chat_sandbox.calls_to(UPDATE)) == 1, interval=0.01)
    # Saved again while Chat holds the first rename's answer.
    support.post(change_url(group), group_form_data(name="office 2", existing=[item]))
    background_syncs.wait()
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED and group.sync.confirmed_name == "office 2"
    renames = [call["body"]["UpdateGroup"]["NewGroupName"] for call in chat_sandbox.calls_to(UPDATE)]
    assert renames == ["office", "office 2"]
    # Every answer is held a second: had the second sync started before the first ended, two calls would have
    # reached Chat less than a second apart.
    times = [call["time"] for call in chat_sandbox.calls_to()]
    assert all(later - earlier >= 0.9 for earlier, later in zip(times, times[1:], strict=False)), times


# Taken up again -------------------------------------------------------------------------------------------------


def strand(group, lock_token: str = "", lock_until=None, **fields) -> None:
    """Leave ``group`` as a sync that stopped would: its ``fields``, and the lease on its sync row."""
    ContactGroup.objects.filter(pk=group.pk).update(**fields)
    GroupSync.objects.filter(group=group).update(lock_token=lock_token, lock_until=lock_until)


def test_the_periodic_sweep_takes_up_only_groups_nothing_runs(owner, make_group, chat_sandbox, staff,
                                                             background_syncs):
    chat_sandbox.import_accounts("user_0001", "user_0002")
    long_ago = timezone.now() - timedelta(hours=1)
    queued = make_group(owner, "queued long ago", [(C2C, "user_0002")])
    died = make_group(owner, "died mid-sync", [(C2C, "user_0002")])
    leased = make_group(owner, "syncing elsewhere", [(C2C, "user_0002")])
    recent = make_group(owner, "queued just now", [(C2C, "user_0002")])
    strand(queued, state=ContactGroup.State.QUEUED, updated_at=long_ago)
    strand(died, state=ContactGroup.State.SYNCING, updated_at=long_ago, lock_token="dead",
           lock_until=timezone.now() - timedelta(seconds=1))
    strand(leased, state=ContactGroup.State.SYNCING, updated_at=long_ago, lock_token="alive",
           lock_until=timezone.now() + timedelta(minutes=5))
    strand(recent, state=ContactGroup.State.QUEUED)
    sync.log_history(staff.pk, queued, [{"added": {}}])

    assert tasks.requeue_stranded(600) == 2
    background_syncs.wait()
    states = dict(ContactGroup.objects.values_list("name", "state"))
    assert states == {"queued long ago": "synced", "died mid-sync": "synced", "syncing elsewhere": "syncing",
                      "queued just now": "queued"}
    created = {call["body"]["GroupContactItem"][0]["GroupName"] for call in chat_sandbox.calls_to(CREATE)}
    assert created == {"queued long ago", "died mid-sync"}
    # The sync taken up acts for the staff user who last changed the group: its history says so.
    assert LogEntry.objects.filter(object_id=str(queued.pk), user=staff).count() == 2


def test_a_group_whose_sync_runs_is_not_taken_up_again(owner, make_group, chat_sandbox, staff, background_syncs):
    chat_sandbox.import_accounts("user_0001", "user_0002")
    group = make_group(owner, "work", [(C2C, "user_0002")])
    strand(group, state=ContactGroup.State.QUEUED, updated_at=timezone.now() - timedelta(hours=1))
    chat_sandbox.set_faults(latency_ms=1000)
    tasks.queue_group_sync(group.pk, staff.pk)
    wait_until(lambda: len(chat_sandbox.calls_to(CREATE)) == 1, interval=0.01)
    assert tasks.requeue_stranded(0) == 0
    background_syncs.wait()
    assert len(chat_sandbox.calls_to(CREATE)) == 1


@pytest.fixture
def web_process(chat_sandbox, tmp_path):
    """Starts ``manage.py runserver`` (imadmin.wsgi, no broker) on the test database and the sandbox, as a web
    process starts after a restart; stopped at the end."""
    from django.db import connection

    started = []

    def start():
        port = free_port()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": "tests.settings",
               "DATABASE_URL": database_url(connection.settings_dict), "CHAT_API_BASE_URL": chat_sandbox.base_url,
               "CELERY_BROKER_URL": "", "LOG_LEVEL": "INFO", "PYTHONDONTWRITEBYTECODE": "1"}
        log = tmp_path / "runserver.log"
        process = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                                   cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        started.append(process)

        def answers():
            try:
                return requests.get(f"http://127.0.0.1:{port}/admin/login/", timeout=1,
                                    proxies={"http": "", "https": ""}).status_code == 200
            except requests.RequestException:
                return False

        wait_for(answers, 60, "runserver", process, log)
        return process

    yield start
    for process in started:
        stop(process)


def test_a_web_process_that_starts_takes_up_what_the_stopped_one_left(owner, make_group, chat_sandbox, staff,
                                                                      web_process):
    chat_sandbox.import_accounts("user_0001", "user_0002", "user_0003")
    queued = make_group(owner, "left queued", [(C2C, "user_0002")])
    syncing = make_group(owner, "left syncing", [(C2C, "user_0003")])
    # A restart a moment ago: one group still queued, one cut off mid-sync (its lease has just expired).
    strand(queued, state=ContactGroup.State.QUEUED)
    strand(syncing, state=ContactGroup.State.SYNCING, lock_token="gone",
           lock_until=timezone.now() - timedelta(seconds=1))
    web_process()

    def both_synced():
        """both groups the stopped process left are synced"""
        return set(ContactGroup.objects.values_list("state", flat=True)) == {ContactGroup.State.SYNCED}

    wait_until(both_synced, timeout=60)
    assert {call["body"]["GroupContactItem"][0]["GroupName"] for call in chat_sandbox.calls_to(CREATE)} == {
        "left queued", "left syncing"}


def test_the_executor_runs_a_task_handed_over_again_while_it_waits_once(settings):
    """The executor's own rule, on plain work: handed over again while it waits, a task runs once; handed over
    while it runs, once more after (a group's lease keeps two syncs of it apart)."""
    settings.SYNC_RUNNER_THREADS = 1
    runs = []
    gate = threading.Event()

    def work(name, attempt=0):
        gate.wait(5)
        runs.append(name)

    executor = LocalExecutor()
    executor.submit(work, ("first",), key=("k",))
    wait_until(lambda: not executor._waiting)  # started
    executor.submit(work, ("second",), key=("k",))
    executor.submit(work, ("third",), key=("k",))  # "second" waits already: it runs, once
    gate.set()
    assert executor.wait_idle(10)
    assert runs == ["first", "second"]


def test_the_executor_waits_before_a_retry_without_holding_a_thread(settings):
    settings.SYNC_RUNNER_THREADS = 1
    attempts, others = [], []

    def flaky(attempt=0):
        attempts.append(attempt)
        return 0.3 if attempt < 2 else None

    executor = LocalExecutor()
    executor.submit(flaky, ())
    executor.submit(lambda attempt=0: others.append(attempts[:]), ())
    assert executor.wait_idle(10)
    # The one thread ran the other task while the first waited for its retry.
    assert attempts == [0, 1, 2] and others == [[0]]


def test_periodic_work_runs_on_the_executor_again_after_a_failure_and_stops_with_it(settings):
    """``every``: the first run with its own arguments, then the later ones; a run that fails is logged and the next
    one comes; between runs it holds no thread (a task handed over meanwhile runs on the one thread); a drain ends
    it."""
    settings.SYNC_RUNNER_THREADS = 1
    runs, others = [], []

    def periodic(*args):
        runs.append(args)
        if len(runs) == 2:
            raise RuntimeError("one run fails")

    executor = LocalExecutor()
    executor.every(lambda: 0.05, periodic, ("first",), ("later",))
    wait_until(lambda: len(runs) >= 1)
    executor.submit(lambda attempt=0: others.append(len(runs)), ())
    wait_until(lambda: len(runs) >= 4 and others)  # "others" ran: the one thread was free between runs
    assert executor.drain(10)
    ended = len(runs)
    assert runs[:4] == [("first",), ("later",), ("later",), ("later",)]
    time.sleep(0.2)  # a drained executor starts no further run
    assert len(runs) == ended
