"""The reads of Chat a page waits for (the group page's comparison, the picker of the owner's conversations) end by
SYNC_PAGE_READ_TIMEOUT, whole answer included, and read no more than CHAT_ANSWER_MAX_BYTES; the page says which,
in English and Chinese, and the audit keeps the call with its outcome. The picker sends the browser at most a
panel's rows, however long Chat's page. The calls a worker makes end by SYNC_CALL_DEADLINE.

The sandbox drips its answer a few bytes a second, or pads it to megabytes, over loopback HTTP. A page bounded by
the deadline returns well within BOUND; the dripped answer would take many times longer.
"""

import json
import re
import time

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from contactgroups import sync, words
from contactgroups.admin.pick import ROWS_A_PAGE
from contactgroups.chat import errors, protocol
from contactgroups.chat.sandbox import SandboxServer
from contactgroups.conf import chat_client
from contactgroups.models import ContactGroup, SyncAttempt

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
RECENT = reverse("admin:contactgroups_contactgroup_recent")
DEADLINE = 0.4
BOUND = 10 * DEADLINE
DRIP_BYTES_PER_SECOND = 4
MSG_TIME = 1_764_670_000

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice(owner, chat_sandbox, settings):
    settings.SYNC_PAGE_READ_TIMEOUT = DEADLINE
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003")
    chat_sandbox.seed_conversations(owner.user_id, [
        {"Type": C2C, "To_Account": "user_0002", "MsgTime": MSG_TIME},
        {"Type": GROUP, "GroupId": "@TGS#1B2AUI7RZ", "MsgTime": MSG_TIME + 60},
    ])
    return owner


@pytest.fixture
def work(alice, make_group, staff):
    """A group synced to Chat: "work" with user_0002 and user_0003."""
    group = make_group(alice, "work", [(C2C, "user_0002"), (C2C, "user_0003")])
    assert sync.sync_group(group.pk, staff.pk).state == ContactGroup.State.SYNCED
    return group



def dripped_seconds(sandbox, endpoint: str) -> float:
    """How long the sandbox would take to drip its last answer to ``endpoint`` whole."""
    answer = sandbox.calls_to(endpoint)[-1]["response"]
    return len(json.dumps(answer, ensure_ascii=False).encode()) / DRIP_BYTES_PER_SECOND


def timed_get(client, url, data=None, **extra):
    began = time.monotonic()
    response = client.get(url, data, **extra)
    return response, time.monotonic() - began


def comparison(response) -> str:
    """The text of the comparison above the group's form, spaces collapsed."""
    match = re.search(r'<div id="chat-comparison".*?</div>', response.content.decode(), re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0))).strip() if match else ""


def group_page(client, group, data=None, **extra):
    response, elapsed = timed_get(client, reverse("admin:contactgroups_contactgroup_change", args=[group.pk]),
                                  data, **extra)
    assert response.status_code == 200
    return comparison(response), elapsed


def last_call(operation: str) -> SyncAttempt:
    return SyncAttempt.objects.filter(operation=operation).latest("pk")


# ------------------------------------------------------------------------------------------------- the group page


def test_the_group_page_does_not_wait_for_an_answer_chat_drips(work, chat_sandbox, staff_client, staff):
    chat_sandbox.set_faults(drip_bytes_per_second=DRIP_BYTES_PER_SECOND, endpoints=[protocol.GET_CONTACT_GROUP])
    chat_sandbox.clear_calls()

    text, elapsed = group_page(staff_client, work)

    assert text.startswith("Chat could not be read now: Chat was too slow: its whole answer had not come within "
                           "0.4 s.")
    assert elapsed < BOUND < dripped_seconds(chat_sandbox, protocol.GET_CONTACT_GROUP) / 3
    assert len(chat_sandbox.calls_to(protocol.GET_CONTACT_GROUP)) == 1  # not tried again
    call = last_call("get_contact_group")
    assert (call.outcome, call.actor_id, call.group_id, call.response) == ("too_slow", staff.pk, work.pk, None)


def test_the_group_page_says_chat_was_too_slow_in_chinese(work, chat_sandbox, staff_client):
    chat_sandbox.set_faults(drip_bytes_per_second=DRIP_BYTES_PER_SECOND, endpoints=[protocol.GET_CONTACT_GROUP])
    staff_client.cookies["django_language"] = "zh-hans"

    text, _elapsed = group_page(staff_client, work)

    assert text.startswith("现在无法读取 IM：IM 太慢：0.4 秒内未收到完整应答。")


def test_every_page_of_the_groups_read_counts_against_one_deadline(work, chat_sandbox, staff_client, make_group, alice):
    # Chat sends the owner's groups a page of 50 conversations at a time, each page 300 ms late: 1.2 s in all.
    make_group(alice, "many", [(GROUP, f"@TGS#{number:04d}") for number in range(150)])
    sync.sync_group(ContactGroup.objects.get(name="many").pk, None)
    chat_sandbox.set_faults(latency_ms=300, endpoints=[protocol.GET_CONTACT_GROUP])
    chat_sandbox.clear_calls()

    text, _elapsed = group_page(staff_client, work)

    assert "Chat was too slow: its whole answer had not come within 0.4 s." in text
    assert len(chat_sandbox.calls_to(protocol.GET_CONTACT_GROUP)) < 4


def test_the_group_page_refuses_an_answer_longer_than_the_limit_and_shows_the_kept_reading(
        work, chat_sandbox, staff_client, settings):
    group_page(staff_client, work)  # a reading is kept
    settings.CHAT_ANSWER_MAX_BYTES = 64 * 1024
    chat_sandbox.set_faults(pad_bytes=1024 * 1024, endpoints=[protocol.GET_CONTACT_GROUP])

    text, _elapsed = group_page(staff_client, work, {"refresh": "1"})  # as "Refresh from Chat" asks

    assert text.startswith("Chat could not be read now: Chat answered too much: more than 64.0 KB, the most this "
                           "admin reads of one answer.")
    assert "Compared with the group as Chat held it less than a minute ago." in text
    assert last_call("get_contact_group").outcome == "too_large"


def test_the_audit_lists_the_calls_as_too_slow_and_too_large_and_says_what_that_means(alice, chat_sandbox,
                                                                                      staff_client, settings):
    chat_sandbox.set_faults(drip_bytes_per_second=DRIP_BYTES_PER_SECOND, endpoints=[protocol.GET_LIST])
    staff_client.get(RECENT, {"owner": alice.pk})
    slow = last_call("get_list")
    settings.CHAT_ANSWER_MAX_BYTES = 64 * 1024
    chat_sandbox.set_faults(drip_bytes_per_second=0, pad_bytes=1024 * 1024)
    staff_client.get(RECENT, {"owner": alice.pk})
    large = last_call("get_list")

    listed = staff_client.get(reverse("admin:contactgroups_syncattempt_changelist"), {"outcome__exact": "too_slow",
                                                                                     "page_reads": "only"})
    slow_page = staff_client.get(reverse("admin:contactgroups_syncattempt_change", args=[slow.pk])).content.decode()
    large_page = staff_client.get(reverse("admin:contactgroups_syncattempt_change", args=[large.pk])).content.decode()

    assert list(listed.context["cl"].result_list) == [slow]
    assert "Chat had not sent its whole answer by the call&#x27;s deadline" in slow_page
    assert "Chat&#x27;s answer was longer than the most this admin reads of one answer" in large_page


# --------------------------------------------------------------------------------------------------- the picker


def test_the_picker_does_not_wait_for_an_answer_chat_drips(alice, chat_sandbox, staff_client, staff):
    chat_sandbox.set_faults(drip_bytes_per_second=DRIP_BYTES_PER_SECOND, endpoints=[protocol.GET_LIST])
    chat_sandbox.clear_calls()

    response, elapsed = timed_get(staff_client, RECENT, {"owner": alice.pk})

    assert response.status_code == 502
    assert response.json() == {"error": "Chat could not be read now: Chat was too slow: its whole answer had not "
                                        "come within 0.4 s."}
    assert elapsed < BOUND < dripped_seconds(chat_sandbox, protocol.GET_LIST) / 3
    assert len(chat_sandbox.calls_to(protocol.GET_LIST)) == 1
    call = last_call("get_list")
    assert (call.outcome, call.actor_id, call.owner_user_id) == ("too_slow", staff.pk, "user_0001")


def test_the_picker_refuses_a_15_mb_answer_and_sends_the_browser_a_sentence(alice, chat_sandbox, staff_client):
    chat_sandbox.set_faults(pad_bytes=15 * 1024 * 1024, endpoints=[protocol.GET_LIST])

    response = staff_client.get(RECENT, {"owner": alice.pk})

    assert response.status_code == 502
    assert response.json() == {"error": "Chat could not be read now: Chat answered too much: more than 4.0\xa0MB, the "
                                        "most this admin reads of one answer."}
    assert last_call("get_list").outcome == "too_large"


def test_the_picker_says_chat_answered_too_much_in_chinese(alice, chat_sandbox, staff_client, settings):
    settings.CHAT_ANSWER_MAX_BYTES = 64 * 1024
    chat_sandbox.set_faults(pad_bytes=1024 * 1024, endpoints=[protocol.GET_LIST])
    staff_client.cookies["django_language"] = "zh-hans"

    error = staff_client.get(RECENT, {"owner": alice.pk}).json()["error"]

    assert error.startswith("现在无法读取 IM：IM 应答内容过多：超过 64.0")
    assert error.endswith("即本后台读取单次应答的上限。")


@pytest.fixture
def long_pages(owner, settings, staff):
    """A Chat whose get_list pages hold 250 conversations, and an owner with 300 of them, newest first."""
    server = SandboxServer(settings.CHAT_SDKAPPID, settings.CHAT_SECRET_KEY, settings.CHAT_ADMIN_IDENTIFIER,
                           page_size=250).start()
    settings.CHAT_API_BASE_URL = server.base_url
    server.import_accounts(owner.user_id)
    server.seed_conversations(owner.user_id, [
        {"Type": GROUP, "GroupId": f"@TGS#{number:04d}", "MsgTime": MSG_TIME - number} for number in range(300)])
    yield owner
    server.stop()


def test_the_picker_sends_a_long_chat_page_a_panel_at_a_time_and_misses_none(long_pages, staff_client):
    assert django_settings.SYNC_PAGE_READ_TIMEOUT
    shown, answers, cursor = [], [], None
    while True:
        query = {"owner": long_pages.pk, **({"cursor": cursor} if cursor else {})}
        data = staff_client.get(RECENT, query).json()
        answers.append(len(data["conversations"]))
        shown += [entry["target"] for entry in data["conversations"]]
        cursor = data["next"]
        if cursor is None:
            break

    assert shown == [f"@TGS#{number:04d}" for number in range(300)]
    assert max(answers) == ROWS_A_PAGE < 250
    assert data["text"] == "That is every conversation Chat lists for this user."


@pytest.mark.parametrize("cursor", ["0.0.0.0:", "0.0.0.0:0", "0.0.0.0:-1", "0.0.0.0:x", "0.0.0.0:1:2",
                                    "0.0.0:5", "0.0.0.0:" + "9" * 10])
def test_a_position_in_a_page_chat_did_not_give_is_refused(alice, staff_client, cursor, chat_sandbox):
    chat_sandbox.clear_calls()

    response = staff_client.get(RECENT, {"owner": alice.pk, "cursor": cursor})

    assert response.status_code == 400
    assert response.json()["error"] == "This page of the list is not one Chat gave; open the list again."
    assert chat_sandbox.calls_to() == []


# ------------------------------------------------------------------------------------------------ a worker's calls


def test_the_settings_give_every_client_its_call_deadline_and_answer_limit(settings):
    settings.CHAT_API_BASE_URL = "http://127.0.0.1:9"
    settings.SYNC_CALL_DEADLINE = 12.5
    settings.CHAT_ANSWER_MAX_BYTES = 123_456
    with chat_client() as client:
        assert (client.config.deadline, client.config.max_answer_bytes) == (12.5, 123_456)

    settings.SYNC_CALL_DEADLINE = settings.CHAT_ANSWER_MAX_BYTES = None  # unset in the environment
    with chat_client() as client:
        assert (client.config.deadline, client.config.max_answer_bytes) == (30.0, 4 * 1024 * 1024)


def test_a_workers_sync_ends_by_its_call_deadline_and_says_chat_was_too_slow(alice, make_group, chat_sandbox,
                                                                             settings, staff):
    settings.SYNC_CALL_DEADLINE = DEADLINE
    group = make_group(alice, "work", [(C2C, "user_0002")])
    chat_sandbox.set_faults(drip_bytes_per_second=DRIP_BYTES_PER_SECOND)
    chat_sandbox.clear_calls()
    began = time.monotonic()

    with pytest.raises(errors.ChatTooSlowError):
        sync.sync_group(group.pk, staff.pk)

    elapsed = time.monotonic() - began
    endpoint = chat_sandbox.calls[-1]["endpoint"]
    attempts = len(chat_sandbox.calls)
    assert elapsed < 5 * BOUND < attempts * dripped_seconds(chat_sandbox, endpoint) / 3
    group.refresh_from_db()
    assert words.outcome_text(group.sync.last_outcome).startswith(
        "Sync to Chat stopped: Chat was too slow: its whole answer had not come within 0.4 s.")
    assert set(SyncAttempt.objects.filter(group=group).values_list("outcome", flat=True)) == {"too_slow"}
