"""What staff type is never cut: a name or a UserID past Chat's limit in bytes stays in its box as typed, its size
in bytes shows under the box as they type, and saving it is refused with the limit, in English and in Chinese."""

import pytest
from playwright.sync_api import expect

from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup
from tests.browser.conftest import log_in, screenshot
from tests.browser.test_group_workflow import choose_owner

pytestmark = pytest.mark.browser

PASSWORD = "support-password"  # the staff fixture's
SAID = {
    "en": {"count": "{} of {} bytes", "save": "Save",
           "name": "This name is 65 bytes in UTF-8; a group name may have at most 64 bytes",
           "user": "This UserID is 33 bytes in UTF-8; a UserID may have at most 32."},
    "zh-hans": {"count": "{} / {} 字节", "save": "保存", "name": "此名称的 UTF-8 编码为 65 字节，分组名称最多 64 字节",
                "user": "此 UserID 的 UTF-8 编码为 33 字节，UserID 最多 32 字节。"},
}


def choose_language(page, language: str) -> None:
    """The language cookie for the whole site, as the language chooser sets it (the script catalogue's path too)."""
    page.context.add_cookies([{"name": "django_language", "value": language, "url": page.url.split("/admin/")[0]}])


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_group_name_past_64_bytes_is_kept_as_typed_counted_and_refused(page, staff, owner, language):
    log_in(page, "support", PASSWORD)
    choose_language(page, language)
    page.goto("/admin/contactgroups/contactgroup/add/")
    said = SAID[language]
    name = page.locator("#id_name")
    expect(page.locator("#id_name + .byte-count")).to_have_text(said["count"].format(0, 64))
    name.press_sequentially("W" * 65)
    assert name.input_value() == "W" * 65  # nothing cut
    count = page.locator("#id_name + .byte-count")
    expect(count).to_have_text(said["count"].format(65, 64))
    expect(count).to_have_class("help byte-count over")
    name.fill("项目" * 11)  # 22 CJK characters: 66 bytes
    expect(count).to_have_text(said["count"].format(66, 64))
    name.fill("W" * 65)
    choose_owner(page, "Alice", "user_0001 (Alice)")
    screenshot(page, f"name-65-bytes-{language}")
    page.get_by_role("button", name=said["save"], exact=True).click()
    error = page.locator(".field-name .errorlist")
    expect(error).to_contain_text(said["name"])
    expect(error.locator("li")).to_have_count(1)
    assert page.locator("#id_name").input_value() == "W" * 65
    assert not ContactGroup.objects.exists()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_userid_past_32_bytes_is_kept_as_typed_counted_and_refused(page, staff, language):
    log_in(page, "support", PASSWORD)
    choose_language(page, language)
    page.goto("/admin/contactgroups/chatuser/add/")
    said = SAID[language]
    user_id = page.locator("#id_user_id")
    user_id.press_sequentially("u" * (protocol.USER_ID_MAX_BYTES + 1))
    assert user_id.input_value() == "u" * 33
    expect(page.locator("#id_user_id + .byte-count")).to_have_text(said["count"].format(33, 32))
    page.get_by_role("button", name=said["save"], exact=True).click()
    error = page.locator(".field-user_id .errorlist")
    expect(error).to_contain_text(said["user"])
    expect(error.locator("li")).to_have_count(1)
    assert user_id.input_value() == "u" * 33
    assert not ChatUser.objects.filter(user_id="u" * 33).exists()
