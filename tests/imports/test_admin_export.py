"""The admin's export of conversation groups: the selected ones (actions) or those the list's filters select (the
Export buttons), as CSV and XLSX in the command's columns, streamed, formula-safe, behind the view permission.

Each download goes through the real admin views and is read back as a spreadsheet would read it: the csv module
and openpyxl.
"""

import csv
import io

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from contactgroups import exports
from contactgroups.chat import errors, protocol
from contactgroups.imports.groups import EXPORTED_COLUMNS, plan_group_import
from contactgroups.models import ChatUser, ContactGroup, GroupSync
from contactgroups.spreadsheet import restore

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
CHANGELIST = reverse("admin:contactgroups_contactgroup_changelist")
FORMULA = '=HYPERLINK("http://example.invalid/","click")'


def export_url(file_format: str, query: str = "") -> str:
    return reverse("admin:contactgroups_contactgroup_export", args=[file_format]) + (f"?{query}" if query else "")


def body(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def csv_rows(response) -> list[list[str]]:
    text = body(response).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def xlsx_rows(response) -> list[list[str]]:
    sheet = openpyxl.load_workbook(io.BytesIO(body(response)), read_only=True).active
    return [["" if value is None else value for value in row] for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def groups(owner, make_group):
    """Three groups of two owners: one synced with a GroupId and a refusal, a formula-like name, a CJK name."""
    other = ChatUser.objects.create(user_id="user_0009")
    synced = make_group(owner, "work", [(C2C, "user_0002"), (GROUP, "@TGS#1")], chat_group_id=7,
                        state=ContactGroup.State.SYNCED)
    synced.items.filter(to_account="user_0002").update(result_code=50001, result_info="account not imported")
    make_group(owner, FORMULA, [(C2C, "user_0003")])
    make_group(other, "项目组 客户", [])
    return synced


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_the_export_button_downloads_every_group_the_list_shows_as_csv(staff_client, groups):
    response = staff_client.get(export_url("csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="conversation-groups-{today}.csv"'
    rows = csv_rows(response)
    assert rows[0] == EXPORTED_COLUMNS
    assert rows[1:] == [
        ["user_0001", "work", "7", "synced", "1", "user_0002", "50001", "account not imported"],
        ["user_0001", "work", "7", "synced", "2", "'@TGS#1", "", ""],
        ["user_0001", "'" + FORMULA, "", "draft", "1", "user_0003", "", ""],
        ["user_0009", "项目组 客户", "", "draft", "", "", "", ""],
    ]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_code_this_admin_cannot_read_is_exported_as_the_admin_shows_it(staff_client, groups, file_format):
    groups.items.filter(to_account="user_0002").update(result_code=errors.CODE_UNREADABLE, result_info="odd")
    rows = (csv_rows if file_format == "csv" else xlsx_rows)(staff_client.get(export_url(file_format)))
    assert rows[1] == ["user_0001", "work", "7", "synced", "1", "user_0002", "?", "odd"]
    assert str(errors.CODE_UNREADABLE) not in str(rows)


def test_the_export_button_applies_the_lists_filters_and_search(staff_client, groups):
    by_owner = csv_rows(staff_client.get(export_url("csv", "owner=user_0009")))
    assert [row[:2] for row in by_owner[1:]] == [["user_0009", "项目组 客户"]]
    searched = csv_rows(staff_client.get(export_url("csv", "q=wor")))
    assert {row[1] for row in searched[1:]} == {"work"}
    synced = csv_rows(staff_client.get(export_url("csv", "state=synced")))
    assert {row[1] for row in synced[1:]} == {"work"}


def test_deleted_groups_are_exported_only_when_the_list_shows_them(staff_client, groups, owner, make_group):
    make_group(owner, "gone", [(C2C, "user_0004")], state=ContactGroup.State.DELETED)
    assert "gone" not in {row[1] for row in csv_rows(staff_client.get(export_url("csv")))}
    assert "gone" in {row[1] for row in csv_rows(staff_client.get(export_url("csv", "state=all")))}


def test_the_export_button_exports_every_page_not_only_the_first(staff_client, owner):
    groups = ContactGroup.objects.bulk_create(ContactGroup(owner=owner, name=f"g{n:04d}") for n in range(1200))
    GroupSync.objects.bulk_create(GroupSync.for_groups(groups))
    rows = csv_rows(staff_client.get(export_url("csv")))
    assert len(rows) == 1 + 1200
    assert [row[1] for row in rows[1:]] == [f"g{n:04d}" for n in range(1200)]


def test_a_filter_the_list_refuses_gives_the_lists_error_not_a_file(staff_client, groups):
    response = staff_client.get(export_url("csv", "no_such_field=1"))
    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST}?e=1"


def test_the_xlsx_export_holds_the_same_cells_as_the_csv(staff_client, groups):
    response = staff_client.get(export_url("xlsx"))
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"].endswith(f'conversation-groups-{timezone.localdate().isoformat()}.xlsx"')
    assert xlsx_rows(response) == csv_rows(staff_client.get(export_url("csv")))


def test_xlsx_cells_are_strings_never_formulas(staff_client, owner, make_group):
    make_group(owner, FORMULA, [(C2C, "user_0002")])
    make_group(owner, "#N/A", [(C2C, "user_0003")])
    make_group(owner, "bell\x07here", [])
    sheet = openpyxl.load_workbook(io.BytesIO(body(staff_client.get(export_url("xlsx"))))).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.value is not None]
    assert {cell.data_type for cell in cells} == {"s"}
    names = [row[1].value for row in sheet.iter_rows(min_row=2)]
    assert names == ["'" + FORMULA, "#N/A", "bell\ufffdhere"]
    assert restore(names[0]) == FORMULA


def test_the_row_count_an_xlsx_is_checked_against_is_the_rows_exported(groups, owner, make_group):
    make_group(owner, "many", [(C2C, f"user_{n:04d}") for n in range(10, 160)])
    everything = ContactGroup.objects.all()
    assert exports.exported_row_count(everything) == len(list(exports.exported_rows(everything))) == 154
    assert exports.exported_row_count(ContactGroup.objects.none()) == 0


def test_groups_that_make_more_rows_than_an_xlsx_sheet_holds_are_refused_as_xlsx_with_the_reason(
        staff_client, groups, monkeypatch):
    # The groups make 4 rows; a sheet holding 3 stands in for the 1,048,575 of a real one.
    monkeypatch.setattr(exports, "XLSX_ROWS_MAX", 3)
    refusal = ("These groups make 4 rows, more than an XLSX sheet holds (3), so nothing was exported. Export them "
               "as CSV, which has no such limit.")

    button = staff_client.get(export_url("xlsx", "o=1"), follow=True)
    assert button.redirect_chain == [(f"{CHANGELIST}?o=1", 302)]
    assert [(m.level_tag, m.message) for m in button.context["messages"]] == [("error", refusal)]

    action = staff_client.post(f"{CHANGELIST}?q=", {"action": "export_selected_xlsx",
                                                    "_selected_action": list(ContactGroup.objects.values_list(
                                                        "pk", flat=True))}, follow=True)
    assert action.redirect_chain == [(f"{CHANGELIST}?q=", 302)]
    assert [(m.level_tag, m.message) for m in action.context["messages"]] == [("error", refusal)]

    assert len(csv_rows(staff_client.get(export_url("csv")))) == 5
    monkeypatch.setattr(exports, "XLSX_ROWS_MAX", 4)
    assert len(xlsx_rows(staff_client.get(export_url("xlsx")))) == 5


def test_the_actions_export_the_selected_groups(staff_client, groups, owner):
    other = ContactGroup.objects.get(name="项目组 客户")
    for action, read in (("export_selected_csv", csv_rows), ("export_selected_xlsx", xlsx_rows)):
        response = staff_client.post(CHANGELIST, {"action": action, "_selected_action": [groups.pk, other.pk]})
        rows = read(response)
        assert rows[0] == EXPORTED_COLUMNS
        assert [row[1] for row in rows[1:]] == ["work", "work", "项目组 客户"], action


def test_an_exported_csv_imports_back_as_the_same_groups(staff_client, groups, owner):
    exported = body(staff_client.get(export_url("csv")))
    before = {(group.owner.user_id, group.name, tuple(sorted(item.conversation for item in group.items.all())))
              for group in ContactGroup.objects.select_related("owner")}
    assert len(before) == 3
    ContactGroup.objects.all().delete()
    plan = plan_group_import(exported, "export.csv")
    assert plan.rejected == [] and plan.problems == []
    # A group with no conversation is its one row with empty conversation columns: an empty group again.
    assert {(group.owner_user_id, group.name, tuple(sorted(group.keys))) for group in plan.accepted} == before


def test_export_needs_the_view_permission(client, django_user_model, groups):
    clerk = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename__in=["view_chatuser"]))
    client.force_login(clerk)
    assert client.get(export_url("csv")).status_code == 403
    assert client.get(export_url("xlsx")).status_code == 403
    response = client.post(CHANGELIST, {"action": "export_selected_csv", "_selected_action": [groups.pk]})
    assert response.status_code == 403


def test_a_view_only_user_may_export(client, django_user_model, groups):
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_contactgroup"]))
    client.force_login(viewer)
    page = client.get(CHANGELIST).content.decode()
    assert export_url("csv") in page and "Export selected groups (CSV)" in page
    assert len(csv_rows(client.get(export_url("csv")))) == 5
    response = client.post(CHANGELIST, {"action": "export_selected_xlsx", "_selected_action": [groups.pk]})
    assert len(xlsx_rows(response)) == 3


def test_the_export_button_carries_the_lists_filters(staff_client, groups):
    page = staff_client.get(CHANGELIST, {"owner": "user_0009", "q": "项目"}).content.decode()
    assert f'href="{export_url("csv")}?owner=user_0009&amp;q=%E9%A1%B9%E7%9B%AE"' in page


# The import page's sample file -------------------------------------------------------------------------------

IMPORT_URL = reverse("admin:contactgroups_contactgroup_import")
SAMPLE_URL = reverse("admin:contactgroups_contactgroup_import_sample")


def test_the_import_page_offers_a_sample_file_that_imports_as_it_is(staff_client):
    assert SAMPLE_URL in staff_client.get(IMPORT_URL).content.decode()
    response = staff_client.get(SAMPLE_URL)
    assert response["Content-Disposition"] == 'attachment; filename="conversation-groups-sample.csv"'
    sample = response.content
    rows = list(csv.reader(io.StringIO(sample.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["owner", "group_name", "type", "target"]
    kinds = {row[2] for row in rows[1:]}
    assert kinds == {str(C2C), str(GROUP)}, "one-to-one and group conversations both shown"
    owners = {row[0] for row in rows[1:]}
    for user_id in owners:
        ChatUser.objects.create(user_id=user_id)
    plan = plan_group_import(sample, "sample.csv")
    assert plan.rejected == [] and plan.problems == []
    assert sum(len(group.conversations) for group in plan.accepted) == len(rows) - 1
    assert {(group.owner_user_id, group.name) for group in plan.accepted} == {(row[0], row[1]) for row in rows[1:]}


def test_the_sample_file_needs_the_import_permission(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_contactgroup"]))
    client.force_login(viewer)
    assert client.get(SAMPLE_URL).status_code == 403


def test_the_commands_file_and_the_admins_download_are_the_same_bytes(staff_client, staff, groups, tmp_path):
    """One file either way: the byte-order mark first (a spreadsheet then opens the Chinese names as such), the same
    rows and line ends, whether written by ``export_contact_groups`` to a file or to standard output, or downloaded."""
    downloaded = body(staff_client.get(export_url("csv")))
    path = tmp_path / "export.csv"
    call_command("export_contact_groups", "--actor", staff.username, "--output", str(path),
                 stdout=io.StringIO(), stderr=io.StringIO())
    printed = io.StringIO()
    call_command("export_contact_groups", "--actor", staff.username, stdout=printed, stderr=io.StringIO())
    assert downloaded.startswith(b"\xef\xbb\xbfowner,group_name,")
    assert "项目组 客户".encode() in downloaded
    assert path.read_bytes() == downloaded
    assert printed.getvalue().encode("utf-8") == downloaded
