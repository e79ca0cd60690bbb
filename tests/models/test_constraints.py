"""The database itself refuses inconsistent rows, whatever path writes them."""

import pytest
from django.db import IntegrityError, transaction

from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup, ContactItem

pytestmark = pytest.mark.django_db(transaction=True)


def insert_item(group, **fields):
    with transaction.atomic():
        ContactItem.objects.create(group=group, **fields)


@pytest.fixture
def group():
    owner = ChatUser.objects.create(user_id="user_0001")
    return ContactGroup.objects.create(owner=owner, name="work")


def test_one_to_one_item_with_a_group_id_is_refused(group):
    with pytest.raises(IntegrityError):
        insert_item(group, type=protocol.TYPE_C2C, to_account="user_0002", to_group_id="@TGS#1")
    with pytest.raises(IntegrityError):
        insert_item(group, type=protocol.TYPE_C2C, to_account="", to_group_id="@TGS#1")


def test_group_item_with_a_user_is_refused(group):
    with pytest.raises(IntegrityError):
        insert_item(group, type=protocol.TYPE_GROUP, to_account="user_0002", to_group_id="")


def test_item_without_a_target_is_refused(group):
    with pytest.raises(IntegrityError):
        insert_item(group, type=protocol.TYPE_C2C, to_account="", to_group_id="")


def test_valid_items_of_both_types_are_stored(group):
    insert_item(group, type=protocol.TYPE_C2C, to_account="user_0002")
    insert_item(group, type=protocol.TYPE_GROUP, to_group_id="@TGS#1")
    assert group.items.count() == 2


def test_same_conversation_twice_in_a_group_is_refused(group):
    insert_item(group, type=protocol.TYPE_C2C, to_account="user_0002")
    with pytest.raises(IntegrityError):
        insert_item(group, type=protocol.TYPE_C2C, to_account="user_0002")


def test_same_conversation_in_two_groups_is_allowed(group):
    other = ContactGroup.objects.create(owner=group.owner, name="friends")
    insert_item(group, type=protocol.TYPE_C2C, to_account="user_0002")
    insert_item(other, type=protocol.TYPE_C2C, to_account="user_0002")
    assert ContactItem.objects.count() == 2


def test_group_name_is_unique_per_owner(group):
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactGroup.objects.create(owner=group.owner, name="work")


def test_a_deleted_group_frees_its_name(group):
    ContactGroup.objects.filter(pk=group.pk).update(state=ContactGroup.State.DELETED)
    ContactGroup.objects.create(owner=group.owner, name="work")
    assert ContactGroup.objects.filter(name="work").count() == 2


def test_chat_user_id_is_unique(group):
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatUser.objects.create(user_id="user_0001")
