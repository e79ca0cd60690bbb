"""The conversation-group admin form refuses what Chat would refuse, and saves nothing then."""

import pytest
from django.urls import reverse

from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup, ContactItem
from tests.admin_forms import form_errors, group_form_data

ADD_URL = reverse("admin:contactgroups_contactgroup_add")
C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP

pytestmark = pytest.mark.django_db


def post_group(client, **kwargs):
    return client.post(ADD_URL, group_form_data(**kwargs))


def test_cjk_name_of_63_bytes_saves(admin_client, owner):
    response = post_group(admin_client, owner=owner, name="会" * 21, items=[(C2C, "user_0002", "")])
    assert response.status_code == 302
    group = ContactGroup.objects.get()
    assert group.name == "会" * 21
    assert [(item.type, item.target) for item in group.items.all()] == [(C2C, "user_0002")]


def test_cjk_name_of_66_bytes_is_refused_and_nothing_saved(admin_client, owner):
    response = post_group(admin_client, owner=owner, name="会" * 22, items=[(C2C, "user_0002", "")])
    assert response.status_code == 200
    assert any("66 bytes" in m and "at most 64" in m for m in form_errors(response))
    assert ContactGroup.objects.count() == 0
    assert ContactItem.objects.count() == 0


def test_emoji_counts_four_bytes_in_the_form(admin_client, owner):
    response = post_group(admin_client, owner=owner, name="a" * 61 + "😀")
    assert any("65 bytes" in m for m in form_errors(response))
    response = post_group(admin_client, owner=owner, name="a" * 60 + "😀")
    assert response.status_code == 302


def test_twentieth_group_saves_and_twenty_first_is_refused(admin_client, owner, make_group):
    for number in range(19):
        make_group(owner, f"group {number}")
    response = post_group(admin_client, owner=owner, name="twentieth")
    assert response.status_code == 302
    response = post_group(admin_client, owner=owner, name="twenty-first")
    assert response.status_code == 200
    assert any("21 conversation groups" in m and "at most 20" in m for m in form_errors(response))
    assert ContactGroup.objects.filter(owner=owner).count() == 20


def test_deleted_groups_do_not_count_against_the_twenty(admin_client, owner, make_group):
    for number in range(20):
        make_group(owner, f"group {number}", state=ContactGroup.State.DELETED if number == 0 else "draft")
    response = post_group(admin_client, owner=owner, name="replacement")
    assert response.status_code == 302


def test_other_owners_groups_do_not_count(admin_client, owner, make_group):
    other = ChatUser.objects.create(user_id="user_0009")
    for number in range(20):
        make_group(other, f"group {number}")
    assert post_group(admin_client, owner=owner, name="mine").status_code == 302


def test_thousandth_grouped_conversation_saves_and_next_is_refused(admin_client, owner, make_group):
    # 999 distinct conversations across two groups, one of them in both (counted once).
    make_group(owner, "first", [(C2C, f"u{n}") for n in range(500)])
    make_group(owner, "second", [(C2C, "u0")] + [(GROUP, f"@TGS#{n}") for n in range(499)])
    response = post_group(admin_client, owner=owner, name="third", items=[(C2C, "u0", ""), (C2C, "u-new", "")])
    assert response.status_code == 302, form_errors(response)
    response = post_group(admin_client, owner=owner, name="fourth", items=[(GROUP, "", "@TGS#new")])
    assert response.status_code == 200
    assert any("1001 distinct conversations" in m and "at most 1000" in m for m in form_errors(response))
    assert not ContactGroup.objects.filter(name="fourth").exists()


def test_thousand_and_first_by_editing_an_existing_group_is_refused(admin_client, owner, make_group):
    make_group(owner, "full", [(C2C, f"u{n}") for n in range(1000)])
    small = make_group(owner, "small")
    url = reverse("admin:contactgroups_contactgroup_change", args=[small.pk])
    response = admin_client.post(url, group_form_data(name="small", items=[(C2C, "u-extra", "")]))
    assert response.status_code == 200
    assert any("1001" in m for m in form_errors(response))
    assert small.items.count() == 0


def test_one_to_one_item_with_a_group_id_is_refused(admin_client, owner):
    response = post_group(admin_client, owner=owner, name="mixed", items=[(C2C, "", "@TGS#1B2AUI7RZ")])
    assert response.status_code == 200
    assert any("one-to-one conversation names a user" in m for m in form_errors(response))
    assert ContactGroup.objects.count() == 0


def test_group_item_with_a_user_id_is_refused(admin_client, owner):
    response = post_group(admin_client, owner=owner, name="mixed", items=[(GROUP, "user_0002", "")])
    assert any("group conversation names a Chat group id" in m for m in form_errors(response))
    assert ContactGroup.objects.count() == 0


def test_item_with_both_targets_is_refused(admin_client, owner):
    response = post_group(admin_client, owner=owner, name="mixed", items=[(C2C, "user_0002", "@TGS#1")])
    assert response.status_code == 200
    assert ContactGroup.objects.count() == 0


def test_duplicate_conversations_in_one_group_are_refused(admin_client, owner):
    items = [(C2C, "user_0002", ""), (GROUP, "", "@TGS#1"), (C2C, "user_0002", "")]
    response = post_group(admin_client, owner=owner, name="dupes", items=items)
    assert response.status_code == 200
    assert any("listed twice" in m and "user_0002" in m for m in form_errors(response))
    assert ContactGroup.objects.count() == 0 and ContactItem.objects.count() == 0


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_refusal_of_the_conversations_as_a_whole_is_said_at_the_top_too(admin_client, owner, language):
    items = [(C2C, f"user_{n:04d}", "") for n in range(150)] + [(C2C, "user_0002", "")]
    admin_client.cookies["django_language"] = language
    page = post_group(admin_client, owner=owner, name="big", items=items).content.decode()
    refusal = {"en": "This conversation is listed twice in the group: user_0002.",
               "zh-hans": "以下会话在分组中重复出现：user_0002。"}[language]
    top = page.index('<p class="errornote">')
    # Under "Please correct the error below", before the group's name; and again beside the conversations.
    assert top < page.index(refusal) < page.index('name="name"') < page.rindex(refusal)
    assert ContactGroup.objects.count() == 0


def test_same_name_twice_for_one_owner_is_refused(admin_client, owner, make_group):
    make_group(owner, "friends")
    response = post_group(admin_client, owner=owner, name="friends")
    assert any("already has a conversation group named" in m for m in form_errors(response))
    assert ContactGroup.objects.count() == 1


def test_same_name_for_another_owner_saves(admin_client, owner, make_group):
    make_group(ChatUser.objects.create(user_id="user_0009"), "friends")
    assert post_group(admin_client, owner=owner, name="friends").status_code == 302


def test_rename_to_a_sibling_name_is_refused(admin_client, owner, make_group):
    make_group(owner, "friends")
    work = make_group(owner, "work")
    url = reverse("admin:contactgroups_contactgroup_change", args=[work.pk])
    response = admin_client.post(url, group_form_data(name="friends"))
    assert response.status_code == 200
    assert any("already has a conversation group named" in m for m in form_errors(response))
    work.refresh_from_db()
    assert work.name == "work"


def test_removing_and_adding_conversations_on_the_change_page(admin_client, owner, make_group):
    group = make_group(owner, "work", [(C2C, "user_0002"), (C2C, "user_0003")])
    first, second = group.items.order_by("id")
    url = reverse("admin:contactgroups_contactgroup_change", args=[group.pk])
    data = group_form_data(name="work", existing=[first, second], deleted={first.pk}, items=[(GROUP, "", "@TGS#9")])
    response = admin_client.post(url, data)
    assert response.status_code == 302, form_errors(response)
    assert sorted((item.type, item.target) for item in group.items.all()) == [(C2C, "user_0003"), (GROUP, "@TGS#9")]


def test_owner_cannot_be_changed_after_creation(admin_client, owner, make_group):
    group = make_group(owner, "work")
    other = ChatUser.objects.create(user_id="user_0009")
    url = reverse("admin:contactgroups_contactgroup_change", args=[group.pk])
    admin_client.post(url, group_form_data(owner=other, name="work"))
    group.refresh_from_db()
    assert group.owner == owner


def test_add_page_shows_the_byte_limit_and_the_type_chooser(admin_client):
    page = admin_client.get(ADD_URL).content.decode()
    assert "At most 64 bytes of UTF-8" in page
    assert "contact_item_inline.js" in page
    assert "One-to-one" in page and "Group conversation" in page


def test_user_id_over_32_bytes_is_refused(admin_client):
    url = reverse("admin:contactgroups_chatuser_add")
    response = admin_client.post(url, {"user_id": "用户" * 6, "nickname": ""})
    assert response.status_code == 200
    assert "36 bytes" in response.content.decode()
    assert ChatUser.objects.count() == 0


def test_text_past_both_its_bytes_and_its_characters_is_refused_once_in_bytes(admin_client, owner):
    """65 ASCII characters are over the name's 64 bytes and its column's 64 characters; 33 over a UserID's 32 of
    each. Each field says only the byte limit, once: the model's count in characters is never added."""
    response = post_group(admin_client, owner=owner, name="W" * 65, items=[(C2C, "u" * 33, "")])
    assert sorted(form_errors(response)) == [
        "This UserID is 33 bytes in UTF-8; a UserID may have at most 32.",
        "This name is 65 bytes in UTF-8; a group name may have at most 64 bytes (65 characters here: CJK characters "
        "take 3 bytes each, emoji 4).",
    ]
    response = admin_client.post(reverse("admin:contactgroups_chatuser_add"), {"user_id": "u" * 33, "nickname": ""})
    assert form_errors(response) == ["This UserID is 33 bytes in UTF-8; a UserID may have at most 32."]
    assert not ContactGroup.objects.exists() and not ChatUser.objects.filter(user_id="u" * 33).exists()
