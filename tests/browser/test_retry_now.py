"""A group waiting for Chat says its attempt and next try, and Retry now sends it once Chat is back, in headless
Chromium, in English and Chinese (issue 23).

The sandbox is stopped as Chat going down and started again; the in-process executor runs the sync and its
retries; the retries' clock and jitter are the test's, so the next try's time is known.
"""

from datetime import UTC, datetime

import pytest
from django.db import transaction
from django.utils import translation
from playwright.sync_api import expect

from contactgroups import tasks
from contactgroups.models import ContactGroup, GroupSync
from contactgroups.sync import retries
from tests.browser.conftest import C2C, chat_groups, log_in
from tests.browser.test_typed_lengths import choose_language
from tests.conftest import wait_until

pytestmark = pytest.mark.browser


def said(language: str, message: str, **params) -> str:
    with translation.override(language):
        return translation.gettext(message) % params


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_retry_now_beside_the_attempt_and_next_try_sends_the_group_once_chat_is_back(
        page, staff, imported_owner, make_group, chat_sandbox, settings, monkeypatch, language):
    monkeypatch.setattr(retries, "clock", lambda: datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC))
    monkeypatch.setattr(retries, "jitter", lambda low, high: high)
    settings.SYNC_MAX_ATTEMPTS = 10
    settings.SYNC_RETRY_BASE_SECONDS = settings.SYNC_RETRY_CAP_SECONDS = 600
    group = make_group(imported_owner, "work", [(C2C, "user_0002")], state=ContactGroup.State.QUEUED)
    chat_sandbox.stop()
    with transaction.atomic():
        tasks.queue_group_syncs([group.pk], staff.pk)
    wait_until(lambda: GroupSync.objects.get(pk=group.pk).attempts == 1)

    log_in(page, "support", "support-password")
    choose_language(page, language)
    page.goto(f"/admin/contactgroups/contactgroup/{group.pk}/change/")
    badge = page.locator(".field-state_badge .sync-state")
    expect(badge).to_have_text(said(language, "Waiting to try again: attempt %(attempt)d of %(most)d at %(time)s",
                                    attempt=2, most=10, time="12:10:00"))
    retry = page.get_by_role("button", name=said(language, "Retry now"))
    expect(retry).to_be_visible()

    chat_sandbox.start()
    with page.expect_navigation():
        retry.click()
    expect(page.locator(".messagelist .success")).to_have_text(said(
        language, "The next try of “%(group)s” is handed to the workers now; its page shows how it ends.",
        group="work"))
    expect(badge).to_have_text(said(language, "Synced"))  # followed live, no reload
    expect(page.get_by_role("button", name=said(language, "Retry now"))).to_have_count(0)
    assert chat_groups(chat_sandbox, "user_0001") == {"work": [(C2C, "user_0002")]}
