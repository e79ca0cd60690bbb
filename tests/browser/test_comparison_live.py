"""The group page's comparison box while a save's sync is on its way, then once it ends, in headless Chromium.

The save hands its sync to the live server's background runner; the sandbox answers slowly, so the page shows while
the sync runs. The box says only that a sync is on its way (never that the group matches Chat), and once the state
badge says the sync ended, its script puts the true comparison in its place without a reload.
"""

import pytest
from django.utils import translation
from playwright.sync_api import expect

from contactgroups.models import ContactGroup
from tests.browser.conftest import chat_groups, log_in, screenshot
from tests.browser.test_typed_lengths import choose_language

pytestmark = pytest.mark.browser

PASSWORD = "support-password"  # the staff fixture's
# Each Chat call the sync makes waits this long, so the page shows before the sync ends, even on a loaded machine.
SLOW_CHAT_MS = 4000
# Longest the sync and the box's swap may take on a loaded machine.
SWAP_TIMEOUT_MS = 60_000
PENDING = ("A sync of this group is on its way to Chat, so this page does not compare it with Chat now: the "
           "comparison shows here once the sync has ended.")
MATCHES = "Matches what Chat holds now."


def said(language: str, message: str) -> str:
    with translation.override(language):
        return translation.gettext(message)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_while_a_save_syncs_the_box_says_so_and_then_shows_the_comparison_in_place(page, staff, synced_group,
                                                                                   chat_sandbox, settings, language):
    settings.SYNC_PAGE_READ_TIMEOUT = 10  # the page's reads of Chat are not cut short on a loaded machine
    log_in(page, "support", PASSWORD)
    choose_language(page, language)
    page.goto(f"/admin/contactgroups/contactgroup/{synced_group.pk}/change/")
    box = page.locator("#chat-comparison")
    expect(box.locator(".chat-same")).to_have_text(said(language, MATCHES))

    page.locator("#id_name").fill("Renamed team")
    chat_sandbox.set_faults(latency_ms=SLOW_CHAT_MS)
    with page.expect_navigation():
        page.get_by_role("button", name=said(language, "Save and continue editing"), exact=True).click()
    page.evaluate("window.comparisonMark = 'not reloaded'")

    # The sync is on its way: the box says so, and nothing of a match.
    expect(box.locator(".chat-pending")).to_have_text(said(language, PENDING))
    expect(box).not_to_contain_text(said(language, MATCHES))
    assert said(language, MATCHES) not in page.content()
    assert ContactGroup.objects.get(pk=synced_group.pk).state in (ContactGroup.State.QUEUED,
                                                                   ContactGroup.State.SYNCING)
    screenshot(page, f"comparison-pending-{language}")
    chat_sandbox.clear_faults()  # the calls made from now on answer at once

    # The sync ends: the box shows the comparison in its place, in the page's language, without a reload.
    expect(box.locator(".chat-same")).to_have_text(said(language, MATCHES), timeout=SWAP_TIMEOUT_MS)
    expect(box.locator(".chat-pending")).to_have_count(0)
    expect(page.locator("#chat-comparison")).to_have_count(1)
    expect(box.get_by_role("button", name=said(language, "Refresh from Chat"))).to_be_visible()
    assert page.evaluate("window.comparisonMark") == "not reloaded"
    assert ContactGroup.objects.get(pk=synced_group.pk).state == ContactGroup.State.SYNCED
    assert "Renamed team" in chat_groups(chat_sandbox, "user_0001")
    screenshot(page, f"comparison-after-sync-{language}")
