"""Importing conversation groups from CSV: the checks (the admin's own), the command and the admin upload.

The checks run against the real database; the command and the admin sync through the Chat sandbox over HTTP.
"""

import io

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from contactgroups import words
from contactgroups.chat import protocol
from contactgroups.chat.types import Conversation
from contactgroups.forms import ContactGroupForm
from contactgroups.imports import csvfile
from contactgroups.imports.groups import GroupImportPlan, apply_group_import, plan_group_import
from contactgroups.models import ChatUser, ContactGroup, ContactItem
from tests.admin_forms import states_shown

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
HEADER = "owner,group_name,type,target\n"
IMPORT_URL = reverse("admin:contactgroups_contactgroup_import")
CHANGELIST = reverse("admin:contactgroups_contactgroup_changelist")


def plan(text: str) -> GroupImportPlan:
    return plan_group_import(text.encode("utf-8"), "groups.csv")


def lines(import_plan) -> list[str]:
    return [problem.line() for problem in import_plan.rejected_rows()]


# Checks of the file as a whole -------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "complaint"), [
    ("owner,name,type,target\n", "missing group_name; unknown name"),
    ("owner,group_name,type\n", "missing target"),
    ("owner,group_name,type,target,target\n", "named twice: target"),
])
def test_a_file_with_wrong_columns_is_refused_whole(db, header, complaint):
    with pytest.raises(csvfile.CsvError, match=complaint):
        plan(header + "user_0001,work,1,user_0002\n")


def test_a_file_that_is_not_utf8_is_refused_with_its_line(db):
    raw = (HEADER + "user_0001,work,1,user_0002\nuser_0001,caf\xe9,1,user_0003\n").encode("latin-1")
    with pytest.raises(csvfile.CsvError, match=r"not UTF-8 text: byte 0xe9 on line 3"):
        plan_group_import(raw, "groups.csv")


def test_an_empty_file_is_refused(db):
    with pytest.raises(csvfile.CsvError, match="is empty"):
        plan("")


def test_a_file_over_the_row_cap_is_refused(db, monkeypatch):
    monkeypatch.setattr(csvfile, "CSV_MAX_ROWS", 3)
    with pytest.raises(csvfile.CsvError, match="more than 3 rows"):
        plan(HEADER + "user_0001,work,1,user_0002\n" * 4)


def test_a_file_over_the_byte_cap_is_refused(db, monkeypatch):
    monkeypatch.setattr(csvfile, "CSV_MAX_BYTES", 100)
    with pytest.raises(csvfile.CsvError, match="larger than"):
        plan(HEADER + "user_0001,work,1,user_0002\n" * 10)


def test_a_file_with_a_broken_quote_is_refused(db):
    with pytest.raises(csvfile.CsvError, match="not a valid CSV file"):
        plan(HEADER + 'user_0001,"work,1,user_0002\n')


def test_a_byte_order_mark_and_any_column_order_are_fine(owner):
    result = plan_group_import("\ufefftarget,type,group_name,owner\nuser_0002,1,work,user_0001\n"
                                          .encode("utf-8"), "groups.csv")
    assert [(group.name, group.keys) for group in result.accepted] == [("work", [Conversation(C2C, "user_0002")])]


# Checks of each row, by row number and column ------------------------------------------------------------------


def test_a_name_over_64_bytes_is_refused_with_its_row_and_column(owner):
    name = "会" * 22  # 66 bytes
    result = plan(HEADER + f"user_0001,ok,1,user_0002\nuser_0001,{name},1,user_0002\n")
    assert lines(result) == [f"Row 3, group_name: {protocol.validate_group_name(name)[0]}"]
    assert [group.name for group in result.accepted] == ["ok"]


@pytest.mark.parametrize(("row", "column", "message"), [
    ("user_0001,work,3,user_0002", "type", "Unknown conversation type '3'"),
    ("user_0001,work,1,", "target", "needs the UserID of the other user"),
    ("user_0001,work,1,@TGS#1 ", "target", "cannot start or end with spaces"),
    (f"{'u' * 33},work,1,user_0002", "owner", "33 bytes"),
    ("user_0001,,1,user_0002", "group_name", "cannot be empty"),
])
def test_a_bad_cell_is_refused_with_its_column(owner, row, column, message):
    [line] = lines(plan(HEADER + row + "\n"))
    assert line.startswith(f"Row 2, {column}: ") and message in line


def test_a_row_with_too_few_cells_is_refused(owner):
    assert lines(plan(HEADER + "user_0001,work,1\n")) == [
        "Row 2: This row has 3 columns; the first row names 4."]


def test_type_may_be_written_as_a_word(owner):
    result = plan(HEADER + "user_0001,work,c2c,user_0002\nuser_0001,work,group,@TGS#1\n")
    assert result.accepted[0].keys == [Conversation(C2C, "user_0002"), Conversation(GROUP, "@TGS#1")]


def test_a_row_without_a_conversation_makes_an_empty_group(owner):
    result = plan(HEADER + "user_0001,empty,,\n")
    assert [(group.name, group.keys) for group in result.accepted] == [("empty", [])]


# All or nothing per group ------------------------------------------------------------------------------------


def test_one_bad_row_refuses_its_whole_group_and_only_that_group(owner):
    result = plan(HEADER + "user_0001,work,1,user_0002\nuser_0001,work,7,user_0003\nuser_0001,work,1,user_0004\n"
                           "user_0001,home,1,user_0002\n")
    assert [group.name for group in result.accepted] == ["home"]
    assert lines(result) == [
        "Row 2: Not imported with its group “work” of user_0001, refused for row 3.",
        "Row 3, type: Unknown conversation type '7': use 1 (one-to-one) or 2 (group conversation).",
        "Row 4: Not imported with its group “work” of user_0001, refused for row 3.",
    ]


def test_a_conversation_listed_twice_in_a_group_is_refused(owner):
    result = plan(HEADER + "user_0001,work,1,user_0002\nuser_0001,work,1,user_0002\n")
    assert "Row 3, target: This conversation is already listed for this group in row 2." in lines(result)
    assert result.accepted == []


def test_an_unknown_owner_is_refused(db):
    assert lines(plan(HEADER + "ghost,work,1,user_0002\n")) == [
        "Row 2, owner: There is no Chat user 'ghost'; add or import it first (import_chat_users)."]


def test_a_name_the_owner_already_uses_is_refused(owner, make_group):
    make_group(owner, "work")
    assert lines(plan(HEADER + "user_0001,work,1,user_0002\n")) == [
        "Row 2, group_name: user_0001 already has a conversation group named “work”."]


def test_a_deleted_group_does_not_hold_its_name(owner, make_group):
    make_group(owner, "work", state=ContactGroup.State.DELETED)
    assert [group.name for group in plan(HEADER + "user_0001,work,1,user_0002\n").accepted] == ["work"]


def test_the_owner_group_limit_counts_existing_groups_and_earlier_rows(owner, make_group):
    for number in range(protocol.GROUPS_PER_USER_MAX - 1):
        make_group(owner, f"existing {number}")
    result = plan(HEADER + "user_0001,twentieth,1,user_0002\nuser_0001,twenty-first,1,user_0002\n")
    assert [group.name for group in result.accepted] == ["twentieth"]
    assert lines(result) == [f"Row 3, owner: {protocol.validate_group_count(protocol.GROUPS_PER_USER_MAX + 1)[0]}"]


def test_the_group_limit_is_the_one_the_admin_form_applies(owner, make_group):
    for number in range(protocol.GROUPS_PER_USER_MAX):
        make_group(owner, f"existing {number}")
    form = ContactGroupForm(data={"owner": owner.pk, "name": "one more"})
    assert not form.is_valid()
    [line] = lines(plan(HEADER + "user_0001,one more,1,user_0002\n"))
    assert line == f"Row 2, owner: {form.errors['owner'][0]}"


def test_the_grouped_conversation_limit_counts_distinct_conversations_across_groups(owner, make_group):
    per_group = protocol.GROUPED_CONVERSATIONS_PER_USER_MAX // 2
    make_group(owner, "a", [(C2C, f"peer_{n}") for n in range(per_group)])
    make_group(owner, "b", [(C2C, f"peer_{n}") for n in range(per_group, 2 * per_group - 1)])
    text = HEADER + "user_0001,c,1,peer_0\nuser_0001,c,1,peer_new_1\n" + "user_0001,d,1,peer_new_2\n"
    result = plan(text)
    # "c" adds one new conversation (peer_0 is grouped already): 1,000. "d" would make 1,001.
    assert [group.name for group in result.accepted] == ["c"]
    assert lines(result) == [
        "Row 4, target: "
        + protocol.validate_grouped_conversation_count(protocol.GROUPED_CONVERSATIONS_PER_USER_MAX + 1)[0]
    ]


# The command -------------------------------------------------------------------------------------------------


@pytest.fixture
def chat(chat_sandbox, owner):
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003")
    return chat_sandbox


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_contact_groups", str(path), *args, stdout=out, stderr=err)
    return out.getvalue()


def csv_file(tmp_path, text, name="groups.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.django_db(transaction=True)
def test_the_command_creates_the_groups_and_syncs_them_after_commit(chat, staff, tmp_path):
    path = csv_file(tmp_path, HEADER + "user_0001,work,1,user_0002\nuser_0001,work,2,@TGS#1\n"
                                       "user_0001,home,1,user_0003\n")
    out = run(path, "--actor", staff.username)
    assert dict(ContactGroup.objects.values_list("name", "state")) == {"work": "synced", "home": "synced"}
    assert len(chat.calls_to("recentcontact/create_contact_group")) == 2
    assert "Created 2 groups" in out and "Synced to Chat: 2 synced." in out
    work = ContactGroup.objects.get(name="work")
    entry = LogEntry.objects.get(object_id=str(work.pk), action_flag=ADDITION)
    assert words.history_text(entry) == f"Imported from {path} (rows 2-3) with 2 conversations."


@pytest.mark.django_db(transaction=True)
def test_the_command_lists_refused_rows_creates_the_rest_and_exits_non_zero(chat, staff, tmp_path):
    path = csv_file(tmp_path, HEADER + "user_0001,work,1,user_0002\nuser_0001,bad,9,user_0002\n")
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("import_contact_groups", str(path), "--actor", staff.username, stdout=out, stderr=io.StringIO())
    assert failure.value.returncode == 1 and str(failure.value) == "1 row refused; see the lines above."
    assert "Row 3, type: Unknown conversation type '9'" in out.getvalue()
    assert list(ContactGroup.objects.values_list("name", flat=True)) == ["work"]


@pytest.mark.django_db(transaction=True)
def test_the_command_refuses_a_malformed_file_and_changes_nothing(chat, staff, tmp_path):
    path = tmp_path / "groups.csv"
    path.write_bytes((HEADER + "user_0001,caf\xe9,1,user_0002\n").encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8 text.*Nothing was changed"):
        run(path, "--actor", staff.username)
    assert ContactGroup.objects.count() == 0 and chat.calls_to() == []


@pytest.mark.django_db(transaction=True)
def test_the_command_dry_run_changes_nothing_and_calls_chat_not_at_all(chat, staff, tmp_path):
    out = run(csv_file(tmp_path, HEADER + "user_0001,work,1,user_0002\n"), "--actor", staff.username, "--dry-run")
    assert "Would create “work” of user_0001 (1 conversation, row 2)." in out
    assert ContactGroup.objects.count() == 0 and LogEntry.objects.count() == 0 and chat.calls_to() == []


@pytest.mark.django_db(transaction=True)
def test_the_command_no_sync_leaves_drafts_for_a_later_bulk_sync(chat, staff, tmp_path):
    run(csv_file(tmp_path, HEADER + "user_0001,work,1,user_0002\n"), "--actor", staff.username, "--no-sync")
    assert list(ContactGroup.objects.values_list("state", flat=True)) == [ContactGroup.State.DRAFT]
    assert chat.calls_to() == []


def test_a_group_taken_between_preview_and_save_is_refused_whole(owner, make_group, staff):
    import_plan = plan(HEADER + "user_0001,work,1,user_0002\n")
    make_group(owner, "work")
    result = apply_group_import(import_plan, staff.pk, "groups.csv", queue_sync=False)
    assert result.created == []
    assert [problem.line() for problem in result.rejected[0].problems] == [
        "Row 2, group_name: user_0001 already has a conversation group named “work”."]
    assert ContactItem.objects.count() == 0


# The admin upload --------------------------------------------------------------------------------------------


def upload(text, name="groups.csv"):
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


@pytest.fixture
def support(client, staff, chat):
    client.force_login(staff)
    return client


def test_the_changelist_offers_the_import_to_those_who_may_import(support):
    assert IMPORT_URL in support.get(CHANGELIST).content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_upload_shows_a_preview_and_saves_nothing(support):
    response = support.post(IMPORT_URL, {"file": upload(HEADER + "user_0001,work,1,user_0002\n"
                                                         "user_0001,long,1," + "x" * 40 + "\n")})
    page = response.content.decode()
    assert response.status_code == 200
    assert "1 group with 1 conversation would be created. 1 group is refused" in page
    assert "<td>work</td>" in page and "This UserID is 40 bytes" in page
    assert ContactGroup.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_confirming_the_preview_creates_and_syncs_the_groups(support, chat, staff, background_syncs):
    preview = support.post(IMPORT_URL, {"file": upload(HEADER + "user_0001,work,1,user_0002\n")})
    response = support.post(IMPORT_URL, {"payload": preview.context["payload"], "confirm": "1"}, follow=True)
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
        ("success", "1 conversation group imported from groups.csv and queued for sync to Chat.")]
    background_syncs.wait()
    assert "synced" in states_shown(support.get(CHANGELIST).content.decode())
    group = ContactGroup.objects.get()
    assert group.state == ContactGroup.State.SYNCED and len(chat.calls_to("recentcontact/create_contact_group")) == 1
    assert LogEntry.objects.get(action_flag=ADDITION).user == staff


@pytest.mark.django_db(transaction=True)
def test_a_changed_preview_is_refused(support):
    preview = support.post(IMPORT_URL, {"file": upload(HEADER + "user_0001,work,1,user_0002\n")})
    response = support.post(IMPORT_URL, {"payload": preview.context["payload"] + "x", "confirm": "1"}, follow=True)
    assert "This preview has expired or was changed; upload the file again." in response.content.decode()
    assert ContactGroup.objects.count() == 0


def test_a_malformed_upload_is_refused_on_the_form(support):
    response = support.post(IMPORT_URL, {"file": upload("who,what\nuser_0001,work\n")})
    assert "must name the columns owner, group_name, type, target" in response.content.decode()
    assert ContactGroup.objects.count() == 0


def test_the_import_needs_the_permissions_to_add_and_to_sync(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="pw-for-tests", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_contactgroup", "add_contactgroup"]))
    client.force_login(viewer)
    assert client.get(IMPORT_URL).status_code == 403
    assert IMPORT_URL not in client.get(CHANGELIST).content.decode()


def test_owners_are_looked_up_once_per_file(owner, django_assert_max_num_queries):
    users = [ChatUser.objects.create(user_id=f"owner_{n}") for n in range(30)]
    text = HEADER + "".join(f"{user.user_id},g,1,user_0002\n" for user in users)
    # The owners, then their live groups (none here, so no query for their grouped conversations).
    with django_assert_max_num_queries(2):
        result = plan(text)
    assert len(result.accepted) == 30
