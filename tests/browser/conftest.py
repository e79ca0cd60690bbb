"""Headless Chromium driving the admin on pytest-django's live server, with the Chat sandbox behind it.

One browser per test module, a fresh browser context (cookies, storage) per test. No broker is set, so a save
hands its sync to the background runner of the process the live server runs in, and returns: the banner says
the group is saved and syncing. Chat's answer reaches the group's page once the sync ends, so a test that reads
it waits first (``settle(page, background_syncs)``: wait for the background syncs, then reload), as a person
waits and reloads.
"""

import os
import re
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import expect, sync_playwright

from contactgroups import sync
from contactgroups.chat import protocol
from contactgroups.models import ChatUser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 10_000

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
CJK_NAME = "项目组 Project team"
CHAT_GROUP_ID = "@TGS#1B2AUI7RZ"
_REPORTS = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, for the whole module."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make test`, which installs Debian's chromium "
                    f"package (playwright install cannot download here).", pytrace=False)
    # The Playwright sync API keeps an event loop running in this thread; the tests' own ORM calls are
    # synchronous all the same.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
        # On PostgreSQL an open connection would keep the test database from being dropped.
        connections.close_all()


@pytest.fixture
def site(live_server, transactional_db, chat_sandbox):
    """The admin's base URL on the loopback address, with Chat (the sandbox) behind it."""
    return f"http://127.0.0.1:{live_server.thread.port}"


@pytest.fixture
def page(browser, site, request):
    """A page in a fresh browser context; a screenshot is kept when the test fails."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC", base_url=site)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = request.node.stash.get(_REPORTS, {}).get("call")
    if report is not None and report.failed:
        screenshot(page, f"failed-{request.node.name}")
    context.close()
    connections.close_all()


@pytest.fixture
def imported_owner(owner, chat_sandbox):
    """user_0001 (Alice) and two contacts of hers, all imported into Chat."""
    chat_sandbox.import_accounts("user_0001", "user_0002", "user_0003")
    ChatUser.objects.filter(pk=owner.pk).update(import_state=ChatUser.ImportState.IMPORTED)
    return owner


@pytest.fixture
def synced_group(imported_owner, make_group, django_user_model, chat_sandbox):
    """A group of user_0001 with three conversations, created in Chat by another staff user, "lead"."""
    lead = django_user_model.objects.create_user("lead", password="lead-password", is_staff=True)
    group = make_group(imported_owner, CJK_NAME, [(C2C, "user_0002"), (C2C, "user_0003"), (GROUP, CHAT_GROUP_ID)])
    sync.sync_group(group.pk, lead.pk)
    assert chat_groups(chat_sandbox, "user_0001") == {
        CJK_NAME: [(C2C, "user_0002"), (C2C, "user_0003"), (GROUP, CHAT_GROUP_ID)]}
    return group


def settle(page, background_syncs) -> None:
    """Wait until the syncs handed over so far have ended, then reload the page, as a person who waits would."""
    background_syncs.wait()
    page.reload()


def screenshot(page, name: str) -> Path:
    """Save the whole page as artifacts/screenshots/<name>.png (CI keeps the folder)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=path, full_page=True)
    return path


def log_in(page, username: str, password: str) -> None:
    """Log in through the admin's login form, as a person does."""
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Conversation groups back-office")).to_be_visible()


def column(page, rows, heading: str):
    """The cells of changelist ``rows`` under the column headed ``heading``, found as a person finds them."""
    expect(rows.first).to_be_visible()
    headings = [text.strip().lower() for text in page.locator("#result_list thead th").all_inner_texts()]
    assert heading.lower() in headings, f"no column {heading!r} in {headings}"
    return rows.locator(f":scope > :nth-child({headings.index(heading.lower()) + 1})")


def csrf_post(page, path: str, data: dict):
    """POST ``data`` as a form from the logged-in browser session, with the CSRF token from its cookie."""
    token = next(cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken")
    return page.request.post(path, form={**data, "csrfmiddlewaretoken": token})


def chat_groups(chat_sandbox, user_id: str) -> dict[str, list]:
    """What Chat holds for ``user_id``, asked as the user's app would: {group name: sorted conversations}."""
    answer = chat_sandbox.post("recentcontact/get_contact_group", {"From_Account": user_id, "StartIndex": 0})
    assert answer["ErrorCode"] == 0, answer
    assert answer["CompleteFlag"] == 1
    groups = {}
    for group in answer["GroupItem"]:
        groups[group["GroupName"]] = sorted(
            (item["Type"], item.get("To_Account") or item.get("ToGroupId"))
            for item in answer["ContactItem"] if group["GroupId"] in item["ContactGroupId"]
        )
    return groups
