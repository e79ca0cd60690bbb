"""A group or conversation loaded before a sync ran, saved after it: the save writes what staff want, never back
what Chat confirmed before the sync, so Chat (the sandbox, over HTTP) keeps one group, renamed."""

import pytest

from contactgroups import sync
from contactgroups.chat import errors, protocol
from contactgroups.forms import ContactGroupForm, ContactItemForm
from contactgroups.models import ContactGroup
from tests.sync.test_sync import CREATE, GET, chat_groups

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(owner, chat_sandbox):
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003")
    return owner


def save_as_shell(group, name):
    """A shell, a data migration or a custom action: the name set on the instance, and save()."""
    group.name = name
    group.save()


def save_as_form(group, name):
    """The group's form, bound to the instance loaded before the sync."""
    form = ContactGroupForm({"owner": group.owner_id, "name": name}, instance=group)
    assert form.is_valid(), form.errors
    form.save()


@pytest.mark.parametrize("save", [save_as_shell, save_as_form], ids=["shell", "form"])
@pytest.mark.parametrize("related", [("owner",), ("owner", "sync")], ids=["group", "with its sync row"])
def test_a_stale_save_renames_the_one_group_in_chat(alice, make_group, chat_sandbox, staff, save, related):
    conversations = {(C2C, "user_0002"), (C2C, "user_0003"), (GROUP, "@TGS#1B2AUI7RZ")}
    group = make_group(alice, "work", sorted(conversations), state=ContactGroup.State.QUEUED)
    # Loaded as a shell or a page loads it, what Chat confirmed (nothing yet) read with it or not.
    stale = ContactGroup.objects.select_related(*related).get(pk=group.pk)

    sync.sync_group(group.pk, staff.pk)  # meanwhile another process (a worker, a bulk sync) creates it in Chat
    save(stale, "renamed")
    sent_before = len(chat_sandbox.calls_to())
    sync.sync_group(group.pk, staff.pk)

    group.refresh_from_db()
    assert chat_groups(chat_sandbox, alice.user_id) == {"renamed": (group.sync.chat_group_id, conversations)}
    # The last sync renames the group and sends nothing else: Chat's conversations are known to be there.
    [rename] = [call["body"] for call in chat_sandbox.calls_to()[sent_before:] if call["endpoint"] != GET]
    assert rename["UpdateGroup"]["UpdateGroupType"] == 1
    assert (rename["UpdateGroup"]["OldGroupName"], rename["UpdateGroup"]["NewGroupName"]) == ("work", "renamed")
    assert len(chat_sandbox.calls_to(CREATE)) == 1
    assert (group.state, group.sync.confirmed_name, group.sync.create_intent) == (
        ContactGroup.State.SYNCED, "renamed", "")


def test_a_stale_conversation_save_keeps_chats_result_code(alice, make_group, chat_sandbox, staff):
    group = make_group(alice, "work", [(C2C, "user_0002"), (C2C, "user_0099")])  # user_0099 was never imported
    stale = {item.to_account: item for item in group.items.all()}

    sync.sync_group(group.pk, staff.pk)
    form = ContactItemForm({"type": C2C, "to_account": "user_0099", "to_group_id": ""},
                           instance=stale["user_0099"])
    assert form.is_valid(), form.errors
    form.save()
    stale["user_0002"].save()

    codes = dict(group.items.values_list("to_account", "result_code"))
    assert codes["user_0002"] == errors.OK
    assert errors.is_account_not_imported(codes["user_0099"])
    group.refresh_from_db()
    assert (group.accepted_count, group.refused_count) == (1, 1)


@pytest.mark.parametrize("save", [save_as_shell, save_as_form], ids=["shell", "form"])
@pytest.mark.parametrize("loaded", [ContactGroup.State.DRAFT, ContactGroup.State.QUEUED])
def test_a_stale_save_after_a_delete_does_not_bring_the_group_back(alice, make_group, chat_sandbox, staff, save,
                                                                     loaded):
    group = make_group(alice, "work", [(C2C, "user_0002")], state=loaded)
    sync.sync_group(group.pk, staff.pk)
    stale = ContactGroup.objects.select_related("owner").get(pk=group.pk)
    stale.state = loaded  # a copy loaded before the sync, or set back to wait for one

    # Meanwhile staff delete the group (as the admin does) and a worker deletes it from Chat.
    group.refresh_from_db()
    group.delete_requested, group.state = True, ContactGroup.State.DELETING
    group.save(update_fields=["delete_requested", "state", "updated_at"])
    sync.sync_group(group.pk, staff.pk)
    save(stale, "renamed")
    sync.sync_group(group.pk, staff.pk)

    group.refresh_from_db()
    assert (group.state, group.delete_requested) == (ContactGroup.State.DELETED, True)
    assert chat_groups(chat_sandbox, alice.user_id) == {}
    assert len(chat_sandbox.calls_to(CREATE)) == 1
