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


# Chat keeps a nickname of at most 500 bytes (protocol.PROFILE_VALUE_MAX_BYTES); over it, Chat answers 40601.

LONG_NICKNAME = "名" * 167  # 501 bytes in UTF-8


def test_every_nickname_the_forms_and_the_csv_import_accept_fits_in_chat():
    """The form and the CSV import hold a nickname to the field's characters; four bytes each at most."""
    from contactgroups.imports.users import NICKNAME_MAX_LENGTH

    assert NICKNAME_MAX_LENGTH == ChatUser._meta.get_field("nickname").max_length
    assert protocol.utf8_length("😀" * NICKNAME_MAX_LENGTH) <= protocol.PROFILE_VALUE_MAX_BYTES


def test_the_client_refuses_a_nickname_chat_would_refuse_before_sending_anything(chat_sandbox):
    from contactgroups.conf import chat_client

    with chat_client() as client, pytest.raises(ValueError, match="501 bytes in UTF-8; Chat keeps a nickname of at"):
        client.multiaccount_import(["user_0001", "user_0002"], {"user_0002": LONG_NICKNAME})
    with chat_client() as client, pytest.raises(ValueError, match="at most 500 bytes"):
        client.account_import("user_0001", LONG_NICKNAME)

    assert chat_sandbox.calls_to(None) == []


def test_an_import_leaves_out_a_user_whose_nickname_is_too_long_and_says_why(chat_sandbox, staff):
    """A nickname stored past the form (SQLite does not hold a column to its length) is never sent to Chat."""
    from django.contrib.admin.models import LogEntry
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("Only SQLite can store a nickname longer than its column; PostgreSQL refuses it on write.")

    from contactgroups import words

    alice = ChatUser.objects.create(user_id="user_0001", nickname="Alice")
    long = ChatUser.objects.create(user_id="user_0002", nickname="Bob")
    ChatUser.objects.filter(pk=long.pk).update(nickname=LONG_NICKNAME)

    report = sync.import_users([alice.pk, long.pk], staff.pk)

    assert report.imported == ["user_0001"] and report.not_imported == ["user_0002"]
    [sent] = chat_sandbox.calls_to(protocol.MULTIACCOUNT_IMPORT)
    assert sent["body"]["AccountList"] == [{"UserID": "user_0001", "Nick": "Alice"}]
    long.refresh_from_db()
    assert long.import_state == ChatUser.ImportState.FAILED
    entry = LogEntry.objects.filter(object_id=str(long.pk)).latest("id")
    assert words.history_text(entry) == (
        "Checked in Chat: not imported. The nickname is 501 bytes in UTF-8, more than the 500 bytes Chat keeps, so "
        "the user was not sent to Chat; shorten the nickname and import again.")
