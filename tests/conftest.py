"""Fixtures shared by the whole suite."""

import kombu.pools
import pytest
from django.utils import timezone, translation

from contactgroups.chat import protocol
from contactgroups.models import ChatUser, ContactGroup, ContactItem, GroupSync, SyncAttempt

# The columns of a group's sync row (what Chat confirmed, the outcome, progress, the drift reading, the lease).
SYNC_COLUMNS = {field.name for field in GroupSync._meta.concrete_fields} - {"group", "owner"}


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: a request in another leaves its language active in the thread."""
    yield
    translation.deactivate()


@pytest.fixture
def owner(db):
    return ChatUser.objects.create(user_id="user_0001", nickname="Alice")


@pytest.fixture
def make_group(db):
    """Create a group straight in the database, bypassing the forms; ``fields`` of its sync row (``chat_group_id``,
    ``confirmed_name``, ``drift``, ...) are written there."""

    def make(owner, name, conversations=(), **fields):
        confirmed = {key: fields.pop(key) for key in list(fields) if key in SYNC_COLUMNS}
        group = ContactGroup.objects.create(owner=owner, name=name, **fields)
        if confirmed:
            for key, value in confirmed.items():
                setattr(group.sync, key, value)
            group.sync.save(update_fields=list(confirmed))
        ContactItem.objects.bulk_create(
            ContactItem(
                group=group,
                type=kind,
                to_account=target if kind == ContactItem.Type.C2C else "",
                to_group_id=target if kind == ContactItem.Type.GROUP else "",
            )
            for kind, target in conversations
        )
        group.refresh_counts()
        return group

    return make


@pytest.fixture
def rows(db, owner, make_group, staff):
    """One row of every model of the app, so every change, history and delete page has an object."""
    group = make_group(owner, "work", [(protocol.TYPE_C2C, "user_0002")])
    attempt = SyncAttempt.objects.create(
        group=group, owner_user_id=owner.user_id, group_name=group.name, actor=staff, operation="get_contact_group",
        request={"From_Account": owner.user_id}, outcome=SyncAttempt.Outcome.OK, started_at=timezone.now(),
        duration_ms=3,
    )
    return {"chatuser": owner, "contactgroup": group, "contactitem": group.items.get(), "syncattempt": attempt,
            "user": staff}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Before any fixture of the test is torn down (the database flushed, the sandbox stopped), what the test left
    to the in-process executor is dropped or ends: a sync still running would meet the flush of a transactional
    test's tables (a deadlock on PostgreSQL) or the next test's data."""
    from contactgroups.engine import LOCAL

    assert LOCAL.drain(timeout=120), "A background sync was still running two minutes after the test."
    yield


@pytest.fixture
def chat_sandbox(settings):
    """A running Chat sandbox the whole project talks to (CHAT_API_BASE_URL points at it)."""
    from contactgroups.chat.sandbox import SandboxServer
    from contactgroups.engine import LOCAL

    server = SandboxServer(settings.CHAT_SDKAPPID, settings.CHAT_SECRET_KEY, settings.CHAT_ADMIN_IDENTIFIER).start()
    settings.CHAT_API_BASE_URL = server.base_url
    settings.CELERY_BROKER_URL = ""
    yield server
    # What the test left to the in-process executor ends before the sandbox and the database go: no sync of this
    # test runs into the next.
    server.clear_faults()
    assert LOCAL.drain(timeout=120), "A background sync was still running two minutes after the test."
    server.stop()


@pytest.fixture
def background_syncs():
    """The in-process executor (no broker), where a save, a delete and the actions hand their syncs and pulls.
    ``background_syncs.wait()`` returns once every one handed over has ended (retries included), as a person who
    waits before reloading the page; the test then reads what staff and Chat see."""
    from contactgroups.engine import LOCAL

    class BackgroundSyncs:
        executor = LOCAL

        @staticmethod
        def wait(timeout: float = 60.0) -> None:
            assert LOCAL.wait_idle(timeout), f"The background syncs had not ended after {timeout} s."

    return BackgroundSyncs()


@pytest.fixture
def staff(django_user_model):
    """A superuser acting in the admin."""
    return django_user_model.objects.create_superuser("support", password="support-password")


@pytest.fixture
def staff_client(staff):
    """Django's test client, signed in as ``staff``."""
    from django.test import Client

    client = Client()
    client.force_login(staff)
    return client


class SecondFactor:
    """Staff's authenticators in tests: a confirmed TOTP device, and the code an app would show now."""

    @staticmethod
    def device(user):
        """Give ``user`` a confirmed authenticator, as the setup wizard leaves one."""
        from django_otp.plugins.otp_totp.models import TOTPDevice

        return TOTPDevice.objects.create(user=user, name="default", confirmed=True)

    @staticmethod
    def code(device_or_secret, offset: int = 0) -> str:
        """The code an authenticator app shows now (``offset`` steps of 30 s later) for a device, or for the base32
        secret the setup page shows."""
        import base64

        from django_otp.oath import totp

        if isinstance(device_or_secret, str):
            key, step, t0, digits, drift = base64.b32decode(device_or_secret), 30, 0, 6, 0
        else:
            device = device_or_secret
            key, step, t0, digits, drift = device.bin_key, device.step, device.t0, device.digits, device.drift
        return f"{totp(key, step=step, t0=t0, digits=digits, drift=drift + offset):0{digits}d}"


@pytest.fixture
def second_factor(settings):
    """Staff must log in with a second factor, as in production (tests/settings.py turns it off for the rest)."""
    settings.STAFF_SECOND_FACTOR = True
    return SecondFactor()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real Redis on a free loopback port for the whole run."""
    from tests.services import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def celery_workers(redis_server, chat_sandbox, settings, transactional_db, tmp_path):
    """Real Celery worker processes on the Redis broker, using the test database and the sandbox; none started yet.

    The admin (in this process) queues to the same broker. Yields a callable that starts a worker (``start(name)``,
    or ``start(name, cwd=..., hostname=...)`` for one of another "machine"); its ``workers`` lists every worker
    started so far. All are stopped at the end.
    """
    from django.db import connection

    from imadmin.celery import app
    from tests.services import CeleryWorker, database_url

    settings.CELERY_BROKER_URL = redis_server.url
    previous = app.conf.broker_url, app.conf.result_backend
    forget_broker_pools(app)  # whatever an earlier test left, this test's publishing opens its own
    app.conf.broker_url = app.conf.result_backend = redis_server.url
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "CELERY_BROKER_URL": redis_server.url,
        "CHAT_API_BASE_URL": chat_sandbox.base_url,
        "CELERY_VISIBILITY_TIMEOUT": "5",
    }
    workers = []

    def start(name="worker", cwd=None, hostname=None):
        worker = CeleryWorker(tmp_path, env, name=f"{name}{len(workers)}", cwd=cwd, hostname=hostname)
        workers.append(worker)
        return worker

    start.workers = workers
    yield start
    for worker in workers:
        worker.stop()
    app.conf.broker_url, app.conf.result_backend = previous
    forget_broker_pools(app)


@pytest.fixture
def celery_worker(celery_workers):
    """One real Celery worker started (see ``celery_workers``); the callable starts another."""
    celery_workers()
    return celery_workers


@pytest.fixture
def short_lease(monkeypatch, settings):
    """A lease a dead worker leaves expires in 3 s, here and in the workers the test starts."""
    monkeypatch.setenv("SYNC_LEASE_SECONDS", "3")
    settings.SYNC_LEASE_SECONDS = 3


def forget_broker_pools(app):
    """Close and forget Celery's connection and producer pools, so the next publish opens its own for the broker
    configured then."""
    app.pool.force_close_all()
    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    # The result backend, made for the broker of its time (kept per thread, or once when thread-safe).
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


def command_in_thread(*args):
    """``call_command(*args)`` started in a thread of its own (a bulk command whose workers a test kills meanwhile);
    the thread's ``out`` and ``err`` hold what the command wrote, ``failures`` what it raised."""
    import io
    import threading

    from django.core.management import call_command

    out, err, failures = io.StringIO(), io.StringIO(), []

    def command():
        try:
            call_command(*args, stdout=out, stderr=err)
        except Exception as exc:
            failures.append(exc)

    runner = threading.Thread(target=command)
    runner.out, runner.err, runner.failures = out, err, failures
    runner.start()
    return runner


def wait_until(predicate, timeout=30.0, interval=0.1):
    """Poll ``predicate`` until it is true; fail the test with a clear message otherwise."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"Not true after {timeout} s: {predicate.__doc__ or predicate}")
