"""The nickname kept on a Chat user is sent to Chat when the user is imported (multiaccount_import's AccountList
form, whose Nick an account Chat already has takes), against the sandbox over HTTP."""

import pytest
from django.urls import reverse

from contactgroups import sync
from contactgroups.chat import protocol
from contactgroups.models import ChatUser

pytestmark = pytest.mark.django_db(transaction=True)


def chat_nicks(chat_sandbox) -> dict[str, str]:
    """The Nick of each account Chat holds."""
    return {user_id: profile["Nick"] for user_id, profile in chat_sandbox.snapshot()["accounts"].items()}


def test_an_import_sends_each_users_nickname_in_one_call(chat_sandbox, staff):
    users = [ChatUser.objects.create(user_id="user_0001", nickname="Alice"),
             ChatUser.objects.create(user_id="user_0002", nickname="王小明"),
             ChatUser.objects.create(user_id="user_0003")]
    report = sync.import_users([user.pk for user in users], staff.pk)
    assert sorted(report.imported) == ["user_0001", "user_0002", "user_0003"]
    assert chat_nicks(chat_sandbox) == {"user_0001": "Alice", "user_0002": "王小明", "user_0003": ""}
    [call] = chat_sandbox.calls_to(protocol.MULTIACCOUNT_IMPORT)
    assert call["body"]["AccountList"] == [
        {"UserID": "user_0001", "Nick": "Alice"}, {"UserID": "user_0002", "Nick": "王小明"}, {"UserID": "user_0003"}]


def test_importing_again_sends_a_changed_nickname_and_keeps_chats_when_there_is_none(chat_sandbox, staff):
    alice = ChatUser.objects.create(user_id="user_0001", nickname="Alice")
    bob = ChatUser.objects.create(user_id="user_0002", nickname="Bob")
    sync.import_users([alice.pk, bob.pk], staff.pk)
    ChatUser.objects.filter(pk=alice.pk).update(nickname="Alice Chen")
    ChatUser.objects.filter(pk=bob.pk).update(nickname="")
    sync.import_users([alice.pk, bob.pk], staff.pk)
    assert chat_nicks(chat_sandbox) == {"user_0001": "Alice Chen", "user_0002": "Bob"}


def test_users_without_nicknames_are_imported_in_the_older_form(chat_sandbox, staff):
    user = ChatUser.objects.create(user_id="user_0004")
    sync.import_users([user.pk], staff.pk)
    [call] = chat_sandbox.calls_to(protocol.MULTIACCOUNT_IMPORT)
    assert call["body"] == {"Accounts": ["user_0004"]}


def test_the_chat_user_page_says_the_nickname_is_sent_on_import(client, staff, owner):
    client.force_login(staff)
    page = client.get(reverse("admin:contactgroups_chatuser_change", args=[owner.pk])).content.decode()
    assert "Sent to Chat as the user's nickname when the user is imported into Chat." in page
