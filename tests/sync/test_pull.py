"""A pull makes the mirror what Chat (the sandbox) holds after anything the user did in the app, all or nothing."""

import pytest
from django.contrib.admin.models import LogEntry
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from contactgroups import sync, words
from contactgroups.chat import errors, protocol
from contactgroups.chat.types import Conversation
from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt
from contactgroups.sync import pull
from contactgroups.sync.lease import Lease
from tests.sync.test_sync import CREATE, DELETE, UPDATE, as_app, change_members, chat_groups, contact, history

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
    return {group.name: (group.sync.chat_group_id, {(c.type, c.target) for c in group.items.conversations()})
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
    assert old.state == ContactGroup.State.DELETED and old.sync.chat_group_id == 1
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


def test_a_name_from_the_app_that_cannot_be_sent_again_is_a_conflict_not_a_crash(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, " padded ", (C2C, "user_0002"))
    sync.pull_owner(alice.pk, staff.pk)
    group = ContactGroup.objects.get()
    app_deletes(chat_sandbox, " padded ")
    ContactItem.objects.create(group=group, type=C2C, to_account="user_0003")
    result = sync.sync_group(group.pk, staff.pk)  # re-creating it under that name is not sent
    group.refresh_from_db()
    assert chat_groups(chat_sandbox, OWNER) == {}
    assert result.state == group.state == ContactGroup.State.PARTIAL
    assert group.sync.conflicts == [{"code": "name_not_sendable", "name": " padded "}]
    assert "Rename the group here" in history(group)[-1]
    ContactGroup.objects.filter(pk=group.pk).update(name="work")
    assert sync.sync_group(group.pk, staff.pk).state == ContactGroup.State.SYNCED
    assert chat_groups(chat_sandbox, OWNER) == {"work": (2, {(C2C, "user_0002"), (C2C, "user_0003")})}


def test_a_togroupid_longer_than_the_column_is_reported_and_never_cut(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, "work", (C2C, "user_0002"), (GROUP, LONG_ID))
    report = sync.pull_owner(alice.pk, staff.pk)
    group = ContactGroup.objects.get(name="work")
    assert mirror(alice) == {"work": (1, {(C2C, "user_0002")})}
    assert not ContactItem.objects.filter(type=GROUP).exists()  # not stored cut to 48 bytes either
    assert report.not_stored == [{"code": "not_stored", "owner": OWNER, "name": "work", "group_id": 1,
                                  "conversation": [GROUP, LONG_ID], "reason": "too_long", "bytes": 60, "max": 48}]
    assert group.sync.last_outcome["not_stored"] == [{"conversation": [GROUP, LONG_ID], "reason": "too_long",
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
    assert not ContactGroup.objects.filter(sync__lock_until__isnull=False).exists()


def test_the_pull_report_keeps_its_shape(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, "work")
    report = sync.pull_owner(alice.pk, staff.pk)
    assert (len(report.adopted), report.changed, report.deleted, report.skipped, report.unchanged) == (1, [], [], [], 0)
    assert report.not_stored == [] and report.held_back == [] and report.differed == 1


# A model-based test: random app-side changes, staff edits, syncs and pulls; Chat (the sandbox) is the model. ------

NAMES = ["A", "B", "C", " padded ", "tab\there"]
STAFF_NAMES = ["A", "B", "C", "D"]  # the admin's form refuses the others
PEERS = ["user_0002", "user_0003", "user_0004"]
CONVERSATIONS = [(C2C, peer) for peer in PEERS] + [(GROUP, "@TGS#one"), (GROUP, "@TGS#two"), (GROUP, LONG_ID)]
STAFF_CONVERSATIONS = CONVERSATIONS[:-1]  # the admin's form refuses the long ToGroupId


def storable(chat):
    """Chat's groups as the mirror can hold them: without the conversations no row can hold."""
    return {name: (group_id, {c for c in members if ContactItem.storage_problem(Conversation(*c)) is None})
            for name, (group_id, members) in chat.items()}


class PullMachine(RuleBasedStateMachine):
    """The user's app, the staff and the pull take turns; after a pull the mirror is Chat, after a sync no staff
    change is lost without a recorded conflict."""

    server = None
    staff = None
    steps = 0
    examples = 0

    def __init__(self):
        super().__init__()
        PullMachine.examples += 1
        self.server.reset()
        self.server.import_accounts(OWNER, *PEERS)
        LogEntry.objects.all().delete()
        SyncAttempt.objects.all().delete()
        ContactGroup.objects.all().delete()
        ChatUser.objects.all().delete()
        self.owner = ChatUser.objects.create(user_id=OWNER, nickname="Alice")
        self.edits = {}  # group pk -> what the staff changed since the group last met Chat

    def chat(self):
        return chat_groups(self.server, OWNER)

    def app(self, endpoint, body):
        PullMachine.steps += 1
        return self.server.post(endpoint, {"From_Account": OWNER, **body})

    def live(self):
        return list(ContactGroup.objects.live().filter(owner=self.owner).order_by("pk"))

    # The user, in the app.

    @rule(name=st.sampled_from(NAMES), members=st.sets(st.sampled_from(CONVERSATIONS), max_size=3))
    def app_creates(self, name, members):
        self.app(CREATE, {"GroupContactItem": [{"GroupName": name,
                                                "ContactItem": [contact(*c) for c in sorted(members)]}]})

    @rule(old=st.sampled_from(NAMES), new=st.sampled_from(NAMES))
    def app_renames(self, old, new):
        self.app(UPDATE, {"UpdateType": 1, "UpdateGroup": {"UpdateGroupType": protocol.RENAME_GROUP,
                                                           "OldGroupName": old, "NewGroupName": new}})

    @rule(first=st.sampled_from(NAMES), second=st.sampled_from(NAMES))
    def app_swaps(self, first, second):
        for old, new in ((first, "tmp"), (second, first), ("tmp", second)):
            self.app_renames(old, new)

    @rule(name=st.sampled_from(NAMES), recreate=st.booleans())
    def app_deletes(self, name, recreate):
        self.app(DELETE, {"GroupName": [name]})
        if recreate:
            self.app_creates(name, {CONVERSATIONS[0]})

    @rule(name=st.sampled_from(NAMES), conversation=st.sampled_from(CONVERSATIONS), add=st.booleans())
    def app_changes_members(self, name, conversation, add):
        operation = protocol.OPERATION_ADD if add else protocol.OPERATION_REMOVE
        self.app(UPDATE, {"UpdateType": 1, "UpdateGroup": change_members(name, operation, *conversation)})

    # The staff, in the admin.

    @rule(pick=st.integers(0, 9), name=st.sampled_from(STAFF_NAMES))
    def staff_renames(self, pick, name):
        groups = self.live()
        if not groups or any(group.name == name for group in groups):
            return  # the form refuses a name another group has
        PullMachine.steps += 1
        group = groups[pick % len(groups)]
        ContactGroup.objects.filter(pk=group.pk).update(name=name)
        self.edits.setdefault(group.pk, {})["name"] = name

    @rule(pick=st.integers(0, 9), conversation=st.sampled_from(STAFF_CONVERSATIONS), add=st.booleans())
    def staff_changes_members(self, pick, conversation, add):
        groups = self.live()
        if not groups:
            return
        PullMachine.steps += 1
        group = groups[pick % len(groups)]
        fields = ContactItem.fields_of(Conversation(*conversation))
        if add:
            ContactItem.objects.get_or_create(group=group, **fields)
        else:
            group.items.filter(**fields).delete()
        self.edits.setdefault(group.pk, {}).setdefault("members", {})[conversation] = add

    @rule(pick=st.integers(0, 9))
    def staff_syncs(self, pick):
        groups = self.live()
        if not groups:
            return
        PullMachine.steps += 1
        group = groups[pick % len(groups)]
        edit = self.staff_change(group, self.edits.pop(group.pk, {}))
        try:
            sync.sync_group(group.pk, self.staff.pk)
        except errors.ChatError:
            pass  # refused (a name the user took in the meantime): the edit stays in the mirror, failed
        group.refresh_from_db()
        chat = self.chat()
        conflicts = {conflict["code"] for conflict in group.sync.conflicts or []}
        if group.state == ContactGroup.State.FAILED:
            assert "name" not in edit or group.name == edit["name"]  # kept here, shown as failed
            return
        if "name" in edit:
            assert edit["name"] in chat or conflicts, (edit, chat, group.sync.conflicts)
        members = chat.get(group.sync.confirmed_name, (None, set()))[1]
        for conversation, added in edit.get("members", {}).items():
            assert (conversation in members) == added or conflicts, (conversation, added, chat)

    @staticmethod
    def staff_change(group, edit):
        """What of the staff's edits differs from what Chat last confirmed: the change a sync must send.

        An edit that puts back what Chat confirmed (a name or conversation removed and restored, a rename undone
        after a failed sync) changes nothing; what the user did in the app since is adopted, not a lost change.
        """
        confirmed = {tuple(pair) for pair in group.sync.confirmed_conversations}
        change = {}
        if "name" in edit and (edit["name"] != group.sync.confirmed_name or not group.sync.confirmed_name):
            change["name"] = edit["name"]
        members = {conversation: added for conversation, added in edit.get("members", {}).items()
                   if added != (conversation in confirmed)}
        if members:
            change["members"] = members
        return change

    @rule()
    def pull(self):
        PullMachine.steps += 1
        report = sync.pull_owner(self.owner.pk, self.staff.pk)
        assert not report.skipped and not report.held_back
        self.edits.clear()  # a pull replaces unsynced edits; its history says so
        assert mirror(self.owner) == storable(self.chat())

    @invariant()
    def names_are_unique_among_live_groups(self):
        names = [group.name for group in self.live()]
        assert len(names) == len(set(names))


def test_the_mirror_is_chat_after_any_sequence_of_app_changes_staff_edits_syncs_and_pulls(chat_sandbox, staff):
    PullMachine.server, PullMachine.staff = chat_sandbox, staff
    PullMachine.steps = PullMachine.examples = 0
    run_state_machine_as_test(PullMachine, settings=settings(
        max_examples=150, stateful_step_count=30, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck)))
    print(f"pull model: {PullMachine.examples} cases, {PullMachine.steps} steps")
    assert PullMachine.examples >= 150
