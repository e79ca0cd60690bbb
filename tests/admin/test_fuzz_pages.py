"""Values from other machines' clocks and from Chat outside any sensible range read as unknown, never as a 500.

The sync-health page with minute counts from a clock running ahead, below zero or huge; the conversation picker
with get_list answers whose MsgTime, Type, ids or fields are odd (the sandbox serves them over loopback HTTP); the
group page and its live status with odd stored outcomes, codes, counts and times. First one test for each known
break, then Hypothesis drives each page through Django's test client as a signed-in staff user: every case is a
200 (or, for the picker, Chat's failure said in staff words) and nothing on the page reads as a Python error.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contactgroups.chat import errors, protocol
from contactgroups.chat.fields import UNIX_TIME_MAX, unix_time
from contactgroups.models import CallMinute, ContactGroup, ContactItem, RefusalMinute
from contactgroups.models.health import minute_of

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
HEALTH = reverse("admin:contactgroups_health")
RECENT = reverse("admin:contactgroups_contactgroup_recent")
CREATE = "create_contact_group"
# The largest count every supported database stores in a count's column (PostgreSQL's integer).
COUNT_MAX = 2**31 - 1
# What would show a Python error, or a Python value, to staff.
PYTHON_ERROR = re.compile(r"Traceback|\w+Error\b|object at 0x|<built-in|\bNone\b|\bnan\b|\binf\b")

# A failing case is reported as found: shrinking a page's case takes minutes.
# Text without NUL, which no PostgreSQL text or jsonb holds (refused at the boundary, a test of its own).
CHARACTERS = st.characters(exclude_characters="\x00", exclude_categories=["Cs"])


def text(**sizes):
    return st.text(CHARACTERS, **sizes)


FUZZ = settings(max_examples=25, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])



def text_of(response) -> str:
    """A page's text as staff read it: without its markup, its scripts' data and the escapes of its quotes."""
    html = response.content.decode()
    html = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html).replace("&#x27;", "'").replace("&quot;", '"')


def assert_readable(response, status=200):
    assert response.status_code == status, response.content[:2000]
    text = text_of(response) if response["Content-Type"].startswith("text/html") else response.content.decode()
    found = PYTHON_ERROR.search(text)
    assert found is None, text[max(0, found.start() - 200):found.end() + 200]


# The sync-health page ----------------------------------------------------------------------------------------------

def count_minute(minute, operation=CREATE, calls=1, **counts):
    return CallMinute.objects.create(minute=minute, operation=operation, calls=calls, **counts)


@pytest.mark.django_db
def test_a_minute_counted_by_a_clock_two_minutes_ahead_is_said_apart_not_a_500(staff_client):
    now = minute_of(timezone.now())
    count_minute(now, calls=3)
    count_minute(now + timedelta(minutes=2), calls=5)

    response = staff_client.get(HEALTH)

    assert_readable(response)
    assert ("5 calls were counted in minutes that have not come yet here: the clock of the machine that made them "
            "runs ahead, so when they were made is unknown.") in text_of(response)
    minutes = response.context["minutes"]
    assert [sum(series["calls"]) for series in minutes["series"]] == [3]
    assert [(row["hour"], row["day"]) for row in response.context["calls"]] == [(3, 3)]


@pytest.mark.django_db
def test_a_minute_counted_far_in_the_future_is_said_apart_in_chinese(staff_client):
    count_minute(datetime(9998, 12, 31, 23, 59, tzinfo=UTC), calls=1)
    response = staff_client.get(HEALTH, headers={"accept-language": "zh-hans"})
    assert_readable(response)
    assert "有 1 次调用记在了此处尚未到来的分钟里" in text_of(response)
    assert response.context["calls"] == []


@pytest.mark.django_db
def test_a_total_duration_below_zero_reads_as_an_unknown_average(staff_client):
    count_minute(minute_of(timezone.now()), calls=2, duration_total_ms=-40, duration_max_ms=7)
    response = staff_client.get(HEALTH)
    assert_readable(response)
    row = re.search(r'<tr data-operation="create_contact_group">(.*?)</tr>', response.content.decode(), re.S)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
    assert cells[-2:] == ["unknown", "7"]


@pytest.mark.django_db
def test_counts_as_large_as_the_columns_hold_are_shown_as_they_are(staff_client):
    now = minute_of(timezone.now())
    for minutes_ago in range(3):
        count_minute(now - timedelta(minutes=minutes_ago), calls=COUNT_MAX, failed=COUNT_MAX,
                     duration_total_ms=2**62, duration_max_ms=COUNT_MAX)
    response = staff_client.get(HEALTH)
    assert_readable(response)
    assert f"{3 * COUNT_MAX:,}" in text_of(response)


def minute_rows():
    """Counts a minute as workers with any clock write them: from a week ago to far ahead, small to huge."""
    counts = st.integers(0, COUNT_MAX)
    return st.lists(st.fixed_dictionaries({
        "minutes_from_now": st.one_of(st.integers(-7 * 24 * 60, 5), st.integers(-10**6, 10**6),
                                      st.integers(5, 10**9)),
        "operation": st.sampled_from([CREATE, "update_contact_group", "get_list", "an_operation_of_another_version"]),
        "calls": counts, "failed": counts, "partial": counts, "throttled": counts,
        "duration_total_ms": st.integers(-(2**53), 2**53), "duration_max_ms": counts,
        "code": st.integers(-(2**31), COUNT_MAX),
    }), max_size=6)


@pytest.mark.django_db
def test_the_health_page_reads_any_minute_counts(staff_client):
    @FUZZ
    @given(rows=minute_rows())
    def check(rows):
        CallMinute.objects.all().delete()
        RefusalMinute.objects.all().delete()
        now = minute_of(timezone.now())
        for row in rows:
            try:
                minute = now + timedelta(minutes=row["minutes_from_now"])
            except OverflowError:
                continue
            CallMinute.objects.update_or_create(
                minute=minute, operation=row["operation"],
                defaults={name: row[name] for name in ("calls", "failed", "partial", "throttled",
                                                       "duration_total_ms", "duration_max_ms")})
            RefusalMinute.objects.update_or_create(minute=minute, code=row["code"], defaults={"calls": row["calls"]})
        assert_readable(staff_client.get(HEALTH))

    check()


# The conversation picker -------------------------------------------------------------------------------------------

@pytest.fixture
def alice(owner, chat_sandbox):
    chat_sandbox.import_accounts(owner.user_id, "user_0002")
    return owner


@pytest.fixture
def get_list_answers(chat_sandbox, monkeypatch):
    """Has the sandbox answer each get_list with the fields given (``answers.fields = {...}``) as a success."""

    class Answers:
        fields: dict = {}

    monkeypatch.setitem(chat_sandbox._state._handlers, protocol.GET_LIST, lambda body, now: Answers.fields)
    return Answers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("msg_time", [UNIX_TIME_MAX, 10**18, 2**63, -1, -(10**12), "soon", "", [1], {"t": 1},
                                      None, 1.5e300, True])
def test_a_conversation_whose_last_message_time_is_no_time_shows_the_empty_marker(alice, staff_client, get_list_answers,
                                                                                    msg_time):
    get_list_answers.fields = {"CompleteFlag": 1, "SessionItem": [
        {"Type": C2C, "To_Account": "user_0002", "MsgTime": msg_time, "TopFlag": 0},
        {"Type": GROUP, "GroupId": "@TGS#1B2AUI7RZ", "MsgTime": 1_764_670_000, "TopFlag": 0},
    ]}

    response = staff_client.get(RECENT, {"owner": alice.pk})

    assert_readable(response)
    conversations = response.json()["conversations"]
    assert [(entry["target"], entry["last_message"]) for entry in conversations] == [
        ("user_0002", "-"), ("@TGS#1B2AUI7RZ", "Dec. 2, 2025, 10:06 a.m.")]


@pytest.mark.django_db(transaction=True)
def test_a_time_far_in_the_future_stored_in_the_sandbox_shows_the_empty_marker(alice, staff_client, chat_sandbox):
    chat_sandbox.seed_conversations(alice.user_id, [{"Type": C2C, "To_Account": "user_0002", "MsgTime": 10**15}])
    response = staff_client.get(RECENT, {"owner": alice.pk})
    assert_readable(response)
    assert response.json()["conversations"][0]["last_message"] == "-"


def test_chats_time_fields_are_read_as_times_only_in_range():
    assert unix_time(1_764_670_000) == datetime(2025, 12, 2, 10, 6, 40, tzinfo=UTC)
    assert unix_time("1764670000") == datetime(2025, 12, 2, 10, 6, 40, tzinfo=UTC)
    assert unix_time(UNIX_TIME_MAX - 1) == datetime(9998, 12, 31, 23, 59, 59, tzinfo=UTC)
    for value in (None, 0, -1, UNIX_TIME_MAX, 10**30, "x", float("inf"), float("nan"), [], True):
        assert unix_time(value) is None, value


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("session_items", [["a conversation"], "conversations", {"Type": 1}, [[1, "user_0002"]],
                                           [{"Type": 2**64, "To_Account": "user_0002"}], [{"To_Account": "x"}],
                                           [{"Type": C2C, "To_Account": {"UserID": None}}],
                                           [{"Type": GROUP, "GroupId": ["@TGS#1"]}]])
def test_a_list_of_another_shape_is_chats_failure_in_staff_words(alice, staff_client, get_list_answers, session_items):
    get_list_answers.fields = {"CompleteFlag": 1, "SessionItem": session_items}
    response = staff_client.get(RECENT, {"owner": alice.pk})
    assert_readable(response, status=502)
    assert response.json() == {"error": "Chat could not be read now: Chat answered in a form this admin cannot "
                                        "read; its answer is kept with the Chat calls."}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text(max_size=8), children, max_size=3),
    max_leaves=6)


def session_items():
    """get_list entries as an odd Chat might send them: conversations with any MsgTime, TopFlag and marks, among
    entries of any Type, ids and fields, some missing."""
    edges = [0, -1, UNIX_TIME_MAX - 1, UNIX_TIME_MAX, 1_764_670_000_000, 2**63, -(2**63), 10**30]
    times = st.one_of(st.sampled_from(edges), st.integers(0, 2 * 10**9), st.integers(-(2**64), 2**64), JSON_VALUES)
    odd_fields = {"MsgTime": times, "TopFlag": JSON_VALUES, "StandardMark": JSON_VALUES, "CustomMark": JSON_VALUES}
    conversations = st.one_of(
        st.fixed_dictionaries({"Type": st.just(C2C), "To_Account": text(min_size=1, max_size=32)},
                              optional=odd_fields),
        st.fixed_dictionaries({"Type": st.just(GROUP), "GroupId": text(min_size=1, max_size=48)},
                              optional=odd_fields))
    anything = st.fixed_dictionaries(
        {"Type": st.one_of(st.sampled_from([C2C, GROUP, 3, "1", "2"]), JSON_VALUES)},
        optional={"To_Account": JSON_VALUES, "GroupId": JSON_VALUES, **odd_fields,
                  "ContactGroupId": st.one_of(st.lists(st.integers(-(2**40), 2**40), max_size=3), JSON_VALUES)})
    return st.one_of(st.lists(conversations, max_size=5), st.lists(st.one_of(conversations, anything), max_size=5))


@pytest.mark.django_db(transaction=True)
def test_the_picker_reads_any_get_list_answer(alice, staff_client, get_list_answers):
    @FUZZ
    @given(items=session_items(), complete=st.one_of(st.just(1), JSON_VALUES))
    def check(items, complete):
        get_list_answers.fields = {"CompleteFlag": complete, "SessionItem": items}
        response = staff_client.get(RECENT, {"owner": alice.pk})
        assert response.status_code in (200, 502), response.content[:2000]
        assert_readable(response, status=response.status_code)
        if response.status_code == 200:
            assert all(isinstance(entry["last_message"], str) for entry in response.json()["conversations"])

    check()


# The group page and its live status --------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_progress_of_more_calls_made_than_planned_reads_as_not_known(staff_client, owner, make_group):
    group = make_group(owner, "running", [(C2C, "user_0002")], state=ContactGroup.State.SYNCING,
                       calls_done=9, calls_planned=4)
    data = staff_client.get(reverse("admin:contactgroups_contactgroup_status", args=[group.pk])).json()
    assert (data["text"], data["calls"]) == ("Syncing to Chat", {"done": 0, "planned": 0})
    page = staff_client.get(reverse("admin:contactgroups_contactgroup_change", args=[group.pk]))
    assert_readable(page)
    assert "sync-progress" not in page.content.decode()


CODES = st.one_of(st.sampled_from([0, errors.ACCOUNT_NOT_IMPORTED, errors.GROUP_NOT_FOUND, errors.RATE_LIMITED]),
                  st.integers(-(2**31), COUNT_MAX))
COUNTS = st.integers(0, COUNT_MAX)
GROUP_IDS = st.integers(0, 2**63 - 1)
NAMES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=20)
CONVERSATIONS = st.lists(st.tuples(st.sampled_from([C2C, GROUP]), NAMES).map(list), max_size=3)
TIMES = st.datetimes(datetime(1970, 1, 1), datetime(9998, 12, 31), timezones=st.just(UTC))
ERRORS = st.fixed_dictionaries({
    "kind": st.sampled_from(["connect", "transport", "throttled", "answer", "chat", "busy", "queue", "internal",
                             "of_another_version"]),
    "code": st.one_of(st.none(), CODES), "info": text(max_size=30),
    "http_status": st.one_of(st.none(), st.integers(0, 999)), "type": st.just("SoftTimeLimitExceeded")})
CONFLICTS = st.lists(st.fixed_dictionaries({
    "code": st.sampled_from(["deleted_in_app", "renamed_in_app", "renamed_before_delete", "already_gone",
                             "name_not_sendable"]),
    "app_name": NAMES, "staff_name": NAMES, "name": NAMES}), max_size=2)
OUTCOMES = st.one_of(
    st.just({}),
    st.fixed_dictionaries({
        "code": st.sampled_from(["created", "synced", "deleted", "deleted_in_app"]), "owner": NAMES,
        "group_id": GROUP_IDS, "name": NAMES},
        optional={"renamed_from": NAMES, "added": COUNTS, "removed": COUNTS, "conflicts": CONFLICTS,
                  "refused": st.lists(st.tuples(st.sampled_from([C2C, GROUP]), NAMES, CODES, text(max_size=20))
                                      .map(list), max_size=3),
                  "adopted": st.fixed_dictionaries({}, optional={"name": NAMES, "added": CONVERSATIONS,
                                                                 "removed": CONVERSATIONS}),
                  "interrupted": st.booleans()}),
    st.fixed_dictionaries({"code": st.just("stopped"), "error": ERRORS, "group_id": GROUP_IDS, "name": NAMES},
                          optional={"retrying": st.booleans(), "partial": st.booleans(), "created": st.booleans()}),
    st.fixed_dictionaries({"code": st.just("gave_up"), "attempts": COUNTS, "error": ERRORS}),
    st.just({"code": "deleted", "group_id": None}),
    st.fixed_dictionaries({"code": st.just("adopted"), "owner": NAMES, "group_id": GROUP_IDS,
                           "conversations": COUNTS}),
    st.fixed_dictionaries({"code": st.sampled_from(["pulled", "gone_from_chat", "not_queued", "already_deleted",
                                                    "held_back", "of_another_version"]),
                           "group_id": GROUP_IDS, "name": NAMES}),
)


def odd_groups():
    """A group as a sync, a pull or a reading of Chat may have stored it, with odd codes, counts and times."""
    return st.tuples(st.fixed_dictionaries({
        "state": st.sampled_from(ContactGroup.State.values),
        "chat_group_id": st.one_of(st.none(), GROUP_IDS),
        "last_error_code": st.one_of(st.none(), CODES),
        "last_error_info": text(max_size=30),
        "last_outcome": OUTCOMES,
        "conflicts": CONFLICTS,
        "refused_count": COUNTS,
        "calls_done": st.integers(0, 32767),
        "calls_planned": st.integers(0, 32767),
        "last_synced_at": st.one_of(st.none(), TIMES),
        "chat_read_at": st.one_of(st.none(), TIMES),
        "drift": st.one_of(st.none(), st.fixed_dictionaries({}, optional={
            "deleted": st.booleans(), "renamed_from": NAMES, "renamed_to": NAMES,
            "added": CONVERSATIONS, "removed": CONVERSATIONS})),
        "lock_until": st.one_of(st.none(), TIMES),
    }), st.lists(st.tuples(st.one_of(st.none(), CODES), text(max_size=30), st.one_of(st.none(), TIMES)),
                 max_size=3), st.sampled_from(["UTC", "Asia/Shanghai", "Pacific/Kiritimati", "America/Adak"]))


@pytest.mark.django_db
def test_the_group_page_and_its_status_read_any_stored_outcome(staff_client, owner, make_group, settings):
    settings.SYNC_PAGE_READ_TIMEOUT = 0  # the stored values only: the page reads nothing from Chat
    @FUZZ
    @given(odd=odd_groups())
    def check(odd):
        fields, answers, zone = odd
        if fields["drift"] is not None and fields["chat_read_at"] is None:
            fields["chat_read_at"] = timezone.now()  # a drift is found by a reading of Chat, which has its time
        settings.TIME_ZONE = zone
        ContactGroup.objects.all().delete()
        group = make_group(owner, "odd", [(C2C, f"user_{n:04d}") for n in range(len(answers))], **fields)
        for item, (code, info, at) in zip(group.items.order_by("pk"), answers, strict=True):
            ContactItem.objects.filter(pk=item.pk).update(result_code=code, result_info=info, result_at=at)
        for url in (reverse("admin:contactgroups_contactgroup_change", args=[group.pk]),
                    reverse("admin:contactgroups_contactgroup_history", args=[group.pk]),
                    reverse("admin:contactgroups_contactgroup_changelist"),
                    reverse("admin:contactgroups_contactgroup_status", args=[group.pk]),
                    HEALTH):
            assert_readable(staff_client.get(url))

    check()
