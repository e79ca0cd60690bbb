"""Downloading exports as a person does: the list filtered, then Export; rows ticked, then the export action; the
import page's sample file. Each download is read back as a spreadsheet would read it."""

import csv
import io

import openpyxl
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contactgroups.chat import protocol
from contactgroups.imports.groups import EXPORTED_COLUMNS, GROUP_COLUMNS
from contactgroups.models import ChatUser
from tests.browser.conftest import CHAT_GROUP_ID, CJK_NAME, log_in

pytestmark = pytest.mark.browser

PASSWORD = "support-password"  # the staff fixture's
C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
FORMULA = "=1+2"


@pytest.fixture
def groups(owner, make_group):
    other = ChatUser.objects.create(user_id="user_0009", nickname="Zoe")
    make_group(owner, CJK_NAME, [(C2C, "user_0002"), (GROUP, CHAT_GROUP_ID)])
    make_group(owner, FORMULA, [(C2C, "user_0003")])
    make_group(other, "Zoe's friends", [(C2C, "user_0001")])


def download(page, click) -> tuple[str, bytes]:
    with page.expect_download() as info:
        click()
    done = info.value
    return done.suggested_filename, open(done.path(), "rb").read()


def test_the_export_button_downloads_the_filtered_list_as_csv(page, staff, groups):
    log_in(page, "support", PASSWORD)
    page.goto("/admin/contactgroups/contactgroup/")
    page.locator("#changelist-filter input[name='owner']").fill("user_0001")
    page.locator("#changelist-filter input[name='owner']").press("Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    name, data = download(page, lambda: page.get_by_role("link", name="Export (CSV)").click())
    assert name == f"conversation-groups-{timezone.localdate().isoformat()}.csv"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == EXPORTED_COLUMNS
    assert sorted((row[0], row[1], row[4], row[5]) for row in rows[1:]) == [
        ("user_0001", "'" + FORMULA, "1", "user_0003"),
        ("user_0001", CJK_NAME, "1", "user_0002"),
        ("user_0001", CJK_NAME, "2", "'" + CHAT_GROUP_ID),
    ]


def test_the_export_action_downloads_the_ticked_groups_as_xlsx(page, staff, groups):
    log_in(page, "support", PASSWORD)
    page.goto("/admin/contactgroups/contactgroup/")
    for name in ("Zoe's friends", CJK_NAME):
        page.locator("#result_list tbody tr", has_text=name).locator("input.action-select").check()
    page.locator("select[name='action']").select_option(label="Export selected groups (XLSX)")
    name, data = download(page, lambda: page.get_by_role("button", name="Go").click())
    assert name.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == EXPORTED_COLUMNS
    assert sorted((row[0], row[1], row[5]) for row in rows[1:]) == [
        ("user_0001", CJK_NAME, "'" + CHAT_GROUP_ID), ("user_0001", CJK_NAME, "user_0002"),
        ("user_0009", "Zoe's friends", "user_0001")]


def test_the_import_page_offers_its_sample_file(page, staff):
    log_in(page, "support", PASSWORD)
    page.goto("/admin/contactgroups/contactgroup/import/")
    name, data = download(page, lambda: page.get_by_role("link", name="Download a sample file").click())
    assert name == "conversation-groups-sample.csv"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == GROUP_COLUMNS and len(rows) > 2
