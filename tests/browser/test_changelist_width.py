"""The group list fits a 1280-pixel window with every column shown, in English and in Chinese, with the longest
names a group and an owner may have (64-byte names, 32-byte UserIDs, Chinese names) and every state's badge."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup
from tests.browser.conftest import VIEWPORT, log_in, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "support-password"  # the staff fixture's
LONG_USER_ID = "customer_service_agent_00000001"[: protocol.USER_ID_MAX_BYTES]
LONG_NAME = "Customers waiting for a callback about their delivery_0001"[: protocol.GROUP_NAME_MAX_BYTES]
CJK_LONG_NAME = "等待回电的客户关于快递延误的投诉处理小组一二三四五"
COLUMNS = 8  # name, owner, state, GroupId, conversations, accepted, refused, last synced


@pytest.fixture
def full_list(db, make_group):
    """A page of groups with the widest values each column can show."""
    owner = ChatUser.objects.create(user_id=LONG_USER_ID, nickname="客户服务中心的一位很长很长的昵称用户")
    other = ChatUser.objects.create(user_id="user_0001", nickname="Alice")
    now = timezone.now()
    names = [LONG_NAME, CJK_LONG_NAME, "W" * protocol.GROUP_NAME_MAX_BYTES, "项目组 Project team"]
    for n, state in enumerate(ContactGroup.State.values):
        group = make_group(owner if n % 2 else other, longest(f"{n} {names[n % len(names)]}"),
                           [(protocol.TYPE_C2C, "user_0002")], state=state, chat_group_id=4_000_000_000 + n,
                           last_synced_at=now, drift={"renamed": ["a", "b"]} if n == 0 else {})
        # The largest counts a group may show, set after make_group counted its one row.
        ContactGroup.objects.filter(pk=group.pk).update(
            conversation_count=protocol.GROUPED_CONVERSATIONS_PER_USER_MAX, accepted_count=999, refused_count=999)


def longest(name: str) -> str:
    """``name`` cut to the longest a group's name may be, in bytes."""
    while len(name.encode()) > protocol.GROUP_NAME_MAX_BYTES:
        name = name[:-1]
    return name


def overflow(page) -> dict:
    return page.evaluate("""() => ({
        scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
        // Django's list scrolls inside its own box (.results) rather than widen the page: that too must not.
        resultsScroll: document.querySelector('#changelist-form .results').scrollWidth,
        resultsClient: document.querySelector('#changelist-form .results').clientWidth,
        columns: document.querySelectorAll('#result_list thead th').length,
        widths: [...document.querySelectorAll('#result_list thead th')].map(th => th.offsetWidth),
        hidden: [...document.querySelectorAll('#result_list thead th')].filter(th => !th.offsetWidth).length,
    })""")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_group_list_fits_1280_pixels_with_every_column(page, staff, full_list, language):
    assert VIEWPORT["width"] == 1280
    log_in(page, "support", PASSWORD)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": page.url}])
    page.goto("/admin/contactgroups/contactgroup/?state=all")
    expect(page.locator("#result_list tbody tr")).to_have_count(len(ContactGroup.State.values))
    screenshot(page, f"changelist-1280-{language}")
    measured = overflow(page)
    assert measured["columns"] == COLUMNS + 1 and measured["hidden"] == 0  # the checkbox column and every other
    assert measured["scroll"] <= measured["client"], measured
    assert measured["resultsScroll"] <= measured["resultsClient"], measured


@pytest.fixture
def long_calls(db, staff):
    """Chat calls whose columns hold the widest values they may: a 64-byte group name without a space, the longest
    UserID, a staff user, and a refusal with its code and count."""
    from contactgroups.models import SyncAttempt

    now = timezone.now()
    for n, (name, outcome) in enumerate([("W" * protocol.GROUP_NAME_MAX_BYTES, SyncAttempt.Outcome.OK),
                                         (longest(CJK_LONG_NAME), SyncAttempt.Outcome.PARTIAL),
                                         (longest(LONG_NAME), SyncAttempt.Outcome.REFUSED)]):
        SyncAttempt.objects.create(
            owner_user_id=LONG_USER_ID, group_name=name, actor=staff, operation="search_contact_group", request={},
            response={"ErrorCode": 51007}, outcome=outcome, error_code=51007 if n == 2 else None,
            refused_items=99 if n == 1 else 0, http_status=None, started_at=now, duration_ms=10)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_audit_of_chat_calls_fits_1280_pixels_with_every_column(page, staff, long_calls, language):
    log_in(page, "support", PASSWORD)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": page.url}])
    page.goto("/admin/contactgroups/syncattempt/")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    screenshot(page, f"audit-1280-{language}")
    measured = overflow(page)
    assert measured["hidden"] == 0
    assert measured["scroll"] <= measured["client"], measured
    assert measured["resultsScroll"] <= measured["resultsClient"], measured
