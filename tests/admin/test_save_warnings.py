"""The group form warns, before saving, of what Chat would likely refuse; nothing is saved until staff confirm.

An owner or a one-to-one target the mirror knows is not imported, and a group id typed as a UserID, are warnings,
not errors: the page comes back with them and a "Save anyway" checkbox, and the save with it ticked goes through.
"""

import re

import pytest
from django.urls import reverse

from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup, ContactItem
from tests.admin_forms import form_errors, group_form_data

ADD_URL = reverse("admin:contactgroups_contactgroup_add")
C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
SAVE_ANYWAY = "_save_anyway"

pytestmark = pytest.mark.django_db


def change_url(group):
    return reverse("admin:contactgroups_contactgroup_change", args=[group.pk])


def warnings_shown(response) -> list[str]:
    """The warnings the page lists above the form, as text."""
    page = response.content.decode()
    box = re.search(r'<ul class="messagelist" id="save-warnings">(.*?)</ul>', page, re.S)
    if box is None:
        return []
    items = re.findall(r'<p class="save-warning">(.*?)</p>', box.group(1), re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", item)).strip() for item in items]


def confirmation(response) -> str:
    """The value of the page's "Save anyway" checkbox (what ticking it posts)."""
    match = re.search(rf'<input type="checkbox" name="{SAVE_ANYWAY}" value="(\w+)"', response.content.decode())
    assert match, "no Save anyway checkbox on the page"
    return match.group(1)


@pytest.fixture
def unimported(db):
    return ChatUser.objects.create(user_id="ghost", import_state=ChatUser.ImportState.NOT_IMPORTED)


@pytest.mark.parametrize("state", [ChatUser.ImportState.NOT_IMPORTED, ChatUser.ImportState.FAILED])
def test_an_owner_not_imported_is_warned_of_and_nothing_saved_until_confirmed(admin_client, state):
    owner = ChatUser.objects.create(user_id="ghost", import_state=state)
    data = group_form_data(owner=owner, name="work", items=[(C2C, "user_0002", "")])
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    assert warnings_shown(response) == [
        "The owner ghost is not imported in Chat, as far as this admin knows, so Chat will refuse the whole group: "
        "50001 The UserID has not been imported into Chat; import the account first."]
    page = response.content.decode()
    assert "Check before saving: nothing is saved yet." in page
    assert "Save anyway" in page
    assert "Please correct" not in page and form_errors(response) == []
    assert ContactGroup.objects.count() == 0 and ContactItem.objects.count() == 0
    # What was typed is shown again, to confirm as it is.
    assert 'value="work"' in page and 'value="user_0002"' in page

    response = admin_client.post(ADD_URL, {**data, SAVE_ANYWAY: confirmation(response)})
    assert response.status_code == 302
    group = ContactGroup.objects.get()
    assert (group.owner, group.name) == (owner, "work")
    assert [item.to_account for item in group.items.all()] == ["user_0002"]


@pytest.mark.parametrize("state", [ChatUser.ImportState.UNKNOWN, ChatUser.ImportState.IMPORTED])
def test_an_owner_imported_or_never_checked_saves_at_once(admin_client, state):
    owner = ChatUser.objects.create(user_id="someone", import_state=state)
    response = admin_client.post(ADD_URL, group_form_data(owner=owner, name="work", items=[(C2C, "user_0002", "")]))
    assert response.status_code == 302
    assert ContactGroup.objects.count() == 1


def test_targets_not_imported_are_warned_of_together(admin_client, owner, unimported):
    ChatUser.objects.create(user_id="failed_one", import_state=ChatUser.ImportState.FAILED)
    ChatUser.objects.create(user_id="fine", import_state=ChatUser.ImportState.IMPORTED)
    data = group_form_data(owner=owner, name="work", items=[
        (C2C, "ghost", ""), (C2C, "fine", ""), (C2C, "failed_one", ""), (C2C, "stranger", "")])
    response = admin_client.post(ADD_URL, data)
    assert warnings_shown(response) == [
        "failed_one, ghost are not imported in Chat, as far as this admin knows, so Chat will refuse those "
        "conversations: 50001 The UserID has not been imported into Chat; import the account first."]
    assert ContactGroup.objects.count() == 0
    assert admin_client.post(ADD_URL, {**data, SAVE_ANYWAY: confirmation(response)}).status_code == 302
    assert ContactGroup.objects.get().items.count() == 4


def test_a_group_id_typed_as_a_user_id_is_warned_of(admin_client, owner, make_group):
    make_group(owner, "teams", [(GROUP, "team-42")])  # a custom group id the mirror knows as a group conversation
    data = group_form_data(owner=owner, name="work", items=[(C2C, "@TGS#1B2AUI7RZ", ""), (C2C, "team-42", ""),
                                                             (GROUP, "", "@TGS#2C3BVJ8SA")])
    response = admin_client.post(ADD_URL, data)
    assert warnings_shown(response) == [
        "@TGS#1B2AUI7RZ, team-42 look like Chat group ids, but are typed as the UserIDs of one-to-one "
        "conversations. For a group chat, choose the type “Group conversation” and put the id under group id. "
        "Other groups here hold team-42 as a group conversation."]
    assert not ContactGroup.objects.filter(name="work").exists()
    assert admin_client.post(ADD_URL, {**data, SAVE_ANYWAY: confirmation(response)}).status_code == 302
    assert ContactGroup.objects.get(name="work").items.count() == 3


def test_a_group_conversation_with_a_group_id_is_no_warning(admin_client, owner):
    response = admin_client.post(ADD_URL, group_form_data(owner=owner, name="work",
                                                          items=[(GROUP, "", "@TGS#1B2AUI7RZ")]))
    assert response.status_code == 302


def test_the_change_page_warns_and_changes_nothing_until_confirmed(admin_client, owner, unimported, make_group):
    group = make_group(owner, "work", [(C2C, "user_0002")])
    [item] = group.items.all()
    data = group_form_data(name="office", existing=[item], items=[(C2C, "ghost", "")])
    response = admin_client.post(change_url(group), data)
    assert response.status_code == 200
    assert len(warnings_shown(response)) == 1 and warnings_shown(response)[0].startswith("ghost is not imported")
    group.refresh_from_db()
    assert group.name == "work" and [i.to_account for i in group.items.all()] == ["user_0002"]

    assert admin_client.post(change_url(group), {**data, SAVE_ANYWAY: confirmation(response)}).status_code == 302
    group.refresh_from_db()
    assert group.name == "office" and [i.to_account for i in group.items.all()] == ["user_0002", "ghost"]


def test_the_change_page_warns_of_its_owner(admin_client, unimported, make_group):
    group = make_group(unimported, "work")
    response = admin_client.post(change_url(group), group_form_data(name="office"))
    assert warnings_shown(response)[0].startswith("The owner ghost is not imported in Chat")
    group.refresh_from_db()
    assert group.name == "work"


def test_a_confirmation_covers_only_the_warnings_it_was_shown_with(admin_client, owner, unimported):
    ChatUser.objects.create(user_id="ghost2", import_state=ChatUser.ImportState.NOT_IMPORTED)
    first = admin_client.post(ADD_URL, group_form_data(owner=owner, name="work", items=[(C2C, "ghost", "")]))
    changed = group_form_data(owner=owner, name="work", items=[(C2C, "ghost", ""), (C2C, "ghost2", "")])
    response = admin_client.post(ADD_URL, {**changed, SAVE_ANYWAY: confirmation(first)})
    assert response.status_code == 200
    assert warnings_shown(response)[0].startswith("ghost, ghost2 are not imported")
    assert ContactGroup.objects.count() == 0
    forged = admin_client.post(ADD_URL, {**changed, SAVE_ANYWAY: "yes"})
    assert forged.status_code == 200 and ContactGroup.objects.count() == 0


def test_an_error_is_shown_with_the_warnings_and_nothing_is_saved(admin_client, unimported):
    data = group_form_data(owner=unimported, name="会" * 22, items=[(C2C, "user_0002", "")])
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    assert any("66 bytes" in message for message in form_errors(response))
    assert "Please correct the error below." in response.content.decode()
    assert warnings_shown(response)[0].startswith("The owner ghost is not imported")
    # Ticking "Save anyway" confirms the warnings, never the error.
    response = admin_client.post(ADD_URL, {**data, SAVE_ANYWAY: confirmation(response)})
    assert response.status_code == 200 and ContactGroup.objects.count() == 0


def test_warnings_in_chinese(admin_client, unimported):
    admin_client.cookies["django_language"] = "zh-hans"
    response = admin_client.post(ADD_URL, group_form_data(owner=unimported, name="work",
                                                          items=[(C2C, "@TGS#1B2AUI7RZ", "")]))
    assert response.status_code == 200
    shown = warnings_shown(response)
    assert len(shown) == 2
    assert "ghost" in shown[0] and "50001" in shown[0] and "未导入" in shown[0]
    assert "@TGS#1B2AUI7RZ" in shown[1] and "群组 ID" in shown[1]
    assert "保存前请检查" in response.content.decode()
    assert admin_client.post(ADD_URL, {**group_form_data(owner=unimported, name="work",
                                                         items=[(C2C, "@TGS#1B2AUI7RZ", "")]),
                                       SAVE_ANYWAY: confirmation(response)}).status_code == 302
    assert ContactGroup.objects.count() == 1
