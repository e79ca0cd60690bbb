"""Syncing a group brings Chat (the sandbox, over HTTP) to match, and keeps what Chat said."""

import json

import pytest
from django.contrib.admin.models import LogEntry

from contactgroups import sync, words
from contactgroups.chat import errors, protocol
from contactgroups.models import ContactGroup, SyncAttempt

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
CREATE = "recentcontact/create_contact_group"
UPDATE = "recentcontact/update_contact_group"
GET = "recentcontact/get_contact_group"
DELETE = "recentcontact/del_contact_group"

pytestmark = pytest.mark.django_db


def chat_groups(server, owner):
    """{name: (GroupId, {(type, target), ...})} of ``owner`` as Chat holds them now."""
    answer = server.post(GET, {"From_Account": owner, "StartIndex": 0})
    groups = {item["GroupName"]: item["GroupId"] for item in answer["GroupItem"]}
    members = {group_id: set() for group_id in groups.values()}
    while True:
        for contact in answer["ContactItem"]:
            key = (contact["Type"], contact.get("To_Account") or contact.get("ToGroupId"))
            for group_id in contact["ContactGroupId"]:
                members[group_id].add(key)
        if answer["CompleteFlag"] == 1:
            break
        answer = server.post(GET, {"From_Account": owner, "StartIndex": answer["NextStartIndex"]})
    return {name: (group_id, members[group_id]) for name, group_id in groups.items()}


def change_members(group_name, operation, kind, target):
    return {"UpdateGroupType": 2, "OldGroupName": group_name,
            "ContactUpdateItem": [{"ContactOptType": operation, "ContactItem": contact(kind, target)}]}


def as_app(server, owner, update):
    """The end user changes a group in their app."""
    answer = server.post(UPDATE, {"From_Account": owner, "UpdateType": 1, "UpdateGroup": update})
    assert answer["ErrorCode"] == 0, answer


def contact(kind, target):
    return {"Type": kind, "To_Account": target} if kind == C2C else {"Type": kind, "ToGroupId": target}


@pytest.fixture
def alice(owner, chat_sandbox):
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003", "user_0004")
    return owner


def history(group):
    entries = LogEntry.objects.filter(object_id=str(group.pk)).order_by("id")
    return [words.history_text(entry) for entry in entries]


def test_new_group_is_created_with_its_conversations(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "会议", [(C2C, "user_0002"), (GROUP, "@TGS#1B2AUI7RZ")])
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED
    assert chat_groups(chat_sandbox, "user_0001") == {
        "会议": (group.sync.chat_group_id, {(C2C, "user_0002"), (GROUP, "@TGS#1B2AUI7RZ")})
    }
    assert [(item.result_code, item.result_info) for item in group.items.all()] == [(0, ""), (0, "")]
    assert group.sync.confirmed_name == "会议"
    assert [call["endpoint"] for call in chat_sandbox.calls_to()] == [CREATE]


def test_every_call_is_audited_under_the_staff_user(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    [attempt] = SyncAttempt.objects.all()
    assert attempt.group == group and attempt.actor == staff
    assert attempt.operation == "create_contact_group"
    assert attempt.request == chat_sandbox.calls_to()[0]["body"]
    assert attempt.response["GroupResultItem"][0]["GroupItem"]["GroupId"] == group.sync.chat_group_id
    assert (attempt.http_status, attempt.action_status, attempt.error_code) == (200, "OK", 0)
    assert attempt.outcome == SyncAttempt.Outcome.OK


def test_history_entry_names_the_group_id_under_the_staff_user(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002"), (C2C, "user_0003")])
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    entry = LogEntry.objects.get(object_id=str(group.pk))
    assert entry.user == staff
    assert json.loads(entry.change_message) == [{"sync": group.sync.last_outcome}]
    assert group.sync.last_outcome == {"code": "created", "owner": "user_0001", "group_id": group.sync.chat_group_id,
                                       "added": 2}
    assert words.history_text(entry) == f"Created in Chat as GroupId {group.sync.chat_group_id}: 2 conversations added."


def test_150_conversations_take_two_calls(alice, make_group, chat_sandbox, staff):
    chat_sandbox.import_accounts(*[f"peer_{n}" for n in range(100)])
    chat_sandbox.import_accounts(*[f"peer_{n}" for n in range(100, 150)])
    group = make_group(alice, "big", [(C2C, f"peer_{n}") for n in range(150)])
    sync.sync_group(group.pk, staff.pk)
    calls = chat_sandbox.calls_to()
    assert [call["endpoint"] for call in calls] == [CREATE, UPDATE]
    assert len(calls[0]["body"]["GroupContactItem"][0]["ContactItem"]) == protocol.CONVERSATIONS_PER_REQUEST_MAX
    assert len(chat_groups(chat_sandbox, "user_0001")["big"][1]) == 150
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED
    assert set(group.items.values_list("result_code", flat=True)) == {0}


def test_unimported_conversation_leaves_the_group_partial(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002"), (C2C, "user_9"), (C2C, "user_0003")])
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.PARTIAL
    codes = {item.to_account: item.result_code for item in group.items.all()}
    assert codes == {"user_0002": 0, "user_9": 50001, "user_0003": 0}
    assert chat_groups(chat_sandbox, "user_0001")["work"][1] == {(C2C, "user_0002"), (C2C, "user_0003")}
    [message] = history(group)
    assert "2 conversations added, 1 refused: user_9, 50001" in message
    assert "not been imported" in message


def test_refused_conversation_is_sent_again_once_imported(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_9")])
    sync.sync_group(group.pk, staff.pk)
    chat_sandbox.import_accounts("user_9")
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED
    assert group.items.get().result_code == 0


def test_rename_addresses_the_group_by_its_old_name(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    ContactGroup.objects.filter(pk=group.pk).update(name="office")
    sync.sync_group(group.pk, staff.pk)
    rename = [c for c in chat_sandbox.calls_to(UPDATE)][-1]["body"]["UpdateGroup"]
    assert (rename["UpdateGroupType"], rename["OldGroupName"], rename["NewGroupName"]) == (1, "work", "office")
    assert set(chat_groups(chat_sandbox, "user_0001")) == {"office"}
    group.refresh_from_db()
    assert group.sync.confirmed_name == "office" and group.state == ContactGroup.State.SYNCED


def test_removed_and_added_conversations_follow(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002"), (C2C, "user_0003")])
    sync.sync_group(group.pk, staff.pk)
    group.items.filter(to_account="user_0002").delete()
    group.items.create(type=C2C, to_account="user_0004")
    sync.sync_group(group.pk, staff.pk)
    assert chat_groups(chat_sandbox, "user_0001")["work"][1] == {(C2C, "user_0003"), (C2C, "user_0004")}
    assert "1 conversation added, 1 conversation removed" in history(group)[-1]


def test_sync_without_changes_sends_nothing_but_a_read(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    chat_sandbox.clear_calls()
    sync.sync_group(group.pk, staff.pk)
    assert [call["endpoint"] for call in chat_sandbox.calls_to()] == [GET]
    assert "Chat already matched" in history(group)[-1]


def test_conversation_the_user_added_in_the_app_is_adopted(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    as_app(chat_sandbox, "user_0001", change_members("work", 1, C2C, "user_0003"))
    group.items.create(type=C2C, to_account="user_0004")
    sync.sync_group(group.pk, staff.pk)
    expected = {(C2C, "user_0002"), (C2C, "user_0003"), (C2C, "user_0004")}
    assert chat_groups(chat_sandbox, "user_0001")["work"][1] == expected
    assert {(item.type, item.target) for item in group.items.all()} == expected
    assert "In the app, user_0001 added user_0003" in history(group)[-1]


def test_conversation_the_user_removed_in_the_app_is_not_put_back(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002"), (C2C, "user_0003")])
    sync.sync_group(group.pk, staff.pk)
    as_app(chat_sandbox, "user_0001", change_members("work", 2, C2C, "user_0003"))
    ContactGroup.objects.filter(pk=group.pk).update(name="office")
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert chat_groups(chat_sandbox, "user_0001") == {"office": (group.sync.chat_group_id, {(C2C, "user_0002")})}
    assert {(item.type, item.target) for item in group.items.all()} == {(C2C, "user_0002")}
    assert "removed user_0003" in history(group)[-1]


def test_rename_made_in_the_app_is_adopted(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    as_app(chat_sandbox, "user_0001", {"UpdateGroupType": 1, "OldGroupName": "work", "NewGroupName": "job"})
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert (group.name, group.sync.confirmed_name) == ("job", "job")
    assert set(chat_groups(chat_sandbox, "user_0001")) == {"job"}
    assert "renamed the group to “job”" in history(group)[-1]


def test_when_both_renamed_the_staff_name_wins_and_the_conflict_is_shown(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    as_app(chat_sandbox, "user_0001", {"UpdateGroupType": 1, "OldGroupName": "work", "NewGroupName": "job"})
    ContactGroup.objects.filter(pk=group.pk).update(name="office")
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert set(chat_groups(chat_sandbox, "user_0001")) == {"office"}
    assert group.sync.conflicts == [{"code": "renamed_in_app", "app_name": "job", "staff_name": "office"}]
    assert "renamed the group to “job” in the app; the staff's name “office” wins" in words.conflicts_text(
        group.sync.conflicts, group.owner.user_id)
    assert "Conflict" in history(group)[-1]


def test_group_deleted_in_the_app_is_marked_deleted(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    chat_sandbox.post(DELETE, {"From_Account": "user_0001", "GroupName": ["work"]})
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.DELETED
    assert chat_groups(chat_sandbox, "user_0001") == {}
    assert "deleted this group in the app" in history(group)[-1]


def test_group_deleted_in_the_app_but_edited_by_staff_is_created_again(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    chat_sandbox.post(DELETE, {"From_Account": "user_0001", "GroupName": ["work"]})
    group.items.create(type=C2C, to_account="user_0003")
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED
    assert chat_groups(chat_sandbox, "user_0001")["work"][1] == {(C2C, "user_0002"), (C2C, "user_0003")}
    assert group.sync.conflicts == [{"code": "deleted_in_app"}]


def test_deleting_removes_the_group_from_chat_and_keeps_the_audit(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    ContactGroup.objects.filter(pk=group.pk).update(delete_requested=True, state=ContactGroup.State.DELETING)
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.DELETED
    assert chat_groups(chat_sandbox, "user_0001") == {}
    assert list(SyncAttempt.objects.filter(group=group).values_list("operation", flat=True).order_by("id")) == [
        "create_contact_group", "get_contact_group", "del_contact_group"]


def test_permanent_error_is_stored_and_shown(alice, make_group, chat_sandbox, staff):
    for number in range(protocol.GROUPS_PER_USER_MAX):
        chat_sandbox.post(CREATE, {"From_Account": "user_0001", "GroupContactItem": [{"GroupName": f"app {number}"}]})
    group = make_group(alice, "one too many")
    with pytest.raises(Exception) as raised:
        sync.sync_group(group.pk, staff.pk)
    assert not sync.is_retryable(raised.value)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.FAILED
    assert group.sync.last_error_code == 51010
    assert "at most" in group.sync.last_error_meaning or "most conversation groups" in group.sync.last_error_meaning
    assert "51010" in history(group)[-1]


def test_create_whose_answer_was_lost_is_not_sent_twice(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    chat_sandbox.set_faults(drop_rate=1.0, ambiguous=True, endpoints=[CREATE], max_faults=1)
    with pytest.raises(Exception) as raised:
        sync.sync_group(group.pk, staff.pk)
    assert sync.is_retryable(raised.value)
    sync.sync_group(group.pk, staff.pk)
    assert len(chat_sandbox.calls_to(CREATE)) == 1
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED
    assert chat_groups(chat_sandbox, "user_0001") == {"work": (group.sync.chat_group_id, {(C2C, "user_0002")})}
    assert SyncAttempt.objects.filter(group=group, outcome=SyncAttempt.Outcome.NO_ANSWER).count() == 1


def test_retries_in_process_until_chat_answers(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    chat_sandbox.set_faults(fail_rate=1.0, fail_codes=[50004], endpoints=[CREATE], max_faults=2)
    sync.sync_with_retries(group.pk, staff.pk, sleep=lambda seconds: None)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED
    outcomes = list(SyncAttempt.objects.filter(group=group).order_by("id").values_list("operation", "error_code"))
    assert outcomes[:2] == [("create_contact_group", 50004), ("get_contact_group", 0)]
    assert outcomes[-1] == ("create_contact_group", 0)


def test_gives_up_after_the_last_attempt_and_says_so(alice, make_group, chat_sandbox, staff, settings):
    settings.SYNC_MAX_ATTEMPTS = 3
    group = make_group(alice, "work", [(C2C, "user_0002")])
    chat_sandbox.set_faults(fail_rate=1.0, fail_codes=[50005], endpoints=[CREATE])
    sync.sync_with_retries(group.pk, staff.pk, sleep=lambda seconds: None)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.FAILED
    assert group.sync.last_error_code == 50005
    assert history(group)[-1].startswith("Gave up after 3 attempts")


def test_a_lost_create_is_found_by_the_name_it_sent_after_a_rename_here(alice, make_group, chat_sandbox, staff):
    """The create's answer is lost, then staff rename the group before the retry: the retry finds the group Chat
    made under the name the create sent (kept on the row before the call), renames it, and creates nothing."""
    group = make_group(alice, "work", [(C2C, "user_0002")])
    chat_sandbox.set_faults(drop_rate=1.0, ambiguous=True, endpoints=[CREATE], max_faults=1)
    with pytest.raises(errors.ChatTransportError):
        sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert group.sync.create_intent == "work" and group.sync.chat_group_id is None
    assert group.sync.last_outcome["code"] == "stopped" and group.sync.last_outcome["retrying"] is True

    ContactGroup.objects.filter(pk=group.pk).update(name="office")
    result = sync.sync_group(group.pk, staff.pk)

    assert [call["endpoint"] for call in chat_sandbox.calls_to() if call["endpoint"] != GET] == [CREATE, UPDATE]
    assert chat_groups(chat_sandbox, "user_0001") == {"office": (result.group_id, {(C2C, "user_0002")})}
    group.refresh_from_db()
    assert (group.state, group.sync.create_intent, group.sync.confirmed_name) == (
        ContactGroup.State.SYNCED, "", "office")
    assert result.outcome == group.sync.last_outcome and result.outcome["renamed_from"] == "work"


def test_sync_group_returns_what_it_left_on_the_group(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002"), (C2C, "user_9")])
    result = sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert (result.group_pk, result.state, result.group_id) == (group.pk, "partial", group.sync.chat_group_id)
    assert result.outcome["refused"] == [[C2C, "user_9", 50001, result.outcome["refused"][0][3]]]
    assert result.calls == 1 and not result.failed


def test_the_history_page_says_each_entry_in_words(alice, make_group, chat_sandbox, staff, client):
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    client.force_login(staff)
    page = client.get(f"/admin/contactgroups/contactgroup/{group.pk}/history/").content.decode()
    assert f"Created in Chat as GroupId {group.sync.chat_group_id}: 1 conversation added." in page
    assert '"sync"' not in page


def chat_hands_out_group_ids_from(server, owner, first):
    """Chat's next GroupId for ``owner`` is ``first`` (the sandbox's state, edited as its state file would be)."""
    state = server.snapshot()
    state["users"][owner]["next_group_id"] = first
    server.load(state)


def test_a_group_id_past_32_bits_is_kept_as_chat_gave_it(alice, make_group, chat_sandbox, staff):
    chat_sandbox.post(CREATE, {"From_Account": "user_0001", "GroupContactItem": [{"GroupName": "app"}]})
    chat_hands_out_group_ids_from(chat_sandbox, "user_0001", 4_000_000_000)
    group = make_group(alice, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert (group.state, group.sync.chat_group_id) == (ContactGroup.State.SYNCED, 4_000_000_000)
    assert chat_groups(chat_sandbox, "user_0001")["work"] == (4_000_000_000, {(C2C, "user_0002")})
    assert group.versions.get().chat_group_id == 4_000_000_000


def test_a_group_id_no_column_can_hold_fails_the_sync_and_is_kept_in_the_audit(alice, make_group, chat_sandbox,
                                                                               staff):
    chat_sandbox.post(CREATE, {"From_Account": "user_0001", "GroupContactItem": [{"GroupName": "app"}]})
    chat_hands_out_group_ids_from(chat_sandbox, "user_0001", 2**63)
    group = make_group(alice, "work", [(C2C, "user_0002")])
    with pytest.raises(errors.ChatAnswerError):
        sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.FAILED
    assert group.sync.chat_group_id is None
    create = SyncAttempt.objects.get(operation="create_contact_group")
    assert create.response["GroupResultItem"][0]["GroupItem"]["GroupId"] == 2**63
    assert words.outcome_text(group.sync.last_outcome) == (
        "Sync to Chat stopped: Chat answered in a form this admin cannot read; its answer is kept with the Chat calls.")
