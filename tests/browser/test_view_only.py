"""A staff user with only the view permissions, in headless Chromium: reads everything, changes nothing."""

import re

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from contactgroups.models import ChatUser, ContactGroup, SyncAttempt
from tests.admin_forms import group_form_data
from tests.browser.conftest import (
    C2C,
    CHAT_GROUP_ID,
    CJK_NAME,
    GROUP,
    chat_groups,
    column,
    csrf_post,
    log_in,
    screenshot,
)

pytestmark = pytest.mark.browser

VIEW_PERMISSIONS = ["view_chatuser", "view_contactgroup", "view_contactitem", "view_syncattempt"]


@pytest.fixture
def auditor(django_user_model):
    user = django_user_model.objects.create_user("auditor", password="auditor-password", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="contactgroups",
                                                         codename__in=VIEW_PERMISSIONS))
    return user


@pytest.fixture
def audited_group(synced_group, chat_sandbox):
    """The synced group, with the sandbox's call log emptied so any later call stands out."""
    chat_sandbox.clear_calls()
    return synced_group


def test_view_only_staff_reads_groups_history_and_audit_without_a_button_to_change(page, auditor, audited_group):
    log_in(page, "auditor", "auditor-password")
    expect(page.locator("#content-main a.addlink")).to_have_count(0)

    page.locator("#content-main").get_by_role("link", name="Conversation groups", exact=True).click()
    expect(page.get_by_role("heading", name="Select conversation group to view")).to_be_visible()
    expect(page.get_by_role("link", name="Add conversation group")).to_have_count(0)
    # The only actions a view-only user is offered are the exports, which change nothing.
    expect(page.locator("select[name='action'] option[value]:not([value=''])")).to_have_count(2)
    for value in ("export_selected_csv", "export_selected_xlsx"):
        expect(page.locator(f"select[name='action'] option[value='{value}']")).to_have_count(1)
    row = page.locator("#result_list tbody tr").filter(has_text=CJK_NAME)
    expect(column(page, row, "state")).to_have_text("Synced")
    expect(column(page, row, "GroupId")).to_have_text("1")
    row.get_by_role("link", name=CJK_NAME).click()

    expect(page.get_by_role("heading", name="View conversation group")).to_be_visible()
    expect(page.locator(".field-group_name .readonly")).to_have_text(CJK_NAME)
    expect(page.locator(".field-chat_group_id .readonly")).to_have_text("1")
    expect(page.locator("#contactgroup_form").locator("input:not([type=hidden]), select, textarea")).to_have_count(0)
    expect(page.locator("#contactgroup_form")).to_contain_text("0: Accepted by Chat.")
    for target in ("user_0002", "user_0003", CHAT_GROUP_ID):
        expect(page.locator("#items-group")).to_contain_text(target)
    expect(page.get_by_role("button", name=re.compile("Save"))).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    expect(page.get_by_text("Add another Conversation")).to_be_hidden()
    screenshot(page, "view-only-group")

    page.get_by_role("link", name="History").click()
    expect(page.locator("#change-history")).to_contain_text("Created in Chat as GroupId 1: 3 conversations added.")
    page.go_back()
    page.get_by_role("link", name="Chat calls for this group").click()
    calls = page.locator("#result_list tbody tr")
    expect(column(page, calls.filter(has_text="create_contact_group"), "staff user")).to_have_text("lead")
    calls.filter(has_text="create_contact_group").locator("th a").click()
    expect(page.locator(".field-request_json .readonly")).to_contain_text(f'"GroupName": "{CJK_NAME}"')
    expect(page.locator("input[name='_save']")).to_have_count(0)

    page.locator("#nav-sidebar").get_by_role("link", name="Chat users", exact=True).click()
    expect(page.locator("#result_list")).to_contain_text("user_0001")
    expect(page.get_by_role("link", name="Add Chat user")).to_have_count(0)
    expect(page.locator("select[name='action']")).to_have_count(0)


def test_view_only_staff_posting_changes_directly_is_refused(page, auditor, audited_group, chat_sandbox):
    log_in(page, "auditor", "auditor-password")
    group = audited_group
    items = list(group.items.all())
    attempt = SyncAttempt.objects.filter(group=group).first()
    base = "/admin/contactgroups"
    refused = {
        "change the group": (f"{base}/contactgroup/{group.pk}/change/",
                             group_form_data(name="hacked", existing=items, deleted={items[0].pk})),
        "add a group": (f"{base}/contactgroup/add/",
                        group_form_data(owner=group.owner, name="new", items=[(GROUP, "", "@TGS#2")])),
        "delete the group": (f"{base}/contactgroup/{group.pk}/delete/", {"post": "yes"}),
        "add a Chat user": (f"{base}/chatuser/add/", {"user_id": "intruder"}),
        "change a Chat user": (f"{base}/chatuser/{group.owner.pk}/change/", {"nickname": "Mallory"}),
        "change a Chat call": (f"{base}/syncattempt/{attempt.pk}/change/", {"operation": "forged"}),
    }
    for what, (path, data) in refused.items():
        response = csrf_post(page, path, data)
        assert response.status == 403, f"{what}: HTTP {response.status}"
        assert "CSRF" not in response.text(), f"{what}: refused for its CSRF token, not for the permission"

    # Actions the page does not offer are not run either: the same token gets the list back, unchanged.
    for path, action in [(f"{base}/contactgroup/", "sync_to_chat"), (f"{base}/contactgroup/", "delete_selected"),
                         (f"{base}/chatuser/", "import_into_chat")]:
        selected = group.pk if "contactgroup" in path else group.owner.pk
        response = csrf_post(page, path, {"action": action, "_selected_action": str(selected), "index": "0"})
        assert response.status == 200, f"{action}: HTTP {response.status}"

    group.refresh_from_db()
    assert (group.name, group.state, group.delete_requested) == (CJK_NAME, ContactGroup.State.SYNCED, False)
    assert sorted((item.type, item.target) for item in group.items.all()) == [(C2C, "user_0002"), (C2C, "user_0003"),
                                                              (GROUP, CHAT_GROUP_ID)]
    assert ContactGroup.objects.count() == 1
    assert list(ChatUser.objects.values_list("user_id", "nickname")) == [("user_0001", "Alice")]
    assert SyncAttempt.objects.filter(operation="forged").count() == 0
    assert chat_sandbox.calls_to() == []
    assert chat_groups(chat_sandbox, "user_0001") == {
        CJK_NAME: [(C2C, "user_0002"), (C2C, "user_0003"), (GROUP, CHAT_GROUP_ID)]}
