"""The audit is bounded: ``prune_audit`` and Celery beat's ``prune_audit_task`` delete the drift sweep's reads past
AUDIT_KEEP_SWEEP_DAYS and every other Chat call past AUDIT_KEEP_DAYS, a batch a statement, and keep the rest, the
refusal codes of what they keep and the health page's counts a minute."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import override

from contactgroups.models import CallMinute, SyncAttempt, SyncAttemptRefusal
from contactgroups.models.health import count_calls

pytestmark = pytest.mark.django_db


def call(actor, days_ago: float, refused=()):
    """A call as the audit writes one, ``days_ago`` days ago, counted in its minute."""
    attempt = SyncAttempt.objects.create(
        actor=actor, owner_user_id="user_0001", operation="get_contact_group", request={},
        outcome=SyncAttempt.Outcome.OK, started_at=timezone.now() - timedelta(days=days_ago), duration_ms=20)
    SyncAttemptRefusal.objects.bulk_create(SyncAttemptRefusal(attempt=attempt, code=code) for code in refused)
    count_calls([(attempt, tuple(refused))])
    return attempt


@pytest.fixture
def audit(staff, django_user_model, settings):
    """Calls either side of each limit: the sweep's (30 days), a staff user's and a call with no actor (400)."""
    sweep = django_user_model.objects.create_user(settings.SYNC_DRIFT_SWEEP_USER, is_active=False)
    return {
        "sweep old": call(sweep, 31, refused=[50001]),
        "sweep older": call(sweep, 90),
        "sweep recent": call(sweep, 29),
        "staff old": call(staff, 401, refused=[50001, 51007]),
        "staff a year": call(staff, 365),
        "staff recent": call(staff, 1, refused=[50001]),
        "nobody old": call(None, 401),
        "nobody a month": call(None, 31),
    }


def prune(*args) -> str:
    out = io.StringIO()
    call_command("prune_audit", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def kept():
    return set(SyncAttempt.objects.values_list("pk", flat=True))


def test_prune_deletes_the_sweeps_reads_after_30_days_and_other_calls_after_400(audit):
    minutes_before = list(CallMinute.objects.order_by("pk").values_list("minute", "calls"))

    said = prune()

    assert said == ("2 reads of the drift sweep older than 30 days deleted; "
                    "2 other Chat calls older than 400 days deleted.")
    assert kept() == {audit[name].pk for name in ("sweep recent", "staff a year", "staff recent", "nobody a month")}
    assert set(SyncAttemptRefusal.objects.values_list("attempt_id", "code")) == {(audit["staff recent"].pk, 50001)}
    # The counts a minute are small and kept: the health page still counts the deleted calls.
    assert list(CallMinute.objects.order_by("pk").values_list("minute", "calls")) == minutes_before
    assert prune() == ("0 reads of the drift sweep older than 30 days deleted; "
                       "0 other Chat calls older than 400 days deleted.")


def test_a_dry_run_counts_and_deletes_nothing(audit):
    before = kept()
    assert prune("--dry-run") == ("2 reads of the drift sweep older than 30 days would be deleted; "
                                  "2 other Chat calls older than 400 days would be deleted.")
    assert kept() == before
    assert SyncAttemptRefusal.objects.count() == 4


def test_the_retention_is_the_settings(audit, settings):
    settings.AUDIT_KEEP_DAYS = 30
    settings.AUDIT_KEEP_SWEEP_DAYS = 60
    prune()
    assert kept() == {audit["sweep old"].pk, audit["sweep recent"].pk, audit["staff recent"].pk}


def test_without_a_sweep_account_every_call_is_kept_as_long_as_a_staff_actions(staff):
    old, recent = call(None, 401), call(staff, 31)
    assert prune() == ("0 reads of the drift sweep older than 30 days deleted; "
                       "1 other Chat call older than 400 days deleted.")
    assert kept() == {recent.pk}
    assert old.pk not in kept()


def test_calls_are_deleted_a_batch_a_statement_oldest_first(staff, settings):
    settings.AUDIT_PRUNE_BATCH = 2
    calls = [call(staff, 401 + days) for days in range(5)]
    with CaptureQueriesContext(connection) as queries:
        prune()
    deletes = [query["sql"] for query in queries.captured_queries
               if query["sql"].startswith("DELETE FROM") and "contactgroups_syncattempt " in query["sql"] + " "]
    assert len(deletes) == 3  # 2, 2 and 1 calls: no statement holds the table for more than a batch
    assert sorted(sql.split(" IN (")[1].count(",") + 1 for sql in deletes) == [1, 2, 2]
    assert not kept() & {attempt.pk for attempt in calls}


def test_the_sentence_in_chinese(audit, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    with override("zh-hans"):
        said = prune("--dry-run")
    assert said == "将删除 2 次超过 30 天的定期巡检读取；将删除 2 次超过 400 天的其他 IM 调用。"


def test_beat_prunes_the_audit_with_the_same_rules(audit, settings):
    from contactgroups import tasks
    from imadmin.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["prune-audit"]
    assert app.tasks[entry["task"]].name == tasks.prune_audit_task.name
    assert entry["schedule"] == settings.AUDIT_PRUNE_SECONDS
    tasks.prune_audit_task()
    assert kept() == {audit[name].pk for name in ("sweep recent", "staff a year", "staff recent", "nobody a month")}


@pytest.mark.django_db
def test_a_batch_of_the_sweeps_reads_is_taken_in_index_order_not_sorted(staff):
    """The oldest of the sweep's expired reads come from the (actor, started_at) index in order: a batch neither
    walks past the calls kept longer nor sorts all the sweep's reads (at 20 million calls, the difference between
    a batch in milliseconds and one in minutes)."""
    from contactgroups.models.audit import Retention

    now = timezone.now()
    batch = (SyncAttempt.objects.past_sweep_retention(Retention(now, now, staff.pk))
             .order_by("started_at", "pk").values_list("pk", flat=True)[:1000])
    if connection.vendor == "sqlite":
        plan = batch.explain()
        assert "syncattempt_actor_started" in plan and "TEMP B-TREE" not in plan, plan
    else:
        # PostgreSQL's planner goes by the table's statistics, and on an empty or tiny table every index costs the
        # same: give it an audit where the sweep's expired reads are many more than a batch, among many more calls
        # of others.
        other = get_user_model().objects.create_user("someone_else", is_staff=True)
        long_ago = now - timedelta(days=500)
        SyncAttempt.objects.bulk_create(
            SyncAttempt(actor=staff if n % 10 == 0 else other, owner_user_id="user_0001",
                        operation="get_contact_group", request={}, outcome=SyncAttempt.Outcome.OK,
                        started_at=long_ago + timedelta(minutes=n), duration_ms=20)
            for n in range(20_000))
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {SyncAttempt._meta.db_table}")
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = batch.explain()
        assert "syncattempt_actor_started" in plan and "Sort" not in plan, plan


@pytest.mark.django_db
def test_the_other_calls_are_taken_in_index_order_not_sorted(staff):
    """The oldest of the other expired calls come from the (started_at, id) index in order."""
    from contactgroups.models.audit import Retention

    now = timezone.now()
    batch = (SyncAttempt.objects.past_retention(Retention(now, now, staff.pk))
             .order_by("started_at", "pk").values_list("started_at", "pk")[:1000])
    if connection.vendor == "sqlite":
        plan = batch.explain()
        assert "syncattempt_started" in plan and "TEMP B-TREE" not in plan, plan
    else:
        with connection.cursor() as cursor:
            # Nor, for the few rows it expects of an empty table, a bitmap of them then sorted.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            plan = batch.explain()
        assert "syncattempt_started" in plan and "Sort" not in plan, plan


def test_each_batch_starts_after_the_last_call_deleted_ties_included(staff, settings):
    """A batch's read begins where the batch before ended, not at the oldest call again (PostgreSQL keeps the deleted
    rows' index entries until VACUUM, so a read from the start would walk past more of them with each batch); calls
    started at the same instant either side of a batch's end are all deleted."""
    settings.AUDIT_PRUNE_BATCH = 2
    calls = [call(staff, 401 + days) for days in (4, 3, 3, 3, 2)]
    SyncAttempt.objects.filter(pk__in=[attempt.pk for attempt in calls[1:4]]).update(started_at=calls[1].started_at)
    with CaptureQueriesContext(connection) as queries:
        prune()
    assert not kept() & {attempt.pk for attempt in calls}
    reads = [query["sql"] for query in queries.captured_queries
             if query["sql"].startswith("SELECT") and "ORDER BY" in query["sql"] and "contactgroups_syncattempt" in
             query["sql"] and "DELETE" not in query["sql"]]
    # Three batches and the read that finds nothing left: each after the first bounded by the last call deleted.
    assert len(reads) == 4
    # The first batch ended at calls[1]: the second starts at its instant, after its id (calls[2] and [3] tie).
    assert calls[1].started_at.strftime("%Y-%m-%d") in reads[1] and f'"id" > {calls[1].pk})' in reads[1]
