"""The operators' management commands, against the Chat sandbox over HTTP and the real database.

The tests commit for real (transactional database): the commands sync in threads, each with its own database
connection, and queue syncs to run after commit, as they do in production.
"""

import csv
import io
import itertools
import os
import re
import subprocess
import sys

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import translation

from contactgroups import runs, spreadsheet, words
from contactgroups.chat import errors, protocol
from contactgroups.models import ChatUser, ContactGroup, GroupSync, SyncAttempt
from tests.services import ROOT, database_url

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
CREATE = "recentcontact/create_contact_group"
GET = "recentcontact/get_contact_group"
IMPORT = "im_open_login_svc/multiaccount_import"
CHECK = "im_open_login_svc/account_check"

pytestmark = pytest.mark.django_db(transaction=True)


def run(name, *args, **options):
    """Call a command as an operator would; return what it printed (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def run_failing(name, *args):
    """Call a command that must fail; return its CommandError and what it printed on stdout."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command(name, *args, stdout=out, stderr=err)
    return failure.value, out.getvalue()


@pytest.fixture
def chat(chat_sandbox, owner):
    """The sandbox knowing the owner user_0001 and the peers user_0002 to user_0004."""
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003", "user_0004")
    return chat_sandbox


@pytest.fixture
def make_staff(django_user_model):
    """A staff user holding exactly the given contactgroups permissions."""

    def make(username, *codenames, **fields):
        fields.setdefault("is_staff", True)
        user = django_user_model.objects.create_user(username, password="pw-for-tests", **fields)
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="contactgroups",
                                                            codename__in=codenames))
        return user

    return make


def history(user):
    return [words.history_text(entry) for entry in LogEntry.objects.filter(user=user).order_by("id")]


# Who acts ----------------------------------------------------------------------------------------------------

COMMANDS = [
    ("sync_contact_groups", ["--pending"], "sync_contactgroup"),
    ("pull_contact_groups", ["--all-owners"], "pull_contactgroup"),
    ("import_chat_users", ["--unimported"], "import_chatuser"),
    ("export_contact_groups", [], "view_contactgroup"),
]


@pytest.mark.parametrize(("command", "arguments", "_permission"), COMMANDS)
def test_a_command_without_actor_is_refused(command, arguments, _permission):
    with pytest.raises(CommandError, match="--actor"):
        call_command(command, *arguments, stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.parametrize(("command", "arguments", "_permission"), COMMANDS)
def test_an_unknown_actor_is_refused(command, arguments, _permission):
    failure, _out = run_failing(command, "--actor", "nobody", *arguments)
    assert str(failure) == "There is no user named 'nobody'."


@pytest.mark.parametrize(("command", "arguments", "permission"), COMMANDS)
def test_an_actor_who_is_not_staff_is_refused(command, arguments, permission, make_staff):
    make_staff("visitor", permission, is_staff=False)
    failure, _out = run_failing(command, "--actor", "visitor", *arguments)
    assert "not staff" in str(failure)


@pytest.mark.parametrize(("command", "arguments", "permission"), COMMANDS)
def test_an_inactive_actor_is_refused(command, arguments, permission, make_staff):
    make_staff("gone", permission, is_active=False)
    failure, _out = run_failing(command, "--actor", "gone", *arguments)
    assert "not active" in str(failure)


@pytest.mark.parametrize(("command", "arguments", "permission"), COMMANDS)
def test_an_actor_without_the_permission_is_refused_and_told_which(command, arguments, permission, make_staff):
    make_staff("viewer")
    failure, _out = run_failing(command, "--actor", "viewer", *arguments)
    assert "lacks the permission" in str(failure) and f"contactgroups.{permission}" in str(failure)


def test_importing_groups_needs_the_permissions_to_add_and_to_sync(make_staff, tmp_path):
    make_staff("syncer", "sync_contactgroup")
    path = tmp_path / "groups.csv"
    path.write_text("owner,group_name,type,target\n", encoding="utf-8")
    failure, _out = run_failing("import_contact_groups", str(path), "--actor", "syncer")
    assert "contactgroups.add_contactgroup" in str(failure)


def test_refused_actor_changes_nothing_and_calls_nothing(chat, owner, make_group, make_staff):
    make_staff("viewer", "view_contactgroup")
    group = make_group(owner, "work", [(C2C, "user_0002")], state=ContactGroup.State.QUEUED)
    run_failing("sync_contact_groups", "--actor", "viewer")
    group.refresh_from_db()
    assert group.state == ContactGroup.State.QUEUED and chat.calls_to() == []


# sync_contact_groups -----------------------------------------------------------------------------------------


def test_sync_pending_syncs_drafts_queued_and_deletions_and_leaves_the_rest(chat, owner, make_group, staff):
    draft = make_group(owner, "draft", [(C2C, "user_0002")])
    queued = make_group(owner, "queued", [(C2C, "user_0003")], state=ContactGroup.State.QUEUED)
    synced = make_group(owner, "synced", [(C2C, "user_0004")], state=ContactGroup.State.SYNCED)
    failed = make_group(owner, "failed", [(C2C, "user_0004")], state=ContactGroup.State.FAILED)
    out, _err = run("sync_contact_groups", "--actor", staff.username, "--pending")
    states = dict(ContactGroup.objects.values_list("name", "state"))
    assert states == {"draft": "synced", "queued": "synced", "synced": "synced", "failed": "failed"}
    assert sorted(call["body"]["GroupContactItem"][0]["GroupName"] for call in chat.calls_to(CREATE)) == [
        draft.name, queued.name]
    assert synced.sync_attempts.count() == failed.sync_attempts.count() == 0
    assert "2 synced" in out.splitlines()[-1]


def test_sync_pending_deletes_the_groups_staff_deleted(chat, owner, make_group, staff):
    group = make_group(owner, "old", [(C2C, "user_0002")])
    run("sync_contact_groups", "--actor", staff.username)
    group.refresh_from_db()
    group.delete_requested, group.state = True, ContactGroup.State.DELETING
    group.save()
    run("sync_contact_groups", "--actor", staff.username, "--pending")
    group.refresh_from_db()
    assert group.state == ContactGroup.State.DELETED
    assert len(chat.calls_to("recentcontact/del_contact_group")) == 1


def test_sync_failed_retries_only_the_failed_groups(chat, owner, make_group, staff):
    failed = make_group(owner, "failed", [(C2C, "user_0002")], state=ContactGroup.State.FAILED)
    make_group(owner, "queued", [(C2C, "user_0003")], state=ContactGroup.State.QUEUED)
    run("sync_contact_groups", "--actor", staff.username, "--failed")
    assert [call["body"]["GroupContactItem"][0]["GroupName"] for call in chat.calls_to(CREATE)] == [failed.name]
    assert ContactGroup.objects.get(name="queued").state == ContactGroup.State.QUEUED


def test_sync_owner_limits_the_run_to_their_groups(chat, owner, make_group, staff):
    other = ChatUser.objects.create(user_id="user_0002")
    make_group(owner, "mine", [(C2C, "user_0003")])
    theirs = make_group(other, "theirs", [(C2C, "user_0003")])
    run("sync_contact_groups", "--actor", staff.username, "--all", "--owner", owner.user_id)
    theirs.refresh_from_db()
    assert theirs.state == ContactGroup.State.DRAFT
    assert [call["body"]["From_Account"] for call in chat.calls_to(CREATE)] == [owner.user_id]


def test_sync_an_unknown_owner_is_refused_before_anything_runs(chat, owner, make_group, staff):
    make_group(owner, "mine", [(C2C, "user_0003")])
    failure, _out = run_failing("sync_contact_groups", "--actor", staff.username, "--owner", "ghost")
    assert str(failure) == "No Chat user with UserID ghost."
    assert chat.calls_to() == []


def test_sync_is_audited_and_written_to_the_history_under_the_actor(chat, owner, make_group, make_staff):
    operator = make_staff("operator", "sync_contactgroup")
    group = make_group(owner, "work", [(C2C, "user_0002")])
    run("sync_contact_groups", "--actor", "operator")
    [attempt] = SyncAttempt.objects.filter(group=group)
    assert attempt.actor == operator and attempt.operation == "create_contact_group"
    assert history(operator) == ["Created in Chat as GroupId 1: 1 conversation added."]


def test_sync_in_threads_syncs_each_group_exactly_once(chat, owner, make_group, staff, django_user_model):
    owners = [owner] + [ChatUser.objects.create(user_id=f"owner_{n}") for n in range(5)]
    chat.import_accounts(*[user.user_id for user in owners[1:]])
    for user in owners:
        for number in range(6):
            make_group(user, f"group {number}", [(C2C, "user_0002"), (C2C, "user_0003")])
    out, _err = run("sync_contact_groups", "--actor", staff.username, "--concurrency", "4")
    creates = [(call["body"]["From_Account"], call["body"]["GroupContactItem"][0]["GroupName"])
               for call in chat.calls_to(CREATE)]
    assert len(creates) == len(set(creates)) == 36
    assert set(ContactGroup.objects.values_list("state", flat=True)) == {ContactGroup.State.SYNCED}
    assert "Synced 36 groups" in out


def test_sync_of_many_tasks_syncs_each_group_once_and_reports_them_all(chat, owner, make_group, staff):
    owners = [owner] + [ChatUser.objects.create(user_id=f"owner_{n}") for n in range(5)]
    chat.import_accounts(*[user.user_id for user in owners[1:]])
    for user in owners:
        for number in range(6):
            make_group(user, f"group {number}", [(C2C, "user_0002"), (C2C, "user_0003")])
    stranger = ChatUser.objects.create(user_id="not_in_chat")
    doomed = make_group(stranger, "doomed", [(C2C, "user_0002")])

    failure, out = run_failing("sync_contact_groups", "--actor", staff.username, "--concurrency", "3")

    creates = [(call["body"]["From_Account"], call["body"]["GroupContactItem"][0]["GroupName"])
               for call in chat.calls_to(CREATE)]
    assert len(creates) == len(set(creates)) == 37
    assert ContactGroup.objects.exclude(pk=doomed.pk).filter(state=ContactGroup.State.SYNCED).count() == 36
    assert "Synced 37 groups" in out and "36 synced, 1 failed" in out
    assert f"Group {doomed.pk} “doomed” of not_in_chat: Failed (" in out
    assert "1 of 37 groups did not sync fully" in str(failure)
    assert SyncAttempt.objects.filter(actor=staff).count() == 37
    assert len(history(staff)) == 37


def test_a_runs_first_tasks_are_staggered_so_they_do_not_end_and_store_together():
    sizes = list(itertools.islice(runs.chunk_sizes(25, 4), 7))
    assert sizes == [12, 15, 18, 21, 25, 25, 25]
    assert list(itertools.islice(runs.chunk_sizes(1, 3), 4)) == [1, 1, 1, 1]


def test_a_runs_last_tasks_shrink_with_the_groups_left_so_its_threads_run_out_of_work_together():
    sizes, handed = [], 0
    for size in runs.chunk_sizes(25, 4, total=200):
        if handed >= 200:
            break
        sizes.append(size)
        handed += size
    assert sizes == [12, 15, 18, 21, 25, 25, 21, 16, 12, 12, 12, 12]
    # A small run: a task for each of its groups while there are fewer than threads.
    assert list(itertools.islice(runs.chunk_sizes(25, 24, total=10), 10)) == [1] * 10


def test_a_runs_progress_reads_its_groups_by_ranges_and_yields_only_them(owner, make_group):
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    groups = [make_group(owner, f"group {number}").pk for number in range(8)]
    run = {groups[0], groups[1], groups[2], groups[4], groups[5], groups[7]}
    started = timezone.now()
    # Every group ends, those between the run's included, and one of the run's is deleted meanwhile.
    ContactGroup.objects.update(state=ContactGroup.State.SYNCED, updated_at=timezone.now())
    ContactGroup.objects.filter(pk=groups[5]).delete()

    with CaptureQueriesContext(connection) as queries:
        ends = list(runs.follow(set(run), started, stall=5))

    assert sorted(end.group_pk for end in ends if end.state == ContactGroup.State.SYNCED) == sorted(run - {groups[5]})
    assert [end.group_pk for end in ends if end.state == ContactGroup.State.DELETED] == [groups[5]]
    listed = [query["sql"] for query in queries.captured_queries
              if re.search(r'"contactgroups_contactgroup"\."id" IN \(\d+, ', query["sql"])]
    assert queries.captured_queries and not listed  # the ids of the run are read as a range, not one by one
    exact = ContactGroup.objects.filter(runs.spans(sorted(run), gap=0)).values_list("pk", flat=True)
    assert sorted(exact) == sorted(run - {groups[5]})


def test_sync_keeps_going_past_a_failing_group_and_exits_non_zero(chat, owner, make_group, staff):
    stranger = ChatUser.objects.create(user_id="not_in_chat")
    make_group(owner, "first", [(C2C, "user_0002")])
    doomed = make_group(stranger, "doomed", [(C2C, "user_0002")])
    make_group(owner, "last", [(C2C, "user_0003")])
    failure, out = run_failing("sync_contact_groups", "--actor", staff.username, "--concurrency", "2")
    assert failure.returncode == 1
    assert str(failure) == "1 of 3 groups did not sync fully; see the lines above and the admin."
    assert f"Group {doomed.pk} “doomed” of not_in_chat: Failed (50001 " in out
    assert "2 synced, 1 failed" in out
    assert ContactGroup.objects.filter(state=ContactGroup.State.SYNCED).count() == 2


def test_sync_counts_a_partly_refused_group_as_failed(chat, owner, make_group, staff):
    group = make_group(owner, "mixed", [(C2C, "user_0002"), (C2C, "never_imported")])
    failure, out = run_failing("sync_contact_groups", "--actor", staff.username)
    assert failure.returncode == 1
    refused = words.code_text(errors.ACCOUNT_NOT_IMPORTED, "To_Account never_imported is not imported")
    line = f"Group {group.pk} “mixed” of user_0001: Partly refused (refused: never_imported, {refused})"
    assert line in out.splitlines()


def test_the_sync_summary_follows_language_code(chat, owner, make_group, staff, settings):
    make_group(owner, "work", [(C2C, "user_0002")])
    settings.LANGUAGE_CODE = "zh-hans"
    translation.deactivate()  # no language active: the commands speak LANGUAGE_CODE's
    out, _err = run("sync_contact_groups", "--actor", staff.username, "--pending")
    with translation.override("zh-hans"):
        opening = translation.ngettext(
            "Syncing %(count)d pending group as %(actor)s, %(concurrency)d at a time, at most %(rate)s Chat calls a "
            "second per endpoint.",
            "Syncing %(count)d pending groups as %(actor)s, %(concurrency)d at a time, at most %(rate)s Chat calls a "
            "second per endpoint.", 1)
        summary = translation.ngettext("Synced %(count)d group in %(seconds).1f s (%(rate).1f groups/s): %(states)s.",
                                       "Synced %(count)d groups in %(seconds).1f s (%(rate).1f groups/s): %(states)s.",
                                       1)
        synced = translation.gettext("%(count)d %(state)s") % {
            "count": 1, "state": str(ContactGroup.State.SYNCED.label).lower()}
    first, last = out.splitlines()
    for template, line in ((opening, first), (summary, last)):
        for fragment in re.split(r"%\(\w+\)[.\d]*[dsf]", template):
            assert fragment in line
    assert synced in last
    for english in ("Syncing", "pending group", "at a time", "Chat calls a second", "Synced", "groups/s", "1 synced"):
        assert english not in out
    assert re.search(r"[\u4e00-\u9fff]", first) and re.search(r"[\u4e00-\u9fff]", last)


def test_sync_dry_run_changes_nothing_and_calls_chat_not_at_all(chat, owner, make_group, staff):
    group = make_group(owner, "work", [(C2C, "user_0002")], state=ContactGroup.State.QUEUED)
    out, _err = run("sync_contact_groups", "--actor", staff.username, "--dry-run")
    group.refresh_from_db()
    assert group.state == ContactGroup.State.QUEUED
    assert chat.calls_to() == [] and SyncAttempt.objects.count() == 0 and LogEntry.objects.count() == 0
    assert f"Would sync group {group.pk} “work” of user_0001 (queued): create it in Chat." in out
    assert "Dry run: 1 pending group would be synced" in out


def test_sync_rate_caps_the_chat_calls_a_second(chat, owner, make_group, staff):
    for number in range(3):
        make_group(owner, f"group {number}", [(C2C, "user_0002")])
    run("sync_contact_groups", "--actor", staff.username, "--rate", "2", "--concurrency", "3")
    times = sorted(call["time"] for call in chat.calls_to(CREATE))
    assert len(times) == 3 and times[2] - times[0] >= 0.99


def test_sync_plain_progress_lines_when_not_on_a_terminal(chat, owner, make_group, staff):
    for number in range(3):
        make_group(owner, f"group {number}", [(C2C, "user_0002")])
    _out, err = run("sync_contact_groups", "--actor", staff.username)
    assert "sync_contact_groups: 3/3 groups (100%), 0 failed" in err
    assert "\r" not in err


def test_the_command_in_its_own_process_prints_plain_progress_and_exits_1_on_failure(
        chat, owner, make_group, staff, settings):
    stranger = ChatUser.objects.create(user_id="not_in_chat")
    make_group(owner, "fine", [(C2C, "user_0002")])
    make_group(stranger, "doomed", [(C2C, "user_0002")])
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": database_url(connection.settings_dict), "CHAT_API_BASE_URL": chat.base_url,
           "CELERY_BROKER_URL": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "sync_contact_groups", "--actor", staff.username, "--concurrency", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1, result.stderr
    assert "sync_contact_groups: 2/2 groups (100%), 1 failed" in result.stderr
    assert "\r" not in result.stderr
    assert "CommandError: 1 of 2 groups did not sync fully" in result.stderr
    assert "1 synced, 1 failed" in result.stdout


def test_an_interrupted_run_keeps_what_chat_confirmed_and_leaves_the_rest_untouched(
        chat, owner, make_group, staff):
    import signal
    import time

    from tests.conftest import wait_until

    owners = [ChatUser.objects.create(user_id=f"owner_{n}") for n in range(8)]
    chat.import_accounts(*[user.user_id for user in owners])
    for user in owners:
        for number in range(15):
            make_group(user, f"group {number}", [(C2C, "user_0002")])
    chat.set_faults(latency_ms=300)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": database_url(connection.settings_dict), "CHAT_API_BASE_URL": chat.base_url,
           "CELERY_BROKER_URL": ""}
    command = subprocess.Popen(
        [sys.executable, "manage.py", "sync_contact_groups", "--actor", staff.username, "--concurrency", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        start_new_session=True,
        # As from a terminal: a run started in the background by a shell without job control ignores Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_until(lambda: len(chat.calls_to(CREATE)) >= 10, timeout=60)
    os.killpg(command.pid, signal.SIGINT)  # as a terminal's Ctrl-C does
    _out, err = command.communicate(timeout=120)

    assert command.returncode == 1, err
    assert re.search(r"Interrupted after \d+ of 120 groups; what Chat confirmed for the syncs already under way "
                     r"was saved, and the rest are untouched.", err)
    created = {(call["body"]["From_Account"], call["body"]["GroupContactItem"][0]["GroupName"])
               for call in chat.calls_to(CREATE)}
    assert 10 <= len(created) < 120
    time.sleep(0.5)
    for group in ContactGroup.objects.select_related("owner").filter(owner__in=owners):
        assert (group.sync.lock_token, group.sync.lock_until) == ("", None)
        if (group.owner.user_id, group.name) in created:
            assert group.state == ContactGroup.State.SYNCED and group.sync.chat_group_id is not None
        else:
            assert (group.state, group.sync.create_intent) == (ContactGroup.State.DRAFT, "")
    assert SyncAttempt.objects.count() == len(created)


# pull_contact_groups -----------------------------------------------------------------------------------------


def test_pull_reports_what_differed_and_records_it_under_the_actor(chat, owner, make_group, staff):
    chat.post(CREATE, {"From_Account": owner.user_id, "GroupContactItem": [
        {"GroupName": "from the app", "ContactItem": [{"Type": C2C, "To_Account": "user_0003"}]}]})
    out, _err = run("pull_contact_groups", "--actor", staff.username, "--owner", owner.user_id)
    assert "user_0001: new from Chat: from the app" in out
    assert "1 group differed (1 new from Chat, 0 changed, 0 gone from Chat)" in out
    adopted = ContactGroup.objects.get(name="from the app")
    assert LogEntry.objects.get(object_id=str(adopted.pk)).user == staff
    assert SyncAttempt.objects.get(operation="get_contact_group").actor == staff


def test_pull_keeps_going_past_a_failing_owner_and_exits_non_zero(chat, owner, staff):
    ChatUser.objects.create(user_id="aaa_not_in_chat")
    chat.post(CREATE, {"From_Account": owner.user_id, "GroupContactItem": [
        {"GroupName": "from the app", "ContactItem": [{"Type": C2C, "To_Account": "user_0003"}]}]})
    failure, out = run_failing("pull_contact_groups", "--actor", staff.username, "--all-owners")
    assert failure.returncode == 1
    assert "aaa_not_in_chat: the pull failed:" in out
    assert ContactGroup.objects.filter(name="from the app").exists()


def test_pull_all_owners_leaves_out_users_chat_does_not_have(chat, owner, staff):
    ChatUser.objects.create(user_id="known_missing", import_state=ChatUser.ImportState.NOT_IMPORTED)
    run("pull_contact_groups", "--actor", staff.username, "--all-owners")
    assert [call["body"]["From_Account"] for call in chat.calls_to(GET)] == [owner.user_id]


def test_pull_dry_run_changes_nothing_and_calls_chat_not_at_all(chat, owner, staff):
    out, _err = run("pull_contact_groups", "--actor", staff.username, "--all-owners", "--dry-run")
    assert chat.calls_to() == [] and SyncAttempt.objects.count() == 0
    assert "Would pull the groups of user_0001 from Chat." in out


# import_chat_users -------------------------------------------------------------------------------------------


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_import_users_adds_them_imports_them_and_checks_them(chat_sandbox, staff, tmp_path):
    path = write(tmp_path, "users.csv", "user_id,nickname\nalice,Alice\nbob,\ncarol,Carol C.\n")
    out, _err = run("import_chat_users", path, "--actor", staff.username)
    users = dict(ChatUser.objects.values_list("user_id", "import_state"))
    assert users == {"alice": "imported", "bob": "imported", "carol": "imported"}
    assert ChatUser.objects.get(user_id="carol").nickname == "Carol C."
    assert [call["body"]["AccountList"] for call in chat_sandbox.calls_to(IMPORT)] == [[
        {"UserID": "alice", "Nick": "Alice"}, {"UserID": "bob"}, {"UserID": "carol", "Nick": "Carol C."}]]
    assert {user_id: profile["Nick"] for user_id, profile in chat_sandbox.snapshot()["accounts"].items()} == {
        "alice": "Alice", "bob": "", "carol": "Carol C."}
    assert len(chat_sandbox.calls_to(CHECK)) == 1
    assert "Imported into Chat: 3 of 3 users" in out
    assert LogEntry.objects.filter(user=staff, action_flag=ADDITION).count() == 3


def test_import_users_sends_them_in_batches_of_chat_maximum(chat_sandbox, staff, tmp_path):
    rows = "".join(f"user_{n:04d}\n" for n in range(250))
    run("import_chat_users", write(tmp_path, "users.csv", "user_id\n" + rows), "--actor", staff.username)
    assert [len(call["body"]["Accounts"]) for call in chat_sandbox.calls_to(IMPORT)] == [100, 100, 50]
    assert ChatUser.objects.filter(import_state=ChatUser.ImportState.IMPORTED).count() == 250


def test_import_users_refuses_bad_rows_by_number_and_imports_the_rest(chat_sandbox, staff, tmp_path):
    long_id = "x" * (protocol.USER_ID_MAX_BYTES + 1)
    path = write(tmp_path, "users.csv", f"user_id\nalice\n{long_id}\nalice\nbob\n")
    failure, out = run_failing("import_chat_users", path, "--actor", staff.username)
    assert failure.returncode == 1
    assert f"Row 3, user_id: This UserID is {protocol.USER_ID_MAX_BYTES + 1} bytes in UTF-8" in out
    assert "Row 4, user_id: alice is already listed in row 2." in out
    assert sorted(ChatUser.objects.values_list("user_id", flat=True)) == ["alice", "bob"]


def test_import_users_unimported_takes_every_user_chat_does_not_have(chat_sandbox, staff):
    ChatUser.objects.create(user_id="new_one")
    ChatUser.objects.create(user_id="done", import_state=ChatUser.ImportState.IMPORTED)
    run("import_chat_users", "--unimported", "--actor", staff.username)
    assert [call["body"]["Accounts"] for call in chat_sandbox.calls_to(IMPORT)] == [["new_one"]]
    assert ChatUser.objects.get(user_id="new_one").import_state == ChatUser.ImportState.IMPORTED


def test_import_users_from_a_file_also_needs_the_permission_to_add_users(chat_sandbox, make_staff, tmp_path):
    make_staff("importer", "import_chatuser")
    failure, _out = run_failing("import_chat_users", write(tmp_path, "u.csv", "user_id\na\n"), "--actor", "importer")
    assert "contactgroups.add_chatuser" in str(failure)
    run("import_chat_users", "--unimported", "--actor", "importer")


def test_import_users_dry_run_changes_nothing_and_calls_chat_not_at_all(chat_sandbox, staff, tmp_path):
    out, _err = run("import_chat_users", write(tmp_path, "u.csv", "user_id\nalice\n"), "--actor", staff.username,
                    "--dry-run")
    assert ChatUser.objects.count() == 0 and chat_sandbox.calls_to() == []
    assert "Would add alice (row 2)." in out


def test_import_users_with_wrong_columns_changes_nothing(chat_sandbox, staff, tmp_path):
    failure, _out = run_failing("import_chat_users", write(tmp_path, "u.csv", "userid,nick\nalice,A\n"),
                                "--actor", staff.username)
    assert "must name the columns user_id, nickname (optional)" in str(failure)
    assert "Nothing was changed." in str(failure)
    assert ChatUser.objects.count() == 0 and chat_sandbox.calls_to() == []


def test_import_users_keeps_going_when_chat_refuses_a_batch(chat_sandbox, staff, tmp_path):
    chat_sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.INVALID_PARAMETER], endpoints=[IMPORT], max_faults=1)
    rows = "".join(f"user_{n:04d}\n" for n in range(150))
    failure, out = run_failing("import_chat_users", write(tmp_path, "u.csv", "user_id\n" + rows),
                               "--actor", staff.username)
    assert failure.returncode == 1
    assert ChatUser.objects.filter(import_state=ChatUser.ImportState.IMPORTED).count() == 50
    assert "Imported into Chat: 50 of 150 users; 100 not imported, 0 failed." in out


# export_contact_groups ---------------------------------------------------------------------------------------


def exported(buffer: io.StringIO) -> str:
    """The CSV the command wrote, after the byte-order mark it starts with (as the admin's download does)."""
    assert buffer.getvalue().startswith("\ufeff")
    return buffer.getvalue()[1:]


def test_export_writes_one_row_per_conversation_as_the_database_holds_it(chat, owner, make_group, staff):
    make_group(owner, "work", [(C2C, "user_0002"), (C2C, "never_imported"), (GROUP, "@TGS#1")])
    make_group(owner, "empty")
    run_failing("sync_contact_groups", "--actor", staff.username, "--all")  # partly refused: never_imported
    buffer = io.StringIO()
    call_command("export_contact_groups", "--actor", staff.username, stdout=buffer, stderr=io.StringIO())
    rows = list(csv.DictReader(io.StringIO(exported(buffer))))
    expected = []
    for group in ContactGroup.objects.order_by("pk"):
        items = list(group.items.order_by("pk")) or [None]
        for item in items:
            expected.append({
                "owner": group.owner.user_id, "group_name": group.name,
                "group_id": str(group.sync.chat_group_id) if group.sync.chat_group_id is not None else "",
                "state": group.state,
                # A group id starts with @, so the cell carries the quote that keeps spreadsheets from running it.
                "type": str(item.type) if item else "", "target": spreadsheet.neutralise(item.target if item else ""),
                "result_code": str(item.result_code) if item and item.result_code is not None else "",
                "result_info": item.result_info if item else "",
            })
    assert rows == expected
    assert {row["result_code"] for row in rows if row["target"] == "never_imported"} == {"50001"}


def test_export_leaves_out_deleted_groups_unless_asked(owner, make_group, staff):
    make_group(owner, "gone", [(C2C, "user_0002")], state=ContactGroup.State.DELETED)
    make_group(owner, "here", [(C2C, "user_0002")])
    buffer = io.StringIO()
    call_command("export_contact_groups", "--actor", staff.username, stdout=buffer, stderr=io.StringIO())
    assert [row["group_name"] for row in csv.DictReader(io.StringIO(exported(buffer)))] == ["here"]
    buffer = io.StringIO()
    call_command("export_contact_groups", "--actor", staff.username, "--include-deleted", stdout=buffer,
                 stderr=io.StringIO())
    assert [row["group_name"] for row in csv.DictReader(io.StringIO(exported(buffer)))] == ["gone", "here"]


def test_export_owner_limits_it_to_their_groups(owner, make_group, staff, tmp_path):
    other = ChatUser.objects.create(user_id="user_0009")
    make_group(owner, "mine", [(C2C, "user_0002")])
    make_group(other, "theirs", [(C2C, "user_0002")])
    path = tmp_path / "export.csv"
    run("export_contact_groups", "--actor", staff.username, "--owner", other.user_id, "--output", str(path))
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    assert [(row["owner"], row["group_name"]) for row in rows] == [("user_0009", "theirs")]


def test_export_can_be_read_back_by_the_import(chat, owner, make_group, staff, tmp_path):
    make_group(owner, "work", [(C2C, "user_0002"), (GROUP, "@TGS#1")])
    buffer = io.StringIO()
    call_command("export_contact_groups", "--actor", staff.username, stdout=buffer, stderr=io.StringIO())
    rows = list(csv.DictReader(io.StringIO(exported(buffer))))
    ContactGroup.objects.all().delete()
    text = "owner,group_name,type,target\n" + "".join(
        f"{row['owner']},{row['group_name']},{row['type']},{row['target']}\n" for row in rows)
    run("import_contact_groups", write(tmp_path, "again.csv", text), "--actor", staff.username)
    [group] = ContactGroup.objects.all()
    assert sorted((item.type, item.target) for item in group.items.all()) == [(C2C, "user_0002"), (GROUP, "@TGS#1")]


def test_export_of_many_groups_stays_in_order_across_chunks(owner, staff):
    from contactgroups import exports as export

    users = [ChatUser.objects.create(user_id=f"bulk_{n:02d}") for n in range(60)]
    groups = ContactGroup.objects.bulk_create(ContactGroup(owner=user, name=f"g{n}")
                                              for user in users for n in range(20))
    GroupSync.objects.bulk_create(GroupSync.for_groups(groups))
    buffer = io.StringIO()
    call_command("export_contact_groups", "--actor", staff.username, stdout=buffer, stderr=io.StringIO())
    rows = list(csv.DictReader(io.StringIO(exported(buffer))))
    assert len(rows) == 1200 > export.GROUP_CHUNK
    assert [(row["owner"], row["group_name"]) for row in rows] == list(
        ContactGroup.objects.order_by("pk").values_list("owner__user_id", "name"))


# The shared helpers ------------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    """A text stream that says it is a terminal, as a command's stderr does in an operator's shell."""

    def isatty(self):
        return True


def test_a_terminal_gets_a_progress_bar_instead_of_lines():
    from contactgroups.management.base import ProgressReporter

    screen = Terminal()
    progress = ProgressReporter(screen, 3, "sync_contact_groups", "group")
    for _ in range(3):
        progress.advance()
    progress.close()
    assert "\r" in screen.getvalue() and "3/3" in screen.getvalue()
    assert "groups (100%)" not in screen.getvalue()
