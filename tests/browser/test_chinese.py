"""The main workflow once in Simplified Chinese: a browser that asks for Chinese, then the language chooser.

What the page should say is taken from the catalogue (gettext under zh-hans), so the test reads as a person who
reads Chinese would, whatever the wording the translators chose.
"""

import re

import pytest
from django.utils import translation
from playwright.sync_api import expect

from contactgroups import words
from contactgroups.models import ContactGroup
from tests.browser.conftest import CHAT_GROUP_ID, CJK_NAME, screenshot, settle
from tests.project.test_translations import MESSAGES, read_catalogue

pytestmark = pytest.mark.browser

PASSWORD = "support-password"  # the staff fixture's


def zh(message: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(message)


def test_a_group_is_created_in_chinese_and_the_language_chosen_again_in_english(browser, site, staff,
                                                                                imported_owner, chat_sandbox,
                                                                                background_syncs):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  base_url=site)
    page = context.new_page()
    try:
        page.goto("/admin/")
        page.get_by_label(zh("username")).fill("support")
        page.get_by_label(zh("password"), exact=False).first.fill(PASSWORD)
        page.get_by_role("button", name=zh("Log in")).click()
        expect(page.get_by_role("heading", name=zh("Conversation groups back-office"))).to_be_visible()

        page.goto("/admin/contactgroups/contactgroup/add/")
        page.locator(".field-owner .select2-selection").click()
        page.locator(".select2-search__field").press_sequentially("Alice")
        page.locator(".select2-results__option", has_text="user_0001 (Alice)").click()
        page.locator("input[name='name']").fill(CJK_NAME)
        page.locator("#items-0 select[name$='-type']").select_option(label=zh("One-to-one"))
        page.locator("#items-0 input[name$='-to_account']").fill("user_0002")
        # A UserID under a group conversation: the page's script says, in Chinese, that the save will refuse it.
        page.locator("#items-0 select[name$='-type']").select_option(label=zh("Group conversation"))
        mismatch = read_catalogue(MESSAGES / "djangojs.po")[
            "This field does not belong to the chosen type; the save will refuse it."]["msgstr"]
        expect(page.locator("#items-0 input[name$='-to_account']")).to_have_attribute("title", mismatch)
        page.locator("#items-0 select[name$='-type']").select_option(label=zh("One-to-one"))
        page.get_by_text(zh("Add another %(verbose_name)s") % {"verbose_name": zh("conversation")}).click()
        page.locator("#items-1 select[name$='-type']").select_option(label=zh("Group conversation"))
        page.locator("#items-1 input[name$='-to_group_id']").fill(CHAT_GROUP_ID)
        page.get_by_role("button", name=zh("Save"), exact=True).click()

        expect(page.locator(".messagelist .success")).to_have_count(1)  # saved, and syncing
        group = ContactGroup.objects.get(name=CJK_NAME)
        page.goto(f"/admin/contactgroups/contactgroup/{group.pk}/change/")
        settle(page, background_syncs)
        expect(page.locator(".field-state_badge .readonly")).to_have_text(zh("Synced"))
        with translation.override("zh-hans"):
            group.refresh_from_db()
            expected = words.outcome_text(group.sync.last_outcome)
        expect(page.locator(".field-last_sync .readonly")).to_have_text(expected)
        assert "GroupId" in expected and "Created" not in expected
        expect(page.locator("td.field-result").first).to_contain_text(zh("Accepted by Chat."))
        screenshot(page, "group-synced-zh-hans")

        page.locator("#language-select").select_option("en")
        expect(page.locator(".field-state_badge .readonly")).to_have_text("Synced")
        expect(page.locator(".field-last_sync .readonly")).to_contain_text(
            re.compile(r"^Created in Chat as GroupId \d+: 2 conversations added\."))
    finally:
        context.close()
