"""In Chromium: the save warnings with "Save anyway", and a 50001's "Import this user into Chat" on the group page.

The import and sync-again buttons submit a form of their own outside the page's, so Enter in a field still saves
the page; these tests press the keys and click the buttons a person would.
"""

import re

import pytest
from playwright.sync_api import expect

from contactgroups.models import ChatUser, ContactGroup
from tests.browser.conftest import C2C, chat_groups, log_in, screenshot, settle
from tests.browser.test_group_workflow import PASSWORD, choose_owner, fill_conversation, open_add_form, open_group

pytestmark = pytest.mark.browser


def test_a_save_chat_would_refuse_is_warned_of_and_saved_only_when_confirmed(page, staff, imported_owner,
                                                                             chat_sandbox):
    ChatUser.objects.create(user_id="ghost", import_state=ChatUser.ImportState.NOT_IMPORTED)
    log_in(page, "support", PASSWORD)
    open_add_form(page)
    choose_owner(page, "Alice", "user_0001 (Alice)")
    page.get_by_label("Group name").fill("friends")
    fill_conversation(page, 0, "One-to-one", "ghost")
    page.get_by_role("button", name="Save", exact=True).click()

    warnings = page.locator("#save-warnings")
    expect(warnings).to_contain_text("Check before saving: nothing is saved yet.")
    expect(warnings).to_contain_text("ghost is not imported in Chat, as far as this admin knows, so Chat will "
                                     "refuse that conversation: 50001 The UserID has not been imported into Chat")
    expect(page.locator(".errornote")).to_have_count(0)
    screenshot(page, "save-warned")
    assert not ContactGroup.objects.exists() and chat_sandbox.calls_to() == []

    page.get_by_label("Save anyway: I have checked these warnings").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success").first).to_contain_text("is saved; syncing it to Chat")
    group = ContactGroup.objects.get(name="friends")
    assert [item.to_account for item in group.items.all()] == ["ghost"]


def test_a_refused_user_is_imported_from_the_group_page_then_the_group_synced_again(page, staff, imported_owner,
                                                                                     make_group, chat_sandbox,
                                                                                     background_syncs):
    from contactgroups import sync

    group = make_group(imported_owner, "friends", [(C2C, "user_0002"), (C2C, "user_9")])
    sync.sync_group(group.pk, staff.pk)
    log_in(page, "support", PASSWORD)
    open_group(page, "friends")
    row = page.locator("tr.form-row").filter(has=page.locator("input[value='user_9']"))
    expect(row.locator("td.field-result")).to_contain_text("50001: The UserID has not been imported into Chat")

    # Enter in the name field saves the page, not an import.
    page.get_by_label("Group name").fill("close friends")
    page.get_by_label("Group name").press("Enter")
    expect(page.locator(".messagelist .success").first).to_contain_text("is saved; syncing it to Chat")
    assert not ChatUser.objects.filter(user_id="user_9").exists()
    assert chat_sandbox.calls_to("im_open_login_svc/multiaccount_import") == []

    open_group(page, "close friends")
    row = page.locator("tr.form-row").filter(has=page.locator("input[value='user_9']"))
    row.get_by_role("button", name="Import this user into Chat").click()
    expect(page.locator(".messagelist .info")).to_have_text(
        "Queued for import into Chat: user_9. Its Chat user page shows the result once Chat has answered.")
    expect(page).to_have_url(re.compile(rf"/contactgroup/{group.pk}/change/$"))
    settle(page, background_syncs)
    expect(page.locator(".form-row.field-last_sync .readonly")).to_contain_text("user_9: imported in Chat now")
    screenshot(page, "user-imported")

    page.get_by_role("button", name="Sync this group again").click()
    expect(page.locator(".messagelist .success")).to_have_text("1 group queued for sync to Chat.")
    # The page follows the sync to its end, without a reload.
    expect(page.locator(".form-row.field-state_badge .readonly")).to_have_text("Synced")
    expect(page.get_by_role("button", name="Import this user into Chat")).to_have_count(0)
    assert chat_groups(chat_sandbox, "user_0001") == {"close friends": [(C2C, "user_0002"), (C2C, "user_9")]}
