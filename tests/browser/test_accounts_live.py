"""After "Import into Chat", the Chat users' list follows the import without a reload: "Not checked" becomes what
Chat said of each user, in English and in Chinese."""

import pytest
from playwright.sync_api import expect

from contactgroups.models import ChatUser
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_typed_lengths import choose_language

pytestmark = pytest.mark.browser

PASSWORD = "support-password"  # the staff fixture's
SAID = {
    "en": {"action": "Import into Chat", "go": "Go", "before": "Not checked", "after": "Imported"},
    "zh-hans": {"action": "导入账号", "go": "执行", "before": "未查询", "after": "已导入"},
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_users_list_follows_an_import_until_chat_has_answered_for_each(page, staff, chat_sandbox, language):
    for user_id in ("alice", "bob"):
        ChatUser.objects.create(user_id=user_id)
    ChatUser.objects.create(user_id="carol", nickname="Carol")
    chat_sandbox.set_faults(latency_ms=1500)  # Chat answers after the list is back
    log_in(page, "support", PASSWORD)
    choose_language(page, language)
    said = SAID[language]
    page.goto("/admin/contactgroups/chatuser/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    page.locator("#action-toggle").check()
    page.locator("select[name='action']").select_option(label=said["action"])
    page.get_by_role("button", name=said["go"], exact=True).click()

    states = page.locator(".account-state")
    expect(states).to_have_text([said["before"]] * 3)  # true when the list comes back: Chat has not answered yet
    expect(states).to_have_text([said["after"]] * 3, timeout=20_000)  # then, without a reload
    screenshot(page, f"users-imported-live-{language}")
    assert set(ChatUser.objects.values_list("import_state", flat=True)) == {ChatUser.ImportState.IMPORTED}
