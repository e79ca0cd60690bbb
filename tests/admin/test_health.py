"""The sync-health page and the counts a minute it reads: written with the audit by every sync path, matching it."""

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contactgroups import sync, words
from contactgroups.chat import errors, protocol
from contactgroups.conf import chat_client
from contactgroups.models import (
    CallMinute,
    ChatUser,
    ContactGroup,
    RefusalMinute,
    SyncAttempt,
    SyncAttemptRefusal,
)
from contactgroups.models.health import count_calls, minute_of
from contactgroups.sync import pipeline, store

C2C = protocol.TYPE_C2C
HEALTH = reverse("admin:contactgroups_health")
CREATE = "create_contact_group"
UPDATE = "update_contact_group"
READ = "get_contact_group"


def audit_counts():
    """What the minutes' counts must hold, counted from the audit rows one by one."""
    calls = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    refusals = defaultdict(int)
    items = defaultdict(set)
    for attempt_id, code in SyncAttemptRefusal.objects.values_list("attempt_id", "code"):
        items[attempt_id].add(code)
    for attempt in SyncAttempt.objects.all():
        minute = attempt.started_at.astimezone(UTC).replace(second=0, microsecond=0)
        row = calls[(minute, attempt.operation)]
        row[0] += 1
        row[1] += attempt.outcome in (SyncAttempt.Outcome.REFUSED, SyncAttempt.Outcome.NO_ANSWER)
        row[2] += attempt.outcome == SyncAttempt.Outcome.PARTIAL
        row[3] += attempt.error_code in errors.THROTTLING_CODES
        row[4] += attempt.duration_ms
        row[5] = max(row[5], attempt.duration_ms)
        for code in items[attempt.pk] | ({attempt.error_code} if attempt.error_code else set()):
            refusals[(minute, code)] += 1
    return dict(calls), dict(refusals)


def minute_counts():
    calls = {(row.minute, row.operation): [row.calls, row.failed, row.partial, row.throttled, row.duration_total_ms,
                                           row.duration_max_ms] for row in CallMinute.objects.all()}
    refusals = {(row.minute, row.code): row.calls for row in RefusalMinute.objects.all()}
    return calls, refusals


def call(operation=CREATE, *, started=None, outcome=SyncAttempt.Outcome.OK, error_code=None, codes=(),
         duration_ms=20, group=None, owner="user_0001"):
    """A Chat call written as the audit writes one: its row, its refusal codes, its minute's counts."""
    attempt = SyncAttempt.objects.create(
        group=group, owner_user_id=owner, group_name=group.name if group else "", operation=operation, request={},
        outcome=outcome, error_code=error_code, started_at=started or timezone.now(), duration_ms=duration_ms)
    SyncAttemptRefusal.objects.bulk_create(SyncAttemptRefusal(attempt=attempt, code=code) for code in codes)
    count_calls([(attempt, tuple(codes))])
    return attempt


# The counts, as each sync path writes them ------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_sync_counts_each_call_in_its_minute_as_the_audit_holds_it(owner, make_group, staff, chat_sandbox):
    chat_sandbox.import_accounts(owner.user_id, "user_0002")
    group = make_group(owner, "work", [(C2C, "user_0002"), (C2C, "user_9")])
    sync.sync_group(group.pk, staff.pk)
    chat_sandbox.set_faults(fail_rate=1.0, fail_codes=(errors.RATE_LIMITED,), endpoints=(protocol.GET_CONTACT_GROUP,),
                            max_faults=1)
    sync.sync_group(group.pk, staff.pk)

    calls, refusals = minute_counts()
    assert (calls, refusals) == audit_counts()
    assert sum(row[0] for row in calls.values()) == SyncAttempt.objects.count() >= 3
    assert sum(row[3] for row in calls.values()) >= 1  # the throttled read
    assert {code for _minute, code in refusals} == {errors.ACCOUNT_NOT_IMPORTED, errors.RATE_LIMITED}


@pytest.mark.django_db(transaction=True)
def test_a_bulk_batch_counts_its_calls_once_committed_in_one_statement(owner, make_group, staff, chat_sandbox):
    users = [ChatUser.objects.create(user_id=f"owner_{n}") for n in range(3)]
    chat_sandbox.import_accounts(*[user.user_id for user in users], "peer_1")
    pks = [make_group(users[n % 3], f"group {n}", [(C2C, "peer_1"), (C2C, "nobody")]).pk for n in range(12)]
    claimed, _others = pipeline.claim_many(pks)
    with chat_client() as client:
        done = pipeline.send_all(claimed, staff.pk, client)

    with CaptureQueriesContext(connection) as saved:
        store.store_many(done, staff.pk)

    counting = [query["sql"] for query in saved if "callminute" in query["sql"].lower()
                or "refusalminute" in query["sql"].lower()]
    assert len(counting) == 2  # one for the calls, one for the codes they refused conversations with
    assert minute_counts() == audit_counts()
    assert CallMinute.objects.get(operation=CREATE).calls == 12
    assert RefusalMinute.objects.get(code=errors.ACCOUNT_NOT_IMPORTED).calls == 12


@pytest.mark.django_db
def test_counting_adds_to_what_another_writer_counted_in_the_same_minute():
    started = datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC)
    call(started=started, duration_ms=40)
    call(started=started + timedelta(seconds=50), duration_ms=90, outcome=SyncAttempt.Outcome.REFUSED,
         error_code=errors.RATE_LIMITED)
    call(started=started + timedelta(seconds=56), operation=READ)

    row = CallMinute.objects.get(operation=CREATE)
    assert (row.minute, row.calls, row.failed, row.throttled, row.duration_total_ms, row.duration_max_ms) == (
        datetime(2026, 3, 1, 12, 30, tzinfo=UTC), 2, 1, 1, 130, 90)
    assert minute_counts() == audit_counts()


BEFORE = [("contactgroups", "0008_drift")]
AFTER = [("contactgroups", "0011_health")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_calls_already_in_the_audit_and_goes_back():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Attempt, Refusal = old.get_model("contactgroups", "SyncAttempt"), old.get_model("contactgroups",
                                                                                    "SyncAttemptRefusal")
    fields = {"owner_user_id": "user_0001", "request": {}, "started_at": "2026-01-01T00:00:10Z"}
    partial = Attempt.objects.create(operation=CREATE, outcome="partial", duration_ms=10, **fields)
    Refusal.objects.create(attempt=partial, code=50001)
    Refusal.objects.create(attempt=partial, code=51007)
    Attempt.objects.create(operation=CREATE, outcome="refused", error_code=60007, duration_ms=30, **fields)
    refused = Attempt.objects.create(operation=UPDATE, outcome="refused", error_code=51007, duration_ms=5, **fields)
    Refusal.objects.create(attempt=refused, code=51007)  # counted once: one call, one code
    Attempt.objects.create(operation=CREATE, outcome="ok", error_code=0, duration_ms=7,
                           **{**fields, "started_at": "2026-01-01T00:01:00Z"})

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    minute = datetime(2026, 1, 1, tzinfo=UTC)
    calls = {(row.minute, row.operation): (row.calls, row.failed, row.partial, row.throttled, row.duration_total_ms,
                                           row.duration_max_ms)
             for row in new.get_model("contactgroups", "CallMinute").objects.all()}
    assert calls == {(minute, CREATE): (2, 1, 1, 1, 40, 30), (minute, UPDATE): (1, 1, 0, 0, 5, 5),
                     (minute + timedelta(minutes=1), CREATE): (1, 0, 0, 0, 7, 7)}
    refusals = {(row.minute, row.code): row.calls
                for row in new.get_model("contactgroups", "RefusalMinute").objects.all()}
    assert refusals == {(minute, 50001): 1, (minute, 51007): 2, (minute, 60007): 1}

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    assert "contactgroups_callminute" not in connection.introspection.table_names()
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


# The page ------------------------------------------------------------------------------------------------------

def section(html, name):
    found = re.search(rf'<section class="health-section" id="health-{name}">(.*?)</section>', html, re.S)
    assert found, name
    return found.group(1)


def cells(html):
    """The rows of a section's tables as lists of their cells' text."""
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S):
        rows.append([re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row,
                                                                                    re.S)])
    return rows


@pytest.fixture
def history(owner, make_group):
    """Groups in several states and the calls of a week: what the page sums up."""
    now = timezone.now()
    failed = make_group(owner, "failing", state=ContactGroup.State.FAILED, last_error_code=errors.GROUP_NOT_FOUND)
    partial = make_group(owner, "half", state=ContactGroup.State.PARTIAL, refused_count=1)
    make_group(owner, "fine", state=ContactGroup.State.SYNCED)
    drifted = make_group(owner, "changed", state=ContactGroup.State.SYNCED, drift={"renamed_from": "changed",
                                                                                  "renamed_to": "moved"},
                         chat_read_at=now - timedelta(minutes=5))
    calls = {
        "recent": [call(started=now - timedelta(minutes=m), duration_ms=10 + m) for m in range(3)],
        "slow": call(UPDATE, started=now - timedelta(hours=3), duration_ms=4000, group=failed),
        "refused": call(UPDATE, started=now - timedelta(hours=2), outcome=SyncAttempt.Outcome.REFUSED,
                        error_code=errors.GROUP_NOT_FOUND, group=failed),
        "partial": call(started=now - timedelta(minutes=20), outcome=SyncAttempt.Outcome.PARTIAL,
                        codes=[errors.ACCOUNT_NOT_IMPORTED], group=partial),
        "old": call(UPDATE, started=now - timedelta(days=3), outcome=SyncAttempt.Outcome.REFUSED,
                    error_code=errors.GROUP_NOT_FOUND, duration_ms=9000),
        "older": call(started=now - timedelta(days=10), outcome=SyncAttempt.Outcome.REFUSED,
                      error_code=errors.RATE_LIMITED),
    }
    return {"failed": failed, "partial": partial, "drifted": drifted, "calls": calls}


@pytest.mark.django_db
def test_the_page_counts_the_groups_by_state_with_links_to_them(admin_client, history):
    html = admin_client.get(HEALTH).content.decode()
    rows = {row[0]: row[1] for row in cells(section(html, "states"))[1:]}
    assert rows[str(ContactGroup.State.FAILED.label)] == "1" and rows[str(ContactGroup.State.SYNCED.label)] == "2"
    assert rows["All groups"] == "4"
    assert 'href="/admin/contactgroups/contactgroup/?state=failed"' in section(html, "states")


@pytest.mark.django_db
def test_the_page_counts_refusals_by_code_over_a_day_and_a_week_linking_to_the_calls(admin_client, history):
    html = section(admin_client.get(HEALTH).content.decode(), "refusals")
    rows = {row[0]: row[1:] for row in cells(html)[1:]}
    assert rows == {
        f"{errors.GROUP_NOT_FOUND}: {words.meaning(errors.GROUP_NOT_FOUND)}": ["1", "2"],
        f"{errors.ACCOUNT_NOT_IMPORTED}: {words.meaning(errors.ACCOUNT_NOT_IMPORTED)}": ["1", "1"],
    }  # the call of ten days ago is left out
    assert f'href="/admin/contactgroups/syncattempt/?error_code={errors.GROUP_NOT_FOUND}&amp;started=week"' in html


@pytest.mark.django_db
def test_the_page_shows_each_calls_count_against_chats_cap_in_staff_words(admin_client, history):
    html = section(admin_client.get(HEALTH).content.decode(), "calls")
    rows = {row[0]: row[1:] for row in cells(html)[1:]}
    cap = protocol.CALLS_PER_SECOND_MAX * 60
    assert rows["create a group"][:4] == ["4", "4", "1 (0.0% of the cap)", f"{cap:,}"]
    assert rows["change a group"][:2] == ["0", "2"]
    assert CREATE not in re.sub(r"<[^>]+>", "", html)  # the words staff read name no endpoint


@pytest.mark.django_db
def test_the_page_lists_the_slowest_calls_of_the_day_linking_to_each(admin_client, history):
    html = section(admin_client.get(HEALTH).content.decode(), "slowest")
    durations = [row[-1] for row in cells(html)[1:]]
    assert durations == ["4,000", "20", "20", "12", "11", "10"]  # not the 9000 ms call of three days ago
    assert reverse("admin:contactgroups_syncattempt_change", args=[history["calls"]["slow"].pk]) in html


@pytest.mark.django_db
def test_the_page_lists_the_failing_groups_and_what_changed_in_the_app(admin_client, history):
    html = admin_client.get(HEALTH).content.decode()
    failing = section(html, "failing")
    assert {row[0] for row in cells(failing)[1:]} == {"failing", "half"}
    assert reverse("admin:contactgroups_contactgroup_change", args=[history["failed"].pk]) in failing
    assert words.sync_state_text("failed", error_code=errors.GROUP_NOT_FOUND) in failing
    drift = section(html, "drift")
    assert "1 group was changed in the app since it was synced" in drift
    assert "?drift=yes&amp;state=all" in drift
    assert words.drift_lines(history["drifted"].sync.drift, "user_0001")[0] in drift.replace("&#x27;", "'")


@pytest.mark.django_db
def test_the_page_needs_the_view_permission_and_the_index_links_to_it(client, django_user_model, history):
    clerk = django_user_model.objects.create_user("clerk", password="clerk-password", is_staff=True)
    client.force_login(clerk)
    assert client.get(HEALTH).status_code == 403
    assert HEALTH not in client.get(reverse("admin:index")).content.decode()
    clerk.user_permissions.add(Permission.objects.get(codename="view_contactgroup"))
    assert client.get(HEALTH).status_code == 200
    assert HEALTH in client.get(reverse("admin:index")).content.decode()
    client.logout()
    assert client.get(HEALTH).status_code == 302


@pytest.mark.django_db
def test_the_page_in_chinese(admin_client, history):
    html = admin_client.get(HEALTH, headers={"accept-language": "zh-hans"}).content.decode()
    assert "同步健康状况" in html and "创建分组" in html and "各状态的分组" in html


@pytest.mark.django_db
def test_the_page_takes_as_many_queries_at_ten_times_the_calls(admin_client, owner, make_group, history,
                                                                django_assert_num_queries):
    admin_client.get(HEALTH)  # the session and the content types, read once
    with django_assert_num_queries(QUERIES):
        small = admin_client.get(HEALTH)
    now = timezone.now()
    for n in range(200):
        group = make_group(owner, f"more {n}", state=ContactGroup.State.FAILED if n % 2 else ContactGroup.State.PARTIAL,
                           drift={"deleted": True} if n % 3 == 0 else None)
        call(UPDATE if n % 2 else CREATE, started=now - timedelta(minutes=n * 7), duration_ms=n,
             outcome=SyncAttempt.Outcome.PARTIAL, codes=[50001 + n % 5 * 1000], group=group)
    with django_assert_num_queries(QUERIES):
        large = admin_client.get(HEALTH)
    assert small.status_code == large.status_code == 200
    assert len(cells(section(large.content.decode(), "failing"))) > len(cells(section(small.content.decode(),
                                                                                     "failing")))


# The session, the user, their language; then when Chat was last reached (two), the groups, the calls (two), the
# refusals, the slowest (two), the failing groups, the groups changed in the app.
QUERIES = 3 + 10


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_page_says_first_since_when_chat_cannot_be_reached_and_when_it_was_last(admin_client, owner, make_group,
                                                                                     staff, chat_sandbox, language):
    said = {
        "en": ("No call has been made to Chat yet.", "Chat cannot be reached: no call has reached it since {}",
               "The last call that reached it was at {}.", "Chat was last reached at {}."),
        "zh-hans": ("尚未调用过 IM。", "无法连接 IM：自 {} 起没有任何调用到达 IM", "最后一次到达 IM 的调用在 {}。",
                    "最后一次到达 IM 的调用在 {}。"),
    }[language]

    def top():
        html = admin_client.get(HEALTH, headers={"accept-language": language}).content.decode()
        assert html.index('id="health-reach"') < html.index('id="health-states"')
        return " ".join(re.sub(r"<[^>]+>", " ", section(html, "reach")).split())

    def shown(moment):
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")

    assert top() == said[0]
    chat_sandbox.import_accounts(owner.user_id, "user_0002")
    sync.sync_group(make_group(owner, "work", [(C2C, "user_0002")]).pk, staff.pk)
    reached = SyncAttempt.objects.latest("started_at").started_at
    assert top() == said[3].format(shown(reached))

    chat_sandbox.stop()
    with pytest.raises(errors.ChatConnectError):
        sync.sync_group(make_group(owner, "while down", [(C2C, "user_0002")]).pk, staff.pk)
    down_since = SyncAttempt.objects.filter(outcome=SyncAttempt.Outcome.NOT_SENT).earliest("started_at").started_at
    text = top()
    assert said[1].format(shown(down_since)) in text and said[2].format(shown(reached)) in text

    chat_sandbox.start()
    sync.sync_group(ContactGroup.objects.get(name="while down").pk, staff.pk)
    assert top() == said[3].format(shown(SyncAttempt.objects.latest("started_at").started_at))


def test_minute_of_is_the_utc_minute():
    assert minute_of(datetime(2026, 1, 1, 20, 5, 59, 999, tzinfo=timezone.get_fixed_timezone(480))) == datetime(
        2026, 1, 1, 12, 5, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_writers_in_several_threads_counting_the_same_minute_lose_no_call():
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    started = timezone.now()
    attempts = [SyncAttempt(operation=CREATE, outcome=SyncAttempt.Outcome.REFUSED, error_code=errors.RATE_LIMITED,
                            started_at=started, duration_ms=n) for n in range(1, 6)]

    def write(_n):
        try:
            for _ in range(10):
                count_calls([(attempt, ()) for attempt in attempts])
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))

    row = CallMinute.objects.get()
    assert (row.calls, row.failed, row.throttled, row.duration_total_ms, row.duration_max_ms) == (200, 200, 200,
                                                                                                   600, 5)
    assert RefusalMinute.objects.get(code=errors.RATE_LIMITED).calls == 200
