"""A group renamed in the app: its page shows the difference above the form, and staff take Chat's version."""

import pytest
from playwright.sync_api import expect

from contactgroups.chat import protocol
from contactgroups.models import ContactGroup
from tests.browser.conftest import C2C, CHAT_GROUP_ID, CJK_NAME, GROUP, chat_groups, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_group_renamed_in_the_app_is_seen_and_chats_version_taken(page, staff, synced_group, chat_sandbox):
    answer = chat_sandbox.post("recentcontact/update_contact_group", {
        "From_Account": "user_0001", "UpdateType": 1,
        "UpdateGroup": {"UpdateGroupType": protocol.RENAME_GROUP, "OldGroupName": CJK_NAME,
                        "NewGroupName": "项目组 From the app"}})
    assert answer["ErrorCode"] == 0, answer
    log_in(page, "support", "support-password")
    page.goto(f"/admin/contactgroups/contactgroup/{synced_group.pk}/change/")

    comparison = page.locator("#chat-comparison")
    expect(comparison).to_contain_text("In Chat, this group differs from this page:")
    expect(comparison.locator("li")).to_have_text(
        [f"user_0001 renamed it in the app from “{CJK_NAME}” to “项目组 From the app”."])
    expect(page.get_by_label("Group name")).to_have_value(CJK_NAME)
    screenshot(page, "group-changed-in-the-app")

    page.get_by_role("button", name="Take Chat's version").click()
    expect(page.locator(".messagelist .success")).to_have_text(
        f"Took Chat's version of “{CJK_NAME}”: renamed from “{CJK_NAME}” to “项目组 From the app”.")
    expect(page.get_by_label("Group name")).to_have_value("项目组 From the app")
    # The reading just taken is shown, with its age, rather than Chat read again at once.
    expect(comparison).to_have_text("Compared with the group as Chat held it less than a minute ago.\n"
                                    "Matched what Chat held then.\nRefresh from Chat", use_inner_text=True)
    assert ContactGroup.objects.get(pk=synced_group.pk).name == "项目组 From the app"
    assert chat_groups(chat_sandbox, "user_0001") == {
        "项目组 From the app": [(C2C, "user_0002"), (C2C, "user_0003"), (GROUP, CHAT_GROUP_ID)]}
