"""Finding people by part of a name, in headless Chromium: a Chat user by part of a nickname in the Chat users'
search box, then that owner's groups through the group list's owner filter, and what the list says it left out."""

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from contactgroups.models import ChatUser, ContactGroup
from tests.browser.conftest import column, log_in, screenshot
from tests.browser.test_typed_lengths import choose_language

pytestmark = pytest.mark.browser


@pytest.fixture
def support(django_user_model):
    """A staff user who may view Chat users and groups, and nothing more: searching needs no other permission."""
    user = django_user_model.objects.create_user("searcher", password="searcher-password", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_chatuser", "view_contactgroup"]))
    return user


@pytest.fixture
def people(make_group):
    users = ChatUser.objects.bulk_create([
        ChatUser(user_id="cs_zhang_0001", nickname="张三丰大侠"),
        ChatUser(user_id="cs_zhang_0002", nickname="张无忌"),
        ChatUser(user_id="cs_li_0003", nickname="Li Xiaolong"),
    ])
    make_group(users[0], "工作")
    make_group(users[0], "family")
    make_group(users[0], "old friends", state=ContactGroup.State.DELETED)
    make_group(users[1], "工作")
    make_group(users[2], "family")
    return users


def test_staff_find_a_user_by_part_of_a_nickname_and_then_the_groups_of_that_owner(page, site, support, people):
    log_in(page, "searcher", "searcher-password")

    page.goto("/admin/contactgroups/chatuser/")
    expect(page.locator("#searchbar_helptext")).to_contain_text("contains the text, in any case")
    page.locator("#searchbar").fill("三丰大")
    page.locator("#searchbar").press("Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(column(page, rows, "UserID")).to_have_text(["cs_zhang_0001"])
    expect(column(page, rows, "nickname")).to_have_text(["张三丰大侠"])

    page.goto("/admin/contactgroups/contactgroup/")
    owner_box = page.get_by_role("searchbox", name="owner (part of UserID or nickname)")
    owner_box.fill("丰大侠")
    owner_box.press("Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    assert sorted(column(page, rows, "group name").all_inner_texts()) == ["family", "工作"]
    assert set(column(page, rows, "owner").all_inner_texts()) == {"cs_zhang_0001 (张三丰大侠)"}
    screenshot(page, "search-groups-by-owner-part")

    # The search box: a part of the nickname finds the owner's groups, and says a deleted one was left out.
    page.goto("/admin/contactgroups/contactgroup/")
    page.locator("#searchbar").fill("三丰大")
    page.locator("#searchbar").press("Enter")
    expect(rows).to_have_count(2)
    note = page.locator(".search-deleted-note")
    expect(note).to_have_text("1 deleted group also matches; show it")
    screenshot(page, "search-deleted-groups-note")
    note.get_by_role("link", name="show it").click()
    expect(rows).to_have_count(1)
    expect(column(page, rows, "group name")).to_have_text(["old friends"])

    # Nobody matches: the page says so, and what was searched.
    page.goto("/admin/contactgroups/contactgroup/")
    owner_box.fill("王五")
    owner_box.press("Enter")
    expect(page.locator(".messagelist .warning")).to_have_text(
        "No Chat user's UserID or nickname starts with “王五” (a text of one or two characters is matched at the "
        "start), so no group is listed.")
    expect(rows).to_have_count(0)


@pytest.mark.parametrize(("language", "typed", "short_note"), [
    ("en", "TGS#B001", None),
    ("zh-hans", "工作", "“工作”不足三个字符，因此逐一读取了每个会话分组的名称来查找"),
])
def test_staff_find_a_group_by_part_of_its_name_or_group_id(page, site, support, make_group, language, typed,
                                                            short_note):
    """Issue 23: `ork`, `工作` inside "Work 工作" and `TGS#B001` without its `@` found nothing."""
    owner = ChatUser.objects.create(user_id="cs_wang_0004")
    make_group(owner, "Work 工作", [(2, "@TGS#B001RZ2AUI7")])
    make_group(owner, "Family 家人")
    log_in(page, "searcher", "searcher-password")
    choose_language(page, language)
    page.goto("/admin/contactgroups/contactgroup/")
    page.locator("#searchbar").press_sequentially(typed)
    page.locator("#searchbar").press("Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("th, td").filter(has_text="Work 工作")).to_have_count(1)
    note = page.locator(".search-short-note")
    if short_note:
        expect(note).to_contain_text(short_note)
    else:
        expect(note).to_have_count(0)
    screenshot(page, f"search-groups-by-part-{language}")
