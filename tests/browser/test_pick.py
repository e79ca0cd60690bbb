"""Staff pick conversations from the owner's list in Chat (the sandbox), and known users as they type a UserID."""

import re

import pytest
from playwright.sync_api import expect

from contactgroups import sync
from contactgroups.models import ChatUser
from tests.browser.conftest import C2C, CHAT_GROUP_ID, GROUP, chat_groups, log_in, screenshot, settle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MSG_TIME = 1_764_670_000  # 2025-12-02 10:06:40 UTC
PAGE = 50  # the sandbox's page of get_list


@pytest.fixture
def work(imported_owner, make_group, staff, chat_sandbox):
    """Alice's group "work" with user_0002, synced to Chat; her list in Chat holds user_0002, user_0003, 50 group
    conversations, and, older than all of them, CHAT_GROUP_ID, so a first page of the list leaves it out."""
    group = make_group(imported_owner, "work", [(C2C, "user_0002")])
    sync.sync_group(group.pk, staff.pk)
    chat_sandbox.seed_conversations("user_0001", [
        {"Type": C2C, "To_Account": "user_0003", "MsgTime": MSG_TIME},
        {"Type": C2C, "To_Account": "user_0002", "MsgTime": MSG_TIME - 60},
        *({"Type": GROUP, "GroupId": f"@TGS#team{number:02d}", "MsgTime": MSG_TIME - 120 - number}
          for number in range(PAGE)),
        {"Type": GROUP, "GroupId": CHAT_GROUP_ID, "MsgTime": MSG_TIME - 86400},
    ])
    return group


def test_staff_pick_conversations_from_the_owners_list_and_save_them_to_chat(page, work, chat_sandbox,
                                                                              background_syncs):
    log_in(page, "support", "support-password")
    page.goto(f"/admin/contactgroups/contactgroup/{work.pk}/change/")
    page.get_by_role("button", name="Choose from the owner's conversations in Chat").click()

    rows = page.locator("#pick-panel tbody tr")
    expect(rows).to_have_count(PAGE)
    newest = rows.first
    expect(newest.locator("td")).to_have_text(["", "One-to-one", "user_0003", "Dec. 2, 2025, 10:06 a.m.", ""])
    held = rows.nth(1)
    expect(held.locator("td")).to_have_text(["", "One-to-one", "user_0002", "Dec. 2, 2025, 10:05 a.m.", "yes"])
    expect(held.get_by_role("checkbox")).to_be_disabled()
    expect(rows.nth(2).locator("td").nth(1)).to_have_text("Group conversation")

    page.get_by_role("checkbox", name="Choose user_0003").check()
    page.get_by_role("button", name="Show more").click()
    expect(rows).to_have_count(PAGE + 3)
    expect(page.get_by_role("button", name="Show more")).to_be_hidden()
    expect(page.locator("#pick-panel .pick-status")).to_have_text(
        "That is every conversation Chat lists for this user.")
    page.get_by_role("checkbox", name=f"Choose {CHAT_GROUP_ID}").check()
    screenshot(page, "pick-conversations-from-chat")
    page.get_by_role("button", name="Add the chosen conversations").click()

    expect(page.locator("#pick-panel .pick-status")).to_have_text(
        "2 conversations added to the conversations above; nothing is saved until you save.")
    expect(page.locator("#items-1 input[name$='-to_account']")).to_have_value("user_0003")
    expect(page.locator("#items-2 select[name$='-type']")).to_have_value(str(GROUP))
    expect(page.locator("#items-2 input[name$='-to_group_id']")).to_have_value(CHAT_GROUP_ID)
    expect(page.get_by_role("checkbox", name="Choose user_0003")).to_be_disabled()
    assert chat_groups(chat_sandbox, "user_0001") == {"work": [(C2C, "user_0002")]}  # nothing saved yet

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success")).to_contain_text("is saved; syncing it to Chat")
    background_syncs.wait()
    assert chat_groups(chat_sandbox, "user_0001") == {
        "work": sorted([(C2C, "user_0002"), (C2C, "user_0003"), (GROUP, CHAT_GROUP_ID)])}
    page.goto(f"/admin/contactgroups/contactgroup/{work.pk}/change/")
    settle(page, background_syncs)
    expect(page.locator(".field-state_badge .readonly")).to_contain_text("Synced")


def test_a_new_groups_list_is_the_owners_chosen_in_the_form(page, staff, imported_owner, chat_sandbox):
    chat_sandbox.seed_conversations("user_0001", [{"Type": C2C, "To_Account": "user_0002", "MsgTime": MSG_TIME}])
    log_in(page, "support", "support-password")
    page.goto("/admin/contactgroups/contactgroup/add/")
    opener = page.get_by_role("button", name="Choose from the owner's conversations in Chat")
    opener.click()
    expect(page.locator("#pick-panel .pick-status")).to_have_text(
        "Choose the group's owner first: the conversations listed are the owner's.")

    page.locator(".field-owner .select2-selection").click()
    page.locator(".select2-search__field").press_sequentially("Alice")
    page.locator(".select2-results__option", has_text="user_0001 (Alice)").click()
    page.get_by_role("button", name="Close").click()
    opener.click()
    page.get_by_role("checkbox", name="Choose user_0002").check()
    page.get_by_role("button", name="Add the chosen conversations").click()
    expect(page.locator("#items-0 input[name$='-to_account']")).to_have_value("user_0002")


def test_chat_failing_is_said_in_the_panel(page, work, chat_sandbox):
    log_in(page, "support", "support-password")
    page.goto(f"/admin/contactgroups/contactgroup/{work.pk}/change/")
    chat_sandbox.set_faults(http_error_rate=1.0)
    page.get_by_role("button", name="Choose from the owner's conversations in Chat").click()
    status = page.locator("#pick-panel .pick-status")
    expect(status).to_have_text("Chat could not be read now: Chat answered with HTTP 502.")
    expect(status).to_have_class(re.compile("errornote"))
    expect(page.locator("#pick-panel tbody tr")).to_have_count(0)


def test_typing_in_a_one_to_one_row_suggests_known_users(page, work):
    ChatUser.objects.create(user_id="user_0003", nickname="Carol")
    log_in(page, "support", "support-password")
    page.goto(f"/admin/contactgroups/contactgroup/{work.pk}/change/")
    box = page.locator("#items-1 input[name$='-to_account']")
    box.press_sequentially("Car")

    suggestions = page.get_by_role("listbox", name="Known Chat users")
    expect(suggestions.get_by_role("option")).to_have_text(["user_0003 Carol"])
    suggestions.get_by_role("option", name="user_0003 Carol").click()
    expect(box).to_have_value("user_0003")
    expect(suggestions).to_be_hidden()

    page.get_by_text("Add another Conversation").click()
    second = page.locator("#items-2 input[name$='-to_account']")
    second.press_sequentially("user_000")
    expect(suggestions.get_by_role("option")).to_have_count(2)
    second.press("ArrowDown")
    second.press("ArrowDown")
    second.press("Enter")
    expect(second).to_have_value("user_0003")
    expect(page).to_have_url(re.compile(rf"/{work.pk}/change/$"))  # Enter chose a user; it did not save
