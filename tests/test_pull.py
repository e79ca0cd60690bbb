"""A pull makes the mirror what Chat (the sandbox) holds after anything the user did in the app, all or nothing."""

import pytest

from contactgroups import sync, words
from contactgroups.chat import protocol
from contactgroups.models import ContactGroup, ContactItem
from contactgroups.sync import pull
from contactgroups.sync.lease import Lease
from tests.test_sync import CREATE, DELETE, as_app, change_members, chat_groups, contact, history

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
OWNER = "user_0001"
LONG_ID = "@TGS#" + "L" * 55  # 60 bytes; the mirror's column holds 48

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice(owner, chat_sandbox):
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003", "user_0004")
    return owner


def app_creates(server, name, *conversations):
    body = {"From_Account": OWNER,
            "GroupContactItem": [{"GroupName": name, "ContactItem": [contact(*c) for c in conversations]}]}
    answer = server.post(CREATE, body)
    assert answer["ErrorCode"] == 0, answer


def app_renames(server, old, new):
    as_app(server, OWNER, {"UpdateGroupType": protocol.RENAME_GROUP, "OldGroupName": old, "NewGroupName": new})


def app_deletes(server, name):
    answer = server.post(DELETE, {"From_Account": OWNER, "GroupName": [name]})
    assert answer["ErrorCode"] == 0, answer


def mirror(owner):
    """{name: (GroupId, {(type, target), ...})} of the owner's live groups in the mirror."""
    return {group.name: (group.chat_group_id, {(c.type, c.target) for c in group.items.conversations()})
            for group in ContactGroup.objects.live().filter(owner=owner)}


def test_names_swapped_in_the_app_follow_each_group_by_its_groupid(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, "A", (C2C, "user_0002"))
    app_creates(chat_sandbox, "B", (C2C, "user_0003"))
    sync.pull_owner(alice.pk, staff.pk)
    app_renames(chat_sandbox, "A", "tmp")
    app_renames(chat_sandbox, "B", "A")
    app_renames(chat_sandbox, "tmp", "B")
    report = sync.pull_owner(alice.pk, staff.pk)
    assert mirror(alice) == chat_groups(chat_sandbox, OWNER) == {
        "A": (2, {(C2C, "user_0003")}), "B": (1, {(C2C, "user_0002")})}
    assert sorted((data["renamed_from"], data["name"]) for data in report.changed) == [("A", "B"), ("B", "A")]
    assert words.pull_report_lines(report) == ["user_0001: “A”: renamed from “A” to “B”",
                                               "user_0001: “B”: renamed from “B” to “A”"]


def test_a_group_deleted_and_created_again_under_its_name_is_a_new_group(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, "work", (C2C, "user_0002"))
    sync.pull_owner(alice.pk, staff.pk)
    old = ContactGroup.objects.get()
    app_deletes(chat_sandbox, "work")
    app_creates(chat_sandbox, "work", (C2C, "user_0003"))
    report = sync.pull_owner(alice.pk, staff.pk)
    old.refresh_from_db()
    assert old.state == ContactGroup.State.DELETED and old.chat_group_id == 1
    assert mirror(alice) == {"work": (2, {(C2C, "user_0003")})}
    assert [data["name"] for data in report.deleted] == ["work"]
    assert [(data["name"], data["group_id"]) for data in report.adopted] == [("work", 2)]


def test_names_the_form_would_refuse_are_adopted_as_chat_has_them(alice, chat_sandbox, staff):
    names = [" padded ", "tab\there", "line\nbreak", "bell\x07"]
    for name in names:
        app_creates(chat_sandbox, name, (C2C, "user_0002"))
    report = sync.pull_owner(alice.pk, staff.pk)
    assert sorted(mirror(alice)) == sorted(names)
    assert len(report.adopted) == 4 and not report.held_back


def test_a_togroupid_longer_than_the_column_is_reported_and_never_cut(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, "work", (C2C, "user_0002"), (GROUP, LONG_ID))
    report = sync.pull_owner(alice.pk, staff.pk)
    group = ContactGroup.objects.get(name="work")
    assert mirror(alice) == {"work": (1, {(C2C, "user_0002")})}
    assert not ContactItem.objects.filter(type=GROUP).exists()  # not stored cut to 48 bytes either
    assert report.not_stored == [{"code": "not_stored", "owner": OWNER, "name": "work", "group_id": 1,
                                  "conversation": [GROUP, LONG_ID], "reason": "too_long", "bytes": 60, "max": 48}]
    assert group.last_outcome["not_stored"] == [{"conversation": [GROUP, LONG_ID], "reason": "too_long",
                                                 "bytes": 60, "max": 48}]
    assert f"group {LONG_ID} (60 bytes; the mirror holds at most 48)" in history(group)[0]
    assert "not stored here" in words.pull_report_lines(report)[0]


def test_a_sync_keeps_in_chat_the_conversation_the_mirror_cannot_hold(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, "work", (C2C, "user_0002"), (GROUP, LONG_ID))
    sync.pull_owner(alice.pk, staff.pk)
    group = ContactGroup.objects.get(name="work")
    ContactItem.objects.create(group=group, type=C2C, to_account="user_0003")
    sync.sync_group(group.pk, staff.pk)
    sync.sync_group(group.pk, staff.pk)
    assert chat_groups(chat_sandbox, OWNER) == {"work": (1, {(C2C, "user_0002"), (C2C, "user_0003"),
                                                             (GROUP, LONG_ID)})}
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED


def test_a_conversation_gone_from_chat_is_removed_from_the_mirror(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, "work", (C2C, "user_0002"), (GROUP, "@TGS#expired"))
    sync.pull_owner(alice.pk, staff.pk)
    as_app(chat_sandbox, OWNER, change_members("work", protocol.OPERATION_REMOVE, GROUP, "@TGS#expired"))
    report = sync.pull_owner(alice.pk, staff.pk)
    assert mirror(alice) == {"work": (1, {(C2C, "user_0002")})}
    assert report.changed[0]["removed"] == [[GROUP, "@TGS#expired"]]


def test_a_group_busy_with_a_sync_is_skipped_and_the_others_pulled(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, "A", (C2C, "user_0002"))
    app_creates(chat_sandbox, "B", (C2C, "user_0003"))
    sync.pull_owner(alice.pk, staff.pk)
    app_renames(chat_sandbox, "A", "A2")
    app_renames(chat_sandbox, "B", "B2")
    busy = Lease.take(ContactGroup.objects.get(name="A").pk)
    try:
        report = sync.pull_owner(alice.pk, staff.pk)
    finally:
        busy.release()
    assert report.skipped == ["A"]
    assert sorted(mirror(alice)) == ["A", "B2"]
    assert "user_0001: skipped while another sync runs: A" in words.pull_report_lines(report)


def test_a_name_held_by_a_busy_group_holds_back_the_group_chat_gave_it(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, "A", (C2C, "user_0002"))
    app_creates(chat_sandbox, "B", (C2C, "user_0003"))
    sync.pull_owner(alice.pk, staff.pk)
    app_renames(chat_sandbox, "A", "tmp")
    app_renames(chat_sandbox, "B", "A")
    busy = Lease.take(ContactGroup.objects.get(name="A").pk)
    try:
        report = sync.pull_owner(alice.pk, staff.pk)
    finally:
        busy.release()
    assert sorted(mirror(alice)) == ["A", "B"]
    assert [(data["name"], data["reason"]) for data in report.held_back] == [("A", pull.NAME_TAKEN)]
    assert sync.pull_owner(alice.pk, staff.pk).differed == 2  # the next pull takes both
    assert mirror(alice) == chat_groups(chat_sandbox, OWNER)


def test_a_pull_that_fails_part_way_changes_nothing(alice, chat_sandbox, staff, monkeypatch):
    app_creates(chat_sandbox, "A", (C2C, "user_0002"))
    app_creates(chat_sandbox, "B", (C2C, "user_0003"))
    sync.pull_owner(alice.pk, staff.pk)
    before = mirror(alice)
    app_renames(chat_sandbox, "A", "A2")
    app_renames(chat_sandbox, "B", "B2")
    real, calls = pull._pull_into, []

    def fail_on_the_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real(*args)

    monkeypatch.setattr(pull, "_pull_into", fail_on_the_second)
    with pytest.raises(RuntimeError):
        sync.pull_owner(alice.pk, staff.pk)
    assert mirror(alice) == before
    assert not ContactGroup.objects.filter(sync_lock_until__isnull=False).exists()


def test_the_pull_report_keeps_its_shape(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, "work")
    report = sync.pull_owner(alice.pk, staff.pk)
    assert (len(report.adopted), report.changed, report.deleted, report.skipped, report.unchanged) == (1, [], [], [], 0)
    assert report.not_stored == [] and report.held_back == [] and report.differed == 1
