"""The sync-health page in a browser: opened from the admin index, each chart drawn, in English and in Chinese.

``IMADMIN_DOCS_SCREENSHOT=1`` also saves the English page as docs/health-page.png, docs/using.md's picture of it.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from contactgroups import sync
from contactgroups.chat import errors
from contactgroups.models import ContactGroup, SyncAttempt
from tests.admin.test_health import CREATE, READ, UPDATE, call
from tests.browser.conftest import C2C, log_in, screenshot
from tests.project.test_translations import MESSAGES, read_catalogue

pytestmark = pytest.mark.browser

DOCS_PICTURE = Path(__file__).resolve().parents[2] / "docs" / "health-page.png"
CHARTS = ["health-states-chart", "health-calls-chart", "health-refusals-chart"]
# Whether a canvas holds a Chart.js chart and any pixel that is not blank.
DRAWN = """(id) => {
  const canvas = document.getElementById(id);
  if (!canvas || !window.Chart || !window.Chart.getChart(canvas)) return false;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let n = 3; n < pixels.length; n += 4) if (pixels[n] !== 0) return true;
  return false;
}"""


@pytest.fixture
def calls_of_a_day(imported_owner, make_group, staff, chat_sandbox):
    """Real syncs (one refused a user not imported), and a day of calls before them."""
    sync.sync_group(make_group(imported_owner, "work", [(C2C, "user_0002"), (C2C, "user_0003")]).pk, staff.pk)
    sync.sync_group(make_group(imported_owner, "friends", [(C2C, "user_0002"), (C2C, "nobody")]).pk, staff.pk)
    make_group(imported_owner, "family", state=ContactGroup.State.FAILED, last_error_code=errors.GROUP_NOT_FOUND)
    make_group(imported_owner, "draft", [(C2C, "user_0003")])
    now = timezone.now()
    for minute in range(1, 60):
        for n in range(minute % 13 * 3 + 5):
            call(CREATE if n % 3 else UPDATE, started=now - timedelta(minutes=minute, seconds=n % 50),
                 duration_ms=40 + n * 7 % 300)
        call(READ, started=now - timedelta(minutes=minute), duration_ms=25)
    for hours in range(2, 100, 7):
        call(UPDATE, started=now - timedelta(hours=hours), outcome=SyncAttempt.Outcome.REFUSED,
             error_code=errors.GROUP_NOT_FOUND, duration_ms=120)
    call(CREATE, started=now - timedelta(hours=30), outcome=SyncAttempt.Outcome.REFUSED,
         error_code=errors.RATE_LIMITED, duration_ms=15)


def open_from_the_index(page, link: str, heading: str):
    page.get_by_role("link", name=link).first.click()
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    for chart in CHARTS:
        page.wait_for_function(DRAWN, arg=chart)
        assert page.evaluate(DRAWN, chart), chart


def test_the_health_page_opens_from_the_index_with_its_charts_drawn(page, staff, calls_of_a_day):
    log_in(page, "support", "support-password")

    open_from_the_index(page, "Sync health", "Groups by state")

    expect(page.locator("#health-calls-table tr[data-operation='create_contact_group'] td").first).to_have_text(
        "create a group")
    expect(page.locator("#health-refusals tr[data-code='51009']")).to_be_visible()
    if os.environ.get("IMADMIN_DOCS_SCREENSHOT"):
        page.set_viewport_size({"width": 1280, "height": 1500})
        page.screenshot(path=DOCS_PICTURE)
    screenshot(page, "health-page")


def test_the_health_page_in_chinese(browser, site, staff, calls_of_a_day):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai", base_url=site)
    page = context.new_page()
    try:
        with translation.override("zh-hans"):
            link, heading = translation.gettext("Sync health"), translation.gettext("Groups by state")
            operation = translation.gettext("create a group")
            username, password, log_in_button = (translation.gettext(text) for text in ("username", "password",
                                                                                         "Log in"))
        page.goto("/admin/")
        page.get_by_label(username).fill("support")
        page.get_by_label(password, exact=False).first.fill("support-password")
        page.get_by_role("button", name=log_in_button).click()

        open_from_the_index(page, link, heading)

        expect(page.locator("#health-calls-table tr[data-operation='create_contact_group'] td").first).to_have_text(
            operation)
        legend = page.evaluate("() => Chart.getChart(document.getElementById('health-calls-chart'))"
                               ".data.datasets.map((set) => set.label)")
        cap = read_catalogue(MESSAGES / "djangojs.po")["Chat's cap: %s calls a minute"]["msgstr"]
        assert operation in legend and cap.replace("%s", "12,000") in legend
        screenshot(page, "health-page-zh")
    finally:
        context.close()
