"""Picking conversations on the group page: the owner's conversation list read from Chat (the sandbox) a page at a
time, and the type-ahead of known Chat users."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone

from contactgroups.chat import protocol
from contactgroups.chat.sandbox.state import DEFAULT_PAGE_SIZE
from contactgroups.models import ChatUser, SyncAttempt

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
RECENT = reverse("admin:contactgroups_contactgroup_recent")
USERS = reverse("admin:contactgroups_contactgroup_chat_users")
MSG_TIME = 1_764_670_000  # 2025-12-02 10:06:40 UTC

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice(owner, chat_sandbox):
    """user_0001 (Alice), imported into Chat, with a one-to-one and a group conversation in her list."""
    chat_sandbox.import_accounts(owner.user_id, "user_0002")
    chat_sandbox.seed_conversations(owner.user_id, [
        {"Type": C2C, "To_Account": "user_0002", "MsgTime": MSG_TIME},
        {"Type": GROUP, "GroupId": "@TGS#1B2AUI7RZ", "MsgTime": MSG_TIME + 60},
    ])
    return owner



def staff_with(django_user_model, *codenames, username="clerk"):
    user = django_user_model.objects.create_user(username, password=f"{username}-password", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def shown_time(msg_time: int) -> str:
    return formats.localize(timezone.template_localtime(datetime.fromtimestamp(msg_time, UTC)))


def test_the_owners_conversations_come_newest_first_with_their_type_and_last_message(alice, staff_client):
    ChatUser.objects.create(user_id="user_0002", nickname="Bob")

    response = staff_client.get(RECENT, {"owner": alice.pk})

    assert response.status_code == 200
    data = response.json()
    assert data["owner"] == "user_0001"
    assert data["conversations"] == [
        {"type": GROUP, "type_text": "Group conversation", "target": "@TGS#1B2AUI7RZ", "nickname": "",
         "last_message": shown_time(MSG_TIME + 60), "pinned": False, "in_group": False},
        {"type": C2C, "type_text": "One-to-one", "target": "user_0002", "nickname": "Bob",
         "last_message": shown_time(MSG_TIME), "pinned": False, "in_group": False},
    ]
    assert data["next"] is None
    assert data["text"] == "That is every conversation Chat lists for this user."


def test_the_time_is_shown_in_the_sites_time_zone(alice, staff_client, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    conversations = staff_client.get(RECENT, {"owner": alice.pk}).json()["conversations"]
    assert conversations[1]["last_message"] == "Dec. 2, 2025, 6:06 p.m."


def test_the_times_are_localised_for_a_chinese_reader(alice, staff_client):
    staff_client.cookies["django_language"] = "zh-hans"
    conversations = staff_client.get(RECENT, {"owner": alice.pk}).json()["conversations"]
    assert conversations[1]["type_text"] == "单聊"
    assert conversations[1]["last_message"] == "2025年12月2日 10:06"


def test_a_long_list_is_read_one_page_a_request_and_show_more_reads_the_next(alice, staff_client, chat_sandbox):
    chat_sandbox.seed_conversations(alice.user_id, [
        {"Type": GROUP, "GroupId": f"@TGS#{number:04d}", "MsgTime": MSG_TIME - number} for number in range(60)])
    chat_sandbox.clear_calls()

    first = staff_client.get(RECENT, {"owner": alice.pk}).json()
    assert len(first["conversations"]) == DEFAULT_PAGE_SIZE
    assert first["next"] == f"0.{DEFAULT_PAGE_SIZE}.0.0"
    assert first["text"] == ""
    assert len(chat_sandbox.calls_to(protocol.GET_LIST)) == 1

    second = staff_client.get(RECENT, {"owner": alice.pk, "cursor": first["next"]}).json()
    assert len(second["conversations"]) == 62 - DEFAULT_PAGE_SIZE
    assert second["next"] is None
    calls = chat_sandbox.calls_to(protocol.GET_LIST)
    assert len(calls) == 2
    assert calls[1]["body"]["StartIndex"] == DEFAULT_PAGE_SIZE
    listed = [entry["target"] for entry in first["conversations"] + second["conversations"]]
    assert len(set(listed)) == 62
    assert listed[0] == "@TGS#1B2AUI7RZ" and listed[-1] == "@TGS#0059"


def test_conversations_already_in_the_group_are_marked(alice, staff_client, make_group):
    group = make_group(alice, "work", [(C2C, "user_0002")])

    conversations = staff_client.get(RECENT, {"group": group.pk}).json()["conversations"]

    assert {entry["target"]: entry["in_group"] for entry in conversations} == {
        "user_0002": True, "@TGS#1B2AUI7RZ": False}


def test_a_saved_groups_list_is_its_owners_whatever_owner_is_asked(alice, staff_client, make_group, chat_sandbox):
    group = make_group(alice, "work")
    other = ChatUser.objects.create(user_id="user_0009")
    assert staff_client.get(RECENT, {"group": group.pk, "owner": other.pk}).json()["owner"] == "user_0001"
    assert chat_sandbox.calls_to(protocol.GET_LIST)[-1]["body"]["From_Account"] == "user_0001"


def test_each_read_is_audited_under_the_staff_user(alice, staff_client, staff, make_group):
    group = make_group(alice, "work")
    staff_client.get(RECENT, {"owner": alice.pk})
    staff_client.get(RECENT, {"group": group.pk})
    attempts = list(SyncAttempt.objects.order_by("pk").values_list(
        "operation", "owner_user_id", "actor_id", "group_id", "outcome"))
    assert attempts == [("get_list", "user_0001", staff.pk, None, SyncAttempt.Outcome.OK),
                        ("get_list", "user_0001", staff.pk, group.pk, SyncAttempt.Outcome.OK)]


def test_an_owner_not_in_chat_is_said_as_chats_error_in_staff_words(owner, staff_client, chat_sandbox):
    response = staff_client.get(RECENT, {"owner": owner.pk})
    assert response.status_code == 502
    error = response.json()["error"]
    assert error.startswith("Chat could not be read now: Chat error 50001")
    assert "From_Account" not in error


def test_chat_failing_is_an_error_not_a_500(alice, staff_client, chat_sandbox):
    chat_sandbox.set_faults(http_error_rate=1.0)
    response = staff_client.get(RECENT, {"owner": alice.pk})
    assert response.status_code == 502
    assert response.json() == {"error": "Chat could not be read now: Chat answered with HTTP 502."}


def test_a_slow_chat_is_waited_for_only_the_pages_timeout_and_not_retried(alice, staff_client, chat_sandbox, settings):
    settings.SYNC_PAGE_READ_TIMEOUT = 0.3
    chat_sandbox.set_faults(latency_ms=2000)
    chat_sandbox.clear_calls()
    response = staff_client.get(RECENT, {"owner": alice.pk})
    assert response.status_code == 502
    assert response.json()["error"] == ("Chat could not be read now: Chat was too slow: its whole answer had not "
                                        "come within 0.3 s.")
    assert len(chat_sandbox.calls_to(protocol.GET_LIST)) == 1


def test_chat_unreachable_is_said_so(alice, staff_client, settings):
    settings.CHAT_API_BASE_URL = "http://127.0.0.1:9"
    response = staff_client.get(RECENT, {"owner": alice.pk})
    assert (response.status_code, response.json()) == (
        502, {"error": "Chat could not be read now: Chat could not be reached."})


def test_with_page_reads_off_nothing_is_read(alice, staff_client, settings, chat_sandbox):
    settings.SYNC_PAGE_READ_TIMEOUT = 0
    chat_sandbox.clear_calls()
    response = staff_client.get(RECENT, {"owner": alice.pk})
    assert response.status_code == 503
    assert "reads nothing from Chat" in response.json()["error"]
    assert chat_sandbox.calls_to() == []


@pytest.mark.parametrize("query", [{}, {"owner": ""}, {"owner": "x"}, {"owner": "999999"}, {"owner": "1" * 40}])
def test_without_an_owner_staff_are_asked_to_choose_one(alice, staff_client, query, chat_sandbox):
    chat_sandbox.clear_calls()
    response = staff_client.get(RECENT, query)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Choose the group's owner first")
    assert chat_sandbox.calls_to() == []


@pytest.mark.parametrize("cursor", ["x", "1.2.3", "1.2.3.-4", "1.2.3.4.5", "١.2.3.4", "9" * 21 + ".0.0.0"])
def test_a_cursor_chat_did_not_give_is_refused(alice, staff_client, cursor, chat_sandbox):
    chat_sandbox.clear_calls()
    response = staff_client.get(RECENT, {"owner": alice.pk, "cursor": cursor})
    assert response.status_code == 400
    assert response.json()["error"] == "This page of the list is not one Chat gave; open the list again."
    assert chat_sandbox.calls_to() == []


def test_an_unknown_group_is_not_found(alice, staff_client):
    response = staff_client.get(RECENT, {"group": "999999"})
    assert response.status_code == 404


def test_a_view_only_staff_user_may_not_read_the_list(alice, django_user_model, chat_sandbox):
    client = staff_with(django_user_model, "view_contactgroup", "view_chatuser")
    chat_sandbox.clear_calls()
    assert client.get(RECENT, {"owner": alice.pk}).status_code == 403
    assert client.get(USERS, {"term": "user"}).status_code == 403
    assert chat_sandbox.calls_to() == []


def test_adding_groups_is_enough_to_read_the_owners_list(alice, django_user_model, make_group):
    client = staff_with(django_user_model, "add_contactgroup", "view_contactgroup")
    assert client.get(RECENT, {"owner": alice.pk}).status_code == 200
    group = make_group(alice, "work")
    # The list of a saved group is read to change it: adding groups is not enough.
    assert client.get(RECENT, {"group": group.pk}).status_code == 403


def test_changing_groups_is_enough_to_read_a_groups_list(alice, django_user_model, make_group):
    client = staff_with(django_user_model, "change_contactgroup", "view_contactgroup")
    group = make_group(alice, "work")
    assert client.get(RECENT, {"group": group.pk}).status_code == 200
    assert client.get(RECENT, {"owner": alice.pk}).status_code == 403


def test_logged_out_the_endpoints_send_to_the_login_page(alice):
    for url in (RECENT, USERS):
        response = Client().get(url, {"owner": alice.pk, "term": "a"})
        assert response.status_code == 302 and "/login/" in response["Location"]


# Known Chat users -----------------------------------------------------------------------------------------------


@pytest.fixture
def users(db):
    ChatUser.objects.bulk_create([
        ChatUser(user_id="alice_01", nickname="Alice"), ChatUser(user_id="alina", nickname="Alina Wu"),
        ChatUser(user_id="bob", nickname="Bob"),
    ])


def test_known_users_are_suggested_with_their_nicknames(users, staff_client):
    response = staff_client.get(USERS, {"term": "ali"})
    assert response.status_code == 200
    assert response.json() == {"users": [{"user_id": "alice_01", "nickname": "Alice"},
                                         {"user_id": "alina", "nickname": "Alina Wu"}]}


def test_the_suggestions_are_the_chat_user_admins_search(users, staff_client, monkeypatch):
    from django.contrib import admin

    users_admin = admin.site.get_model_admin(ChatUser)
    asked = []

    def only_bob(request, queryset, term):
        asked.append(term)
        return queryset.filter(user_id="bob"), False

    monkeypatch.setattr(users_admin, "get_search_results", only_bob)
    assert staff_client.get(USERS, {"term": "ali"}).json() == {"users": [{"user_id": "bob", "nickname": "Bob"}]}
    assert asked == ["ali"]


def test_an_empty_term_suggests_nobody(users, staff_client):
    assert staff_client.get(USERS, {"term": "  "}).json() == {"users": []}
    assert staff_client.get(USERS).json() == {"users": []}


def test_the_suggestions_are_bounded(db, staff_client):
    from contactgroups.admin.pick import USER_SUGGESTIONS_MAX

    ChatUser.objects.bulk_create(ChatUser(user_id=f"user_{number:04d}") for number in range(USER_SUGGESTIONS_MAX + 5))
    found = staff_client.get(USERS, {"term": "user_"}).json()["users"]
    assert [user["user_id"] for user in found] == [f"user_{number:04d}" for number in range(USER_SUGGESTIONS_MAX)]


def test_suggestions_need_the_view_permission_on_chat_users(users, django_user_model):
    client = staff_with(django_user_model, "change_contactgroup", "view_contactgroup")
    response = client.get(USERS, {"term": "ali"})
    assert response.status_code == 403
    assert response.json() == {"error": "You may not look up Chat users."}


def test_suggestions_need_a_permission_to_change_groups(users, django_user_model):
    client = staff_with(django_user_model, "view_chatuser", "view_contactgroup")
    assert client.get(USERS, {"term": "ali"}).status_code == 403
    client = staff_with(django_user_model, "add_contactgroup", "view_chatuser", username="adder")
    assert client.get(USERS, {"term": "ali"}).json()["users"][0]["user_id"] == "alice_01"


# The group page ----------------------------------------------------------------------------------------------------


def test_the_group_pages_offer_the_panel_to_staff_who_may_change_them(alice, staff_client, make_group,
                                                                      django_user_model):
    group = make_group(alice, "work")
    for url in (reverse("admin:contactgroups_contactgroup_add"),
                reverse("admin:contactgroups_contactgroup_change", args=[group.pk])):
        page = staff_client.get(url).content.decode()
        assert "Choose from the owner's conversations in Chat" in page
        assert "contactgroups/pick_conversations.js" in page
    viewer = staff_with(django_user_model, "view_contactgroup")
    page = viewer.get(reverse("admin:contactgroups_contactgroup_change", args=[group.pk])).content.decode()
    assert "pick-conversations" not in page


def test_a_pinned_conversation_comes_first_and_says_so(alice, staff_client, chat_sandbox):
    chat_sandbox.seed_conversations(alice.user_id, [{"Type": C2C, "To_Account": "user_0002", "MsgTime": MSG_TIME,
                                                     "TopFlag": 1}])
    conversations = staff_client.get(RECENT, {"owner": alice.pk}).json()["conversations"]
    assert [(entry["target"], entry["pinned"]) for entry in conversations] == [
        ("user_0002", True), ("@TGS#1B2AUI7RZ", False)]
