"""What a load balancer and a monitoring system ask of imadmin: whether it can work now, and its figures.

``health()`` says whether this process can serve and have its syncs done: the database answers, the broker (when
one is configured) answers, and a Celery worker was seen within ``HEALTH_WORKER_SEEN_SECONDS`` (each worker notes
the time in the broker's Redis at start and at each of its heartbeats). Its reasons are fixed words, never an
exception's text, which could name a host or hold a password.

``metrics_text()`` is the Prometheus exposition of figures read from the database at scrape time, so any web
process on any machine gives the whole deployment's: the Chat calls by operation (counted a minute in
``CallMinute``, kept when the audit is pruned, so the totals only grow), the refusals by code, the throttled
calls, how long the calls took, the groups by sync state, the tasks waiting in the broker's queue and the age of
the drift sweep's last read.
"""

import time

import redis
from celery.signals import heartbeat_sent, worker_ready
from django.db import connection
from django.db.models import Count, Sum
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily

from contactgroups.conf import app_settings
from contactgroups.models import CallMinute, ContactGroup, RefusalMinute, SyncAttempt
from contactgroups.models.audit import sweep_account

# Where a worker notes when it was last seen, in the broker's Redis.
WORKER_SEEN_KEY = "imadmin:worker-seen"
# Celery's default queue: a Redis list of the tasks waiting for a worker.
QUEUE = "celery"


def _broker():
    """A client of the broker's Redis, each wait bounded as a publish is; None without a Redis broker."""
    url = app_settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    options = app_settings.CELERY_BROKER_TRANSPORT_OPTIONS
    return redis.Redis.from_url(url, socket_connect_timeout=options.get("socket_connect_timeout", 0.5),
                                socket_timeout=options.get("socket_timeout", 1.0))


def note_worker_seen(**_signal) -> None:
    """Note that a worker is alive now (Celery's ``worker_ready`` and ``heartbeat_sent`` signals)."""
    broker = _broker()
    if broker is None:
        return
    try:
        broker.set(WORKER_SEEN_KEY, f"{time.time():.3f}", ex=max(1, int(app_settings.HEALTH_WORKER_SEEN_SECONDS)))
    except redis.RedisError:
        pass  # the broker is down: the worker cannot take tasks either, and /health/ says so


worker_ready.connect(note_worker_seen, weak=False)
heartbeat_sent.connect(note_worker_seen, weak=False)


def health() -> tuple[bool, dict[str, str]]:
    """Whether imadmin can serve and sync now, and each check's finding in fixed words."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # any failure to reach the database
        checks["database"] = "unreachable"
    broker = _broker()
    if broker is None:
        checks["broker"] = "none configured (syncs run in the web process)"
    else:
        try:
            seen = broker.get(WORKER_SEEN_KEY)
            checks["broker"] = "ok"
        except redis.RedisError:
            checks["broker"] = "unreachable"
        else:
            if seen is None:
                checks["worker"] = f"none seen in the last {app_settings.HEALTH_WORKER_SEEN_SECONDS:g} s"
            else:
                checks["worker"] = f"seen {max(0.0, time.time() - float(seen)):.0f} s ago"
    healthy = checks["database"] == "ok" and checks["broker"] != "unreachable" and not checks.get(
        "worker", "seen").startswith("none")
    return healthy, checks


class DatabaseCollector:
    """The deployment's figures, read from the database (and the broker's queue) when Prometheus asks."""

    def collect(self):
        calls = CounterMetricFamily("imadmin_chat_calls", "Chat calls made, by operation (endpoint).",
                                    labels=["operation"])
        failed = CounterMetricFamily("imadmin_chat_calls_failed", "Chat calls that failed, by operation.",
                                     labels=["operation"])
        throttled = CounterMetricFamily("imadmin_chat_calls_throttled",
                                        "Chat calls refused for going over Chat's rate, by operation.",
                                        labels=["operation"])
        durations = SummaryMetricFamily("imadmin_chat_call_duration_seconds",
                                        "How long Chat calls took, by operation (a page's reads are "
                                        "get_contact_group and get_list).", labels=["operation"])
        totals = (CallMinute.objects.order_by().values("operation")
                  .annotate(calls=Sum("calls"), failed=Sum("failed"), throttled=Sum("throttled"),
                            milliseconds=Sum("duration_total_ms")))
        for row in totals:
            labels = [row["operation"]]
            calls.add_metric(labels, row["calls"])
            failed.add_metric(labels, row["failed"])
            throttled.add_metric(labels, row["throttled"])
            durations.add_metric(labels, count_value=row["calls"], sum_value=(row["milliseconds"] or 0) / 1000)
        yield from (calls, failed, throttled, durations)

        refusals = CounterMetricFamily("imadmin_chat_refusals", "Chat calls refused with a code, whole or for a "
                                       "conversation, by code.", labels=["code"])
        for row in RefusalMinute.objects.order_by().values("code").annotate(calls=Sum("calls")):
            refusals.add_metric([str(row["code"])], row["calls"])
        yield refusals

        groups = GaugeMetricFamily("imadmin_groups", "Conversation groups, by sync state.", labels=["state"])
        counted = dict(ContactGroup.objects.order_by().values_list("state").annotate(Count("pk")))
        for state in ContactGroup.State.values:
            groups.add_metric([state], counted.get(state, 0))
        yield groups

        queue = GaugeMetricFamily("imadmin_queue_length", "Tasks waiting in the broker's queue for a worker "
                                  "(-1: the broker cannot be reached; 0 without a broker).")
        broker = _broker()
        try:
            queue.add_metric([], broker.llen(QUEUE) if broker is not None else 0)
        except redis.RedisError:
            queue.add_metric([], -1)
        yield queue

        sweep = GaugeMetricFamily("imadmin_drift_sweep_age_seconds", "Seconds since the drift sweep last read "
                                  "Chat (-1: it never did).")
        sweep_actor = sweep_account()
        last = (SyncAttempt.objects.filter(actor_id=sweep_actor).order_by("-started_at")
                .values_list("started_at", flat=True).first() if sweep_actor is not None else None)
        sweep.add_metric([], time.time() - last.timestamp() if last else -1)
        yield sweep


def metrics_text() -> bytes:
    """The Prometheus text exposition of ``DatabaseCollector``'s figures."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return generate_latest(registry)
