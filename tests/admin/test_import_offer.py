"""Where Chat refused a user as not imported (50001), the page offers "Import this user into Chat".

The button posts (CSRF, the change and import permissions on Chat users) to a view that queues the import as a
save queues a sync (without a broker, to the web process's background runner); the Chat user's page then says how
it ended, with Chat's code and its meaning, and "Sync this group again" sends the group again. Against the
sandbox over HTTP.
"""

import re

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from contactgroups.chat import errors, protocol
from contactgroups.models import ChatUser, ContactGroup
from tests.admin_forms import group_form_data
from tests.conftest import wait_until

C2C = protocol.TYPE_C2C
ADD_URL = reverse("admin:contactgroups_contactgroup_add")
IMPORT_URL = reverse("admin:contactgroups_chatuser_import_one")

pytestmark = pytest.mark.django_db(transaction=True)


def change_url(group):
    return reverse("admin:contactgroups_contactgroup_change", args=[group.pk])


def messages_shown(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


def import_buttons(page: str) -> list[str]:
    """The UserIDs the page offers to import, in page order."""
    return re.findall(r'<button type="submit" class="button chat-import" form="chat-actions" formaction="'
                      + re.escape(IMPORT_URL) + r'" name="user_id" value="([^"]+)">Import this user into Chat'
                      r"</button>", page)


def actions_form(page: str) -> str:
    match = re.search(r'<form id="chat-actions" method="post" hidden>(.*?)</form>', page, re.S)
    assert match, "the page has no form for its buttons"
    return match.group(1)


@pytest.fixture
def support(client, staff, chat_sandbox):
    chat_sandbox.import_accounts("user_0001", "user_0002")
    client.force_login(staff)
    return client


QUEUED = "Queued for import into Chat: %s. Its Chat user page shows the result once Chat has answered."


def test_an_owner_refused_as_not_imported_is_imported_then_the_group_synced_again(support, chat_sandbox,
                                                                                   background_syncs):
    stranger = ChatUser.objects.create(user_id="not_in_chat")
    support.post(ADD_URL, group_form_data(owner=stranger, name="work", items=[(C2C, "user_0002", "")]))
    background_syncs.wait()
    group = ContactGroup.objects.get()
    assert group.state == ContactGroup.State.FAILED
    page = support.get(change_url(group)).content.decode()
    assert import_buttons(page) == ["not_in_chat"]
    form = actions_form(page)
    assert 'name="csrfmiddlewaretoken"' in form and f'name="next" value="{change_url(group)}"' in form
    assert "Sync this group again" in page  # offered, though syncing before the import fails again

    response = support.post(IMPORT_URL, {"user_id": "not_in_chat", "next": change_url(group), "group": group.pk},
                            follow=True)
    assert response.redirect_chain[-1][0] == change_url(group)
    assert ("info", QUEUED % "not_in_chat") in messages_shown(response)
    background_syncs.wait()
    stranger.refresh_from_db()
    assert stranger.import_state == ChatUser.ImportState.IMPORTED
    assert chat_sandbox.post(protocol.ACCOUNT_CHECK, {"CheckItem": [{"UserID": "not_in_chat"}]})[
        "ResultItem"][0]["AccountStatus"] == protocol.ACCOUNT_IMPORTED
    page = support.get(change_url(group)).content.decode()
    assert import_buttons(page) == [] and "not_in_chat: imported in Chat now" in re.sub(r"<[^>]+>", "", page)

    response = support.post(reverse("admin:contactgroups_contactgroup_sync_one", args=[group.pk]), follow=True)
    assert response.redirect_chain[-1][0] == change_url(group)
    # the "Sync to Chat" action's words
    assert messages_shown(response)[-1] == ("success", "1 group queued for sync to Chat.")
    background_syncs.wait()
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED
    assert "Import this user into Chat" not in support.get(change_url(group)).content.decode()


def test_a_conversation_refused_as_not_imported_offers_its_user_in_the_row(support, owner, chat_sandbox,
                                                                           background_syncs):
    support.post(ADD_URL, group_form_data(owner=owner, name="work", items=[(C2C, "user_0002", ""),
                                                                           (C2C, "user_9", "")]))
    background_syncs.wait()
    group = ContactGroup.objects.get()
    assert group.state == ContactGroup.State.PARTIAL
    page = support.get(change_url(group)).content.decode()
    # Once in the last sync's list, once in the refused conversation's row.
    assert import_buttons(page) == ["user_9", "user_9"]
    assert not ChatUser.objects.filter(user_id="user_9").exists()

    response = support.post(IMPORT_URL, {"user_id": "user_9", "next": change_url(group), "group": group.pk},
                            follow=True)
    assert ("info", QUEUED % "user_9") in messages_shown(response)
    background_syncs.wait()
    added = ChatUser.objects.get(user_id="user_9")
    assert added.import_state == ChatUser.ImportState.IMPORTED
    assert LogEntry.objects.filter(object_id=str(added.pk), action_flag=ADDITION).exists()

    support.post(reverse("admin:contactgroups_contactgroup_sync_one", args=[group.pk]))
    background_syncs.wait()
    group.refresh_from_db()
    assert group.state == ContactGroup.State.SYNCED
    assert sorted(group.items.values_list("to_account", "result_code")) == [("user_0002", 0), ("user_9", 0)]


def test_an_import_chat_refuses_says_its_code_and_meaning(support, chat_sandbox, background_syncs):
    ghost = ChatUser.objects.create(user_id="ghost", import_state=ChatUser.ImportState.NOT_IMPORTED)
    url = reverse("admin:contactgroups_chatuser_change", args=[ghost.pk])
    page = support.get(url).content.decode()
    assert import_buttons(page) == ["ghost"]
    chat_sandbox.set_faults(fail_rate=1.0, fail_codes=[errors.ACCOUNT_INVALID_PARAMETER],
                            endpoints=[protocol.MULTIACCOUNT_IMPORT], max_faults=1)
    response = support.post(IMPORT_URL, {"user_id": "ghost", "next": url}, follow=True)
    assert response.redirect_chain[-1][0] == url
    assert messages_shown(response) == [("info", QUEUED % "ghost")]
    background_syncs.wait()
    ghost.refresh_from_db()
    assert ghost.import_state == ChatUser.ImportState.FAILED
    page = support.get(url).content.decode()
    assert "70402: A required account field is missing" in page
    assert import_buttons(page) == []  # the last error is no longer "not imported": nothing to offer again


def test_the_chat_user_page_offers_the_import_and_then_shows_it_worked(support, chat_sandbox, background_syncs):
    ghost = ChatUser.objects.create(user_id="ghost", import_state=ChatUser.ImportState.NOT_IMPORTED)
    url = reverse("admin:contactgroups_chatuser_change", args=[ghost.pk])
    response = support.post(IMPORT_URL, {"user_id": "ghost", "next": url}, follow=True)
    assert messages_shown(response) == [("info", QUEUED % "ghost")]
    background_syncs.wait()
    assert import_buttons(support.get(url).content.decode()) == []
    assert ChatUser.objects.get(pk=ghost.pk).import_state == ChatUser.ImportState.IMPORTED


def test_without_the_import_permission_there_is_no_button_and_no_import(client, django_user_model, chat_sandbox,
                                                                        make_group):
    editor = django_user_model.objects.create_user("editor", password="x", is_staff=True)
    editor.user_permissions.set(Permission.objects.filter(codename__in=[
        "view_contactgroup", "change_contactgroup", "view_chatuser", "change_chatuser", "sync_contactgroup"]))
    client.force_login(editor)
    ghost = ChatUser.objects.create(user_id="ghost", import_state=ChatUser.ImportState.NOT_IMPORTED)
    group = make_group(ghost, "work", state=ContactGroup.State.FAILED, last_outcome={
        "code": "stopped", "owner": "ghost", "group_id": None, "retrying": False, "partial": False,
        "created": False, "error": {"kind": "chat", "code": 50001, "info": "From_Account ghost is not imported"}})
    page = client.get(change_url(group)).content.decode()
    assert import_buttons(page) == [] and "Sync this group again" in page
    assert import_buttons(client.get(reverse("admin:contactgroups_chatuser_change", args=[ghost.pk]))
                          .content.decode()) == []
    assert client.post(IMPORT_URL, {"user_id": "ghost"}).status_code == 403
    assert chat_sandbox.calls_to(protocol.MULTIACCOUNT_IMPORT) == []


def test_a_user_the_mirror_lacks_needs_the_add_permission(client, django_user_model, owner, chat_sandbox, make_group):
    importer = django_user_model.objects.create_user("importer", password="x", is_staff=True)
    importer.user_permissions.set(Permission.objects.filter(codename__in=[
        "view_contactgroup", "change_contactgroup", "view_chatuser", "change_chatuser", "import_chatuser"]))
    client.force_login(importer)
    group = make_group(owner, "work", state=ContactGroup.State.PARTIAL, last_outcome={
        "code": "created", "owner": owner.user_id, "group_id": 1,
        "refused": [[C2C, "user_9", 50001, "To_Account user_9 is not imported"]]})
    page = client.get(change_url(group)).content.decode()
    assert import_buttons(page) == [] and "Sync this group again" not in page
    response = client.post(IMPORT_URL, {"user_id": "user_9", "next": change_url(group)}, follow=True)
    assert messages_shown(response) == [("error", "Not imported: user_9 is no Chat user here, and you may not "
                                                  "add Chat users; someone who may must import it.")]
    assert not ChatUser.objects.filter(user_id="user_9").exists()
    assert chat_sandbox.calls_to(protocol.MULTIACCOUNT_IMPORT) == []


def test_the_import_takes_only_a_post_with_its_csrf_token(staff, chat_sandbox, make_group):
    ChatUser.objects.create(user_id="ghost", import_state=ChatUser.ImportState.NOT_IMPORTED)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    response = browser.get(IMPORT_URL, {"user_id": "ghost"})
    assert response.status_code == 302 and response["Location"] == reverse("admin:contactgroups_chatuser_changelist")
    assert browser.post(IMPORT_URL, {"user_id": "ghost"}).status_code == 403
    group = make_group(ChatUser.objects.get(user_id="ghost"), "work")
    sync_url = reverse("admin:contactgroups_contactgroup_sync_one", args=[group.pk])
    assert browser.get(sync_url)["Location"] == change_url(group)
    assert browser.post(sync_url).status_code == 403
    assert chat_sandbox.calls_to() == [] and ContactGroup.objects.get().state == ContactGroup.State.DRAFT


def test_a_bad_user_id_or_an_outside_address_changes_nothing(support, chat_sandbox):
    response = support.post(IMPORT_URL, {"user_id": " x", "next": "https://example.com/"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:contactgroups_chatuser_changelist")
    assert messages_shown(response) == [("error", "Not imported: A UserID cannot start or end with spaces.")]
    assert ChatUser.objects.count() == 0
    assert chat_sandbox.calls_to(protocol.MULTIACCOUNT_IMPORT) == []


def test_with_a_broker_the_import_is_queued_and_a_worker_imports(client, staff, celery_worker, chat_sandbox):
    client.force_login(staff)
    ghost = ChatUser.objects.create(user_id="ghost", import_state=ChatUser.ImportState.NOT_IMPORTED)
    url = reverse("admin:contactgroups_chatuser_change", args=[ghost.pk])
    response = client.post(IMPORT_URL, {"user_id": "ghost", "next": url}, follow=True)
    assert messages_shown(response) == [(
        "info", "Queued for import into Chat: ghost. Its Chat user page shows the result once Chat has answered.")]

    def imported():
        """the worker imported ghost"""
        return ChatUser.objects.get(pk=ghost.pk).import_state == ChatUser.ImportState.IMPORTED

    wait_until(imported)
    assert "Import this user into Chat" not in client.get(url).content.decode()


def test_the_offer_in_chinese(support, chat_sandbox, background_syncs):
    ChatUser.objects.create(user_id="ghost", import_state=ChatUser.ImportState.NOT_IMPORTED)
    support.cookies["django_language"] = "zh-hans"
    user = ChatUser.objects.get(user_id="ghost")
    url = reverse("admin:contactgroups_chatuser_change", args=[user.pk])
    page = support.get(url).content.decode()
    assert re.search(r'name="user_id" value="ghost">将此用户导入 IM</button>', page)
    response = support.post(IMPORT_URL, {"user_id": "ghost", "next": url}, follow=True)
    assert messages_shown(response) == [("info", "已排队等待导入 IM：ghost。IM 应答后，其 IM 用户页面会显示结果。")]
    background_syncs.wait()
    assert import_buttons(support.get(url).content.decode()) == []
