"""What the group page reads of Chat as it opens, and what its comparison box says at that moment (issue 23): no
claim that the group matches while a sync is on its way or before Chat holds the group; no read while a sync runs,
none when a reading just kept can answer; the audit hides the page's reads unless its filter asks for them."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from contactgroups import sync
from contactgroups.chat import protocol
from contactgroups.models import ContactGroup, GroupSync, SyncAttempt
from tests.sync.test_pull import app_renames

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
CALLS = reverse("admin:contactgroups_syncattempt_changelist")
PENDING = {
    "en": "A sync of this group is on its way to Chat, so this page does not compare it with Chat now: the "
          "comparison shows here once the sync has ended.",
    "zh-hans": "此分组的同步正在进行，所以此页现在不与 IM 比较：同步结束后，比较结果会显示在这里。",
}
MATCHES = {"en": "Matches what Chat holds now.", "zh-hans": "与 IM 当前的内容一致。"}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def work(owner, chat_sandbox, make_group, staff):
    """A group synced to Chat: "work" with user_0002."""
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003")
    group = make_group(owner, "work", [(C2C, "user_0002")])
    assert sync.sync_group(group.pk, staff.pk).state == ContactGroup.State.SYNCED
    return group


def words_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def box(response) -> str:
    """The comparison box's words ("" when the page shows none)."""
    match = re.search(r'<div id="chat-comparison".*?</div>', response.content.decode(), re.S)
    return words_of(match.group(0)) if match else ""


def page(client, group, **data):
    response = client.get(reverse("admin:contactgroups_contactgroup_change", args=[group.pk]), data)
    assert response.status_code == 200
    return response


def reads(sandbox) -> int:
    return len(sandbox.calls_to(protocol.GET_CONTACT_GROUP))


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("state", [ContactGroup.State.QUEUED, ContactGroup.State.SYNCING])
def test_while_a_sync_is_on_its_way_the_box_says_so_reads_nothing_and_says_the_truth_once_it_ends(
        work, chat_sandbox, staff_client, language, state):
    staff_client.cookies["django_language"] = language
    ContactGroup.objects.filter(pk=work.pk).update(state=state)
    chat_sandbox.clear_calls()
    response = page(staff_client, work)
    assert box(response) == PENDING[language]
    assert MATCHES[language] not in response.content.decode()
    assert reads(chat_sandbox) == 0
    box_url = re.search(r'data-box-url="([^"]+)"', response.content.decode()).group(1)
    assert words_of(staff_client.get(box_url).content.decode()) == PENDING[language]
    # The sync ends: the box the page's script asks for then compares with Chat.
    ContactGroup.objects.filter(pk=work.pk).update(state=ContactGroup.State.SYNCED)
    assert words_of(staff_client.get(box_url).content.decode()).startswith(MATCHES[language])
    assert reads(chat_sandbox) == 1


def test_a_running_sync_holding_the_lease_is_on_its_way_too(work, chat_sandbox, staff_client):
    GroupSync.objects.filter(group=work).update(lock_token="x", lock_until=timezone.now() + timezone.timedelta(
        seconds=60))
    chat_sandbox.clear_calls()
    assert box(page(staff_client, work)) == PENDING["en"]
    assert reads(chat_sandbox) == 0


def test_a_group_chat_never_confirmed_is_not_said_to_match(owner, chat_sandbox, make_group, staff_client):
    """A create was sent but Chat never confirmed it (Chat down, the sync failed): Chat does not hold it."""
    chat_sandbox.import_accounts(owner.user_id, "user_0002")
    group = make_group(owner, "work", [(C2C, "user_0002")], state=ContactGroup.State.FAILED, create_intent="work")
    text = box(page(staff_client, group))
    assert text == "Chat does not hold this group yet: a sync creates it there. Refresh from Chat"
    staff_client.cookies["django_language"] = "zh-hans"
    assert box(page(staff_client, group, refresh="1")).startswith("IM 中还没有此分组：同步会在 IM 中创建它。")


def test_a_reading_just_kept_is_shown_without_reading_chat_again_until_refresh(work, chat_sandbox, staff_client,
                                                                              settings):
    settings.SYNC_PAGE_READING_REUSE_SECONDS = 60
    chat_sandbox.clear_calls()
    assert box(page(staff_client, work)) == "Matches what Chat holds now. Refresh from Chat"
    assert reads(chat_sandbox) == 1
    app_renames(chat_sandbox, "work", "home")
    # Within the minute: the kept reading, said as such with its age.
    assert box(page(staff_client, work)) == ("Compared with the group as Chat held it less than a minute ago. "
                                             "Matched what Chat held then. Refresh from Chat")
    assert reads(chat_sandbox) == 1
    # "Refresh from Chat" reads: the rename shows; a reading that found a difference is never reused.
    assert "renamed it in the app from “work” to “home”" in box(page(staff_client, work, refresh="1"))
    assert "renamed it in the app from “work” to “home”" in box(page(staff_client, work))
    assert reads(chat_sandbox) == 3


AGES = {
    "en": ("Compared with the group as Chat held it less than a minute ago.",
           "Compared with the group as Chat held it 2 minutes ago."),
    "zh-hans": ("比较的是不到一分钟前 IM 中的此分组。", "比较的是 2 分钟前 IM 中的此分组。"),
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_kept_reading_under_a_minute_old_is_said_to_be_less_than_a_minute_old(work, chat_sandbox, staff_client,
                                                                               settings, language):
    """Never "0 minutes ago": under a minute it is "less than a minute ago"; from a minute on, the minutes."""
    settings.SYNC_PAGE_READING_REUSE_SECONDS = 300
    staff_client.cookies["django_language"] = language
    page(staff_client, work)  # reads Chat now and keeps the reading
    kept = GroupSync.objects.filter(group=work)
    read_at = kept.get().chat_read_at
    under_a_minute, two_minutes = AGES[language]
    kept.update(chat_read_at=timezone.now() - timezone.timedelta(seconds=59))
    text = box(page(staff_client, work))
    assert text.startswith(under_a_minute)
    assert "0 " not in text
    kept.update(chat_read_at=read_at - timezone.timedelta(seconds=125))
    assert box(page(staff_client, work)).startswith(two_minutes)


def test_with_no_reuse_every_opening_reads(work, chat_sandbox, staff_client, settings):
    settings.SYNC_PAGE_READING_REUSE_SECONDS = 0
    chat_sandbox.clear_calls()
    page(staff_client, work)
    page(staff_client, work)
    assert reads(chat_sandbox) == 2


def grouped_thousand(sandbox, owner: str) -> None:
    """``owner`` holds Chat's most, 1,000 grouped conversations: the one of "work" and 999 in ten more groups."""
    for number in range(10):
        items = [{"Type": GROUP, "ToGroupId": f"@TGS#2G{number:02d}{index:03d}"} for index in range(100)]
        answer = sandbox.post(protocol.CREATE_CONTACT_GROUP, {
            "From_Account": owner, "GroupContactItem": [{"GroupName": f"big {number}", "ContactItem": items}]})
        assert answer["ActionStatus"] == "OK", answer


def test_the_page_of_a_user_with_1000_grouped_conversations_reads_chat_once_not_on_every_opening(
        work, chat_sandbox, staff_client, staff, settings):
    """Chat gives a group's conversations only among all its owner's: one read is every page (20 at the sandbox's
    50 a page). The first opening reads them; opening again within the minute, or while a sync is on its way,
    reads none."""
    settings.SYNC_PAGE_READ_TIMEOUT = 10
    grouped_thousand(chat_sandbox, work.owner.user_id)
    chat_sandbox.clear_calls()
    page(staff_client, work)
    first = reads(chat_sandbox)
    assert first == 20  # 1,000 grouped conversations (Chat's limit), 50 a page
    page(staff_client, work)
    page(staff_client, work)
    ContactGroup.objects.filter(pk=work.pk).update(state=ContactGroup.State.QUEUED)
    page(staff_client, work)
    assert reads(chat_sandbox) == first
    assert SyncAttempt.objects.filter(page_read=True, operation="get_contact_group").count() == first
    # As before: with no reuse, each opening of a group not being synced read every page again.
    settings.SYNC_PAGE_READING_REUSE_SECONDS = 0
    ContactGroup.objects.filter(pk=work.pk).update(state=ContactGroup.State.SYNCED)
    chat_sandbox.clear_calls()
    page(staff_client, work)
    page(staff_client, work)
    assert reads(chat_sandbox) == 2 * first


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_audit_hides_the_pages_reads_unless_its_filter_shows_them(work, chat_sandbox, staff_client, language):
    page(staff_client, work)
    sync_calls = set(SyncAttempt.objects.filter(page_read=False).values_list("pk", flat=True))
    page_reads = set(SyncAttempt.objects.filter(page_read=True).values_list("pk", flat=True))
    assert sync_calls and page_reads
    staff_client.cookies["django_language"] = language
    listed = staff_client.get(CALLS)
    assert {call.pk for call in listed.context["cl"].result_list} == sync_calls
    said = {"en": ("page reads", "Hidden", "Shown", "Only page reads", "are hidden: choose “Shown”"),
            "zh-hans": ("页面读取", "隐藏", "显示", "只看页面读取",
                        "已隐藏：在筛选“页面读取”中选择“显示”即可看到")}[language]
    text = words_of(listed.content.decode())
    assert all(part in text for part in said), text
    shown = staff_client.get(CALLS, {"page_reads": "shown"})
    assert {call.pk for call in shown.context["cl"].result_list} == sync_calls | page_reads
    assert "are hidden" not in shown.content.decode() and "已隐藏" not in shown.content.decode()
    only = staff_client.get(CALLS, {"page_reads": "only"})
    assert {call.pk for call in only.context["cl"].result_list} == page_reads
