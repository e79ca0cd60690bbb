"""The audit list at millions of calls: each filter's page is read from one index in the list's order, and a count
stops at a cap and says "more than" (bench/audit_scale.py times the same pages at 20 million calls)."""

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contactgroups.admin import paging
from contactgroups.models import SyncAttempt, SyncAttemptRefusal

pytestmark = pytest.mark.django_db

CALLS = reverse("admin:contactgroups_syncattempt_changelist")


def add_calls(count, start=0, **fields):
    """``count`` calls a minute apart, the first ``start`` minutes ago."""
    now = timezone.now()
    fields = {"outcome": "ok", "owner_user_id": "owner_1", "operation": "update_contact_group", **fields}
    return SyncAttempt.objects.bulk_create(
        SyncAttempt(request={}, started_at=now - timedelta(minutes=n), duration_ms=20, **fields)
        for n in range(start, start + count))


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of 10 calls, counted up to 5 calls past the page asked for."""
    monkeypatch.setattr(admin.site._registry[SyncAttempt], "list_per_page", 10)
    monkeypatch.setattr(paging, "COUNTED_PAST", 5)


# ----------------------------------------------------------------------------------------------------------------
# The count stops at a cap


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_long_list_says_more_than_the_calls_it_counted(admin_client, small_pages, language):
    add_calls(30)
    admin_client.cookies["django_language"] = language
    response = admin_client.get(CALLS, {"outcome": "ok"})
    assert response.context["cl"].result_count == 15  # the page of 10 and 5 more
    assert {"en": "More than 15 Chat calls", "zh-hans": "超过 15 条 IM 调用"}[language] in page_text(response)
    assert len(response.context["cl"].result_list) == 10


def test_a_later_page_is_counted_further_and_the_last_exactly(admin_client, small_pages):
    calls = add_calls(30)
    second = admin_client.get(CALLS, {"outcome": "ok", "p": "2"})
    assert second.context["cl"].result_count == 25 and "More than 25 Chat calls" in page_text(second)
    last = admin_client.get(CALLS, {"outcome": "ok", "p": "3"})
    assert last.context["cl"].result_count == 30 and "More than" not in page_text(last)
    assert "30 Chat calls" in page_text(last)
    assert [call.pk for call in last.context["cl"].result_list] == [call.pk for call in calls[20:]]


def test_a_search_says_more_than_the_results_it_counted(admin_client, small_pages):
    add_calls(20, owner_user_id="alice")
    add_calls(3, owner_user_id="bob")
    assert "More than 15 results" in page_text(admin_client.get(CALLS, {"q": "alice"}))
    assert "3 results" in page_text(admin_client.get(CALLS, {"q": "bob"}))


def test_the_errorcode_filter_lists_the_newest_of_answered_and_refused_calls_past_the_cap(admin_client, small_pages):
    """Of the calls answered with the code only the newest a page needs are read; those that refused a conversation
    with it, interleaved in time, still take their place."""
    calls = add_calls(40, error_code=50001)
    refused = add_calls(40, start=0, error_code=0, outcome="partial", refused_items=1, owner_user_id="owner_2")
    SyncAttemptRefusal.objects.bulk_create(SyncAttemptRefusal(attempt=call, code=50001) for call in refused[::2])
    newest = sorted(calls + refused[::2], key=lambda call: (call.started_at, call.pk), reverse=True)
    for page in (1, 4):
        response = admin_client.get(CALLS, {"error_code": "50001", "p": str(page)})
        assert [call.pk for call in response.context["cl"].result_list] == [
            call.pk for call in newest[(page - 1) * 10:page * 10]]
        assert response.context["cl"].result_count == page * 10 + 5
        assert f"More than {page * 10 + 5} Chat calls" in page_text(response)
    last = admin_client.get(CALLS, {"error_code": "50001", "p": "6"})
    assert last.context["cl"].result_count == 60
    assert [call.pk for call in last.context["cl"].result_list] == [call.pk for call in newest[50:]]


# ----------------------------------------------------------------------------------------------------------------
# Each filter's page is the first rows of one index, in order


def plan_of(page) -> str:
    """The plan of the query of ``page`` (a response: of its list's first page); on PostgreSQL, asked not to read
    the (nearly empty) tables whole, as a bitmap, or joined by hashing or merging, as it never would at millions of
    calls."""
    if hasattr(page, "context"):
        page = page.context["cl"].queryset[:100]
    if connection.vendor == "sqlite":
        return page.explain()
    settings = ("enable_seqscan", "enable_bitmapscan", "enable_hashjoin", "enable_mergejoin")
    with connection.cursor() as cursor:
        for setting in settings:
            cursor.execute(f"SET {setting} = off")
        try:
            return page.explain()
        finally:
            for setting in settings:
                cursor.execute(f"RESET {setting}")


@pytest.mark.parametrize(("params", "index"), [
    ({}, "syncattempt_shown_started"),
    ({"operation": "create_contact_group"}, "syncattempt_operation_started"),
    ({"outcome": "refused"}, "syncattempt_outcome_started"),
    ({"q": "owner_1"}, "syncattempt_owner_started"),
    ({"actor__id__exact": "1"}, "syncattempt_actor_started"),
], ids=["all", "endpoint", "outcome", "owner search", "staff member"])
def test_a_filtered_page_is_read_in_index_order_not_sorted(admin_client, admin_user, params, index):
    add_calls(3)
    plan = plan_of(admin_client.get(CALLS, {**params, **({"actor__id__exact": str(admin_user.pk)}
                                                         if "actor__id__exact" in params else {})}))
    assert index in plan, plan
    assert ("TEMP B-TREE" if connection.vendor == "sqlite" else "Sort") not in plan, plan


def test_the_errorcode_filter_reads_the_newest_answered_calls_from_an_index_in_order(admin_client):
    add_calls(3, error_code=50001)
    response = admin_client.get(CALLS, {"error_code": "50001"})
    plan = plan_of(response)
    assert "syncattempt_code_started" in plan, plan
    # At most one sort, of the page's few candidates; none of all the calls answered with the code.
    if connection.vendor == "sqlite":
        assert plan.count("TEMP B-TREE FOR ORDER BY") <= 1, plan
    else:
        assert "Backward using syncattempt_code_started" in plan, plan
    assert f"LIMIT {100 + paging.COUNTED_PAST + 1}" in str(response.context["cl"].queryset.query)


def test_a_deep_page_finds_its_calls_by_the_index_alone_then_reads_them(admin_client, small_pages):
    calls = add_calls(30)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CALLS, {"p": "3"})
    assert [call.pk for call in response.context["cl"].result_list] == [call.pk for call in calls[20:]]
    keys = [query["sql"] for query in queries.captured_queries
            if "OFFSET 20" in query["sql"] and "contactgroups_syncattempt" in query["sql"]]
    assert len(keys) == 1 and '"request"' not in keys[0], keys  # the skipped calls' columns are not read
    plan = plan_of(response.context["cl"].queryset.values_list("pk", flat=True)[20:30])
    assert ("COVERING INDEX syncattempt_shown_started" if connection.vendor == "sqlite"
            else "Index Only Scan Backward using syncattempt_shown_started") in plan, plan
