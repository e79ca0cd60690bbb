"""A group deleted by mistake, brought back from its page as Chat last confirmed it, in headless Chromium."""

import pytest
from playwright.sync_api import expect

from contactgroups.models import ContactGroup
from tests.browser.conftest import C2C, CHAT_GROUP_ID, CJK_NAME, GROUP, chat_groups, log_in, screenshot, settle
from tests.browser.test_group_workflow import PASSWORD, choose_owner, field, fill_conversation, open_add_form, save

pytestmark = pytest.mark.browser


def test_a_deleted_group_is_restored_from_its_page_and_chat_holds_it_again(page, staff, imported_owner,
                                                                           chat_sandbox, background_syncs):
    log_in(page, "support", PASSWORD)
    open_add_form(page)
    choose_owner(page, "Alice", "user_0001 (Alice)")
    page.get_by_label("Group name").fill(CJK_NAME)
    fill_conversation(page, 0, "One-to-one", "user_0002")
    page.get_by_text("Add another Conversation").click()
    fill_conversation(page, 1, "Group conversation", CHAT_GROUP_ID)
    save(page)
    expect(page.locator(".messagelist .success")).to_contain_text("is saved; syncing it to Chat.")
    settle(page, background_syncs)
    page.locator("#result_list tbody tr").filter(has_text=CJK_NAME).get_by_role("link", name=CJK_NAME).click()
    expect(field(page, "state_badge")).to_have_text("Synced")
    first_id = ContactGroup.objects.get(name=CJK_NAME).sync.chat_group_id

    page.get_by_role("link", name="Delete", exact=True).click()
    page.get_by_role("button", name="Yes, delete it from Chat").click()
    expect(page.locator(".messagelist .success")).to_contain_text("is deleted here; deleting it in Chat.")
    settle(page, background_syncs)
    assert chat_groups(chat_sandbox, "user_0001") == {}
    page.locator("#changelist-filter").get_by_role("link", name="Deleted", exact=True).click()
    page.locator("#result_list tbody tr").filter(has_text=CJK_NAME).get_by_role("link", name=CJK_NAME).click()

    offer = page.locator("#restore-offer")
    expect(offer).to_contain_text("This group is deleted. Chat last confirmed it on")
    expect(offer).to_contain_text(f"as “{CJK_NAME}” with 2 conversations.")
    screenshot(page, "deleted-group-restore-offer")
    offer.get_by_role("link", name="Restore this version").click()

    # The group's own form, filled from the version, with a note saying which it is; nothing saved until "Save".
    expect(page.get_by_label("Group name")).to_have_value(CJK_NAME)
    expect(page.locator("#restore-note")).to_contain_text("nothing is saved until you save.")
    expect(page.locator("#restore-version")).to_contain_text(CJK_NAME)
    expect(page.locator(".restore-conversations li")).to_have_text(["user_0002", f"group {CHAT_GROUP_ID}"])
    expect(page.locator("#restore-changes")).to_have_text(
        "This group is deleted. Restoring it brings it back here and creates it in Chat again, as above.")
    screenshot(page, "restore-confirmation")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist .success")).to_contain_text(
        f"“{CJK_NAME} (user_0001)” is restored as Chat confirmed it on")
    expect(page.locator(".messagelist .success")).to_contain_text(
        "syncing it to Chat. Its page shows how the sync ends.")
    settle(page, background_syncs)
    group = ContactGroup.objects.get(name=CJK_NAME)
    expect(field(page, "state_badge")).to_have_text("Synced")
    expect(field(page, "chat_group_id")).to_have_text(str(group.sync.chat_group_id))
    expect(field(page, "last_sync")).to_contain_text(
        f"Created in Chat as GroupId {group.sync.chat_group_id}: 2 conversations added.")
    expect(page.locator("#restore-offer")).to_have_count(0)
    assert group.sync.chat_group_id != first_id
    assert chat_groups(chat_sandbox, "user_0001") == {CJK_NAME: [(C2C, "user_0002"), (GROUP, CHAT_GROUP_ID)]}

    page.get_by_role("link", name="History").click()
    stories = page.locator("tr.history-story")
    expect(stories.last).to_contain_text("Restored the deleted group as Chat confirmed it on")
    expect(stories.last.locator(".history-answers li")).to_contain_text(
        [f"Created in Chat as GroupId {group.sync.chat_group_id}: 2 conversations added."])
    screenshot(page, "group-history-restored")
