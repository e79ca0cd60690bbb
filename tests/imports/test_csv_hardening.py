"""CSV files staff open in a spreadsheet and feed back: formulas neutralised, groups refused whole, big files cheap.

Exports go through the real command into a file read back with the csv module; imports through the real command
and the admin's upload page, against the real database.
"""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from contactgroups import spreadsheet
from contactgroups.chat import protocol
from contactgroups.imports.groups import REFUSALS_SHOWN_PER_REASON, plan_group_import
from contactgroups.models import ChatUser, ContactGroup, ContactItem, SyncAttempt

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
HEADER = "owner,group_name,type,target\n"
IMPORT_URL = reverse("admin:contactgroups_contactgroup_import")
REFUSALS_URL = reverse("admin:contactgroups_contactgroup_import_refusals")
FORMULAS = ['=HYPERLINK("http://example.invalid/","click")', '@SUM(1+1)*cmd|" /C calc"!A0', "+1+2", "-3+4",
            "\tTab", "\rReturn"]


def export(staff, tmp_path) -> list[list[str]]:
    path = tmp_path / "export.csv"
    call_command("export_contact_groups", "--actor", staff.username, "--output", str(path),
                 stdout=io.StringIO(), stderr=io.StringIO())
    return list(csv.reader(path.open(encoding="utf-8-sig", newline="")))


# The rule --------------------------------------------------------------------------------------------------


@given(st.text())
def test_no_neutralised_cell_starts_a_formula_and_each_reads_back_as_it_was(text):
    cell = spreadsheet.neutralise(text)
    assert not cell.startswith(tuple(spreadsheet.FORMULA_STARTS))
    assert spreadsheet.restore(cell) == text


@pytest.mark.parametrize(("value", "cell"), [
    ("=1+1", "'=1+1"), ("'=1+1", "''=1+1"), ("'quoted", "'quoted"), ("plain", "plain"), (None, ""), (-1, "'-1"),
])
def test_a_cell_gets_one_quote_exactly_when_a_spreadsheet_would_run_it(value, cell):
    assert spreadsheet.neutralise(value) == cell


# The export ------------------------------------------------------------------------------------------------


def test_the_export_writes_no_cell_a_spreadsheet_would_run(owner, make_group, staff, tmp_path):
    for index, name in enumerate(FORMULAS):
        group = make_group(owner, name, [(C2C, f"-peer{index}")])
        group.items.update(result_code=90001, result_info=f"=cmd|' /C calc'!A{index}")
    rows = export(staff, tmp_path)
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(tuple(spreadsheet.FORMULA_STARTS))]
    assert sorted(row[1] for row in rows[1:]) == sorted("'" + name for name in FORMULAS)
    assert {row[7] for row in rows[1:]} == {f"'=cmd|' /C calc'!A{index}" for index in range(len(FORMULAS))}


def test_a_name_that_starts_with_a_formula_survives_an_export_and_an_import(owner, make_group, staff, tmp_path):
    names = ["=SUM(A1:A2)", "'=already quoted", "'plain quote", "@mention"]
    for index, name in enumerate(names):
        make_group(owner, name, [(C2C, f"-peer{index}")])
    exported = export(staff, tmp_path)
    ContactGroup.objects.all().delete()
    path = tmp_path / "export.csv"
    call_command("import_contact_groups", str(path), "--actor", staff.username, "--no-sync",
                 stdout=io.StringIO(), stderr=io.StringIO())
    assert len(exported) == len(names) + 1
    assert sorted(ContactGroup.objects.values_list("name", flat=True)) == sorted(names)
    assert sorted(ContactItem.objects.values_list("to_account", flat=True)) == [f"-peer{n}" for n in range(4)]


# A group with a refused row is refused whole ----------------------------------------------------------------

THREE_ROWS_ONE_MALFORMED = HEADER + "user_0001,work,1,user_0002\nuser_0001,work,1\nuser_0001,work,1,user_0004\n"


def test_a_row_with_missing_cells_refuses_the_group_its_owner_and_name_cells_name(owner):
    plan = plan_group_import(THREE_ROWS_ONE_MALFORMED.encode(), "groups.csv")
    assert plan.accepted == []
    assert [problem.line() for problem in plan.rejected_rows()] == [
        "Row 2: Not imported with its group “work” of user_0001, refused for row 3.",
        "Row 3: This row has 3 columns; the first row names 4.",
        "Row 4: Not imported with its group “work” of user_0001, refused for row 3.",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_command_creates_nothing_of_a_group_with_a_malformed_row(chat_sandbox, owner, staff, tmp_path):
    path = tmp_path / "groups.csv"
    path.write_text(THREE_ROWS_ONE_MALFORMED, encoding="utf-8")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_contact_groups", str(path), "--actor", staff.username, stdout=out,
                     stderr=io.StringIO())
    assert "Created 0 groups from" in out.getvalue() and "1 group refused" in out.getvalue()
    assert ContactGroup.objects.count() == 0 and chat_sandbox.calls_to() == []


@pytest.mark.django_db(transaction=True)
def test_the_preview_and_its_confirmation_refuse_a_group_with_a_malformed_row(client, staff, owner, chat_sandbox):
    client.force_login(staff)
    upload = SimpleUploadedFile("groups.csv", THREE_ROWS_ONE_MALFORMED.encode(), content_type="text/csv")
    preview = client.post(IMPORT_URL, {"file": upload})
    page = preview.content.decode()
    assert "0 groups with 0 conversations would be created. 1 group is refused, 3 rows in all" in page
    assert "Create these groups" not in page
    client.post(IMPORT_URL, {"payload": preview.context["payload"], "confirm": "1"})
    assert ContactGroup.objects.count() == 0 and chat_sandbox.calls_to() == []


# Big files --------------------------------------------------------------------------------------------------


def many_groups(owners: int) -> bytes:
    users = ChatUser.objects.bulk_create([ChatUser(user_id=f"owner_{n:04}") for n in range(owners)])
    return (HEADER + "".join(f"{user.user_id},g{n},1,user_0002\n" for user in users for n in range(3))).encode()


@pytest.mark.parametrize("owners", [10, 300])
def test_the_preview_reads_the_database_in_the_same_few_queries_for_any_number_of_rows(
        db, owners, django_assert_num_queries):
    data = many_groups(owners)
    existing = ChatUser.objects.get(user_id="owner_0001")
    ContactGroup.objects.create(owner=existing, name="held")
    # The owners, their live groups' names, their grouped conversations.
    with django_assert_num_queries(3):
        plan = plan_group_import(data, "groups.csv")
    assert len(plan.accepted) == 3 * owners


@pytest.fixture
def refusing_preview(client, staff, owner):
    """The preview of a file whose 30 groups are refused for 3 reasons, 10 rows each, and one group accepted."""
    client.force_login(staff)
    rows = ["user_0001,fine,1,user_0002"]
    rows += [f"stranger_{n},g,1,user_0002" for n in range(10)]
    rows += [f"user_0001,bad type {n},9,user_0002" for n in range(10)]
    rows += [f"user_0001,=HYPERLINK(\"http://example.invalid/\") {n},1,{' ' * 40}" for n in range(10)]
    upload = SimpleUploadedFile("groups.csv", (HEADER + "\n".join(rows) + "\n").encode(), content_type="text/csv")
    return client.post(IMPORT_URL, {"file": upload})


def test_the_preview_groups_refused_rows_by_reason_and_shows_the_first_few_of_each(refusing_preview):
    page = refusing_preview.content.decode()
    assert "1 group with 1 conversation would be created. 30 groups are refused, 30 rows in all" in page
    for title in ("Owners who are not Chat users: 10", "Unknown conversation types: 10",
                  "Conversations Chat would refuse: 10"):
        assert f"{title} (the first {REFUSALS_SHOWN_PER_REASON} shown)" in page
    assert page.count('class="refused"') == 3 * REFUSALS_SHOWN_PER_REASON
    assert "stranger_4" in page and "stranger_5" not in page


def test_every_refused_row_can_be_downloaded_as_a_formula_safe_csv(client, refusing_preview):
    response = client.post(REFUSALS_URL, {"payload": refusing_preview.context["payload"]})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="refused-rows-groups.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["row", "column", "reason", "why"] and len(rows) == 31
    assert [row[0] for row in rows[1:]] == [str(n) for n in range(3, 33)]
    assert not [cell for row in rows for cell in row if cell.startswith(tuple(spreadsheet.FORMULA_STARTS))]


def test_the_refusals_of_a_changed_preview_are_not_given(client, refusing_preview):
    response = client.post(REFUSALS_URL, {"payload": refusing_preview.context["payload"] + "x"}, follow=True)
    assert "This preview has expired or was changed; upload the file again." in response.content.decode()


def test_a_preview_of_many_groups_lists_the_first_hundred_and_counts_the_rest(client, staff, owner):
    client.force_login(staff)
    users = ChatUser.objects.bulk_create([ChatUser(user_id=f"owner_{n:04}") for n in range(60)])
    text = HEADER + "".join(f"{user.user_id},g{n},1,user_0002\n" for user in users for n in range(2))
    response = client.post(IMPORT_URL, {"file": SimpleUploadedFile("groups.csv", text.encode())})
    page = response.content.decode()
    assert "120 groups with 120 conversations would be created." in page
    assert page.count("<td>g0</td>") + page.count("<td>g1</td>") == 100 and "… and 20 more groups." in page


# Without a broker the command syncs in bulk ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_command_syncs_the_new_groups_several_at_a_time(chat_sandbox, owner, staff, tmp_path):
    chat_sandbox.import_accounts(owner.user_id, "user_0002")
    chat_sandbox.set_faults(latency_ms=300)
    path = tmp_path / "groups.csv"
    path.write_text(HEADER + "".join(f"user_0001,g{n},1,user_0002\n" for n in range(6)), encoding="utf-8")
    out = io.StringIO()
    call_command("import_contact_groups", str(path), "--actor", staff.username, "--concurrency", "3", stdout=out,
                 stderr=io.StringIO())
    assert "Synced to Chat: 6 synced." in out.getvalue()
    creates = SyncAttempt.objects.filter(operation__contains="create_contact_group").order_by("started_at")
    spans = [(attempt.started_at, attempt.started_at + timedelta(milliseconds=attempt.duration_ms))
             for attempt in creates]
    assert len(spans) == 6
    # Chat had more than one create in hand at once: the syncs overlapped, they did not run one after another.
    assert max(sum(start <= other_start < end for other_start, _ in spans) for start, end in spans) >= 2
