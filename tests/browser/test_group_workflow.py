"""Support staff at work in the admin, in headless Chromium, with Chat (the sandbox) behind it.

Each test logs in through the login form and reads what a person reads on the page; Chat's side is
checked by asking the sandbox as the user's app would.
"""

import re

import pytest
from playwright.sync_api import expect

from contactgroups.chat import protocol
from contactgroups.models import ContactGroup
from tests.browser.conftest import (
    C2C,
    CHAT_GROUP_ID,
    CJK_NAME,
    GROUP,
    chat_groups,
    column,
    log_in,
    screenshot,
    settle,
)

pytestmark = pytest.mark.browser

PASSWORD = "support-password"  # the staff fixture's
RED = "rgb(186, 33, 33)"  # .refused in contactgroups/admin.css


# Helpers: what a person does on the group form ------------------------------------------------------------------


def choose_owner(page, search: str, choice: str) -> None:
    """Pick the owner in the select2 autocomplete box: open it, type, click the match."""
    page.locator(".field-owner .select2-selection").click()
    page.locator(".select2-search__field").press_sequentially(search)
    page.locator(".select2-results__option", has_text=choice).click()
    expect(page.locator(".field-owner .select2-selection__rendered")).to_have_text(re.compile(re.escape(choice)))


def conversation_row(page, index: int):
    return page.locator(f"#items-{index}")


def fill_conversation(page, index: int, kind: str, target: str) -> None:
    """Fill row ``index`` of the conversations: choose the type, then type the target the type shows."""
    row = conversation_row(page, index)
    row.locator("select[name$='-type']").select_option(label=kind)
    field = "to_account" if kind == "One-to-one" else "to_group_id"
    row.locator(f"input[name$='-{field}']").fill(target)


def add_conversation_row(page) -> None:
    page.get_by_text("Add another Conversation").click()


def open_add_form(page) -> None:
    page.goto("/admin/contactgroups/contactgroup/")
    page.get_by_role("link", name="Add conversation group").click()
    expect(page.get_by_role("heading", name="Add conversation group")).to_be_visible()


def save(page, button: str = "Save") -> None:
    page.get_by_role("button", name=button, exact=True).click()


def result_of(page, target: str):
    """The "Chat's answer" cell of the conversation row holding ``target``."""
    row = page.locator("tr.form-row").filter(has=page.locator(f"input[value='{target}']"))
    return row.locator("td.field-result")


def field(page, name: str):
    """A read-only value on the group page, such as the state or the GroupId."""
    return page.locator(f".form-row.field-{name} .readonly")


# Users -------------------------------------------------------------------------------------------------------


def test_two_users_added_in_the_admin_are_imported_into_chat(page, staff, chat_sandbox, background_syncs):
    log_in(page, "support", PASSWORD)
    page.locator("#content-main").get_by_role("link", name="Chat users", exact=True).click()
    page.get_by_role("link", name="Add Chat user").click()
    page.get_by_label("UserID").fill("user_0002")
    page.get_by_label("Nickname").fill("Bob")
    save(page, "Save and add another")
    expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")
    page.get_by_label("UserID").fill("user_0003")
    page.get_by_label("Nickname").fill("Carol")
    save(page)
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="user_0002")).to_contain_text("Not checked")

    for user_id in ("user_0002", "user_0003"):
        rows.filter(has_text=user_id).locator("input.action-select").check()
    page.locator("select[name='action']").select_option(label="Import into Chat")
    page.get_by_role("button", name="Go").click()

    expect(page.locator(".messagelist .info")).to_have_text(
        "2 users queued for import into Chat; the list shows what Chat says.")
    settle(page, background_syncs)
    expect(rows.filter(has_text="user_0002")).to_contain_text("Imported")
    expect(rows.filter(has_text="user_0003")).to_contain_text("Imported")
    screenshot(page, "chat-users-imported")
    check = chat_sandbox.post("im_open_login_svc/account_check",
                              {"CheckItem": [{"UserID": "user_0002"}, {"UserID": "user_0003"}]})
    assert [item["AccountStatus"] for item in check["ResultItem"]] == ["Imported", "Imported"]


# Creating a group ------------------------------------------------------------------------------------------------


def test_a_new_group_is_created_in_chat_and_shows_its_group_id_and_each_code(page, staff, imported_owner,
                                                                             chat_sandbox, background_syncs):
    log_in(page, "support", PASSWORD)
    open_add_form(page)
    choose_owner(page, "Alice", "user_0001 (Alice)")
    page.get_by_label("Group name").fill(CJK_NAME)
    fill_conversation(page, 0, "One-to-one", "user_0002")
    add_conversation_row(page)
    # An added row has the type chooser too: its empty group id field shows only for a group conversation.
    expect(conversation_row(page, 1).locator("input[name$='-to_group_id']")).to_be_hidden()
    fill_conversation(page, 1, "Group conversation", CHAT_GROUP_ID)
    expect(conversation_row(page, 1).locator("input[name$='-to_account']")).to_be_hidden()
    add_conversation_row(page)
    fill_conversation(page, 2, "One-to-one", "user_9")  # never imported: Chat refuses it
    screenshot(page, "group-add-filled")
    save(page)

    # The save returns before Chat answers: the banner says only that.
    expect(page.locator(".messagelist li")).to_have_text(
        [f"“{CJK_NAME} (user_0001)” is saved; syncing it to Chat. Its page shows how the sync ends."])
    expect(page.locator(".messagelist .success")).not_to_contain_text("successfully")
    settle(page, background_syncs)
    row = page.locator("#result_list tbody tr").filter(has_text=CJK_NAME)
    expect(column(page, row, "GroupId")).to_have_text("1")
    expect(column(page, row, "accepted")).to_have_text("2")
    expect(column(page, row, "refused")).to_have_text("1")
    row.get_by_role("link", name=CJK_NAME).click()

    expect(field(page, "chat_group_id")).to_have_text("1")
    expect(field(page, "state_badge")).to_have_text("Partly refused: 1 conversation refused")
    expect(field(page, "last_sync")).to_contain_text(
        "Created in Chat as GroupId 1: 2 conversations added, 1 refused: user_9, 50001")
    expect(result_of(page, "user_0002")).to_have_text("0: Accepted by Chat.")
    expect(result_of(page, CHAT_GROUP_ID)).to_have_text("0: Accepted by Chat.")
    refused = result_of(page, "user_9")
    expect(refused).to_contain_text("50001: The UserID has not been imported into Chat")
    expect(refused.locator("strong.refused")).to_have_css("color", RED)
    screenshot(page, "group-synced")

    assert chat_groups(chat_sandbox, "user_0001") == {CJK_NAME: [(C2C, "user_0002"), (GROUP, CHAT_GROUP_ID)]}


def test_a_save_while_chat_is_down_returns_at_once_and_the_page_then_shows_the_failure(
        page, staff, imported_owner, chat_sandbox, background_syncs, settings):
    settings.SYNC_MAX_ATTEMPTS = 2
    chat_sandbox.set_faults(http_error_rate=1.0)  # every Chat call answered 502, as a failing gateway does
    log_in(page, "support", PASSWORD)
    open_add_form(page)
    choose_owner(page, "Alice", "user_0001 (Alice)")
    page.get_by_label("Group name").fill("Chat down")
    fill_conversation(page, 0, "One-to-one", "user_0002")
    save(page)

    # The browser is back on the list while Chat still fails: the banner says saved and syncing, nothing more.
    expect(page.locator(".messagelist li")).to_have_text(
        ["“Chat down (user_0001)” is saved; syncing it to Chat. Its page shows how the sync ends."])
    settle(page, background_syncs)
    row = page.locator("#result_list tbody tr").filter(has_text="Chat down")
    expect(column(page, row, "state")).to_have_text("Failed: Chat's server failed (HTTP 502).")
    row.get_by_role("link", name="Chat down").click()
    expect(field(page, "state_badge")).to_have_text("Failed: Chat's server failed (HTTP 502).")
    expect(field(page, "last_sync")).to_contain_text("Gave up after 2 attempts")
    expect(result_of(page, "user_0002")).to_have_text("not sent yet")
    screenshot(page, "group-chat-down")
    assert chat_groups(chat_sandbox, "user_0001") == {}


# Refusals: nothing saved, nothing sent to Chat --------------------------------------------------------------------


def test_a_name_of_66_bytes_is_refused_on_the_page(page, staff, imported_owner, chat_sandbox):
    log_in(page, "support", PASSWORD)
    open_add_form(page)
    choose_owner(page, "user_0001", "user_0001 (Alice)")
    page.get_by_label("Group name").fill("会" * 22)
    fill_conversation(page, 0, "One-to-one", "user_0002")
    save(page)

    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator(".field-name .errorlist")).to_have_text(
        "This name is 66 bytes in UTF-8; a group name may have at most 64 bytes (22 characters here: "
        "CJK characters take 3 bytes each, emoji 4).")
    expect(page.get_by_label("Group name")).to_have_value("会" * 22)
    screenshot(page, "refused-name-66-bytes")
    assert not ContactGroup.objects.exists()
    assert chat_sandbox.calls_to() == []


@pytest.fixture
def owner_with_twenty_groups(imported_owner, make_group):
    for number in range(protocol.GROUPS_PER_USER_MAX):
        make_group(imported_owner, f"group {number + 1}")
    return imported_owner


def test_a_21st_group_for_one_user_is_refused_on_the_page(page, staff, owner_with_twenty_groups, chat_sandbox):
    log_in(page, "support", PASSWORD)
    open_add_form(page)
    choose_owner(page, "Alice", "user_0001 (Alice)")
    page.get_by_label("Group name").fill("twenty-first")
    save(page)

    expect(page.locator(".field-owner .errorlist")).to_have_text(
        "This user would have 21 conversation groups; Chat allows at most 20 per user.")
    screenshot(page, "refused-21st-group")
    assert ContactGroup.objects.filter(owner=owner_with_twenty_groups).count() == 20
    assert not ContactGroup.objects.filter(name="twenty-first").exists()
    assert chat_sandbox.calls_to() == []


def test_a_one_to_one_conversation_keeping_a_group_id_stays_visible_and_is_refused(page, staff, imported_owner,
                                                                                   chat_sandbox):
    log_in(page, "support", PASSWORD)
    open_add_form(page)
    choose_owner(page, "Alice", "user_0001 (Alice)")
    page.get_by_label("Group name").fill("mixed up")
    row = conversation_row(page, 0)
    account = row.locator("input[name$='-to_account']")
    group_id = row.locator("input[name$='-to_group_id']")
    # The type chooser shows the field the type uses and hides an empty other one.
    expect(account).to_be_visible()
    expect(group_id).to_be_hidden()
    fill_conversation(page, 0, "Group conversation", CHAT_GROUP_ID)
    expect(account).to_be_hidden()
    # Switched back to one-to-one, the group id it holds stays in sight, marked as not matching.
    row.locator("select[name$='-type']").select_option(label="One-to-one")
    expect(account).to_be_visible()
    expect(group_id).to_be_visible()
    expect(group_id).to_have_class(re.compile(r"\bmismatched\b"))
    save(page)

    expect(page.locator(".errornote")).to_be_visible()
    row = conversation_row(page, 0)
    expect(row.locator("td.field-to_group_id .errorlist")).to_have_text(
        "A one-to-one conversation names a user by UserID, not a Chat group id.")
    expect(row.locator("input[name$='-to_group_id']")).to_be_visible()
    expect(row.locator("input[name$='-to_group_id']")).to_have_value(CHAT_GROUP_ID)
    screenshot(page, "refused-one-to-one-with-group-id")
    assert not ContactGroup.objects.exists()
    assert chat_sandbox.calls_to() == []


# Changing and deleting ---------------------------------------------------------------------------------------------


def open_group(page, name: str) -> None:
    page.goto("/admin/contactgroups/contactgroup/")
    page.locator("#result_list").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name="Change conversation group")).to_be_visible()


def rename_and_remove_user_0003(page, background_syncs) -> None:
    open_group(page, CJK_NAME)
    page.get_by_label("Group name").fill("项目组 Renamed")
    page.locator("tr.form-row").filter(has=page.locator("input[value='user_0003']")).locator(
        "input[name$='-DELETE']").check()
    save(page)
    expect(page.locator(".messagelist li")).to_have_text(
        ["“项目组 Renamed (user_0001)” is saved; syncing it to Chat. Its page shows how the sync ends."])
    settle(page, background_syncs)


def test_renaming_a_group_and_removing_a_conversation_changes_chat(page, staff, synced_group, chat_sandbox,
                                                                   background_syncs):
    log_in(page, "support", PASSWORD)
    rename_and_remove_user_0003(page, background_syncs)

    open_group(page, "项目组 Renamed")
    expect(field(page, "state_badge")).to_have_text("Synced")
    expect(field(page, "confirmed_name")).to_contain_text("项目组 Renamed")
    expect(field(page, "last_sync")).to_have_text(
        f"Synced to Chat as GroupId 1: renamed from “{CJK_NAME}” to “项目组 Renamed”, 1 conversation removed.")
    expect(page.locator("tr.form-row").filter(has=page.locator("input[value='user_0003']"))).to_have_count(0)
    expect(result_of(page, "user_0002")).to_have_text("0: Accepted by Chat.")
    screenshot(page, "group-renamed")

    assert chat_groups(chat_sandbox, "user_0001") == {"项目组 Renamed": [(C2C, "user_0002"), (GROUP, CHAT_GROUP_ID)]}


def test_deleting_a_group_removes_it_from_chat(page, staff, synced_group, chat_sandbox, background_syncs):
    log_in(page, "support", PASSWORD)
    open_group(page, CJK_NAME)
    page.get_by_role("link", name="Delete", exact=True).click()
    expect(page.locator("#content")).to_contain_text(
        f"Delete the conversation group “{CJK_NAME} (user_0001)” from Chat?")
    expect(page.locator("#content")).to_contain_text("stays listed here, marked deleted")
    page.get_by_role("button", name="Yes, delete it from Chat").click()

    expect(page.locator(".messagelist li")).to_have_text(
        [f"“{CJK_NAME} (user_0001)” is deleted here; deleting it in Chat. Its page shows how that ends."])
    settle(page, background_syncs)
    expect(page.locator("#result_list").get_by_role("link", name=CJK_NAME)).to_have_count(0)
    page.locator("#changelist-filter").get_by_role("link", name="Deleted", exact=True).click()
    row = page.locator("#result_list tbody tr").filter(has_text=CJK_NAME)
    expect(column(page, row, "state")).to_have_text("Deleted")
    screenshot(page, "group-deleted")

    assert chat_groups(chat_sandbox, "user_0001") == {}
    assert len(chat_sandbox.calls_to("recentcontact/del_contact_group")) == 1


# History and audit ---------------------------------------------------------------------------------------------------


def test_history_and_chat_calls_show_each_change_under_its_staff_user(page, staff, synced_group, background_syncs):
    log_in(page, "support", PASSWORD)
    rename_and_remove_user_0003(page, background_syncs)
    open_group(page, "项目组 Renamed")

    page.get_by_role("link", name="History").click()
    entries = page.locator("#change-history tbody tr")
    created = entries.filter(has_text="Created in Chat as GroupId 1: 3 conversations added.")
    expect(created).to_have_count(1)
    expect(created.locator("td").nth(0)).to_have_text("lead")
    synced = entries.filter(has_text="renamed from")
    expect(synced).to_have_count(1)
    expect(synced.locator("td").nth(0)).to_have_text("support")
    expect(synced).to_contain_text(
        f"Synced to Chat as GroupId 1: renamed from “{CJK_NAME}” to “项目组 Renamed”, 1 conversation removed.")
    screenshot(page, "group-history")

    page.go_back()
    page.get_by_role("link", name="Chat calls for this group").click()
    calls = page.locator("#result_list tbody tr")
    expect(column(page, calls.filter(has_text="create_contact_group"), "staff user")).to_have_text("lead")
    # Newest first: the removal, then the rename, each a call of its own.
    updates = calls.filter(has_text="update_contact_group")
    expect(column(page, updates, "staff user")).to_have_text(["support", "support"])
    expect(column(page, updates, "result")).to_have_text(["Accepted", "Accepted"])
    screenshot(page, "chat-calls")

    updates.last.locator("th a").click()
    expect(page.get_by_role("heading", name="View Chat call")).to_be_visible()
    expect(field(page, "actor")).to_have_text("support")
    expect(field(page, "request_json")).to_contain_text(f'"OldGroupName": "{CJK_NAME}"')
    expect(field(page, "request_json")).to_contain_text('"NewGroupName": "项目组 Renamed"')
    expect(field(page, "response_json")).to_contain_text('"ActionStatus": "OK"')
    expect(page.locator("input[name='_save']")).to_have_count(0)
    screenshot(page, "chat-call-detail")
    page.go_back()
    updates.first.locator("th a").click()
    expect(field(page, "request_json")).to_contain_text('"To_Account": "user_0003"')
