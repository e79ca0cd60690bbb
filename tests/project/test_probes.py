"""``/health/`` answers a load balancer and ``/metrics`` Prometheus, with real Redis, a real worker and a real
database (a stopped one in a second process), and Sentry gets errors when SENTRY_DSN is set (a Sentry stand-in on
loopback receives them)."""

import gzip
import http.server
import json
import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from contactgroups.chat import errors
from contactgroups.models import ContactGroup, SyncAttempt
from contactgroups.models.health import count_calls
from tests.services import ROOT, free_port

pytestmark = pytest.mark.django_db

HEALTH, METRICS = "/health/", "/metrics"


def health(client, **headers):
    response = client.get(HEALTH, **headers)
    assert response["Content-Type"] == "application/json" and response["Cache-Control"] == "no-store"
    return response.status_code, json.loads(response.content)


def test_health_without_a_broker_checks_the_database(client, settings):
    settings.CELERY_BROKER_URL = ""
    assert health(client) == (200, {"status": "ok", "checks": {
        "database": "ok", "broker": "none configured (syncs run in the web process)"}})


def test_health_is_answered_to_any_host_over_plain_http_without_a_cookie(client, settings):
    """A load balancer asks each process by its own address, over HTTP: no redirect, no host check, no session."""
    settings.CELERY_BROKER_URL = ""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["admin.example.org"]
    response = client.get(HEALTH, HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert not response.cookies


def test_health_with_a_broker_and_no_worker_is_503_and_says_so(client, settings, redis_server):
    settings.CELERY_BROKER_URL = redis_server.url.rsplit("/", 1)[0] + "/7"  # a database no worker of the run used
    assert health(client) == (503, {"status": "unavailable", "checks": {
        "database": "ok", "broker": "ok", "worker": "none seen in the last 60 s"}})


def test_health_with_a_worker_running_is_200(client, celery_worker, settings):
    status, body = health(client)
    assert status == 200, body
    assert body["checks"]["broker"] == "ok" and body["checks"]["worker"].startswith("seen ")
    assert body["checks"]["worker"].endswith(" s ago")


def test_health_with_the_broker_unreachable_is_503_and_keeps_its_address_secret(client, settings):
    settings.CELERY_BROKER_URL = f"redis://:s3cret-password@127.0.0.1:{free_port()}/0"
    status, body = health(client)
    assert (status, body["checks"]["broker"]) == (503, "unreachable")
    assert "s3cret" not in json.dumps(body) and "127.0.0.1" not in json.dumps(body)


def test_health_with_the_database_unreachable_is_503_and_keeps_its_address_secret():
    """In a process of its own whose DATABASE_URL names a closed port (with a password)."""
    script = ("import django, json; django.setup(); from django.test import Client; "
              "r = Client().get('/health/'); print(r.status_code, r.content.decode())")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "CELERY_BROKER_URL": "",
           "DATABASE_URL": f"postgres://imadmin:s3cret-password@127.0.0.1:{free_port()}/imadmin"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    status, body = result.stdout.strip().split(" ", 1)
    assert status == "503", result.stderr
    assert json.loads(body)["checks"]["database"] == "unreachable"
    assert "s3cret" not in body


@pytest.fixture
def figures(owner, make_group, settings, django_user_model):
    """Three creates (one throttled), a partly refused update, groups in two states, a sweep read 2 minutes ago."""
    now = timezone.now()

    def call(operation, outcome=SyncAttempt.Outcome.OK, error_code=0, refused=(), ms=20, actor=None, ago=0):
        attempt = SyncAttempt.objects.create(owner_user_id=owner.user_id, operation=operation, request={},
                                             outcome=outcome, error_code=error_code, duration_ms=ms, actor=actor,
                                             started_at=now - timedelta(seconds=ago))
        count_calls([(attempt, tuple(refused))])

    call("create_contact_group", ms=100)
    call("create_contact_group", ms=300)
    call("create_contact_group", SyncAttempt.Outcome.REFUSED, errors.RATE_LIMITED, ms=100)
    call("update_contact_group", SyncAttempt.Outcome.PARTIAL, refused=[50001], ms=50)
    sweep = django_user_model.objects.create_user(settings.SYNC_DRIFT_SWEEP_USER, is_active=False)
    call("get_contact_group", actor=sweep, ago=120)
    make_group(owner, "one", [], state=ContactGroup.State.SYNCED)
    make_group(owner, "two", [], state=ContactGroup.State.SYNCED)
    make_group(owner, "three", [], state=ContactGroup.State.FAILED)


def samples(text: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def test_metrics_give_the_deployments_figures_from_the_database(client, figures, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get(METRICS)  # the test client's address is 127.0.0.1, allowed by default
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    found = samples(response.content.decode())
    assert found['imadmin_chat_calls_total{operation="create_contact_group"}'] == 3
    assert found['imadmin_chat_calls_throttled_total{operation="create_contact_group"}'] == 1
    assert found['imadmin_chat_calls_failed_total{operation="create_contact_group"}'] == 1
    assert found['imadmin_chat_call_duration_seconds_sum{operation="create_contact_group"}'] == pytest.approx(0.5)
    assert found['imadmin_chat_call_duration_seconds_count{operation="create_contact_group"}'] == 3
    assert found['imadmin_chat_refusals_total{code="60007"}'] == 1
    assert found['imadmin_chat_refusals_total{code="50001"}'] == 1
    assert found['imadmin_groups{state="synced"}'] == 2
    assert found['imadmin_groups{state="failed"}'] == 1
    assert found['imadmin_groups{state="draft"}'] == 0
    assert found["imadmin_queue_length"] == 0
    assert 100 < found["imadmin_drift_sweep_age_seconds"] < 3600


def test_metrics_count_the_tasks_waiting_in_the_brokers_queue(client, settings, redis_server, owner, make_group):
    from contactgroups import tasks
    from imadmin.celery import app
    from tests.conftest import forget_broker_pools

    settings.CELERY_BROKER_URL = broker = redis_server.url.rsplit("/", 1)[0] + "/8"
    previous = app.conf.broker_url
    forget_broker_pools(app)
    app.conf.broker_url = broker
    try:
        import redis

        redis.Redis.from_url(broker).delete("celery")
        for number in range(2):
            tasks.sync_group_task.delay(make_group(owner, f"g{number}", []).pk, None)
        assert samples(client.get(METRICS).content.decode())["imadmin_queue_length"] == 2
    finally:
        app.conf.broker_url = previous
        forget_broker_pools(app)


@pytest.mark.parametrize("address, authorization, allowed", [
    ("10.1.2.3", "", False),
    ("10.1.2.3", "Bearer the-token", True),
    ("10.1.2.3", "Bearer another-token", False),
    ("192.168.5.9", "", True),  # in an allowed network
    ("::1", "", True),
])
def test_metrics_answer_only_allowed_addresses_or_the_token(client, settings, address, authorization, allowed):
    settings.CELERY_BROKER_URL = ""
    settings.METRICS_TOKEN = "the-token"
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "::1", "192.168.5.0/24"]
    response = client.get(METRICS, REMOTE_ADDR=address, HTTP_AUTHORIZATION=authorization)
    assert response.status_code == (200 if allowed else 403)
    assert (b"imadmin_groups" in response.content) == allowed


def test_no_token_set_lets_no_one_in_by_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get(METRICS, REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer ").status_code == 403


class SentryStandIn(http.server.BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.django_db(transaction=False)
def test_errors_go_to_sentry_when_a_dsn_is_set_and_carry_no_secret():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SentryStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SentryStandIn.received = []
    secret = "0123456789abcdef-chat-secret"
    script = ("import django, logging, sentry_sdk; django.setup(); "
              "logging.getLogger('contactgroups').error('a sync failed for a test'); sentry_sdk.flush(10)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "imadmin.settings", "IMADMIN_ENV_FILE": "",
           "SECRET_KEY": "x" * 50, "CHAT_SECRET_KEY": secret, "DATABASE_URL": "sqlite:///:memory:",
           "SENTRY_DSN": f"http://publickey@127.0.0.1:{server.server_port}/42"}
    try:
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=60)
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    sent = b"".join(SentryStandIn.received)
    assert b"a sync failed for a test" in sent
    assert secret.encode() not in sent
