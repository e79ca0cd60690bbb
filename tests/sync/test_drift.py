"""Drift: the group page compares the mirror with Chat (the sandbox), staff take Chat's version or keep theirs,
and the sweep marks every group the user changed in the app."""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contactgroups import runs, sync, words
from contactgroups.chat import errors, protocol
from contactgroups.chat.client import ChatClient
from contactgroups.conf import chat_config
from contactgroups.models import ContactGroup, GroupSync, GroupVersion, SyncAttempt
from contactgroups.sync import drift
from tests.admin_forms import group_form_data
from tests.conftest import wait_until
from tests.sync.test_pull import app_creates, app_deletes, app_renames
from tests.sync.test_sync import UPDATE, as_app, change_members, chat_groups, chat_hands_out_group_ids_from

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
OWNER = "user_0001"
# What the page says when it shows a reading kept less than a minute ago that found Chat as it confirmed.
REUSED = ("Compared with the group as Chat held it less than a minute ago. Matched what Chat held then. "
          "Refresh from Chat")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice(owner, chat_sandbox):
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003", "user_0004")
    return owner


@pytest.fixture
def work(alice, make_group, staff):
    """A group synced to Chat: "work" with user_0002 and user_0003."""
    group = make_group(alice, "work", [(C2C, "user_0002"), (C2C, "user_0003")])
    assert sync.sync_group(group.pk, staff.pk).state == ContactGroup.State.SYNCED
    group.refresh_from_db()
    return group



def page(client, group, refresh=False):
    """The group's page; ``refresh``: as "Refresh from Chat" asks for it (Chat read again)."""
    response = client.get(reverse("admin:contactgroups_contactgroup_change", args=[group.pk]),
                          {"refresh": "1"} if refresh else {})
    assert response.status_code == 200
    return response


def comparison(response) -> str:
    """The text of the comparison above the form, spaces collapsed ("" when the page shows none)."""
    match = re.search(r'<div id="chat-comparison".*?</div>', response.content.decode(), re.S)
    if match is None:
        return ""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0))).strip()


def shown(response) -> str:
    return re.search(r'name="shown" value="([0-9a-f]+)"', response.content.decode()).group(1)


def take(client, group, fingerprint):
    return client.post(reverse("admin:contactgroups_contactgroup_take_chat", args=[group.pk]), {"shown": fingerprint},
                       follow=True)


def keep(client, group, fingerprint):
    """Press "Keep my edit"; the answer page, once the sync it hands to the background runner has ended."""
    from contactgroups.engine import LOCAL

    response = client.post(reverse("admin:contactgroups_contactgroup_keep_mine", args=[group.pk]),
                           {"shown": fingerprint}, follow=True)
    assert LOCAL.wait_idle(60), "the sync Keep my edit queued had not ended after 60 s"
    return response


def said(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


def history(group) -> list[str]:
    return [words.history_text(entry) for entry in LogEntry.objects.filter(object_id=str(group.pk)).order_by("pk")]


# The page's comparison -----------------------------------------------------------------------------------------


def test_a_group_renamed_in_the_app_shows_the_rename_above_the_form(work, chat_sandbox, staff_client):
    app_renames(chat_sandbox, "work", "home")
    response = page(staff_client, work)
    text = comparison(response)
    assert "In Chat, this group differs from this page:" in text
    assert "user_0001 renamed it in the app from “work” to “home”." in text
    assert "Take Chat's version" in text and "Keep my edit" in text and "Refresh from Chat" in text
    html = response.content.decode()
    assert html.index('id="chat-comparison"') < html.index('id="contactgroup_form"')


def test_conversations_added_and_removed_in_the_app_are_listed(work, chat_sandbox, staff_client):
    as_app(chat_sandbox, OWNER, change_members("work", protocol.OPERATION_ADD, C2C, "user_0004"))
    as_app(chat_sandbox, OWNER, change_members("work", protocol.OPERATION_REMOVE, C2C, "user_0002"))
    text = comparison(page(staff_client, work))
    assert "user_0001 added 1 conversation in the app: user_0004." in text
    assert "user_0001 removed 1 conversation in the app: user_0002." in text
    assert "renamed" not in text


def test_a_group_deleted_in_the_app_says_so(work, chat_sandbox, staff_client):
    app_deletes(chat_sandbox, "work")
    assert "user_0001 deleted this group in the app." in comparison(page(staff_client, work))


def test_a_group_as_chat_holds_it_says_it_matches(work, staff_client):
    assert comparison(page(staff_client, work)) == "Matches what Chat holds now. Refresh from Chat"


def test_a_staff_edit_not_yet_sent_is_no_difference(work, staff_client):
    ContactGroup.objects.filter(pk=work.pk).update(name="office", state=ContactGroup.State.DRAFT)
    work.items.filter(to_account="user_0003").delete()
    assert comparison(page(staff_client, work)) == (
        "The user has not changed this group in the app, but Chat does not hold this page's version yet: a sync "
        "sends it. Refresh from Chat")


def test_a_group_never_sent_shows_no_comparison_and_reads_nothing(alice, make_group, chat_sandbox, staff_client):
    group = make_group(alice, "draft", [(C2C, "user_0002")])
    chat_sandbox.clear_calls()
    assert comparison(page(staff_client, group)) == ""
    assert chat_sandbox.calls_to() == []


def test_the_page_read_is_audited_under_the_staff_user(work, staff_client, staff):
    before = SyncAttempt.objects.count()
    page(staff_client, work)
    attempt = SyncAttempt.objects.order_by("pk").last()
    assert SyncAttempt.objects.count() == before + 1
    assert (attempt.operation, attempt.actor_id, attempt.group_id) == ("get_contact_group", staff.pk, work.pk)


def test_chat_down_shows_the_sweeps_reading_with_its_age(work, chat_sandbox, staff_client, staff):
    app_renames(chat_sandbox, "work", "home")
    runs.sweep(staff.pk)
    GroupSync.objects.filter(group=work).update(chat_read_at=timezone.now() - timedelta(minutes=12))
    chat_sandbox.set_faults(http_error_rate=1.0)
    text = comparison(page(staff_client, work))
    assert "Chat could not be read now: Chat answered with HTTP 502." in text
    assert "Compared with the group as Chat held it 12 minutes ago." in text
    assert "In Chat, this group differed from this page:" in text
    assert "user_0001 renamed it in the app from “work” to “home”." in text


def test_a_slow_chat_is_waited_for_only_the_pages_timeout(work, chat_sandbox, staff_client, settings):
    settings.SYNC_PAGE_READ_TIMEOUT = 0.3
    chat_sandbox.set_faults(latency_ms=3000)
    text = comparison(page(staff_client, work))
    assert text.startswith("Chat could not be read now: Chat was too slow: its whole answer had not come within "
                           "0.3 s.")
    assert "No earlier reading of this group is kept" in text


def test_an_answer_chat_sends_that_cannot_be_read_is_said_as_such(work, chat_sandbox, staff_client):
    chat_hands_out_group_ids_from(chat_sandbox, "user_0001", 2**63)
    app_creates(chat_sandbox, "made in the app")
    text = comparison(page(staff_client, work))
    assert text.startswith("Chat could not be read now: Chat answered in a form this admin cannot read; its answer "
                           "is kept with the Chat calls.")
    assert SyncAttempt.objects.filter(operation="get_contact_group").latest("pk").response["GroupItem"][-1][
        "GroupId"] == 2**63


def test_chat_unreachable_without_a_reading_says_nothing_is_known(work, staff_client, settings):
    settings.CHAT_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    text = comparison(page(staff_client, work))
    assert text == ("Chat could not be read now: Chat could not be reached. No earlier reading of this group is kept, "
                    "so this page cannot say whether the user changed it in the app. Refresh from Chat")
    assert "Take Chat's version" not in text


def test_with_no_page_timeout_the_page_shows_the_kept_reading(work, chat_sandbox, staff_client, staff, settings):
    settings.SYNC_PAGE_READ_TIMEOUT = 0
    app_renames(chat_sandbox, "work", "home")
    text = comparison(page(staff_client, work))
    assert "Chat is not read as this page opens, and no earlier reading" in text
    runs.sweep(staff.pk)
    chat_sandbox.clear_calls()
    text = comparison(page(staff_client, work))
    assert "Compared with the group as Chat held it less than a minute ago." in text
    assert "renamed it in the app from “work” to “home”" in text
    assert chat_sandbox.calls_to() == []


# Take Chat's version ------------------------------------------------------------------------------------------


def test_take_chats_version_adopts_the_apps_rename_and_conversations(work, chat_sandbox, staff_client):
    app_renames(chat_sandbox, "work", "home")
    as_app(chat_sandbox, OWNER, change_members("home", protocol.OPERATION_ADD, C2C, "user_0004"))
    response = take(staff_client, work, shown(page(staff_client, work)))
    work.refresh_from_db()
    assert (work.name, work.sync.confirmed_name, work.state) == ("home", "home", ContactGroup.State.SYNCED)
    assert {c.target for c in work.items.conversations()} == {"user_0002", "user_0003", "user_0004"}
    assert chat_groups(chat_sandbox, OWNER) == {"home": (1, {(C2C, "user_0002"), (C2C, "user_0003"),
                                                             (C2C, "user_0004")})}
    assert said(response) == [("success", "Took Chat's version of “work”: renamed from “work” to “home”, added "
                                          "user_0004.")]
    assert history(work)[-1] == "Pulled from Chat: renamed from “work” to “home”, added user_0004."
    assert comparison(response) == REUSED  # the reading just taken, Chat not read again
    assert comparison(page(staff_client, work, refresh=True)) == "Matches what Chat holds now. Refresh from Chat"
    assert work.sync.drift is None


def test_take_chats_version_of_a_group_deleted_in_the_app_marks_it_deleted(work, chat_sandbox, staff_client):
    app_deletes(chat_sandbox, "work")
    response = take(staff_client, work, shown(page(staff_client, work)))
    work.refresh_from_db()
    assert work.state == ContactGroup.State.DELETED
    assert said(response) == [("success", "Took Chat's version: user_0001 deleted “work” in the app, so it is marked "
                                          "deleted here.")]


def test_take_chats_version_leaves_the_owners_other_groups_alone(work, alice, make_group, chat_sandbox, staff_client,
                                                                  staff):
    other = make_group(alice, "friends", [(C2C, "user_0004")])
    sync.sync_group(other.pk, staff.pk)
    app_renames(chat_sandbox, "friends", "pals")
    app_creates(chat_sandbox, "new in app", (C2C, "user_0002"))
    app_renames(chat_sandbox, "work", "home")
    take(staff_client, work, shown(page(staff_client, work)))
    assert sorted(ContactGroup.objects.live().values_list("name", flat=True)) == ["friends", "home"]


# Keep my edit -------------------------------------------------------------------------------------------------


def test_keep_my_edit_sends_the_staff_name_over_the_apps_rename(work, chat_sandbox, staff_client):
    app_renames(chat_sandbox, "work", "home")
    response = keep(staff_client, work, shown(page(staff_client, work)))
    work.refresh_from_db()
    assert chat_groups(chat_sandbox, OWNER) == {"work": (1, {(C2C, "user_0002"), (C2C, "user_0003")})}
    assert (work.name, work.sync.confirmed_name, work.state) == ("work", "work", ContactGroup.State.SYNCED)
    assert said(response) == [("success", "Your version of “work” is kept over the change made in the app; syncing "
                                          "it to Chat. Its page shows how the sync ends.")]
    assert "Kept the staff's version over the change made in the app; the next sync sends it. In the app: " \
           "user_0001 renamed it in the app from “work” to “home”." in history(work)
    after = page(staff_client, work)
    assert "Synced to Chat as GroupId 1: renamed from “home” to “work”." in after.content.decode()
    assert comparison(after) == "Matches what Chat holds now. Refresh from Chat"


def test_keep_my_edit_keeps_what_chat_held_as_a_version_in_the_history(work, chat_sandbox, staff_client):
    """The state the app left is one Chat confirmed: the history offers it as a version, as staff saw it."""
    app_renames(chat_sandbox, "work", "home")
    as_app(chat_sandbox, OWNER, change_members("home", protocol.OPERATION_ADD, C2C, "user_0004"))
    keep(staff_client, work, shown(page(staff_client, work)))
    versions = [(v.name, v.conversations) for v in GroupVersion.objects.filter(group=work)
                .order_by("confirmed_at", "id")]
    assert versions == [
        ("work", [[C2C, "user_0002"], [C2C, "user_0003"]]),
        ("home", [[C2C, "user_0002"], [C2C, "user_0003"], [C2C, "user_0004"]]),
        ("work", [[C2C, "user_0002"], [C2C, "user_0003"]]),
    ]
    history = staff_client.get(reverse("admin:contactgroups_contactgroup_history", args=[work.pk])).content.decode()
    assert history.count("Restore this version") == 3 and "home" in history


def test_keep_my_edit_with_a_staff_rename_of_its_own(work, chat_sandbox, staff_client):
    ContactGroup.objects.filter(pk=work.pk).update(name="office", state=ContactGroup.State.DRAFT)
    app_renames(chat_sandbox, "work", "home")
    keep(staff_client, work, shown(page(staff_client, work)))
    assert chat_groups(chat_sandbox, OWNER) == {"office": (1, {(C2C, "user_0002"), (C2C, "user_0003")})}


def test_keep_my_edit_undoes_the_apps_adds_and_removes(work, chat_sandbox, staff_client):
    as_app(chat_sandbox, OWNER, change_members("work", protocol.OPERATION_ADD, C2C, "user_0004"))
    as_app(chat_sandbox, OWNER, change_members("work", protocol.OPERATION_REMOVE, C2C, "user_0002"))
    keep(staff_client, work, shown(page(staff_client, work)))
    assert chat_groups(chat_sandbox, OWNER) == {"work": (1, {(C2C, "user_0002"), (C2C, "user_0003")})}
    work.refresh_from_db()
    assert work.state == ContactGroup.State.SYNCED and work.sync.drift is None


def test_keep_my_edit_creates_again_a_group_deleted_in_the_app(work, chat_sandbox, staff_client):
    app_deletes(chat_sandbox, "work")
    keep(staff_client, work, shown(page(staff_client, work)))
    assert chat_groups(chat_sandbox, OWNER) == {"work": (2, {(C2C, "user_0002"), (C2C, "user_0003")})}
    work.refresh_from_db()
    assert (work.state, work.sync.chat_group_id) == (ContactGroup.State.SYNCED, 2)


def test_keep_my_edit_after_the_app_deleted_the_group_and_made_it_again_sends_it_to_the_new_one(work, chat_sandbox,
                                                                                               staff_client):
    app_deletes(chat_sandbox, "work")
    app_creates(chat_sandbox, "work", (C2C, "user_0004"))
    text = comparison(page(staff_client, work))
    assert "user_0001 deleted this group in the app and made another under its name (GroupId 2); this group is " \
           "that one now." in text
    assert "user_0001 added 1 conversation in the app: user_0004." in text
    assert "user_0001 removed 2 conversations in the app: user_0002, user_0003." in text
    response = keep(staff_client, work, shown(page(staff_client, work)))
    assert said(response) == [("success", "Your version of “work” is kept over the change made in the app; syncing "
                                          "it to Chat. Its page shows how the sync ends.")]
    assert chat_groups(chat_sandbox, OWNER) == {"work": (2, {(C2C, "user_0002"), (C2C, "user_0003")})}
    work.refresh_from_db()
    assert (work.state, work.sync.chat_group_id, work.sync.last_error_code) == (ContactGroup.State.SYNCED, 2, None)
    assert any(line.startswith("Kept the staff's version over the change made in the app; the next sync sends it. "
                               "In the app: user_0001 deleted this group in the app and made another under its name "
                               "(GroupId 2); this group is that one now.") for line in history(work))
    after = page(staff_client, work)
    assert "Synced to Chat as GroupId 2" in after.content.decode()
    assert comparison(after) == "Matches what Chat holds now. Refresh from Chat"


def test_take_chats_version_after_the_app_deleted_the_group_and_made_it_again_follows_the_new_one(
        work, chat_sandbox, staff_client):
    app_deletes(chat_sandbox, "work")
    app_creates(chat_sandbox, "work", (C2C, "user_0004"))
    response = take(staff_client, work, shown(page(staff_client, work)))
    work.refresh_from_db()
    assert (work.state, work.sync.chat_group_id) == (ContactGroup.State.SYNCED, 2)
    assert {(c.type, c.target) for c in work.items.conversations()} == {(C2C, "user_0004")}
    assert [level for level, _text in said(response)] == ["success"]
    assert said(response)[0][1].startswith("Took Chat's version of “work”:")
    assert chat_groups(chat_sandbox, OWNER) == {"work": (2, {(C2C, "user_0004")})}
    assert comparison(page(staff_client, work, refresh=True)) == "Matches what Chat holds now. Refresh from Chat"


def test_a_sync_after_the_app_deleted_the_group_and_made_it_again_applies_the_staff_change_to_the_new_one(
        work, chat_sandbox, staff):
    app_deletes(chat_sandbox, "work")
    app_creates(chat_sandbox, "work", (C2C, "user_0002"), (C2C, "user_0004"))
    chat_sandbox.import_accounts("user_0005")
    work.items.create(type=C2C, to_account="user_0005")
    result = sync.sync_group(work.pk, staff.pk)
    assert (result.state, result.group_id) == (ContactGroup.State.SYNCED, 2)
    # The staff's addition is sent to the new group; what the app put in it stays, what it left out is not put back.
    assert chat_groups(chat_sandbox, OWNER) == {"work": (2, {(C2C, "user_0002"), (C2C, "user_0004"),
                                                             (C2C, "user_0005")})}
    work.refresh_from_db()
    assert {(c.type, c.target) for c in work.items.conversations()} == {
        (C2C, "user_0002"), (C2C, "user_0004"), (C2C, "user_0005")}
    assert "user_0001 had deleted this group in the app and made another under its name (GroupId 2); this group " \
           "is that one now, and the staff's change was sent to it." in history(work)[-1]


def test_without_the_sync_permission_keep_leaves_a_draft(work, chat_sandbox, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="clerk-password", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_contactgroup", "change_contactgroup"]))
    client = Client()
    client.force_login(clerk)
    app_renames(chat_sandbox, "work", "home")
    response = keep(client, work, shown(page(client, work)))
    work.refresh_from_db()
    assert work.state == ContactGroup.State.DRAFT
    assert said(response) == [("warning", "Your version of “work” is kept over the change made in the app, as a "
                                          "draft: you may not sync to Chat, so someone who may must sync it.")]
    assert chat_groups(chat_sandbox, OWNER) == {"home": (1, {(C2C, "user_0002"), (C2C, "user_0003")})}
    sync.sync_group(work.pk, None)
    assert chat_groups(chat_sandbox, OWNER) == {"work": (1, {(C2C, "user_0002"), (C2C, "user_0003")})}


# Honest failures and permissions --------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [take, keep])
def test_with_chat_down_an_answer_is_an_error_and_changes_nothing(work, chat_sandbox, staff_client, answer):
    app_renames(chat_sandbox, "work", "home")
    fingerprint = shown(page(staff_client, work))
    before = ContactGroup.objects.values("name", "state", "sync__confirmed_name", "sync__confirmed_conversations").get(
        pk=work.pk)
    chat_sandbox.set_faults(http_error_rate=1.0)
    response = answer(staff_client, work, fingerprint)
    assert said(response) == [("error", "Nothing was changed: Chat answered with HTTP 502.")]
    after = ContactGroup.objects.values("name", "state", "sync__confirmed_name", "sync__confirmed_conversations").get(
        pk=work.pk)
    assert after == before
    chat_sandbox.clear_faults()
    assert chat_groups(chat_sandbox, OWNER) == {"home": (1, {(C2C, "user_0002"), (C2C, "user_0003")})}


@pytest.mark.parametrize("answer", [take, keep])
def test_an_answer_to_what_chat_no_longer_holds_changes_nothing(work, chat_sandbox, staff_client, answer):
    app_renames(chat_sandbox, "work", "home")
    fingerprint = shown(page(staff_client, work))
    app_renames(chat_sandbox, "home", "house")
    response = answer(staff_client, work, fingerprint)
    assert said(response) == [("warning", "Chat changed again since the page was shown, so nothing was changed. The "
                                          "page now shows the new difference.")]
    work.refresh_from_db()
    assert (work.name, work.sync.confirmed_name) == ("work", "work")
    assert "renamed it in the app from “work” to “house”" in comparison(response)


@pytest.mark.parametrize("answer", [take, keep])
def test_a_view_only_user_sees_the_difference_but_cannot_answer(work, chat_sandbox, django_user_model, answer):
    viewer = django_user_model.objects.create_user("viewer", password="viewer-password", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_contactgroup"))
    client = Client()
    client.force_login(viewer)
    app_renames(chat_sandbox, "work", "home")
    text = comparison(page(client, work))
    assert "renamed it in the app from “work” to “home”" in text and "Keep my edit" not in text
    assert answer(client, work, "0" * 16).status_code == 403
    work.refresh_from_db()
    assert work.name == "work"


def test_the_answers_need_post_and_csrf(work, chat_sandbox, staff):
    app_renames(chat_sandbox, "work", "home")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    for name in ("take_chat", "keep_mine"):
        url = reverse(f"admin:contactgroups_contactgroup_{name}", args=[work.pk])
        assert client.get(url).status_code == 405
        assert client.post(url, {"shown": "0" * 16}).status_code == 403
    work.refresh_from_db()
    assert (work.name, work.sync.confirmed_name) == ("work", "work")


def test_an_answer_for_a_group_that_does_not_exist_is_not_found(staff_client):
    for name in ("take_chat", "keep_mine"):
        response = staff_client.post(reverse(f"admin:contactgroups_contactgroup_{name}", args=[999999]), {"shown": "x"})
        assert response.status_code == 404


# The sweep ----------------------------------------------------------------------------------------------------


def test_the_sweep_marks_a_group_changed_in_the_app_and_records_it(work, chat_sandbox, staff):
    app_renames(chat_sandbox, "work", "home")
    summary = runs.sweep(staff.pk)
    work.refresh_from_db()
    assert (summary.owners, summary.groups, summary.drifted, summary.found) == (1, 1, 1, 1)
    assert work.sync.drift == {"renamed_from": "work", "renamed_to": "home"}
    assert work.sync.chat_reading == {"group_id": 1, "name": "home",
                                 "conversations": [[C2C, "user_0002"], [C2C, "user_0003"]]}
    assert history(work)[-1] == ("The regular reading of Chat found: user_0001 renamed it in the app from “work” to "
                                 "“home”.")
    entry = LogEntry.objects.filter(object_id=str(work.pk)).order_by("pk").last()
    assert entry.user_id == staff.pk and '"drift"' in entry.change_message


def test_a_sweep_that_finds_the_same_again_records_nothing_new_and_clears_when_it_goes(work, chat_sandbox, staff):
    app_renames(chat_sandbox, "work", "home")
    runs.sweep(staff.pk)
    entries = LogEntry.objects.count()
    again = runs.sweep(staff.pk)
    assert (again.drifted, again.found) == (1, 0) and LogEntry.objects.count() == entries
    app_renames(chat_sandbox, "home", "work")
    cleared = runs.sweep(staff.pk)
    work.refresh_from_db()
    assert (cleared.drifted, cleared.cleared, work.sync.drift) == (0, 1, None)
    assert history(work)[-1] == "The regular reading of Chat found the group as the mirror shows it again."


def test_the_sweep_does_not_move_a_group_up_the_list(work, chat_sandbox, staff):
    app_renames(chat_sandbox, "work", "home")
    runs.sweep(staff.pk)
    assert ContactGroup.objects.get(pk=work.pk).updated_at == work.updated_at


def test_the_sweep_reads_each_owner_once_and_skips_groups_never_sent(work, alice, make_group, chat_sandbox, staff):
    make_group(alice, "draft", [(C2C, "user_0004")])
    other = make_group(alice, "friends", [(C2C, "user_0004")])
    sync.sync_group(other.pk, staff.pk)
    chat_sandbox.clear_calls()
    summary = runs.sweep(staff.pk)
    assert [call["endpoint"] for call in chat_sandbox.calls_to()] == [protocol.GET_CONTACT_GROUP]
    assert summary.groups == 2


def test_the_changelist_shows_the_badge_and_filters_the_changed_groups(work, alice, make_group, chat_sandbox, staff,
                                                                       staff_client):
    other = make_group(alice, "friends", [(C2C, "user_0004")])
    sync.sync_group(other.pk, staff.pk)
    as_app(chat_sandbox, OWNER, change_members("work", protocol.OPERATION_ADD, C2C, "user_0004"))
    runs.sweep(staff.pk)
    url = reverse("admin:contactgroups_contactgroup_changelist")
    everything = staff_client.get(url).content.decode()
    assert everything.count('class="state-drift"') == 1
    filtered = staff_client.get(url, {"drift": "yes"})
    assert [group.name for group in filtered.context["cl"].result_list] == ["work"]
    assert "Changed in the app" in filtered.content.decode()


def test_a_failing_owner_is_counted_and_the_others_are_read(work, alice, make_group, chat_sandbox, staff):
    from contactgroups.models import ChatUser

    bob = ChatUser.objects.create(user_id="user_0009")
    group = make_group(bob, "bob's", [(C2C, "user_0002")])
    GroupSync.objects.filter(group=group).update(chat_group_id=7, confirmed_name="bob's")  # bob is not in Chat
    app_renames(chat_sandbox, "work", "home")
    summary = runs.sweep(staff.pk)
    assert summary.owners == 1 and [user for user, _exc in summary.failures] == ["user_0009"]
    work.refresh_from_db()
    assert work.sync.drift == {"renamed_from": "work", "renamed_to": "home"}


def test_the_command_reports_progress_and_a_summary(work, chat_sandbox, staff):
    app_renames(chat_sandbox, "work", "home")
    out, err = io.StringIO(), io.StringIO()
    call_command("sweep_contact_groups", "--actor", staff.username, stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert lines[0] == "user_0001: “work”: user_0001 renamed it in the app from “work” to “home”."
    assert re.fullmatch(r"Read 1 of 1 Chat user in [\d.]+ s \([\d.]+ users/s\): 1 group read, 1 changed in the app "
                        r"\(1 newly found, 0 no longer\)\.", lines[1])
    assert re.search(r"sweep_contact_groups: 1/1 user \(100%\), 0 failed", err.getvalue())


def test_the_command_exits_non_zero_when_a_user_could_not_be_read(work, chat_sandbox, staff):
    chat_sandbox.set_faults(fail_rate=1.0, fail_codes=[90001], endpoints=[protocol.GET_CONTACT_GROUP])
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("sweep_contact_groups", "--actor", staff.username, stdout=out, stderr=io.StringIO())
    assert failed.value.returncode == 1
    assert "user_0001: Chat could not be read: Chat error 90001" in out.getvalue()
    assert "1 Chat user could not be read." in out.getvalue()


def test_the_command_needs_an_actor_who_may_pull(work, django_user_model):
    django_user_model.objects.create_user("viewer", password="viewer-password", is_staff=True)
    with pytest.raises(CommandError, match="lacks the permission"):
        call_command("sweep_contact_groups", "--actor", "viewer", stdout=io.StringIO(), stderr=io.StringIO())


def test_the_beat_runs_the_sweep_at_the_configured_period(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["drift-sweep"]
    assert entry["task"] == "contactgroups.tasks.drift_sweep_task"
    assert entry["schedule"] == settings.SYNC_DRIFT_SWEEP_SECONDS


def test_the_beat_task_on_a_worker_marks_drift_under_the_sweep_account(work, chat_sandbox, celery_worker):
    from contactgroups import tasks
    from tests.conftest import wait_until

    app_renames(chat_sandbox, "work", "home")
    tasks.drift_sweep_task.delay()
    wait_until(lambda: ContactGroup.objects.get(pk=work.pk).sync.drift is not None)
    entry = LogEntry.objects.filter(object_id=str(work.pk)).order_by("pk").last()
    assert entry.user.username == "chat-drift-sweep" and not entry.user.is_active and not entry.user.is_staff
    assert not entry.user.has_usable_password()


@pytest.mark.services
def test_a_beat_sweep_is_read_by_the_workers(work, celery_worker, chat_sandbox):
    """Beat's sweep task hands the owners to the workers a chunk at a time; a worker reads them and marks the group."""
    from contactgroups import tasks

    app_renames(chat_sandbox, "work", "home")
    tasks.drift_sweep_task()

    def marked():
        """the worker marked the group changed in the app"""
        return ContactGroup.objects.get(pk=work.pk).sync.drift == {"renamed_from": "work", "renamed_to": "home"}

    wait_until(marked)


def test_difference_is_the_planners_answer(work):
    """A reading as the planner sees it: the app's rename, an app-side add the staff also made is no difference."""
    reading = {"group_id": 1, "name": "home", "conversations": [[C2C, "user_0002"], [C2C, "user_0003"],
                                                                 [C2C, "user_0004"]]}
    rows = [*work.items.conversations(), drift.Conversation(C2C, "user_0004")]
    assert drift.difference(work, rows, reading) == {"renamed_from": "work", "renamed_to": "home"}
    assert drift.difference(work, work.items.conversations(), {"missing": True}) == {"deleted": True}


def test_keep_then_a_sync_over_an_update_endpoint_only(work, chat_sandbox, staff_client):
    """Keeping over an app-side removal sends one update, not a create."""
    as_app(chat_sandbox, OWNER, change_members("work", protocol.OPERATION_REMOVE, C2C, "user_0002"))
    fingerprint = shown(page(staff_client, work))
    chat_sandbox.clear_calls()
    keep(staff_client, work, fingerprint)
    endpoints = [call["endpoint"] for call in chat_sandbox.calls_to()]
    assert endpoints.count(UPDATE) == 1 and "recentcontact/create_contact_group" not in endpoints


def test_the_sweep_under_chats_rate_limit_leaves_staff_calls_room(alice, chat_sandbox, staff, settings):
    """The sandbox enforces 20 calls a second; the sweep takes at most 80% of them and staff reads go through."""
    import threading

    from django.db import connections

    from contactgroups.conf import chat_client
    from contactgroups.models import ChatUser
    from tests.chat.test_ratelimit import most_in_any_second

    settings.CHAT_RATE_LIMIT = 20
    chat_sandbox.set_faults(rate_limit=20)
    users = [f"sweep_{n:03d}" for n in range(48)]
    chat_sandbox.import_accounts(*users)
    for user_id in users:
        group = ContactGroup.objects.create(owner=ChatUser.objects.create(user_id=user_id), name="g")
        GroupSync.objects.filter(group=group).update(chat_group_id=1, confirmed_name="g")
    summary = {}

    def run_sweep():
        try:
            summary["result"] = runs.sweep(staff.pk, threads=4)
        finally:
            connections.close_all()

    chat_sandbox.clear_calls()
    sweeping = threading.Thread(target=run_sweep)
    sweeping.start()
    with chat_client() as client:
        for _ in range(10):
            client.get_contact_group(OWNER)
    sweeping.join()
    calls = chat_sandbox.calls_to(protocol.GET_CONTACT_GROUP)
    swept = [call["time"] for call in calls if call["body"]["From_Account"].startswith("sweep_")]
    staff_calls = [call["time"] for call in calls if call["body"]["From_Account"] == OWNER]
    assert summary["result"].owners == 48 and not summary["result"].failures
    assert [call for call in calls if call["error_code"] not in (0, None)] == []  # Chat never throttled anyone
    # The limiter counts a call when it lets it go; the sandbox logs it when it arrives, up to a thread switch later
    # on a busy machine: counted over 0.9 s, 100 ms of such jitter cannot add a 17th.
    assert most_in_any_second(swept, window=0.9) <= 16
    assert len(staff_calls) == 10 and min(staff_calls) < max(swept)  # staff read while the sweep ran
    assert summary["result"].drifted == 48  # each "g" is gone from Chat: deleted in the app


# A name another group has in Chat ------------------------------------------------------------------------------
# The user gave the name to another group in the app, or made one under it: a sync or "Keep my edit" that would
# create or rename the group under that name (which Chat refuses) ends in conflict, not failed; the page shows the
# conflict with its two answers, and either ends the group as Chat holds it, without a Pull.

STAFF = {(C2C, "user_0002"), (C2C, "user_0003")}


def keep_as(client, group, fingerprint, name):
    """Press "Keep my edit under this name" with ``name``; the answer page, once the sync it queued has ended."""
    from contactgroups.engine import LOCAL

    response = client.post(reverse("admin:contactgroups_contactgroup_keep_mine", args=[group.pk]),
                           {"shown": fingerprint, "name": name}, follow=True)
    assert LOCAL.wait_idle(60), "the sync Keep my edit queued had not ended after 60 s"
    return response


def offers_a_new_name(response) -> bool:
    html = response.content.decode()
    return 'name="name" id="id_keep_name" required' in html and "Keep my edit under this name" in html


def rows_of(group):
    return {(c.type, c.target) for c in group.items.conversations()}


# (a) The app deleted the group and gave its name to another group the mirror has ------------------------------


@pytest.fixture
def home(alice, make_group, staff):
    """Another group of the same owner, synced: "home" with user_0004 (GroupId 2)."""
    group = make_group(alice, "home", [(C2C, "user_0004")])
    assert sync.sync_group(group.pk, staff.pk).state == ContactGroup.State.SYNCED
    return group


@pytest.fixture
def name_given_to_home(work, home, chat_sandbox, staff):
    """The user deleted "work" in the app and renamed "home" to "work"; staff added user_0004 to "work" here and
    synced it: what the sync left."""
    app_deletes(chat_sandbox, "work")
    app_renames(chat_sandbox, "home", "work")
    work.items.create(type=C2C, to_account="user_0004")
    chat_sandbox.clear_calls()
    result = sync.sync_group(work.pk, staff.pk)
    work.refresh_from_db()
    return result


def test_a_sync_of_a_group_whose_name_the_app_gave_another_ends_in_conflict_not_failed(
        name_given_to_home, work, chat_sandbox, staff_client):
    result = name_given_to_home
    assert result.state == work.state == ContactGroup.State.PARTIAL
    assert work.sync.last_error_code is None
    # Nothing was sent under the name another group has: no create Chat would refuse.
    assert chat_sandbox.calls_to(protocol.CREATE_CONTACT_GROUP) == []
    assert chat_groups(chat_sandbox, OWNER) == {"work": (2, {(C2C, "user_0004")})}
    assert work.sync.conflicts == [{"code": "name_taken", "name": "work", "group_id": 2, "create": True}]
    assert history(work)[-1].startswith("Not created in Chat: user_0001 has another group named “work” there "
                                        "(GroupId 2), made or renamed in the app")
    response = page(staff_client, work)
    assert "In conflict: another group has its name in Chat" in response.content.decode()
    text = comparison(response)
    assert "This group cannot be created again in Chat as “work”: user_0001 has another group of that name there " \
           "(GroupId 2)." in text
    assert "Take Chat's version" in text and offers_a_new_name(response)


def test_keep_my_edit_under_another_name_creates_it_and_ends_synced(name_given_to_home, work, chat_sandbox,
                                                                    staff_client):
    response = keep_as(staff_client, work, shown(page(staff_client, work)), "work again")
    assert [level for level, _text in said(response)] == ["success"]
    work.refresh_from_db()
    assert (work.name, work.state, work.sync.chat_group_id) == ("work again", ContactGroup.State.SYNCED, 3)
    assert chat_groups(chat_sandbox, OWNER) == {"work": (2, {(C2C, "user_0004")}),
                                                "work again": (3, STAFF | {(C2C, "user_0004")})}
    assert any(line.startswith("Kept the staff's version, under the new name “work again”, over the change made "
                               "in the app; the next sync sends it.") for line in history(work))
    assert comparison(page(staff_client, work)) == "Matches what Chat holds now. Refresh from Chat"


def test_take_chats_version_marks_it_deleted_as_the_app_did(name_given_to_home, work, home, chat_sandbox,
                                                            staff_client):
    response = take(staff_client, work, shown(page(staff_client, work)))
    assert said(response) == [("success", "Took Chat's version: user_0001 deleted “work” in the app, so it is "
                                          "marked deleted here.")]
    work.refresh_from_db()
    assert work.state == ContactGroup.State.DELETED
    assert chat_groups(chat_sandbox, OWNER) == {"work": (2, {(C2C, "user_0004")})}
    # The name is free here now: the other group's next sync takes the app's rename.
    assert sync.sync_group(home.pk, None).state == ContactGroup.State.SYNCED
    home.refresh_from_db()
    assert (home.name, home.sync.chat_group_id) == ("work", 2)


def test_keep_my_edit_of_the_deletion_asks_for_another_name_before_anything_is_sent(work, home, chat_sandbox,
                                                                                    staff_client):
    app_deletes(chat_sandbox, "work")
    app_renames(chat_sandbox, "home", "work")
    response = page(staff_client, work)
    text = comparison(response)
    assert "user_0001 deleted this group in the app." in text
    assert "This group cannot be created again in Chat as “work”" in text and offers_a_new_name(response)
    # Kept under its own name, the create would be refused: nothing is changed.
    refused = keep(staff_client, work, shown(response))
    assert said(refused) == [("error", "Nothing was changed: user_0001 has another group named “work” in Chat "
                                       "(GroupId 2). Give this group a name no other group of theirs has.")]
    work.refresh_from_db()
    assert (work.state, work.sync.confirmed_name) == (ContactGroup.State.SYNCED, "work")
    keep_as(staff_client, work, shown(page(staff_client, work)), "work again")
    work.refresh_from_db()
    assert (work.name, work.state, work.sync.chat_group_id) == ("work again", ContactGroup.State.SYNCED, 3)
    assert chat_groups(chat_sandbox, OWNER)["work again"] == (3, STAFF)


# (b) Keep my edit would send a name the app gave a group the mirror does not know -----------------------------


@pytest.fixture
def renamed_and_made_again(work, chat_sandbox):
    """The user renamed "work" to "office" in the app, then made a new group "work" (GroupId 2)."""
    app_renames(chat_sandbox, "work", "office")
    app_creates(chat_sandbox, "work", (C2C, "user_0004"))


def test_the_page_says_the_kept_name_is_taken_and_asks_for_another(renamed_and_made_again, work,
                                                                   staff_client):
    response = page(staff_client, work)
    text = comparison(response)
    assert "user_0001 renamed it in the app from “work” to “office”." in text
    assert "This group cannot be given the name “work” in Chat: user_0001 has another group of that name there " \
           "(GroupId 2)." in text
    assert "keep your version under another name" in text and offers_a_new_name(response)


def test_keep_my_edit_under_another_name_renames_it_in_chat(renamed_and_made_again, work, chat_sandbox,
                                                           staff_client):
    keep_as(staff_client, work, shown(page(staff_client, work)), "my work")
    work.refresh_from_db()
    assert (work.name, work.state, work.sync.chat_group_id) == ("my work", ContactGroup.State.SYNCED, 1)
    assert chat_groups(chat_sandbox, OWNER) == {"my work": (1, STAFF), "work": (2, {(C2C, "user_0004")})}


def test_keep_my_edit_under_a_name_chat_also_has_changes_nothing(renamed_and_made_again, work, chat_sandbox,
                                                                staff_client):
    app_creates(chat_sandbox, "my work")
    response = keep_as(staff_client, work, shown(page(staff_client, work)), "my work")
    assert said(response) == [("error", "Nothing was changed: user_0001 has another group named “my work” in "
                                        "Chat (GroupId 3). Give this group a name no other group of theirs has.")]
    work.refresh_from_db()
    assert (work.name, work.sync.confirmed_name, work.state) == ("work", "work", ContactGroup.State.SYNCED)
    bad = keep_as(staff_client, work, shown(page(staff_client, work)), " padded ")
    assert [level for level, _text in said(bad)] == ["error"]
    assert ContactGroup.objects.get(pk=work.pk).name == "work"


def test_take_chats_version_takes_the_apps_name(renamed_and_made_again, work, chat_sandbox, staff_client):
    take(staff_client, work, shown(page(staff_client, work)))
    work.refresh_from_db()
    assert (work.name, work.state, work.sync.chat_group_id) == ("office", ContactGroup.State.SYNCED, 1)
    assert chat_groups(chat_sandbox, OWNER) == {"office": (1, STAFF), "work": (2, {(C2C, "user_0004")})}


# (c) A staff rename to a name the app uses ----------------------------------------------------------------------


@pytest.fixture
def renamed_onto_the_apps_group(work, chat_sandbox, staff_client, background_syncs):
    """The app made "home" (GroupId 2); staff rename "work" to "home" and add user_0004 on the group page."""
    app_creates(chat_sandbox, "home", (C2C, "user_0002"))
    response = staff_client.post(reverse("admin:contactgroups_contactgroup_change", args=[work.pk]), group_form_data(
        name="home", existing=list(work.items.all()), items=[(C2C, "user_0004", "")]), follow=True)
    assert response.status_code == 200
    background_syncs.wait()
    work.refresh_from_db()


def test_a_staff_rename_to_a_name_the_app_uses_sends_the_rest_and_ends_in_conflict(
        renamed_onto_the_apps_group, work, chat_sandbox, staff_client):
    assert work.state == ContactGroup.State.PARTIAL and work.sync.last_error_code is None
    # The rename Chat would refuse is not sent (the sync's read showed the name taken); the added conversation
    # is, under the name Chat has.
    assert [call["error_code"] for call in chat_sandbox.calls_to(protocol.UPDATE_CONTACT_GROUP)] == [errors.OK]
    assert chat_groups(chat_sandbox, OWNER) == {"work": (1, STAFF | {(C2C, "user_0004")}),
                                                "home": (2, {(C2C, "user_0002")})}
    assert work.sync.conflicts == [{"code": "name_taken", "name": "home", "group_id": 2, "create": False}]
    assert "Not renamed to “home” in Chat: user_0001 has another group of that name there (GroupId 2)" \
           in history(work)[-1]
    response = page(staff_client, work)
    assert "In conflict: another group has its name in Chat" in response.content.decode()
    assert "This group cannot be given the name “home” in Chat" in comparison(response)
    assert offers_a_new_name(response)


def test_a_staff_rename_in_conflict_kept_under_another_name_ends_synced(renamed_onto_the_apps_group, work,
                                                                        chat_sandbox, staff_client):
    keep_as(staff_client, work, shown(page(staff_client, work)), "home office")
    work.refresh_from_db()
    assert (work.name, work.state) == ("home office", ContactGroup.State.SYNCED)
    assert chat_groups(chat_sandbox, OWNER) == {"home office": (1, STAFF | {(C2C, "user_0004")}),
                                                "home": (2, {(C2C, "user_0002")})}


def test_a_staff_rename_in_conflict_taken_from_chat_ends_synced_under_chats_name(renamed_onto_the_apps_group, work,
                                                                                 chat_sandbox, staff_client):
    take(staff_client, work, shown(page(staff_client, work)))
    work.refresh_from_db()
    assert (work.name, work.state) == ("work", ContactGroup.State.SYNCED)
    assert rows_of(work) == STAFF | {(C2C, "user_0004")}
    assert comparison(page(staff_client, work, refresh=True)) == "Matches what Chat holds now. Refresh from Chat"


class AppActsAfterTheRead(ChatClient):
    """The real client; the user acts in the app once, just after the sync's read of Chat and before its writes."""

    def __init__(self, app, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app

    def get_contact_group(self, *args, **kwargs):
        answer = super().get_contact_group(*args, **kwargs)
        if self.app is not None:
            self.app, act = None, self.app
            act()
        return answer


def test_a_rename_chat_refuses_as_taken_after_the_read_is_read_again_and_ends_in_conflict(work, chat_sandbox,
                                                                                          staff):
    ContactGroup.objects.filter(pk=work.pk).update(name="home")
    work.items.create(type=C2C, to_account="user_0004")
    client = AppActsAfterTheRead(lambda: app_creates(chat_sandbox, "home"), chat_config())
    chat_sandbox.clear_calls()
    with client:
        result = sync.sync_group(work.pk, staff.pk, client=client)
    assert result.state == ContactGroup.State.PARTIAL
    [rename, *_updates] = chat_sandbox.calls_to(protocol.UPDATE_CONTACT_GROUP)
    assert rename["error_code"] == errors.GROUP_NAME_TAKEN  # Chat's refusal was the first sign...
    assert len(chat_sandbox.calls_to(protocol.GET_CONTACT_GROUP)) == 2  # ...so Chat was read again to tell
    assert chat_groups(chat_sandbox, OWNER) == {"work": (1, STAFF | {(C2C, "user_0004")}), "home": (2, set())}
    work.refresh_from_db()
    assert work.sync.conflicts == [{"code": "name_taken", "name": "home", "group_id": 2, "create": False}]
    assert work.sync.last_error_code is None


def test_a_new_group_chat_refuses_as_taken_ends_in_conflict_and_a_new_name_syncs_it(
        alice, make_group, chat_sandbox, staff, staff_client, background_syncs):
    app_creates(chat_sandbox, "home", (C2C, "user_0002"))
    group = make_group(alice, "home", [(C2C, "user_0003")])  # never sent: the sync creates it without a read
    result = sync.sync_group(group.pk, staff.pk)
    group.refresh_from_db()
    assert result.state == group.state == ContactGroup.State.PARTIAL
    assert group.sync.conflicts == [{"code": "name_taken", "name": "home", "group_id": 1, "create": True, "new": True}]
    assert history(group)[-1] == (
        "Not created in Chat: user_0001 has another group named “home” there (GroupId 1), made or renamed in the "
        "app, and Chat refuses a second group of that name. Nothing was sent. Rename the group here and sync it "
        "again.")
    # Chat refused the create, so the next sync does not take the app's group for one whose answer was lost.
    assert group.sync.create_intent == "" and group.sync.chat_group_id is None
    response = staff_client.post(reverse("admin:contactgroups_contactgroup_change", args=[group.pk]), group_form_data(
        name="home too", existing=list(group.items.all())), follow=True)
    assert response.status_code == 200
    background_syncs.wait()
    group.refresh_from_db()
    assert (group.state, group.sync.chat_group_id) == (ContactGroup.State.SYNCED, 2)
    assert chat_groups(chat_sandbox, OWNER) == {"home": (1, {(C2C, "user_0002")}),
                                                "home too": (2, {(C2C, "user_0003")})}
