"""Text no database column can hold (a NUL, a lone surrogate) is refused where it comes in, on either database.

From Chat (an end user names a group in the app): the pull reports the name as one the mirror cannot store, the
owner's other groups still pull and sync, and the audit keeps the call with the character escaped. From staff: an
address holding %00 is a 400 that says why, and a form or a CSV row refuses the value. Run these with
DATABASE_URL pointing at PostgreSQL too: SQLite stores a NUL where PostgreSQL refuses it.
"""

import io

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from contactgroups import sync, words
from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup, SyncAttempt
from tests.admin_forms import form_errors, group_form_data
from tests.sync.test_pull import app_creates, app_renames
from tests.sync.test_sync import chat_groups

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
OWNER = "user_0001"
# A NUL, and the first half of a UTF-16 pair alone, as JSON's \u0000 and \ud800 decode.
UNSTORABLE = {"nul": ("nul\x00here", "nul\\u0000here"), "surrogate": ("half\ud800", "half\\ud800")}
REFUSED_ADDRESS = "The address holds a NUL character (%00), which no filter, search or name here can hold."

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice(owner, chat_sandbox):
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003")
    return owner



def pull_command(staff) -> str:
    out = io.StringIO()
    call_command("pull_contact_groups", "--actor", staff.username, "--owner", OWNER, stdout=out)
    return out.getvalue()


# From Chat ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", UNSTORABLE)
def test_a_group_named_so_in_the_app_is_reported_and_its_call_audited_escaped(alice, chat_sandbox, staff, staff_client,
                                                                              kind):
    name, shown = UNSTORABLE[kind]
    app_creates(chat_sandbox, name, (C2C, "user_0002"))
    app_creates(chat_sandbox, "fine", (C2C, "user_0002"))
    out = pull_command(staff)  # exits 0: a CommandError would fail the test
    assert "user_0001: new from Chat: fine" in out
    assert "user_0001: not pulled: Chat's name for GroupId 1 cannot be stored in the database here." in out
    assert list(ContactGroup.objects.values_list("name", flat=True)) == ["fine"]
    attempt = SyncAttempt.objects.get()
    assert (attempt.operation, attempt.outcome) == ("get_contact_group", SyncAttempt.Outcome.OK)
    assert attempt.response["GroupItem"][0]["GroupName"] == shown
    page = staff_client.get(reverse("admin:contactgroups_syncattempt_change", args=[attempt.pk])).content.decode()
    assert shown.replace("\\", "\\\\") in page  # the response body as JSON text


@pytest.mark.parametrize("kind", UNSTORABLE)
def test_the_owners_other_groups_still_sync_and_the_admins_pull_still_pulls(alice, chat_sandbox, staff, staff_client,
                                                                            background_syncs, kind):
    name, _shown = UNSTORABLE[kind]
    app_creates(chat_sandbox, name, (C2C, "user_0002"))
    app_creates(chat_sandbox, "fine", (C2C, "user_0002"))
    sync.pull_owner(alice.pk, staff.pk)
    fine = ContactGroup.objects.get(name="fine")
    fine.items.create(type=C2C, to_account="user_0003")
    assert sync.sync_group(fine.pk, staff.pk).state == ContactGroup.State.SYNCED
    assert chat_groups(chat_sandbox, OWNER)["fine"] == (2, {(C2C, "user_0002"), (C2C, "user_0003")})

    app_creates(chat_sandbox, "later", (C2C, "user_0003"))
    staff_client.post(reverse("admin:contactgroups_contactgroup_changelist"),
                 {"action": "pull_from_chat", "_selected_action": [fine.pk]})
    background_syncs.wait()
    assert sorted(ContactGroup.objects.values_list("name", flat=True)) == ["fine", "later"]


@pytest.mark.parametrize("kind", UNSTORABLE)
def test_a_group_renamed_so_in_the_app_keeps_its_name_here_and_syncs(alice, chat_sandbox, staff, staff_client, kind):
    name, shown = UNSTORABLE[kind]
    app_creates(chat_sandbox, "work", (C2C, "user_0002"))
    sync.pull_owner(alice.pk, staff.pk)
    app_renames(chat_sandbox, "work", name)
    group = ContactGroup.objects.get()
    group.items.create(type=C2C, to_account="user_0003")
    result = sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert result.state == group.state == ContactGroup.State.SYNCED
    assert (group.name, group.sync.confirmed_name) == ("work", "work")
    assert chat_groups(chat_sandbox, OWNER) == {name: (1, {(C2C, "user_0002"), (C2C, "user_0003")})}
    said = (f"user_0001 renamed the group in the app to “{shown}”, with a character the database here cannot store "
            "(shown as its code); the group keeps its name here.")
    assert said in words.outcome_text(group.sync.last_outcome)
    entry = LogEntry.objects.filter(object_id=str(group.pk)).latest("pk")
    assert said in words.history_text(entry)
    # A pull leaves it as it is, and says why.
    report = sync.pull_owner(alice.pk, staff.pk)
    assert [data["name"] for data in report.held_back] == [shown]
    assert ContactGroup.objects.get().name == "work"


def test_a_conversation_so_named_is_reported_not_stored(alice, chat_sandbox, staff):
    app_creates(chat_sandbox, "work", (C2C, "user_0002"), (GROUP, "@TGS#\x00x"))
    report = sync.pull_owner(alice.pk, staff.pk)
    group = ContactGroup.objects.get()
    assert [(c.type, c.target) for c in group.items.conversations()] == [(C2C, "user_0002")]
    assert report.not_stored[0]["conversation"] == [GROUP, "@TGS#\\u0000x"]
    assert "group @TGS#\\u0000x (characters the database cannot store)" in words.pull_report_lines(report)[0]
    group.items.create(type=C2C, to_account="user_0003")
    assert sync.sync_group(group.pk, staff.pk).state == ContactGroup.State.SYNCED


def test_the_picker_lists_a_userid_so_named_without_failing(alice, chat_sandbox, staff_client):
    chat_sandbox.seed_conversations(OWNER, [{"Type": C2C, "To_Account": "bad\x00id", "MsgTime": 1_764_670_000},
                                            {"Type": C2C, "To_Account": "user_0002", "MsgTime": 1_764_670_060}])
    ChatUser.objects.create(user_id="user_0002", nickname="Bob")
    response = staff_client.get(reverse("admin:contactgroups_contactgroup_recent"), {"owner": alice.pk})
    assert response.status_code == 200
    assert [(row["target"], row["nickname"]) for row in response.json()["conversations"]] == [
        ("user_0002", "Bob"), ("bad\x00id", "")]


# From staff: addresses -----------------------------------------------------------------------------------------

LISTS = ["contactgroup", "chatuser", "syncattempt"]
QUERIES = {
    "contactgroup": ["q", "state", "drift", "owner", "o", "p"],
    "chatuser": ["q", "import_state", "o"],
    "syncattempt": ["q", "outcome", "operation", "error_code", "started", "o"],
}


@pytest.mark.parametrize(("model", "parameter"), [(m, p) for m in LISTS for p in QUERIES[m]])
def test_a_nul_in_a_lists_filter_or_search_is_a_400_that_says_why(rows, staff_client, model, parameter):
    response = staff_client.get(reverse(f"admin:contactgroups_{model}_changelist") + f"?{parameter}=a%00b")
    assert response.status_code == 400
    assert REFUSED_ADDRESS in response.content.decode()


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
@pytest.mark.parametrize("parameter", ["q", "state", "owner", "drift"])
def test_a_nul_in_an_exports_filter_is_a_400(rows, staff_client, file_format, parameter):
    url = reverse("admin:contactgroups_contactgroup_export", args=[file_format])
    response = staff_client.get(f"{url}?{parameter}=%00")
    assert response.status_code == 400
    assert REFUSED_ADDRESS in response.content.decode()


def other_addresses(rows) -> list[str]:
    group = rows["contactgroup"]
    return [
        reverse("admin:contactgroups_contactgroup_recent") + f"?owner={rows['chatuser'].pk}&cursor=%00",
        reverse("admin:contactgroups_contactgroup_chat_users") + "?term=%00",
        reverse("admin:autocomplete") + "?term=a%00&app_label=contactgroups&model_name=contactgroup&field_name=owner",
        reverse("admin:contactgroups_contactgroup_change", args=[group.pk]) + "?_changelist_filters=q%3D%00",
        reverse("admin:contactgroups_contactgroup_history", args=[group.pk]) + "?p=%00",
        reverse("admin:contactgroups_health") + "?hours=%00",
        reverse("admin:contactgroups_contactgroup_statuses") + f"?ids={group.pk}%00",
        "/admin/contactgroups/contactgroup/%00/change/",
        "/admin/contactgroups/chatuser/1%00/change/",
    ]


def test_a_nul_in_any_other_address_is_a_400(rows, staff_client):
    for url in other_addresses(rows):
        response = staff_client.get(url)
        assert (url, response.status_code) == (url, 400)
        assert REFUSED_ADDRESS in response.content.decode()


def test_an_address_without_a_nul_is_answered_as_before(rows, staff_client):
    response = staff_client.get(reverse("admin:contactgroups_contactgroup_changelist") + "?q=work")
    assert response.status_code == 200 and "work" in response.content.decode()


# From staff: forms and files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("row", [(C2C, "user\x000002", ""), (GROUP, "", "@TGS#\x00x")])
def test_a_nul_in_a_groups_name_or_conversation_is_a_form_error(owner, staff_client, row):
    for name, items in (("nul\x00here", [(C2C, "user_0002", "")]), ("work", [row])):
        response = staff_client.post(reverse("admin:contactgroups_contactgroup_add"),
                                group_form_data(owner=owner, name=name, items=items))
        assert response.status_code == 200
        assert form_errors(response), (name, items)
    assert ContactGroup.objects.count() == 0


@pytest.mark.parametrize("field", ["user_id", "nickname"])
def test_a_nul_in_a_chat_users_userid_or_nickname_is_a_form_error(staff_client, field):
    data = {"user_id": "user_0009", "nickname": "Bob"}
    data[field] = data[field][:2] + "\x00" + data[field][2:]
    response = staff_client.post(reverse("admin:contactgroups_chatuser_add"), data)
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()
    assert not ChatUser.objects.exists()


def test_importing_one_userid_with_a_nul_is_refused_with_a_message(staff_client, staff):
    response = staff_client.post(reverse("admin:contactgroups_chatuser_import_one"), {"user_id": "bad\x00id"},
                            follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Not imported: A UserID cannot contain control characters."]
    assert not ChatUser.objects.exists()


def test_a_nul_in_a_csv_cell_refuses_its_row_in_the_preview(owner, staff_client):
    text = ("owner,group_name,type,target\nuser_0001,work,1,user_0002\nuser_0001,nul\x00here,1,user_0002\n"
            "user_0001,other,1,user\x000003\n")
    response = staff_client.post(reverse("admin:contactgroups_contactgroup_import"),
                            {"file": SimpleUploadedFile("groups.csv", text.encode(), "text/csv")})
    page = response.content.decode()
    assert response.status_code == 200
    assert "1 group with 1 conversation would be created. 2 groups are refused" in page
    confirmed = staff_client.post(reverse("admin:contactgroups_contactgroup_import"),
                             {"payload": response.context["payload"], "confirm": "1"}, follow=True)
    assert confirmed.status_code == 200
    assert list(ContactGroup.objects.values_list("name", flat=True)) == ["work"]


def test_a_nul_in_a_nickname_of_the_user_import_refuses_its_row(db, tmp_path, staff):
    path = tmp_path / "users.csv"
    path.write_bytes(b"user_id,nickname\nuser_0008,Ann\nuser_0009,B\x00ob\n")
    out = io.StringIO()
    with pytest.raises(CommandError):  # a refused row makes the command exit non-zero
        call_command("import_chat_users", "--actor", staff.username, str(path), "--dry-run", stdout=out, stderr=out)
    assert "A nickname cannot contain a NUL character, which the database cannot store." in out.getvalue()
    assert not ChatUser.objects.filter(user_id="user_0009").exists()
