"""Numbers from Chat no column can hold are read in one place and never a DataError or an OverflowError, on either
database; the audit keeps the call with Chat's answer, and staff read what happened.

- A number JSON does not allow (NaN, Infinity, -Infinity, which Python's json reads, or 1e999, past any float) makes
  the answer one this admin cannot read (``answers.decode``): the audit keeps it with each such number as its
  text, outcome "Answer not readable", and the page, the sync and the pull say Chat answered in a form this admin
  cannot read.
- An ErrorCode or ResultCode past a 32-bit column (``errors.CODE_MIN..CODE_MAX``) is read as
  ``errors.CODE_UNREADABLE`` (``types.chat_code``): stored in every code column, said as "a code this admin cannot
  read", while the audit keeps the number Chat sent.

The sandbox answers over loopback HTTP, with a handler replaced to add odd numbers (as tests/admin/test_fuzz_pages.py
does) or an error code chosen through its faults. Run with DATABASE_URL pointing at PostgreSQL too: its integer
column is 32-bit and its jsonb refuses NaN, where SQLite's are 64-bit and its JSON check refuses NaN.
"""

import io
import json
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from contactgroups import sync, words
from contactgroups.chat import errors, protocol
from contactgroups.chat.sandbox import service
from contactgroups.models import ChatUser, ContactGroup, SyncAttempt, SyncAttemptRefusal
from contactgroups.models.health import RefusalMinute
from contactgroups.sync.accounts import check_users
from tests.sync.test_pull import app_creates

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
OWNER = "user_0001"
RECENT = reverse("admin:contactgroups_contactgroup_recent")
HEALTH = reverse("admin:contactgroups_health")
# Stands in a sandbox answer for the bare number 1e999, which Python's json cannot write.
HUGE = "<1e999>"
# Each number JSON does not allow, and the text the audit keeps it as.
NOT_FINITE = {"nan": (float("nan"), "NaN"), "infinity": (float("inf"), "Infinity"),
              "minus-infinity": (float("-inf"), "-Infinity"), "1e999": (HUGE, "1e999")}
UNREADABLE_ANSWER = ("Chat answered in a form this admin cannot read; its answer is kept with the Chat "
                     "calls.")
UNREADABLE_CODE = ("Chat answered with a code this admin cannot read, a number past any code it keeps; its answer "
                   "is kept with the Chat calls.")
# Codes past a 32-bit column at either end, up to past any 64-bit one.
CODES_PAST = [2**31, -(2**31), 2**63, -(10**30)]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice(owner, chat_sandbox):
    chat_sandbox.import_accounts(owner.user_id, "user_0002", "user_0003")
    return owner



@pytest.fixture
def answers_with(chat_sandbox, monkeypatch):
    """``answers_with(endpoint, change)``: the sandbox answers ``endpoint`` as it would, then ``change(fields)``
    alters the answer's fields (the call is applied as usual). HUGE is sent as the bare number 1e999."""
    write = service.json_text
    monkeypatch.setattr(service, "json_text", lambda document: write(document).replace(f'"{HUGE}"', "1e999"))

    def answer(endpoint, change):
        real = chat_sandbox._state._handlers[endpoint]

        def handler(body, now):
            fields = real(body, now)
            change(fields)
            return fields

        monkeypatch.setitem(chat_sandbox._state._handlers, endpoint, handler)

    return answer


@pytest.fixture
def work(alice, make_group, staff):
    """A group synced to Chat: "work" with user_0002."""
    group = make_group(alice, "work", [(C2C, "user_0002")])
    assert sync.sync_group(group.pk, staff.pk).state == ContactGroup.State.SYNCED
    return group


def last_call(operation: str) -> SyncAttempt:
    return SyncAttempt.objects.filter(operation=operation).latest("pk")


def comparison(staff_client, group) -> str:
    """The text of the comparison above the group's form, spaces collapsed."""
    response = staff_client.get(reverse("admin:contactgroups_contactgroup_change", args=[group.pk]))
    assert response.status_code == 200
    match = re.search(r'<div id="chat-comparison".*?</div>', response.content.decode(), re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0))).strip()


def failed_pull(staff) -> str:
    """What the pull command says when its one owner's pull fails (it then exits 1)."""
    out = io.StringIO()
    with pytest.raises(CommandError, match="The pull failed for 1 of 1 Chat user"):
        call_command("pull_contact_groups", "--actor", staff.username, "--owner", OWNER, stdout=out)
    return out.getvalue()


def audit_page(staff_client, attempt) -> str:
    response = staff_client.get(reverse("admin:contactgroups_syncattempt_change", args=[attempt.pk]))
    assert response.status_code == 200
    return response.content.decode()


# Numbers JSON does not allow ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NOT_FINITE)
def test_the_picker_says_chat_answered_unreadably_and_the_audit_keeps_the_number_as_text(alice, staff_client,
                                                                                         answers_with, kind):
    number, text = NOT_FINITE[kind]
    answers_with(protocol.GET_LIST, lambda fields: fields.update(CompleteFlag=1, SessionItem=[
        {"Type": C2C, "To_Account": "user_0002", "MsgTime": number, "TopFlag": 0}]))

    response = staff_client.get(RECENT, {"owner": alice.pk})

    assert response.status_code == 502
    assert response.json() == {"error": f"Chat could not be read now: {UNREADABLE_ANSWER}"}
    call = last_call("get_list")
    assert call.outcome == SyncAttempt.Outcome.UNREADABLE
    assert call.response["SessionItem"][0]["MsgTime"] == text
    assert call.response["ErrorCode"] == 0
    page = audit_page(staff_client, call)
    assert f"&quot;MsgTime&quot;: &quot;{text}&quot;" in page
    assert "Chat answered in a form this admin cannot read (its answer is below)" in page


@pytest.mark.parametrize("kind", NOT_FINITE)
def test_the_group_page_says_chat_answered_unreadably(work, staff_client, answers_with, kind):
    number, text = NOT_FINITE[kind]
    answers_with(protocol.GET_CONTACT_GROUP, lambda fields: fields.update(Timestamp=number))

    assert comparison(staff_client, work).startswith(f"Chat could not be read now: {UNREADABLE_ANSWER}")
    call = last_call("get_contact_group")
    assert (call.outcome, call.group_id, call.response["Timestamp"]) == (SyncAttempt.Outcome.UNREADABLE, work.pk,
                                                                        text)


@pytest.mark.parametrize("kind", NOT_FINITE)
def test_a_sync_whose_write_is_answered_unreadably_fails_saying_so_and_the_next_one_syncs(work, staff, chat_sandbox,
                                                                                         answers_with, kind):
    number, text = NOT_FINITE[kind]
    answers_with(protocol.UPDATE_CONTACT_GROUP,
                 lambda fields: fields["UpdateGroupResult"]["ContactResultItem"][0].update(ResultCode=number))
    work.items.create(type=C2C, to_account="user_0003")

    with pytest.raises(errors.ChatAnswerError):
        sync.sync_group(work.pk, staff.pk)

    work.refresh_from_db()
    assert work.state == ContactGroup.State.FAILED
    assert UNREADABLE_ANSWER in words.outcome_text(work.sync.last_outcome)
    call = last_call("update_contact_group")
    assert call.outcome == SyncAttempt.Outcome.UNREADABLE
    assert call.response["UpdateGroupResult"]["ContactResultItem"][0]["ResultCode"] == text
    # Chat did take the conversation: the next sync reads it there and is done.
    chat_sandbox._state._handlers[protocol.UPDATE_CONTACT_GROUP] = chat_sandbox._state.update_contact_group
    assert sync.sync_group(work.pk, staff.pk).state == ContactGroup.State.SYNCED


@pytest.mark.parametrize("kind", NOT_FINITE)
def test_a_pull_answered_unreadably_fails_for_that_owner_and_says_so(alice, chat_sandbox, staff, answers_with, kind):
    number, text = NOT_FINITE[kind]
    app_creates(chat_sandbox, "family", (C2C, "user_0002"))
    answers_with(protocol.GET_CONTACT_GROUP, lambda fields: fields["GroupItem"][0].update(GroupId=number))

    out = failed_pull(staff)

    assert f"user_0001: the pull failed: {UNREADABLE_ANSWER}" in out
    assert not ContactGroup.objects.exists()
    call = last_call("get_contact_group")
    assert (call.outcome, call.response["GroupItem"][0]["GroupId"]) == (SyncAttempt.Outcome.UNREADABLE, text)


def test_an_answer_with_numbers_json_allows_is_read_as_before(work, staff_client, answers_with):
    answers_with(protocol.GET_CONTACT_GROUP, lambda fields: fields.update(Timestamp=1.5e308, Big=10**30))

    assert comparison(staff_client, work).startswith("Matches what Chat holds now.")
    assert last_call("get_contact_group").outcome == SyncAttempt.Outcome.OK


# Codes past the columns --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES_PAST)
def test_the_picker_says_chat_answered_a_code_it_cannot_read_and_the_audit_keeps_it(alice, staff_client, chat_sandbox,
                                                                                     code):
    chat_sandbox.set_faults(fail_rate=1, fail_codes=[code], endpoints=[protocol.GET_LIST])

    response = staff_client.get(RECENT, {"owner": alice.pk})

    assert response.status_code == 502
    assert response.json()["error"].startswith(f"Chat could not be read now: {UNREADABLE_CODE}")
    call = last_call("get_list")
    assert (call.outcome, call.error_code, call.response["ErrorCode"]) == (
        SyncAttempt.Outcome.REFUSED, errors.CODE_UNREADABLE, code)
    page = audit_page(staff_client, call)
    assert re.search(r'<div class="readonly">\?</div>', page)
    assert UNREADABLE_CODE.split(";")[0] in page
    assert f"&quot;ErrorCode&quot;: {code}" in page
    calls = staff_client.get(reverse("admin:contactgroups_syncattempt_changelist"),
                             {"page_reads": "only"}).content.decode()  # the picker's read is a page read
    assert "Refused · ErrorCode ?" in calls


def test_a_code_a_column_holds_is_kept_as_chat_sent_it(alice, staff_client, chat_sandbox):
    chat_sandbox.set_faults(fail_rate=1, fail_codes=[errors.CODE_MAX], endpoints=[protocol.GET_LIST])

    response = staff_client.get(RECENT, {"owner": alice.pk})

    assert response.json()["error"].startswith(f"Chat could not be read now: Chat error {errors.CODE_MAX} Chat "
                                               f"error {errors.CODE_MAX}, not documented")
    assert last_call("get_list").error_code == errors.CODE_MAX


@pytest.mark.parametrize("code", CODES_PAST)
def test_a_sync_refused_with_such_a_code_fails_saying_so_on_either_database(work, staff, chat_sandbox, staff_client,
                                                                           code):
    work.items.create(type=C2C, to_account="user_0003")
    chat_sandbox.set_faults(fail_rate=1, fail_codes=[code], endpoints=[protocol.UPDATE_CONTACT_GROUP])

    with pytest.raises(errors.ChatError) as caught:
        sync.sync_group(work.pk, staff.pk)

    work.refresh_from_db()
    assert (caught.value.code, work.state) == (errors.CODE_UNREADABLE, ContactGroup.State.FAILED)
    assert work.sync.last_error_code == errors.CODE_UNREADABLE
    assert words.sync_state_text(work.state, error_code=work.sync.last_error_code).startswith(
        f"Failed: {UNREADABLE_CODE}")
    assert last_call("update_contact_group").response["ErrorCode"] == code
    health = staff_client.get(HEALTH).content.decode()
    assert RefusalMinute.objects.get().code == errors.CODE_UNREADABLE
    assert UNREADABLE_CODE.split(";")[0] in health


@pytest.mark.parametrize("code", CODES_PAST)
def test_a_conversation_refused_with_such_a_code_is_said_refused_and_the_rest_is_kept(work, staff, staff_client,
                                                                                      answers_with, code):
    answers_with(protocol.UPDATE_CONTACT_GROUP,
                 lambda fields: fields["UpdateGroupResult"]["ContactResultItem"][0].update(ResultCode=code))
    work.items.create(type=C2C, to_account="user_0003")

    result = sync.sync_group(work.pk, staff.pk)

    work.refresh_from_db()
    assert result.state == work.state == ContactGroup.State.PARTIAL
    item = work.items.get(to_account="user_0003")
    assert item.result_code == errors.CODE_UNREADABLE
    assert f"user_0003, {UNREADABLE_CODE}" in words.outcome_text(work.sync.last_outcome)
    call = last_call("update_contact_group")
    assert (call.outcome, call.refused_items) == (SyncAttempt.Outcome.PARTIAL, 1)
    assert call.response["UpdateGroupResult"]["ContactResultItem"][0]["ResultCode"] == code
    assert list(SyncAttemptRefusal.objects.filter(attempt=call).values_list("code", flat=True)) == [
        errors.CODE_UNREADABLE]
    page = staff_client.get(reverse("admin:contactgroups_contactgroup_change", args=[work.pk])).content.decode()
    assert UNREADABLE_CODE.split(";")[0] in page


def test_an_account_check_answered_with_such_a_code_is_kept_as_unreadable(alice, staff, answers_with, staff_client):
    user = ChatUser.objects.create(user_id="user_0009")
    answers_with(protocol.ACCOUNT_CHECK,
                 lambda fields: [entry.update(ResultCode=2**40) for entry in fields["ResultItem"]])

    check_users([user.pk], staff.pk)

    user.refresh_from_db()
    assert (user.import_state, user.last_error_code) == (ChatUser.ImportState.FAILED, errors.CODE_UNREADABLE)
    page = staff_client.get(reverse("admin:contactgroups_chatuser_change", args=[user.pk])).content.decode()
    assert UNREADABLE_CODE.split(";")[0] in page
    assert last_call("account_check").response["ResultItem"][0]["ResultCode"] == 2**40


def test_codes_are_read_in_range_or_as_unreadable():
    from contactgroups.chat.fields import chat_code

    assert [chat_code(value) for value in (0, 50001, "70001", errors.CODE_MIN, errors.CODE_MAX, -5)] == [
        0, 50001, 70001, errors.CODE_MIN, errors.CODE_MAX, -5]
    assert {chat_code(value) for value in (errors.CODE_MAX + 1, errors.CODE_UNREADABLE, 2**70, 1e300)} == {
        errors.CODE_UNREADABLE}
    assert [chat_code(value) for value in (None, "x", [], True, float("nan"), float("inf"))] == [None] * 6
    assert json.dumps(errors.describe(errors.CODE_UNREADABLE))
