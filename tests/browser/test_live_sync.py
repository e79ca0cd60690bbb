"""The group page and the list follow a sync as it runs, without a reload, in headless Chromium.

A real Celery worker (on a real Redis) runs the sync the save queued, against the sandbox, which answers slowly
or not at all; the live server only answers the page and its script.
"""

import re

import pytest
from django.utils import translation
from playwright.sync_api import expect

from contactgroups import words
from contactgroups.chat import errors
from contactgroups.models import ContactGroup
from tests.browser.conftest import C2C, GROUP, column, log_in, screenshot
from tests.project.test_translations import MESSAGES, read_catalogue

pytestmark = pytest.mark.browser

PASSWORD = "support-password"  # the staff fixture's
# Each Chat call takes this long, so the page can be seen between the calls of one sync.
SLOW_CHAT_MS = 3000
# Longest a sync against the slow sandbox may take to show its end.
SYNC_TIMEOUT_MS = 40_000
NOT_IMPORTED = ["user_7", "user_8", "user_9"]
GROUP_CONVERSATIONS = [f"@TGS#{n:04d}" for n in range(1, 151)]


def badge(page):
    return page.locator(".field-state_badge .sync-state")


def result_of(page, target: str):
    row = page.locator("tr.form-row").filter(has=page.locator(f"input[value='{target}']"))
    return row.locator("td.field-result")


def zh(message: str, plural: str | None = None, count: int = 1) -> str:
    with translation.override("zh-hans"):
        return translation.ngettext(message, plural, count) if plural else translation.gettext(message)


def mark_page(page) -> None:
    """A mark in the page's window: gone if the page reloads."""
    page.evaluate("window.liveSyncMark = 'not reloaded'")


def still_marked(page) -> bool:
    return page.evaluate("window.liveSyncMark") == "not reloaded"


@pytest.fixture
def big_group(imported_owner, make_group):
    """A draft of 153 conversations, three of them with users Chat does not know: a create and an update."""
    return make_group(imported_owner, "Big team", [(GROUP, target) for target in GROUP_CONVERSATIONS]
                      + [(C2C, user) for user in NOT_IMPORTED])


def save_and_continue(page, button: str = "Save and continue editing") -> None:
    """Save the group (which queues its sync) and land on its page again, marked to tell a reload."""
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()
    mark_page(page)


LIVE_FIELDS = ["state_badge", "chat_group_id", "confirmed_name", "last_sync", "last_error", "last_synced_at"]


def page_texts(page) -> dict:
    """The read-only fields a sync changes and every conversation's answer, as the page shows them now."""
    return {**{name: page.locator(f".form-row.field-{name} .readonly").inner_html() for name in LIVE_FIELDS},
            "results": page.locator("td.field-result").all_inner_texts()}


def chat_members(chat_sandbox, user_id: str, name: str) -> set:
    """The conversations Chat holds in the user's group ``name``, read page by page as the app reads them."""
    start, groups, members = 0, {}, {}
    while True:
        answer = chat_sandbox.post("recentcontact/get_contact_group", {"From_Account": user_id, "StartIndex": start})
        assert answer["ErrorCode"] == 0, answer
        groups.update({group["GroupName"]: group["GroupId"] for group in answer["GroupItem"]})
        for item in answer["ContactItem"]:
            for group_id in item["ContactGroupId"]:
                members.setdefault(group_id, set()).add((item["Type"], item.get("To_Account") or item.get("ToGroupId")))
        if answer["CompleteFlag"] == 1:
            return members[groups[name]]
        start = answer["NextStartIndex"]


def status_requests(page) -> list[str]:
    seen = []
    page.on("request", lambda request: seen.append(request.url) if "/status/" in request.url else None)
    return seen


def test_a_save_is_followed_live_call_by_call_to_its_end(page, staff, big_group, celery_worker, chat_sandbox):
    log_in(page, "support", PASSWORD)
    page.goto(f"/admin/contactgroups/contactgroup/{big_group.pk}/change/")
    expect(badge(page)).to_have_text("Draft: not synced to Chat")
    chat_sandbox.set_faults(latency_ms=SLOW_CHAT_MS)
    asked = status_requests(page)

    save_and_continue(page)
    # The list, opened in a second page while the sync runs, follows it too.
    listing = page.context.new_page()
    listing.goto("/admin/contactgroups/contactgroup/")
    row = listing.locator("#result_list tbody tr").filter(has_text="Big team")
    expect(column(listing, row, "state")).to_have_text(re.compile(r"^(Queued|Syncing to Chat.*)$"))
    listing.evaluate("window.liveSyncMark = 'not reloaded'")

    # Between the create (100 conversations) and the update (the other 53): the first call's answers are in,
    # the second call's not yet. Read in one go, as the page shows them at one moment.
    between = page.wait_for_function("""() => {
        const state = document.querySelector('.field-state_badge .sync-state').textContent;
        if (state !== 'Syncing to Chat: call 2 of 2') return null;
        const cell = (target) => document.querySelector(`input[value="${target}"]`)
            .closest('tr').querySelector('td.field-result').textContent.trim();
        return {first: cell('@TGS#0001'), hundredth: cell('@TGS#0100'), last: cell('@TGS#0150'),
                refused: cell('user_9'), bar: document.querySelector('progress.sync-progress').value};
    }""", timeout=SYNC_TIMEOUT_MS).json_value()
    assert between == {"first": "0: Accepted by Chat.", "hundredth": "0: Accepted by Chat.",
                       "last": "not sent yet", "refused": "not sent yet", "bar": 1}
    screenshot(page, "group-syncing-live")

    expect(badge(page)).to_have_text("Partly refused: 3 conversations refused", timeout=SYNC_TIMEOUT_MS)
    expect(badge(page)).to_have_class(re.compile(r"\bstate-partial\b"))
    expect(page.locator("progress.sync-progress")).to_have_count(0)
    expect(result_of(page, "@TGS#0150")).to_have_text("0: Accepted by Chat.")
    refused = result_of(page, "user_9")
    expect(refused.locator("strong.refused")).to_contain_text(
        f"{errors.ACCOUNT_NOT_IMPORTED}: {words.meaning(errors.ACCOUNT_NOT_IMPORTED)}")
    big_group.refresh_from_db()
    expect(page.locator(".field-last_sync .readonly")).to_contain_text(words.outcome_text(big_group.sync.last_outcome))
    expect(page.locator(".field-last_sync .readonly")).to_contain_text("user_7: Import this user into Chat")
    expect(page.locator(".field-chat_group_id .readonly")).to_have_text(str(big_group.sync.chat_group_id))
    expect(column(listing, row, "state")).to_have_text("Partly refused: 3 conversations refused")
    expect(column(listing, row, "refused").locator("strong.refused")).to_have_text("3")
    expect(column(listing, row, "accepted")).to_have_text("150")
    expect(column(listing, row, "GroupId")).to_have_text(str(big_group.sync.chat_group_id))
    assert still_marked(page) and listing.evaluate("window.liveSyncMark") == "not reloaded"
    screenshot(page, "group-synced-live")

    # Once the end is shown, the page stops asking.
    asked_at_end = len(asked)
    page.wait_for_timeout(2500)
    assert len(asked) == asked_at_end
    # What the page and the list show live is what they show once reloaded.
    shown, listed = page_texts(page), row.inner_html()
    page.reload()
    listing.reload()
    assert page_texts(page) == shown
    assert row.inner_html() == listed
    chat_sandbox.clear_faults()
    assert chat_members(chat_sandbox, "user_0001", "Big team") == {(GROUP, target) for target in GROUP_CONVERSATIONS}


def test_with_chat_down_the_page_ends_on_the_failure(page, staff, imported_owner, make_group, celery_worker,
                                                     chat_sandbox):
    group = make_group(imported_owner, "Down", [(C2C, "user_0002")])
    log_in(page, "support", PASSWORD)
    page.goto(f"/admin/contactgroups/contactgroup/{group.pk}/change/")
    chat_sandbox.set_faults(http_error_rate=1.0)  # every call answered with HTTP 502

    save_and_continue(page)

    expect(badge(page)).to_have_text(re.compile(r"^Failed: .*502"), timeout=SYNC_TIMEOUT_MS)
    expect(badge(page)).to_have_class(re.compile(r"\bstate-failed\b"))
    group.refresh_from_db()
    assert group.state == ContactGroup.State.FAILED
    expect(page.locator(".field-last_sync .readonly")).to_have_text(words.outcome_text(group.sync.last_outcome))
    expect(page.locator(".field-last_sync .readonly")).to_contain_text("Gave up after")
    expect(result_of(page, "user_0002")).to_have_text("not sent yet")
    assert still_marked(page)
    screenshot(page, "group-failed-live")


def test_in_chinese_the_page_follows_the_sync_in_chinese(browser, site, staff, big_group, celery_worker,
                                                         chat_sandbox):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", base_url=site)
    page = context.new_page()
    try:
        page.goto("/admin/")
        page.get_by_label(zh("username")).fill("support")
        page.get_by_label(zh("password"), exact=False).first.fill(PASSWORD)
        page.get_by_role("button", name=zh("Log in")).click()
        # The first time the page asks, the answer is lost: the script says so, in Chinese, and asks again.
        lost = []

        def lose_the_first(route):
            if lost:
                route.continue_()
            else:
                lost.append(route.request.url)
                route.abort()

        page.route(re.compile(r"/status/$"), lose_the_first)
        page.goto(f"/admin/contactgroups/contactgroup/{big_group.pk}/change/")
        expect(badge(page)).to_have_text(zh("Draft: not synced to Chat"))
        chat_sandbox.set_faults(latency_ms=SLOW_CHAT_MS)

        save_and_continue(page, zh("Save and continue editing"))
        note = read_catalogue(MESSAGES / "djangojs.po")[
            "Could not reach the server to follow the sync; trying again."]["msgstr"]
        expect(page.locator(".sync-live-note")).to_have_text(note)
        expect(page.locator(".sync-live-note")).to_be_hidden()
        assert len(lost) == 1
        calling = zh("Syncing to Chat: call %(call)d of %(calls)d") % {"call": 2, "calls": 2}
        expect(badge(page)).to_have_text(calling, timeout=SYNC_TIMEOUT_MS)
        expect(result_of(page, "@TGS#0150")).to_have_text(zh("not sent yet"))
        done = zh("Partly refused: %(count)d conversation refused", "Partly refused: %(count)d conversations refused",
                  3) % {"count": 3}
        expect(badge(page)).to_have_text(done, timeout=SYNC_TIMEOUT_MS)
        assert "Partly" not in done
        expect(result_of(page, "@TGS#0150")).to_contain_text(zh("Accepted by Chat."))
        assert still_marked(page)
        screenshot(page, "group-synced-live-zh-hans")
    finally:
        context.close()
