"""Versions Chat confirmed, kept as data, and restoring one from the history or a deleted group's page.

The tests commit for real and wait for the background syncs, as a person reloads the page; they read what the page
shows and what the sandbox (Chat) holds.
"""

import html
import re

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.timezone import localtime

from contactgroups import sync
from contactgroups.chat import protocol
from contactgroups.conf import chat_client
from contactgroups.models import ContactGroup, GroupVersion
from contactgroups.sync import pipeline, store
from tests.admin_forms import form_as_shown, form_errors, group_form_data
from tests.browser.conftest import chat_groups

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
ADD_URL = reverse("admin:contactgroups_contactgroup_add")

pytestmark = pytest.mark.django_db(transaction=True)


def change_url(group):
    return reverse("admin:contactgroups_contactgroup_change", args=[group.pk])


def history_url(group):
    return reverse("admin:contactgroups_contactgroup_history", args=[group.pk])


def restore_url(group, version):
    return reverse("admin:contactgroups_contactgroup_restore", args=[group.pk, version.pk])


def restore(support, group, version, follow=False):
    """Open the version's restore page (the group's change form filled from the version) and save it as shown."""
    page = support.get(restore_url(group, version))
    assert page.status_code == 200
    return support.post(restore_url(group, version), form_as_shown(page), follow=follow)


def versions(group):
    return [(v.name, v.conversations, v.chat_group_id) for v in GroupVersion.objects.filter(group=group)
            .order_by("confirmed_at", "id")]


def messages_shown(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def text(page: bytes) -> str:
    """The words of a page, tags left out and spaces squeezed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page.decode()))).strip()


@pytest.fixture
def support(client, staff, chat_sandbox):
    chat_sandbox.import_accounts("user_0001", "user_0002", "user_0003", "user_0004")
    client.force_login(staff)
    return client


@pytest.fixture
def work(support, owner, background_syncs):
    """“work” of user_0001 with user_0002 and user_0003, saved in the admin and synced: one version."""
    support.post(ADD_URL, group_form_data(owner=owner, name="work",
                                          items=[(C2C, "user_0002", ""), (C2C, "user_0003", "")]))
    background_syncs.wait()
    return ContactGroup.objects.get(name="work")


def edit(support, group, name, add=(), remove=()):
    """Save the group page with ``name``, the rows whose target is in ``remove`` deleted, ``add`` added."""
    rows = list(group.items.order_by("id"))
    return support.post(change_url(group), group_form_data(
        owner=group.owner, name=name, existing=rows, deleted={row.pk for row in rows if row.target in remove},
        items=[(C2C, target, "") for target in add]), follow=True)


# Versions ------------------------------------------------------------------------------------------------------


def test_each_sync_that_changes_what_chat_holds_keeps_a_version_and_one_that_changes_nothing_keeps_none(
        support, work, staff, background_syncs):
    group_id = ContactGroup.objects.get(pk=work.pk).sync.chat_group_id
    assert versions(work) == [("work", [[C2C, "user_0002"], [C2C, "user_0003"]], group_id)]
    assert GroupVersion.objects.get(group=work).actor == staff

    edit(support, work, "home", add=["user_0004"], remove=["user_0003"])
    background_syncs.wait()
    support.post(reverse("admin:contactgroups_contactgroup_changelist"),
                 {"action": "sync_to_chat", "_selected_action": [work.pk]})
    background_syncs.wait()

    assert versions(work) == [("work", [[C2C, "user_0002"], [C2C, "user_0003"]], group_id),
                              ("home", [[C2C, "user_0002"], [C2C, "user_0004"]], group_id)]


def test_a_confirmed_delete_is_no_version_and_the_versions_before_it_are_kept(support, work, background_syncs):
    support.post(reverse("admin:contactgroups_contactgroup_delete", args=[work.pk]), {"post": "yes"})
    background_syncs.wait()
    assert ContactGroup.objects.get(pk=work.pk).state == ContactGroup.State.DELETED
    assert [name for name, _conversations, _id in versions(work)] == ["work"]


def test_a_bulk_batch_keeps_each_groups_version_in_one_statement(owner, make_group, staff, chat_sandbox):
    chat_sandbox.import_accounts("user_0001", "user_0002")
    groups = [make_group(owner, f"group {n}", [(C2C, "user_0002")]) for n in range(5)]
    claimed, _others = pipeline.claim_many([group.pk for group in groups])
    with chat_client() as client:
        done = pipeline.send_all(claimed, staff.pk, client)
    with CaptureQueriesContext(connection) as saved:
        store.store_many(done, staff.pk)
    inserts = [query["sql"] for query in saved.captured_queries
               if query["sql"].startswith('INSERT INTO "contactgroups_groupversion"')]
    assert len(inserts) == 1
    for group in ContactGroup.objects.filter(pk__in=[group.pk for group in groups]):
        assert versions(group) == [(group.name, [[C2C, "user_0002"]], group.sync.chat_group_id)]


def test_a_pull_that_takes_chats_state_keeps_it_as_a_version(support, work, chat_sandbox):
    chat_sandbox.post("recentcontact/update_contact_group", {
        "From_Account": "user_0001", "UpdateType": 1,
        "UpdateGroup": {"UpdateGroupType": protocol.RENAME_GROUP, "OldGroupName": "work", "NewGroupName": "app"}})
    sync.pull_owner(work.owner_id, None)
    assert [name for name, _conversations, _id in versions(work)] == ["work", "app"]


# Restore --------------------------------------------------------------------------------------------------------


def test_restoring_a_version_shows_what_differs_then_syncs_it_to_chat(support, work, chat_sandbox, background_syncs):
    edit(support, work, "home", add=["user_0004"], remove=["user_0003"])
    background_syncs.wait()
    first = GroupVersion.objects.filter(group=work).order_by("confirmed_at", "id").first()

    history = text(support.get(history_url(work)).content)
    assert "Versions Chat confirmed" in history and history.count("Restore this version") == 2
    page = support.get(restore_url(work, first))
    assert "Compared with the group now: renamed from “home” to “work”, added user_0003, removed user_0004." in \
        text(page.content)

    response = restore(support, work, first, follow=True)
    assert [m for m in messages_shown(response) if "restored" in m] == [
        f"“work (user_0001)” is restored as Chat confirmed it on {first.confirmed_at:%b. %-d, %Y}, "
        f"{_clock(first.confirmed_at)}, and saved; syncing it to Chat. Its page shows how the sync ends."]
    background_syncs.wait()

    assert chat_groups(chat_sandbox, "user_0001") == {"work": [(C2C, "user_0002"), (C2C, "user_0003")]}
    group = ContactGroup.objects.get(pk=work.pk)
    assert (group.name, group.state) == ("work", ContactGroup.State.SYNCED)
    assert sorted(group.items.values_list("to_account", "result_code")) == [("user_0002", 0), ("user_0003", 0)]


def test_the_restore_page_is_the_change_form_filled_from_the_version_and_saves_nothing_until_saved(
        support, work, background_syncs):
    edit(support, work, "home", add=["user_0004"], remove=["user_0003"])
    background_syncs.wait()
    first = GroupVersion.objects.filter(group=work).order_by("confirmed_at", "id").first()
    entries = LogEntry.objects.count()

    page = support.get(restore_url(work, first))

    shown = form_as_shown(page)
    assert shown["name"] == "work"
    rows = {shown[f"items-{n}-to_account"]: shown.get(f"items-{n}-DELETE")
            for n in range(int(shown["items-TOTAL_FORMS"]))}
    assert rows == {"user_0002": None, "user_0004": "on", "user_0003": None}
    assert "The form below is filled with this version; nothing is saved until you save." in text(page.content)
    assert 'name="_save"' in page.content.decode() and 'name="_continue"' not in page.content.decode()
    group = ContactGroup.objects.get(pk=work.pk)
    assert (group.name, sorted(group.items.values_list("to_account", flat=True)), LogEntry.objects.count()) == (
        "home", ["user_0002", "user_0004"], entries)

    restore(support, work, first)

    entry = LogEntry.objects.filter(object_id=str(work.pk)).order_by("-action_time", "-pk").first()
    assert entry.action_flag == CHANGE
    story = text(support.get(history_url(work)).content)
    assert "Restored the version Chat confirmed on" in story
    assert "renamed from “home” to “work”, added user_0003, removed user_0004." in story


def _clock(moment) -> str:
    """Django's English DATETIME_FORMAT time: "10:05 a.m.", "noon"."""
    from django.utils.formats import date_format
    return date_format(moment, "P")


def test_restoring_a_deleted_group_creates_it_in_chat_again(support, work, chat_sandbox, background_syncs):
    old_id = ContactGroup.objects.get(pk=work.pk).sync.chat_group_id
    support.post(reverse("admin:contactgroups_contactgroup_delete", args=[work.pk]), {"post": "yes"})
    background_syncs.wait()
    assert chat_groups(chat_sandbox, "user_0001") == {}

    page = text(support.get(change_url(work)).content)
    assert "This group is deleted. Chat last confirmed it on" in page and "as “work” with 2 conversations." in page
    version = GroupVersion.objects.get(group=work)
    confirm = text(support.get(restore_url(work, version)).content)
    assert "This group is deleted. Restoring it brings it back here and creates it in Chat again" in confirm
    restore(support, work, version)
    background_syncs.wait()

    assert chat_groups(chat_sandbox, "user_0001") == {"work": [(C2C, "user_0002"), (C2C, "user_0003")]}
    group = ContactGroup.objects.get(pk=work.pk)
    assert group.state == ContactGroup.State.SYNCED and not group.delete_requested
    assert group.sync.chat_group_id not in (None, old_id)
    assert f"Created in Chat as GroupId {group.sync.chat_group_id}: 2 conversations added." in text(
        support.get(change_url(group)).content)


def test_a_restore_is_three_way_so_a_rename_made_in_the_app_is_shown_as_a_conflict(support, work, chat_sandbox,
                                                                                    background_syncs):
    edit(support, work, "home")
    background_syncs.wait()
    chat_sandbox.post("recentcontact/update_contact_group", {
        "From_Account": "user_0001", "UpdateType": 1,
        "UpdateGroup": {"UpdateGroupType": protocol.RENAME_GROUP, "OldGroupName": "home", "NewGroupName": "app"}})
    first = GroupVersion.objects.filter(group=work).order_by("confirmed_at", "id").first()

    restore(support, work, first)
    background_syncs.wait()

    assert list(chat_groups(chat_sandbox, "user_0001")) == ["work"]
    page = text(support.get(change_url(work)).content)
    assert "Conflict: user_0001 renamed the group to “app” in the app; the staff's name “work” wins." in page


def test_a_restore_that_breaks_a_limit_says_why_and_changes_nothing(support, work, owner, make_group,
                                                                   background_syncs, chat_sandbox):
    support.post(reverse("admin:contactgroups_contactgroup_delete", args=[work.pk]), {"post": "yes"})
    background_syncs.wait()
    make_group(owner, "work")
    version = GroupVersion.objects.get(group=work)
    before = (ContactGroup.objects.get(pk=work.pk).state, LogEntry.objects.count(), len(chat_sandbox.calls))

    response = restore(support, work, version)

    assert response.status_code == 200
    assert form_errors(response) == ["user_0001 already has a conversation group named “work”."]
    assert "user_0001 already has a conversation group named “work”." in text(response.content)
    assert (ContactGroup.objects.get(pk=work.pk).state, LogEntry.objects.count(), len(chat_sandbox.calls)) == before


def test_a_deleted_group_is_not_restored_over_the_owners_group_limit(support, work, owner, make_group,
                                                                      background_syncs):
    support.post(reverse("admin:contactgroups_contactgroup_delete", args=[work.pk]), {"post": "yes"})
    background_syncs.wait()
    for n in range(protocol.GROUPS_PER_USER_MAX):
        make_group(owner, f"other {n}")

    response = restore(support, work, GroupVersion.objects.get(group=work))

    assert "Chat allows at most 20 per user" in text(response.content)
    assert ContactGroup.objects.get(pk=work.pk).state == ContactGroup.State.DELETED


def test_a_version_is_not_restored_over_the_owners_grouped_conversation_limit(support, work, owner, make_group):
    make_group(owner, "full", [(C2C, f"peer_{n}") for n in range(protocol.GROUPED_CONVERSATIONS_PER_USER_MAX - 1)])
    version = GroupVersion.objects.get(group=work)
    ContactGroup.objects.filter(pk=work.pk).update(name="renamed")
    work.items.all().delete()

    response = restore(support, work, version)

    assert "This user would have 1001 distinct conversations in groups" in text(response.content)
    assert ContactGroup.objects.get(pk=work.pk).name == "renamed" and not work.items.exists()


def test_only_staff_who_may_sync_and_change_restore(client, work, django_user_model):
    editor = django_user_model.objects.create_user("editor", password="x", is_staff=True)
    editor.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_contactgroup", "change_contactgroup"]))
    client.force_login(editor)
    version = GroupVersion.objects.get(group=work)

    assert "Restore this version" not in client.get(history_url(work)).content.decode()
    assert client.get(restore_url(work, version)).status_code == 403
    assert client.post(restore_url(work, version)).status_code == 403
    assert ContactGroup.objects.get(pk=work.pk).state == ContactGroup.State.SYNCED


# The history as one story a staff action ------------------------------------------------------------------------


def test_the_history_shows_each_edit_with_what_chat_then_did_under_it(support, work, background_syncs):
    edit(support, work, "home", add=["user_0004"], remove=["user_0003"])
    background_syncs.wait()
    group_id = ContactGroup.objects.get(pk=work.pk).sync.chat_group_id

    rows = [text(row.encode()) for row in re.findall(r'<tr class="history-story">(.*?)</tr>',
                                                     support.get(history_url(work)).content.decode(), re.S)]

    assert len(rows) == 2
    assert "4 history entries, each staff action shown with what Chat then did under it." in text(
        support.get(history_url(work)).content)
    assert rows[0].endswith(f"Added “work” with 2 conversations: user_0002, user_0003. Then in Chat: "
                            f"{_time_of(work, 1)} Created in Chat as GroupId {group_id}: 2 conversations added.")
    assert rows[1].endswith(f"Changed: renamed from “work” to “home”, added user_0004, removed user_0003. Then in "
                            f"Chat: {_time_of(work, 3)} Synced to Chat as GroupId {group_id}: renamed from “work” to "
                            f"“home”, 1 conversation added, 1 conversation removed.")


def test_a_sync_asked_for_again_is_its_own_story_not_part_of_the_last_edit(support, work, background_syncs):
    edit(support, work, "home")
    background_syncs.wait()
    support.post(reverse("admin:contactgroups_contactgroup_sync_one", args=[work.pk]))
    background_syncs.wait()
    group_id = ContactGroup.objects.get(pk=work.pk).sync.chat_group_id

    rows = [text(row.encode()) for row in re.findall(r'<tr class="history-story">(.*?)</tr>',
                                                     support.get(history_url(work)).content.decode(), re.S)]

    assert len(rows) == 3
    assert "Changed: renamed from “work” to “home”. Then in Chat:" in rows[1]
    assert "Asked for" not in rows[1]
    assert rows[2].endswith(f"Asked for “home” to be synced to Chat. Then in Chat: {_time_of(work, 5)} Synced to "
                            f"Chat as GroupId {group_id}: nothing to change, Chat already matched.")


def _time_of(group, index) -> str:
    from django.utils.formats import date_format
    entry = LogEntry.objects.filter(object_id=str(group.pk)).order_by("action_time", "pk")[index]
    return date_format(localtime(entry.action_time), "Y-m-d H:i:s")


def test_the_history_story_is_in_chinese_for_a_chinese_reader(support, work, background_syncs):
    edit(support, work, "home", remove=["user_0003"])
    background_syncs.wait()
    support.cookies["django_language"] = "zh-hans"

    page = text(support.get(history_url(work)).content)

    assert "已更改：从“work”重命名为“home”, 移除了 user_0003。 随后在 IM 中：" in page
    assert "随后在 IM 中：" in page
    assert "IM 确认的版本" in page and "恢复此版本" in page
    assert "共 4 条历史记录，每次员工操作下列出 IM 随后所做的处理。" in page


def test_two_versions_confirmed_in_one_minute_read_apart(support, work, background_syncs):
    edit(support, work, "home")
    background_syncs.wait()
    first, second = GroupVersion.objects.filter(group=work).order_by("confirmed_at")
    minute = first.confirmed_at.replace(second=5, microsecond=0)
    GroupVersion.objects.filter(pk=first.pk).update(confirmed_at=minute)
    GroupVersion.objects.filter(pk=second.pk).update(confirmed_at=minute.replace(second=40))
    page = text(support.get(history_url(work)).content)
    for moment in (minute, minute.replace(second=40)):
        assert localtime(moment).strftime("%Y-%m-%d %H:%M:%S") in page


def test_each_sync_entry_names_the_edit_it_carried_out(support, work, background_syncs):
    edit(support, work, "home")
    background_syncs.wait()
    entries = list(LogEntry.objects.filter(object_id=str(work.pk)).order_by("action_time", "pk"))
    assert [entry.action_flag for entry in entries] == [1, 2, 2, 2]
    added, created, changed, synced = entries
    assert f'"cause": {added.pk}' in created.change_message and f'"cause": {changed.pk}' in synced.change_message


def test_a_delete_and_a_restore_each_read_as_one_story(support, work, background_syncs):
    support.post(reverse("admin:contactgroups_contactgroup_delete", args=[work.pk]), {"post": "yes"})
    background_syncs.wait()
    restore(support, work, GroupVersion.objects.get(group=work))
    background_syncs.wait()
    group_id = ContactGroup.objects.get(pk=work.pk).sync.chat_group_id

    rows = [text(row.encode()) for row in re.findall(r'<tr class="history-story">(.*?)</tr>',
                                                     support.get(history_url(work)).content.decode(), re.S)]

    assert len(rows) == 3
    assert re.search(r"Deleted “work”\. Then in Chat: .* Deleted from Chat \(GroupId \d+\)\.$", rows[1])
    assert re.search(r"Restored the deleted group as Chat confirmed it on .*: “work” with 2 conversations\. Then in "
                     rf"Chat: .* Created in Chat as GroupId {group_id}: 2 conversations added\.$", rows[2])


def test_a_group_being_deleted_offers_no_restore_and_refuses_one(support, work):
    ContactGroup.objects.filter(pk=work.pk).update(delete_requested=True, state=ContactGroup.State.FAILED)
    version = GroupVersion.objects.get(group=work)

    history = text(support.get(history_url(work)).content)
    assert "Versions Chat confirmed" in history and "Restore this version" not in history
    response = support.post(restore_url(work, version), follow=True)

    assert "This group is being deleted from Chat; restore it once its deletion has ended." in text(response.content)
    group = ContactGroup.objects.get(pk=work.pk)
    assert (group.delete_requested, group.state) == (True, ContactGroup.State.FAILED)


# A name Chat holds with spaces at its ends (the app allows it) -------------------------------------------------

LEAD = "  lead space"


@pytest.fixture
def lead(support, owner, chat_sandbox):
    """“  lead space”, made in the app with user_0002 and pulled into the mirror: its first version."""
    answer = chat_sandbox.post("recentcontact/create_contact_group", {
        "From_Account": "user_0001",
        "GroupContactItem": [{"GroupName": LEAD, "ContactItem": [{"Type": C2C, "To_Account": "user_0002"}]}]})
    assert answer["ErrorCode"] == 0, answer
    sync.pull_owner(owner.pk, None)
    return ContactGroup.objects.get(name=LEAD)


def test_a_name_chat_holds_with_spaces_is_shown_marked_and_kept_when_staff_only_add_a_conversation(
        support, lead, chat_sandbox, background_syncs):
    page = support.get(change_url(lead)).content.decode()
    assert f'name="name" value="{LEAD}"' in page  # the box holds the name exactly
    assert "In Chat this group is named “␣␣lead space”, with spaces at its ends (each shown here as ␣)" in \
        html.unescape(page)
    assert "␣␣lead space" in text(support.get(reverse("admin:contactgroups_contactgroup_changelist")).content)

    chat_sandbox.clear_calls()
    response = edit(support, lead, LEAD, add=["user_0003"])
    assert [m for m in messages_shown(response) if "is saved; syncing it to Chat" in m]
    background_syncs.wait()

    assert chat_groups(chat_sandbox, "user_0001") == {LEAD: [(C2C, "user_0002"), (C2C, "user_0003")]}
    sent = [call["body"] for call in chat_sandbox.calls_to("recentcontact/update_contact_group")]
    assert [body["UpdateGroup"]["UpdateGroupType"] for body in sent] == [protocol.CHANGE_MEMBERS]
    group = ContactGroup.objects.get(pk=lead.pk)
    assert (group.name, group.sync.confirmed_name, group.state) == (LEAD, LEAD, ContactGroup.State.SYNCED)


@pytest.mark.parametrize(("name", "error"), [
    (" lead space ", "A group name cannot start or end with spaces."),
    ("lead\tspace", "A group name cannot contain control characters such as tabs or line breaks."),
])
def test_a_staff_edit_to_a_name_chat_refuses_is_a_form_error_and_changes_nothing(
        support, lead, chat_sandbox, name, error):
    chat_sandbox.clear_calls()
    response = edit(support, lead, name, add=["user_0003"])
    assert form_errors(response) == [error]
    group = ContactGroup.objects.get(pk=lead.pk)
    assert (group.name, group.state, group.items.count()) == (LEAD, ContactGroup.State.SYNCED, 1)
    assert chat_sandbox.calls_to("recentcontact/update_contact_group") == []
    assert chat_groups(chat_sandbox, "user_0001") == {LEAD: [(C2C, "user_0002")]}


def test_restoring_a_version_named_with_spaces_over_another_name_is_refused_before_anything_changes(
        support, lead, chat_sandbox, background_syncs):
    edit(support, lead, "lead space")
    background_syncs.wait()
    assert chat_groups(chat_sandbox, "user_0001") == {"lead space": [(C2C, "user_0002")]}
    first = GroupVersion.objects.filter(group=lead).order_by("confirmed_at", "id").first()
    assert first.name == LEAD

    chat_sandbox.clear_calls()
    response = restore(support, lead, first)
    assert form_errors(response) == ["A group name cannot start or end with spaces."]
    assert "A group name cannot start or end with spaces." in text(response.content)
    background_syncs.wait()
    group = ContactGroup.objects.get(pk=lead.pk)
    assert (group.name, group.state) == ("lead space", ContactGroup.State.SYNCED)
    assert chat_sandbox.calls_to("recentcontact/update_contact_group") == []
    assert chat_groups(chat_sandbox, "user_0001") == {"lead space": [(C2C, "user_0002")]}


def test_a_deleted_group_named_with_spaces_is_not_restored_as_its_create_would_send_the_name(
        support, lead, chat_sandbox, background_syncs):
    support.post(reverse("admin:contactgroups_contactgroup_delete", args=[lead.pk]), {"post": "yes"})
    background_syncs.wait()
    version = GroupVersion.objects.filter(group=lead).order_by("confirmed_at", "id").last()
    chat_sandbox.clear_calls()
    response = restore(support, lead, version)
    assert "A group name cannot start or end with spaces." in text(response.content)
    background_syncs.wait()
    assert ContactGroup.objects.get(pk=lead.pk).state == ContactGroup.State.DELETED
    assert chat_sandbox.calls_to("recentcontact/create_contact_group") == []
    assert chat_groups(chat_sandbox, "user_0001") == {}


def test_restoring_a_version_that_keeps_the_name_chat_holds_with_spaces_restores_it_exactly(
        support, lead, chat_sandbox, background_syncs):
    edit(support, lead, LEAD, add=["user_0003"])
    background_syncs.wait()
    first = GroupVersion.objects.filter(group=lead).order_by("confirmed_at", "id").first()
    response = restore(support, lead, first, follow=True)
    assert [m for m in messages_shown(response) if "restored" in m]
    background_syncs.wait()
    assert chat_groups(chat_sandbox, "user_0001") == {LEAD: [(C2C, "user_0002")]}
    group = ContactGroup.objects.get(pk=lead.pk)
    assert (group.name, group.state) == (LEAD, ContactGroup.State.SYNCED)
