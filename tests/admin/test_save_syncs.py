"""The admin as support staff use it, with no broker: a save hands its sync to the web process's background
runner once it commits, and the group's page shows how it ended.

The tests commit for real (transactional database), so the sync runs as it does in production; each waits for
the background syncs (``background_syncs.wait()``) before reading a page, as a person reloads it.
"""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup, SyncAttempt
from tests.admin_forms import group_form_data, states_shown

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
ADD_URL = reverse("admin:contactgroups_contactgroup_add")
CHANGELIST = reverse("admin:contactgroups_contactgroup_changelist")

pytestmark = pytest.mark.django_db(transaction=True)


def change_url(group):
    return reverse("admin:contactgroups_contactgroup_change", args=[group.pk])


@pytest.fixture
def support(client, staff, chat_sandbox):
    chat_sandbox.import_accounts("user_0001", "user_0002", "user_0003")
    client.force_login(staff)
    return client


def test_saving_a_group_shows_its_group_id_and_each_code(support, owner, chat_sandbox, background_syncs):
    response = support.post(ADD_URL, group_form_data(
        owner=owner, name="会议", items=[(C2C, "user_0002", ""), (C2C, "user_9", ""), (GROUP, "", "@TGS#1")]))
    assert response.status_code == 302
    background_syncs.wait()
    group = ContactGroup.objects.get()
    page = support.get(change_url(group)).content.decode()
    assert "Partly refused" in page
    assert f"Created in Chat as GroupId {group.sync.chat_group_id}" in page
    assert '<strong class="refused">50001: The UserID has not been imported' in page
    assert page.count("0: Accepted by Chat.") == 2


def test_the_history_shows_the_sync_under_the_staff_user(support, owner, staff, background_syncs):
    support.post(ADD_URL, group_form_data(owner=owner, name="work", items=[(C2C, "user_0002", "")]))
    background_syncs.wait()
    group = ContactGroup.objects.get()
    page = support.get(reverse("admin:contactgroups_contactgroup_history", args=[group.pk])).content.decode()
    assert "Created in Chat as GroupId 1: 1 conversation added." in page
    assert staff.username in page


def test_changing_a_group_in_the_admin_changes_it_in_chat(support, owner, chat_sandbox, background_syncs):
    support.post(ADD_URL, group_form_data(owner=owner, name="work", items=[(C2C, "user_0002", "")]), follow=True)
    background_syncs.wait()
    group = ContactGroup.objects.get()
    [item] = group.items.all()
    response = support.post(change_url(group), group_form_data(
        name="office", existing=[item], deleted={item.pk}, items=[(C2C, "user_0003", "")]), follow=True)
    assert messages_shown(response) == [
        ("success", "“office (user_0001)” is saved; syncing it to Chat. Its page shows how the sync ends.")]
    background_syncs.wait()
    snapshot = chat_sandbox.snapshot()
    assert "office" in str(snapshot) and "work" not in str(snapshot)
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED
    assert [item.to_account for item in group.items.all()] == ["user_0003"]


def test_deleting_in_the_admin_deletes_in_chat_and_keeps_the_audit(support, owner, chat_sandbox, background_syncs):
    support.post(ADD_URL, group_form_data(owner=owner, name="work", items=[(C2C, "user_0002", "")]), follow=True)
    background_syncs.wait()
    group = ContactGroup.objects.get()
    response = support.post(reverse("admin:contactgroups_contactgroup_delete", args=[group.pk]), {"post": "yes"},
                            follow=True)
    assert messages_shown(response) == [
        ("success", "“work (user_0001)” is deleted here; deleting it in Chat. Its page shows how that ends.")]
    background_syncs.wait()
    group.refresh_from_db()
    assert group.state == ContactGroup.State.DELETED
    page = support.get(change_url(group)).content.decode()
    assert f"Deleted from Chat (GroupId {group.sync.chat_group_id})." in page
    assert len(chat_sandbox.calls_to("recentcontact/del_contact_group")) == 1
    assert SyncAttempt.objects.filter(group=group).count() == 3
    page = support.get(CHANGELIST, {"state": "deleted"}).content.decode()
    assert "work" in page


def messages_shown(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


def test_sync_action_says_the_groups_are_queued_and_the_list_then_shows_how_each_ended(
        support, owner, make_group, chat_sandbox, background_syncs):
    groups = [make_group(owner, f"group {n}", [(C2C, "user_0002")]) for n in range(2)]
    groups.append(make_group(owner, "partly", [(C2C, "user_0002"), (C2C, "never_imported")]))
    stranger = ChatUser.objects.create(user_id="not_in_chat")
    groups.append(make_group(stranger, "refused", [(C2C, "user_0002")]))
    response = support.post(CHANGELIST, {"action": "sync_to_chat", "_selected_action": [g.pk for g in groups]},
                            follow=True)
    assert messages_shown(response) == [("success", "4 groups queued for sync to Chat.")]
    background_syncs.wait()
    page = support.get(CHANGELIST).content.decode()
    assert sorted(states_shown(page)) == ["failed", "partial", "synced", "synced"]
    assert page.count(">Synced</span>") == 2 and page.count(">Partly refused: 1 conversation refused</span>") == 1
    assert dict(ContactGroup.objects.values_list("name", "state")) == {
        "group 0": "synced", "group 1": "synced", "partly": "partial", "refused": "failed"}


def test_a_save_whose_sync_fails_says_saved_and_syncing_and_the_page_then_shows_the_failure(
        support, make_group, chat_sandbox, background_syncs):
    stranger = ChatUser.objects.create(user_id="not_in_chat")
    response = support.post(ADD_URL, group_form_data(owner=stranger, name="work", items=[(C2C, "user_0002", "")]),
                            follow=True)
    assert messages_shown(response) == [
        ("success", "“work (not_in_chat)” is saved; syncing it to Chat. Its page shows how the sync ends.")]
    assert "was added successfully" not in response.content.decode()
    background_syncs.wait()
    page = support.get(change_url(ContactGroup.objects.get())).content.decode()
    assert states_shown(page) == ["failed"]
    assert ">Failed: 50001 The UserID has not been imported into Chat; import the account first.</span>" in page
    assert "Sync to Chat stopped: Chat error 50001" in page


def test_a_save_that_syncs_shows_what_chat_did_on_the_group_page(support, owner, chat_sandbox, background_syncs):
    support.post(ADD_URL, group_form_data(owner=owner, name="work", items=[(C2C, "user_0002", "")]))
    background_syncs.wait()
    group = ContactGroup.objects.get()
    page = support.get(change_url(group)).content.decode()
    assert f"Created in Chat as GroupId {group.sync.chat_group_id}: 1 conversation added." in page


def test_pull_action_adopts_what_the_user_made_in_the_app(support, owner, make_group, chat_sandbox,
                                                          background_syncs):
    group = make_group(owner, "mine", [(C2C, "user_0002")])
    chat_sandbox.post("recentcontact/create_contact_group", {
        "From_Account": "user_0001",
        "GroupContactItem": [{"GroupName": "from the app", "ContactItem": [{"Type": 1, "To_Account": "user_0003"}]}],
    })
    response = support.post(CHANGELIST, {"action": "pull_from_chat", "_selected_action": [group.pk]}, follow=True)
    assert messages_shown(response) == [("success", "Pulling from Chat the groups of 1 user. Each group's page and "
                                                    "history show what Chat changed.")]
    background_syncs.wait()
    page = support.get(CHANGELIST).content.decode()
    assert "from the app" in page
    adopted = ContactGroup.objects.get(name="from the app")
    assert adopted.state == ContactGroup.State.SYNCED and adopted.sync.chat_group_id == 1
    assert [(item.type, item.target) for item in adopted.items.all()] == [(C2C, "user_0003")]


def test_import_action_queues_the_import_and_the_list_then_shows_it(support, chat_sandbox, background_syncs):
    users = [ChatUser.objects.create(user_id=f"new_{n}") for n in range(3)]
    changelist = reverse("admin:contactgroups_chatuser_changelist")
    response = support.post(changelist, {"action": "import_into_chat", "_selected_action": [u.pk for u in users]},
                            follow=True)
    assert "3 users queued for import into Chat; the list shows what Chat says." in response.content.decode()
    background_syncs.wait()
    rows = re.findall(r'<td class="field-import_state_shown"><span class="account-state" data-user="\d+">'
                      r'([^<]*)</span></td>', support.get(changelist).content.decode())
    assert rows == ["Imported"] * 3
    assert set(ChatUser.objects.filter(user_id__startswith="new_").values_list("import_state", flat=True)) == {
        ChatUser.ImportState.IMPORTED}
    check = chat_sandbox.post("im_open_login_svc/account_check", {"CheckItem": [{"UserID": "new_1"}]})
    assert check["ResultItem"][0]["AccountStatus"] == "Imported"


def test_check_action_stores_not_imported(support, chat_sandbox, background_syncs):
    user = ChatUser.objects.create(user_id="ghost")
    response = support.post(reverse("admin:contactgroups_chatuser_changelist"),
                            {"action": "check_in_chat", "_selected_action": [user.pk]}, follow=True)
    assert "1 user queued for a check in Chat; the list shows what Chat says." in response.content.decode()
    background_syncs.wait()
    user.refresh_from_db()
    assert user.import_state == ChatUser.ImportState.NOT_IMPORTED and user.checked_at is not None


def test_audit_rows_are_read_only_for_everyone(support, owner, background_syncs):
    support.post(ADD_URL, group_form_data(owner=owner, name="work", items=[(C2C, "user_0002", "")]))
    background_syncs.wait()
    attempt = SyncAttempt.objects.get()
    url = reverse("admin:contactgroups_syncattempt_change", args=[attempt.pk])
    page = support.get(url).content.decode()
    assert "create_contact_group" in page and "user_0002" in page
    assert 'name="_save"' not in page
    assert support.post(url, {"operation": "forged"}).status_code == 403
    assert support.get(reverse("admin:contactgroups_syncattempt_delete", args=[attempt.pk])).status_code == 403
    assert support.get(reverse("admin:contactgroups_syncattempt_add")).status_code == 403


# Permissions --------------------------------------------------------------------------------------------------


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="contactgroups",
                                                         codename__in=codenames))


@pytest.fixture
def viewer(client, django_user_model, chat_sandbox):
    user = django_user_model.objects.create_user("viewer", password="viewer-password", is_staff=True)
    grant(user, "view_contactgroup", "view_contactitem", "view_chatuser", "view_syncattempt")
    client.force_login(user)
    return client


def test_view_only_staff_reads_everything_and_changes_nothing(viewer, owner, make_group, chat_sandbox):
    group = make_group(owner, "work", [(C2C, "user_0002")])
    page = viewer.get(change_url(group)).content.decode()
    assert "work" in page and 'name="_save"' not in page
    changelist = viewer.get(CHANGELIST).content.decode()
    assert "Sync to Chat" not in changelist and "Pull from Chat" not in changelist
    assert viewer.post(change_url(group), group_form_data(name="hacked")).status_code == 403
    assert viewer.post(ADD_URL, group_form_data(owner=owner, name="new")).status_code == 403
    response = viewer.post(CHANGELIST, {"action": "sync_to_chat", "_selected_action": [group.pk]})
    assert response.status_code in (200, 302)
    group.refresh_from_db()
    assert group.name == "work" and group.state == ContactGroup.State.DRAFT
    assert chat_sandbox.calls_to() == []
    assert viewer.get(reverse("admin:contactgroups_syncattempt_changelist")).status_code == 200
    assert viewer.get(reverse("admin:contactgroups_contactgroup_history", args=[group.pk])).status_code == 200


def test_editor_without_sync_permission_saves_a_draft(client, django_user_model, owner, chat_sandbox):
    editor = django_user_model.objects.create_user("editor", password="editor-password", is_staff=True)
    grant(editor, "add_contactgroup", "change_contactgroup", "view_contactgroup", "add_contactitem",
          "change_contactitem", "delete_contactitem", "view_contactitem", "view_chatuser")
    client.force_login(editor)
    response = client.post(ADD_URL, group_form_data(owner=owner, name="draft"), follow=True)
    assert "Saved as a draft" in response.content.decode()
    assert ContactGroup.objects.get().state == ContactGroup.State.DRAFT
    assert chat_sandbox.calls_to() == []
    page = client.get(CHANGELIST).content.decode()
    assert "Sync to Chat" not in page
    assert client.get(reverse("admin:contactgroups_contactgroup_delete",
                              args=[ContactGroup.objects.get().pk])).status_code == 403


def test_the_add_page_shows_nothing_of_chat_before_the_first_save(support):
    page = support.get(ADD_URL).content.decode()
    assert "Group name" in page
    assert "Name in Chat" not in page and "Last sync" not in page and "field-chat_group_id" not in page


def test_deleting_several_groups_asks_once_then_deletes_each_from_chat(support, owner, make_group, chat_sandbox,
                                                                      background_syncs):
    groups = [make_group(owner, f"group {n}", [(C2C, "user_0002")]) for n in range(2)]
    support.post(CHANGELIST, {"action": "sync_to_chat", "_selected_action": [g.pk for g in groups]}, follow=True)
    background_syncs.wait()
    selection = {"action": "delete_selected", "_selected_action": [g.pk for g in groups]}
    confirm = support.post(CHANGELIST, selection).content.decode()
    assert "Delete these 2 conversation groups from Chat?" in confirm
    assert "marked deleted" in confirm
    done = support.post(CHANGELIST, {**selection, "post": "yes"}, follow=True)
    assert messages_shown(done) == [("success", "2 groups are deleted here; deleting them in Chat.")]
    background_syncs.wait()
    assert set(ContactGroup.objects.values_list("state", flat=True)) == {ContactGroup.State.DELETED}
    assert len(chat_sandbox.calls_to("recentcontact/del_contact_group")) == 2
