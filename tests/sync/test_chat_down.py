"""Chat down, and coming back (issue 23): what staff see while a group or a Chat user waits for Chat, and what Chat
receives once it answers again.

The sandbox is stopped and started as Chat going down and coming back; the in-process executor runs the retries
(no broker); the retries' clock and jitter are the test's, so the next try's time is known.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import translation

from contactgroups import sync, tasks
from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup, GroupSync, SyncAttempt
from contactgroups.sync import reach, retries
from tests.conftest import wait_until

C2C = protocol.TYPE_C2C
START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clock(monkeypatch, settings):
    """The retries' clock, moved by the test, and their jitter at its top: each wait is the whole backoff."""
    now = [START]
    monkeypatch.setattr(retries, "clock", lambda: now[0])
    monkeypatch.setattr(retries, "jitter", lambda low, high: high)
    settings.SYNC_MAX_ATTEMPTS = 10
    return now


@pytest.fixture
def support(client, staff, chat_sandbox):
    chat_sandbox.import_accounts("user_0001", "user_0002")
    client.force_login(staff)
    return client


def zh(message: str, plural: str | None = None, count: int = 1) -> str:
    with translation.override("zh-hans"):
        return translation.ngettext(message, plural, count) if plural else translation.gettext(message)


def said(language: str, message: str, **params) -> str:
    return (zh(message) if language == "zh-hans" else message) % params


def state_text(page: str) -> str:
    return re.search(r'<span class="sync-state [^"]*"[^>]*>([^<]*)</span>', page).group(1)


def messages_of(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


def hand_over(*groups, actor) -> None:
    """Hand the groups' syncs over as a save does (after the commit)."""
    with transaction.atomic():
        tasks.queue_group_syncs([group.pk for group in groups], actor.pk)


def chat_group_names(chat_sandbox, user_id: str) -> set[str]:
    answer = chat_sandbox.post("recentcontact/get_contact_group", {"From_Account": user_id, "StartIndex": 0})
    return {group["GroupName"] for group in answer.get("GroupItem", [])}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_group_waiting_for_chat_shows_its_attempt_and_next_try_and_retry_now_hands_it_over(
        support, owner, make_group, staff, chat_sandbox, clock, settings, language):
    settings.SYNC_RETRY_BASE_SECONDS = settings.SYNC_RETRY_CAP_SECONDS = 600
    group = make_group(owner, "work", [(C2C, "user_0002")], state=ContactGroup.State.QUEUED)
    page_url = reverse("admin:contactgroups_contactgroup_change", args=[group.pk])
    retry_url = reverse("admin:contactgroups_contactgroup_retry_now", args=[group.pk])
    status_url = reverse("admin:contactgroups_contactgroup_status", args=[group.pk])
    headers = {"accept-language": language}
    waiting = "Waiting to try again: attempt %(attempt)d of %(most)d at %(time)s"

    chat_sandbox.stop()
    hand_over(group, actor=staff)
    wait_until(lambda: GroupSync.objects.get(pk=group.pk).attempts == 1)
    page = support.get(page_url, headers=headers).content.decode()
    assert state_text(page) == said(language, waiting, attempt=2, most=10, time="12:10:00")
    assert f'class="button chat-retry" form="chat-actions" formaction="{retry_url}"' in page
    assert f'>{said(language, "Retry now")}</button>' in page
    status = support.get(status_url, headers=headers).json()
    assert status["text"] == said(language, waiting, attempt=2, most=10, time="12:10:00")
    assert [offer["button"]["label"] for offer in status["offers"]] == [said(language, "Retry now")]

    # Chat still down: the retry is handed over at once, fails, and the next waits its backoff from then.
    clock[0] = START + timedelta(minutes=5)
    response = support.post(retry_url, headers=headers, follow=True)
    assert messages_of(response) == [("success", said(
        language, "The next try of “%(group)s” is handed to the workers now; its page shows how it ends.",
        group="work"))]
    wait_until(lambda: GroupSync.objects.get(pk=group.pk).attempts == 2)
    page = support.get(page_url, headers=headers).content.decode()
    assert state_text(page) == said(language, waiting, attempt=3, most=10, time="12:15:00")

    chat_sandbox.start()
    support.post(retry_url, headers=headers)
    wait_until(lambda: ContactGroup.objects.get(pk=group.pk).state == ContactGroup.State.SYNCED)
    assert chat_group_names(chat_sandbox, owner.user_id) == {"work"}
    page = support.get(page_url, headers=headers).content.decode()
    assert state_text(page) == said(language, "Synced")
    assert "chat-retry" not in page
    assert support.get(status_url).json()["offers"] == []
    # Nothing waits now: a second press says so and hands nothing over.
    response = support.post(retry_url, headers=headers, follow=True)
    assert messages_of(response) == [("warning", said(
        language, "“%(group)s” is not waiting to try again now, so nothing was handed over; its page shows where it "
        "is.", group="work"))]


def test_retry_now_is_a_post_with_its_csrf_token_by_staff_who_may_change_and_sync_the_group(
        owner, make_group, staff, django_user_model, chat_sandbox, clock, settings):
    settings.SYNC_RETRY_BASE_SECONDS = settings.SYNC_RETRY_CAP_SECONDS = 600
    group = make_group(owner, "work", [(C2C, "user_0002")], state=ContactGroup.State.QUEUED)
    chat_sandbox.stop()
    hand_over(group, actor=staff)
    wait_until(lambda: GroupSync.objects.get(pk=group.pk).attempts == 1)
    retry_url = reverse("admin:contactgroups_contactgroup_retry_now", args=[group.pk])
    page_url = reverse("admin:contactgroups_contactgroup_change", args=[group.pk])

    def waiting_still():
        row = GroupSync.objects.get(pk=group.pk)
        return row.attempts == 1 and row.retry_at == START + timedelta(seconds=600)

    checked = Client(enforce_csrf_checks=True)
    checked.force_login(staff)
    assert checked.post(retry_url).status_code == 403  # no CSRF token
    assert checked.get(retry_url).url == page_url  # a GET only shows the page
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_contactgroup"))
    looking = Client()
    looking.force_login(viewer)
    assert "chat-retry" not in looking.get(page_url).content.decode()
    assert looking.post(retry_url).status_code == 403
    assert waiting_still()


def test_groups_waiting_on_chat_down_are_retried_soon_once_a_call_reaches_chat_again(
        support, owner, make_group, staff, chat_sandbox, settings, monkeypatch):
    settings.SYNC_RETRY_BASE_SECONDS = settings.SYNC_RETRY_CAP_SECONDS = 600  # no backoff ends within the test
    monkeypatch.setattr(retries, "jitter", lambda low, high: high)
    monkeypatch.setattr(tasks, "WAKE_GROUPS_A_ROUND", 2)  # three rounds for five groups
    groups = [make_group(owner, f"team {n}", [(C2C, "user_0002")], state=ContactGroup.State.QUEUED)
              for n in range(5)]
    chat_sandbox.stop()
    hand_over(*groups, actor=staff)
    wait_until(lambda: GroupSync.objects.filter(attempts=1, retry_at__isnull=False).count() == 5)

    chat_sandbox.start()
    other = make_group(owner, "other", [(C2C, "user_0002")])
    hand_over(other, actor=staff)  # its call reaches Chat: the others are handed over, not left for 600 s
    wait_until(lambda: ContactGroup.objects.filter(state=ContactGroup.State.SYNCED).count() == 6, timeout=60)
    assert chat_group_names(chat_sandbox, owner.user_id) == {"other", *(f"team {n}" for n in range(5))}
    # Every call after Chat came back was accepted: none over Chat's rate.
    assert set(SyncAttempt.objects.exclude(outcome=SyncAttempt.Outcome.NOT_SENT)
               .values_list("outcome", flat=True)) == {SyncAttempt.Outcome.OK}
    assert not GroupSync.objects.filter(retry_at__isnull=False).exists()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_an_import_while_chat_is_down_says_why_and_is_tried_again_once_chat_is_back(
        support, staff, chat_sandbox, clock, settings, language):
    # The retry waits long enough that the page below is read before it, however busy the machine.
    settings.SYNC_RETRY_BASE_SECONDS = settings.SYNC_RETRY_CAP_SECONDS = 15
    user = ChatUser.objects.create(user_id="user_0042", nickname="Bo")
    changelist = reverse("admin:contactgroups_chatuser_changelist")
    headers = {"accept-language": language}
    chat_sandbox.stop()
    support.post(changelist, {"action": "import_into_chat", "_selected_action": [user.pk]})
    wait_until(lambda: ChatUser.objects.get(pk=user.pk).attempts == 1)
    page = support.get(changelist, headers=headers).content.decode()
    error = re.search(r'<td class="field-last_error">(.*?)</td>', page).group(1)
    why = said(language, "Could not connect to Chat; nothing was sent.")
    assert error == why + " " + said(language, "Next try: attempt %(attempt)d of %(most)d at %(time)s.",
                                     attempt=2, most=10, time="12:00:15")
    assert said(language, "Import failed") in page
    assert ChatUser.objects.get(pk=user.pk).last_outcome["code"] == "import_failed"

    chat_sandbox.start()
    wait_until(lambda: ChatUser.objects.get(pk=user.pk).import_state == ChatUser.ImportState.IMPORTED, timeout=60)
    answer = chat_sandbox.post("im_open_login_svc/account_check", {"CheckItem": [{"UserID": "user_0042"}]})
    assert answer["ResultItem"][0]["AccountStatus"] == "Imported"
    page = support.get(changelist, headers=headers).content.decode()
    assert re.search(r'<td class="field-last_error">(.*?)</td>', page).group(1) == "—"


def test_a_process_that_never_saw_chat_down_learns_it_is_back_from_the_audit_and_the_waiting_groups_go(
        support, owner, make_group, staff, chat_sandbox, settings, monkeypatch):
    settings.SYNC_RETRY_BASE_SECONDS = settings.SYNC_RETRY_CAP_SECONDS = 600  # no backoff ends within the test
    monkeypatch.setattr(retries, "jitter", lambda low, high: high)
    groups = [make_group(owner, f"team {n}", [(C2C, "user_0002")], state=ContactGroup.State.QUEUED)
              for n in range(3)]
    chat_sandbox.stop()
    hand_over(*groups, actor=staff)
    wait_until(lambda: GroupSync.objects.filter(attempts=1, retry_at__isnull=False).count() == 3)
    assert not sync.answered_since_unreached()  # nothing has reached Chat since

    chat_sandbox.start()
    # The call that reaches Chat is made where Chat was never seen down (another worker, another machine).
    monkeypatch.setattr(reach, "_unreached", False)
    other = make_group(owner, "other", [(C2C, "user_0002")])
    hand_over(other, actor=staff)
    wait_until(lambda: ContactGroup.objects.get(pk=other.pk).state == ContactGroup.State.SYNCED)
    assert ContactGroup.objects.filter(state=ContactGroup.State.QUEUED).count() == 3  # still waiting out 600 s
    assert chat_group_names(chat_sandbox, owner.user_id) == {"other"}

    tasks.requeue_stranded()  # the recovery task, as beat runs it every SYNC_RECOVER_SECONDS
    wait_until(lambda: ContactGroup.objects.filter(state=ContactGroup.State.SYNCED).count() == 4, timeout=60)
    assert chat_group_names(chat_sandbox, owner.user_id) == {"other", "team 0", "team 1", "team 2"}
    assert not GroupSync.objects.filter(retry_at__isnull=False).exists()
    assert not sync.answered_since_unreached()
