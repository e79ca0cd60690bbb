"""Security: staff only, CSRF, login throttling, production settings, no secret anywhere, a locked dependency set.

Production settings are checked in a subprocess that reads only the environment it is given, as a deployment
does; the test settings themselves serve plain http like `make run`.
"""

import io
import json
import logging
import re
import secrets
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from importlib import metadata
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from django.views.debug import get_exception_reporter_class
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from contactgroups.chat import protocol
from contactgroups.chat import transport as chat_transport_module
from contactgroups.models import ChatUser, ContactGroup, SyncAttempt
from tests.admin_forms import group_form_data
from tests.admin_routes import ADMIN_ROUTES, APP_MODEL_ROUTES, concrete, counts, redirects_to_login
from tests.make_run import ROOT, clean_env, collected_static, make_run_env, run
from tests.services import free_port

C2C, GROUP = protocol.TYPE_C2C, protocol.TYPE_GROUP
LOGIN_URL = "/admin/login/"
PASSWORD = "support-password"  # the staff fixture's


# --------------------------------------------------------------------------------------------------------------
# Every admin URL needs a staff login and the model's permission


def test_the_app_admin_pages_are_all_enumerated():
    """The list the access tests walk holds every page of the app, so a new page cannot slip past them."""
    for model in ("chatuser", "contactgroup", "syncattempt"):
        for page in ("", "add/", "{object_id}/change/", "{object_id}/history/", "{object_id}/delete/"):
            assert f"/admin/contactgroups/{model}/{page}" in APP_MODEL_ROUTES


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_anonymous_get_is_sent_to_the_login_page(client, rows, route):
    assert redirects_to_login(client.get(concrete(route, rows)))


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_anonymous_post_is_sent_to_the_login_page_and_changes_nothing(client, rows, route):
    before = counts()
    response = client.post(concrete(route, rows), {"post": "yes", "name": "changed", "user_id": "intruder",
                                                   "action": "delete_selected", "_selected_action": ["1"]})
    assert redirects_to_login(response)
    assert counts() == before


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_a_user_who_is_not_staff_is_sent_to_the_login_page_even_with_every_permission(
        client, rows, route, django_user_model):
    visitor = django_user_model.objects.create_user("visitor", password="visitor-password", is_staff=False)
    visitor.user_permissions.set(Permission.objects.filter(content_type__app_label="contactgroups"))
    client.force_login(visitor)
    assert redirects_to_login(client.get(concrete(route, rows)))


def test_the_login_page_tells_a_non_staff_user_they_are_not_authorized(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("visitor", password="visitor-password"))
    page = client.get("/admin/contactgroups/contactgroup/", follow=True).content.decode()
    assert "You are authenticated as visitor, but are not authorized to access this page." in page


@pytest.mark.parametrize("route", APP_MODEL_ROUTES)
def test_staff_without_the_model_permission_are_refused(client, rows, route, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="clerk-password", is_staff=True)
    client.force_login(clerk)
    assert client.get(concrete(route, rows), follow=True).status_code == 403


# --------------------------------------------------------------------------------------------------------------
# CSRF


def test_a_staff_post_without_a_csrf_token_is_refused_and_nothing_saved(staff, owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    response = browser.post(reverse("admin:contactgroups_contactgroup_add"), group_form_data(owner=owner, name="x"))
    assert response.status_code == 403
    assert "CSRF verification failed" in response.content.decode()
    assert not ContactGroup.objects.exists()


def test_the_same_post_with_the_csrf_token_is_saved(staff, owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    browser.get(reverse("admin:contactgroups_contactgroup_add"))
    data = {**group_form_data(owner=owner, name="x"), "csrfmiddlewaretoken": browser.cookies["csrftoken"].value}
    assert browser.post(reverse("admin:contactgroups_contactgroup_add"), data).status_code == 302
    assert ContactGroup.objects.filter(name="x").exists()


def test_a_login_without_a_csrf_token_is_refused(staff):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(LOGIN_URL, {"username": "support", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in browser.session


# --------------------------------------------------------------------------------------------------------------
# Login throttling (django-axes)


def log_in(client, username, password, **extra):
    return client.post(LOGIN_URL, {"username": username, "password": password, "next": "/admin/"}, **extra)


def fail_five_times(client, username="support", **extra):
    for _ in range(5):
        log_in(client, username, "wrong-password", **extra)


def test_after_five_wrong_passwords_even_the_right_one_is_refused_with_a_lockout_page(client, staff):
    fail_five_times(client)
    response = log_in(client, "support", PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert "Login refused: this account had 5 wrong passwords in a row from your address" in page
    assert "Try again in 1\xa0hour." in page
    assert redirects_to_login(client.get("/admin/"))


def test_wrong_passwords_below_the_limit_show_the_usual_login_error(client, staff):
    for _ in range(4):
        response = log_in(client, "support", "wrong-password")
        assert response.status_code == 200
        assert "Please enter the correct username and password for a staff account." in response.content.decode()


def test_a_locked_out_user_leaves_other_users_from_the_same_address_free(client, staff, django_user_model):
    django_user_model.objects.create_user("lead", password="lead-password", is_staff=True)
    fail_five_times(client)
    assert log_in(client, "lead", "lead-password")["Location"] == "/admin/"


def test_the_same_user_from_another_address_is_not_locked_out(client, staff):
    fail_five_times(client)
    assert log_in(client, "support", PASSWORD, REMOTE_ADDR="192.0.2.44")["Location"] == "/admin/"


def test_a_successful_login_clears_the_count_of_failures(client, staff):
    for _ in range(4):
        log_in(client, "support", "wrong-password")
    assert log_in(client, "support", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        log_in(client, "support", "wrong-password")
    assert log_in(client, "support", PASSWORD)["Location"] == "/admin/"


def test_an_administrator_can_lift_a_lockout_at_once(client, staff):
    fail_five_times(client)
    call_command("axes_reset_username", "support", stdout=io.StringIO())
    assert log_in(client, "support", PASSWORD)["Location"] == "/admin/"


def test_a_made_up_forwarded_address_does_not_escape_the_lockout(client, staff):
    for n in range(5):
        log_in(client, "support", "wrong-password", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert log_in(client, "support", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_behind_a_trusted_proxy_the_lockout_follows_the_forwarded_client_address(client, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    fail_five_times(client, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy)
    assert log_in(client, "support", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy).status_code == 429
    assert log_in(client, "support", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy).status_code == 302


# --------------------------------------------------------------------------------------------------------------
# Settings from the environment: production with DEBUG off, `make run` with DEBUG on


def production_env(tmp_path, **values) -> dict:
    return clean_env(DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="imadmin.example.com",
                     DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}", STATIC_ROOT=collected_static(),
                     **values)


# Run in a subprocess with a production environment: migrate, then request the login page as a browser would,
# over http, over https, and through a proxy that says https; log in over https. Prints what came back.
PROBE = r"""
import json, os, django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.contrib.auth import get_user_model
from django.test import Client

call_command("migrate", verbosity=0)
get_user_model().objects.create_superuser("probe", password="probe-password-1")
client = Client(HTTP_HOST="imadmin.example.com")

def seen(response):
    return {
        "status": response.status_code,
        "location": response.get("Location"),
        "headers": dict(response.headers),
        "cookies": {name: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"]), "samesite": m["samesite"],
                           "max_age": m["max-age"]} for name, m in response.cookies.items()},
    }

out = {
    "http": seen(client.get("/admin/login/")),
    "https": seen(client.get("/admin/login/", secure=True)),
    "proxied": seen(client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")),
}
token = client.cookies["csrftoken"].value
out["login"] = seen(client.post("/admin/login/", {"username": "probe", "password": "probe-password-1",
                                "next": "/admin/", "csrfmiddlewaretoken": token}, secure=True,
                                HTTP_REFERER="https://imadmin.example.com/admin/login/"))
print(json.dumps(out))
"""


def probe(env) -> dict:
    result = run([sys.executable, "-c", PROBE], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    return probe(production_env(tmp_path_factory.mktemp("production")))


def test_deploy_check_is_clean_with_production_settings_from_the_environment(tmp_path):
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                 production_env(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output and "System check identified some issues" not in output
    assert "System check identified no issues" in output


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = run([sys.executable, "manage.py", "check"], env)
    assert result.returncode != 0
    assert "Set SECRET_KEY in the environment or in .env" in result.stderr


def test_production_redirects_plain_http_to_https(production):
    assert production["http"]["status"] == 301
    assert production["http"]["location"] == "https://imadmin.example.com/admin/login/"


def test_production_sends_hsts_for_a_year_with_subdomains_and_preload(production):
    assert production["https"]["status"] == 200
    assert production["https"]["headers"]["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload")


def test_production_csrf_cookie_is_secure_http_only_and_same_site(production):
    assert production["https"]["cookies"]["csrftoken"] == {
        "secure": True, "httponly": True, "samesite": "Lax", "max_age": 31449600}


def test_production_session_cookie_is_secure_http_only_and_lasts_a_working_day(production):
    assert production["login"]["status"] == 302, production["login"]
    assert production["login"]["cookies"]["sessionid"] == {
        "secure": True, "httponly": True, "samesite": "Lax", "max_age": 12 * 3600}


def test_production_pages_refuse_framing_sniffing_and_cross_origin_openers(production):
    headers = production["https"]["headers"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_production_does_not_trust_a_forwarded_proto_header_unless_told_to(production):
    assert production["proxied"]["status"] == 301


def test_behind_a_tls_proxy_the_forwarded_proto_header_can_be_trusted(tmp_path):
    seen = probe(production_env(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto,https"))
    assert seen["proxied"]["status"] == 200
    assert seen["http"]["status"] == 301


def test_https_redirect_and_hsts_can_be_turned_off_from_the_environment(tmp_path):
    seen = probe(production_env(tmp_path, SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0"))
    assert seen["http"]["status"] == 200
    assert "Strict-Transport-Security" not in seen["https"]["headers"]


def test_a_malformed_proxy_ssl_header_stops_startup_with_a_clear_message(tmp_path):
    result = run([sys.executable, "manage.py", "check"], production_env(tmp_path, SECURE_PROXY_SSL_HEADER="https"))
    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must be a header and its value, such as X-Forwarded-Proto,https" in result.stderr


def test_make_run_settings_pass_the_system_check(tmp_path):
    result = run([sys.executable, "manage.py", "check"], make_run_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_make_run_serves_the_admin_and_logs_in_over_plain_http(tmp_path):
    env = make_run_env(tmp_path)
    for command in (["migrate", "--noinput"], ["ensure_superuser"]):
        assert run([sys.executable, "manage.py", *command], env).returncode == 0
    port = free_port()
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                login_page = opener.open(f"{base}/admin/login/", timeout=5)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "runserver did not start"
                time.sleep(0.2)
        assert login_page.status == 200 and login_page.url == f"{base}/admin/login/"
        assert "Strict-Transport-Security" not in login_page.headers
        csrf = {cookie.name: cookie for cookie in jar}["csrftoken"]
        assert not csrf.secure
        form = urllib.parse.urlencode({"username": "admin", "password": "make-run-password-1", "next": "/admin/",
                                       "csrfmiddlewaretoken": csrf.value}).encode()
        index = opener.open(urllib.request.Request(f"{base}/admin/login/", data=form,
                                                   headers={"Referer": f"{base}/admin/login/"}), timeout=10)
        assert index.url == f"{base}/admin/"
        assert "Conversation groups back-office" in index.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=10)


# --------------------------------------------------------------------------------------------------------------
# No secret in the database, the logs or an error page


class LogCapture(logging.Handler):
    """Every record of every logger, at DEBUG, formatted with its traceback."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []
        self.loggers: dict[str, int] = {}

    def emit(self, record):
        self.lines.append(self.format(record))
        self.records.append(record)
        self.loggers[record.name] = self.loggers.get(record.name, 0) + 1

    def __enter__(self):
        root = logging.getLogger()
        self._saved = [(root, root.level)]
        root.setLevel(logging.DEBUG)
        root.addHandler(self)
        for logger in list(logging.root.manager.loggerDict.values()):
            if isinstance(logger, logging.Logger):
                self._saved.append((logger, logger.level))
                logger.setLevel(logging.DEBUG)
                if not logger.propagate:
                    logger.addHandler(self)
        return self

    def __exit__(self, *exc_info):
        for logger, level in self._saved:
            logger.setLevel(level)
            logger.removeHandler(self)


UNREDACTED_USERSIG = re.compile(r"usersig=(?!<redacted>)", re.IGNORECASE)


@pytest.fixture
def generated_usersigs(monkeypatch):
    """Every UserSig the Chat client makes in the test."""
    made = []
    real = chat_transport_module.generate_usersig

    def spy(*args, **kwargs):
        usersig = real(*args, **kwargs)
        made.append(usersig)
        return usersig

    monkeypatch.setattr(chat_transport_module, "generate_usersig", spy)
    return made


def change_group(client, group, **changes):
    group.refresh_from_db()
    items = list(group.items.all())
    data = group_form_data(name=changes.get("name", group.name), existing=items,
                           deleted={item.pk for item in items if item.target in changes.get("remove", ())},
                           items=changes.get("add", ()))
    return client.post(reverse("admin:contactgroups_contactgroup_change", args=[group.pk]), data)


@pytest.mark.django_db(transaction=True)
def test_no_secret_reaches_the_database_the_logs_or_an_error_page(
        client, staff, chat_sandbox, settings, monkeypatch, capfd, generated_usersigs, background_syncs):
    settings.DEBUG = True  # SQL with its parameters in the log, and Django's technical error page
    update = "recentcontact/update_contact_group"
    changelist = reverse("admin:contactgroups_contactgroup_changelist")
    with LogCapture() as logs:
        assert log_in(client, "support", PASSWORD)["Location"] == "/admin/"
        for user_id in ("user_0001", "user_0002", "user_0003", "user_9"):
            client.post(reverse("admin:contactgroups_chatuser_add"), {"user_id": user_id, "nickname": user_id})
        imported = ChatUser.objects.exclude(user_id="user_9")
        response = client.post(reverse("admin:contactgroups_chatuser_changelist"), {
            "action": "import_into_chat", "_selected_action": [u.pk for u in imported]}, follow=True)
        assert "3 users queued for import into Chat; the list shows what Chat says." in response.content.decode()
        background_syncs.wait()
        assert set(imported.values_list("import_state", flat=True)) == {ChatUser.ImportState.IMPORTED}

        # Created with one conversation Chat refuses (user_9 was never imported: 50001).
        owner = ChatUser.objects.get(user_id="user_0001")
        conversations = [(C2C, "user_0002", ""), (C2C, "user_9", ""), (GROUP, "", "@TGS#1")]
        client.post(reverse("admin:contactgroups_contactgroup_add"),
                    group_form_data(owner=owner, name="会议 support", items=conversations))
        background_syncs.wait()
        group = ContactGroup.objects.get()
        assert group.state == ContactGroup.State.PARTIAL

        # A dropped connection, then a 502, each on a write; the sync tries again and gets there.
        chat_sandbox.set_faults(drop_rate=1.0, max_faults=1, endpoints=[update])
        change_group(client, group, name="会议 renamed", add=[(C2C, "user_0003", "")])
        background_syncs.wait()
        chat_sandbox.set_faults(drop_rate=0.0, http_error_rate=1.0, max_faults=1, endpoints=[update])
        change_group(client, group, remove={"user_0003"})
        background_syncs.wait()
        assert SyncAttempt.objects.filter(outcome=SyncAttempt.Outcome.NO_ANSWER, http_status=None).exists()
        assert SyncAttempt.objects.filter(http_status=502).exists()

        # Chat unreachable until the sync gives up; the error is stored on the group and in the history.
        chat_sandbox.clear_faults()
        sandbox_url, settings.CHAT_API_BASE_URL = settings.CHAT_API_BASE_URL, f"http://127.0.0.1:{free_port()}"
        settings.SYNC_MAX_ATTEMPTS = 2
        client.post(changelist, {"action": "sync_to_chat", "_selected_action": [group.pk]})
        background_syncs.wait()
        group.refresh_from_db()
        assert group.state == ContactGroup.State.FAILED and group.sync.last_outcome["error"]["kind"] == "connect"
        settings.CHAT_API_BASE_URL = sandbox_url
        client.post(changelist, {"action": "sync_to_chat", "_selected_action": [group.pk]})
        background_syncs.wait()

        response = client.post(changelist, {"action": "pull_from_chat", "_selected_action": [group.pk]}, follow=True)
        assert "Pulling from Chat" in response.content.decode()
        background_syncs.wait()
        assert chat_sandbox.calls_to("recentcontact/get_contact_group")

        # A failure that is not Chat's, in the middle of a Chat call: the audit row cannot be written. The check
        # runs in the background; Django's technical report of what it raised (what a mail to the admins would
        # carry, with each frame's local variables) is looked through too.
        with monkeypatch.context() as patch:
            def disk_full(*args, **kwargs):
                raise OperationalError("database or disk is full")

            patch.setattr(SyncAttempt, "save", disk_full)
            client.post(reverse("admin:contactgroups_chatuser_changelist"), {
                "action": "check_in_chat", "_selected_action": [owner.pk]})
            background_syncs.wait()
        raised = [record for record in logs.records if record.exc_info and "disk is full" in str(record.exc_info[1])]
        assert raised, "the background check's failure was not logged"
        error_page = get_exception_reporter_class(None)(None, *raised[0].exc_info).get_traceback_text()
        assert "database or disk is full" in error_page and "_attempt" in error_page  # the client's frame is shown

        response = client.post(reverse("admin:contactgroups_contactgroup_delete", args=[group.pk]), {"post": "yes"})
        background_syncs.wait()
        group.refresh_from_db()
        assert group.state == ContactGroup.State.DELETED

    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    printed = capfd.readouterr()
    places = {
        "the database": dump.getvalue(),
        "the logs": "\n".join(logs.lines),
        "the error report": error_page,
        "the console": printed.out + printed.err,
    }
    # What was looked through really held the Chat calls.
    assert "usersig=<redacted>" in places["the logs"] and logs.loggers.get("urllib3.connectionpool")
    assert '"model": "contactgroups.syncattempt"' in places["the database"]
    assert LogEntry.objects.filter(change_message__contains='"kind": "connect"').exists()
    assert generated_usersigs

    secrets_ = {"the Chat secret key": settings.CHAT_SECRET_KEY, "Django's SECRET_KEY": settings.SECRET_KEY}
    secrets_.update({f"UserSig #{n}": usersig for n, usersig in enumerate(generated_usersigs, 1)})
    for where, text in places.items():
        for what, secret in secrets_.items():
            assert secret not in text, f"{what} is in {where}: …{text[max(0, text.find(secret) - 200):][:400]}…"
        leak = UNREDACTED_USERSIG.search(text)
        assert leak is None, f"An unredacted usersig= is in {where}: …{text[max(0, leak.start() - 200):][:400]}…"


# --------------------------------------------------------------------------------------------------------------
# Dependencies


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{path.name}: {line} is not pinned with =="
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def test_every_package_the_requirements_install_is_pinned_in_the_lock_and_installed_at_that_version():
    top = [Requirement(line.split("#", 1)[0].strip()) for line in (ROOT / "requirements.txt").read_text().splitlines()
           if line.split("#", 1)[0].strip() and not line.startswith("-")]
    _pins(ROOT / "requirements.txt")  # each top-level requirement is pinned with ==
    lock = _pins(ROOT / "constraints.txt")
    seen, todo, problems = set(), [(req, frozenset(req.extras)) for req in top], []
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if name == "pip":
            continue  # the installer itself, put in .venv by the Python that made it (pip-audit calls it)
        installed = metadata.version(requirement.name)
        if name not in lock:
            problems.append(f"{name} is not in constraints.txt")
        elif lock[name] != installed:
            problems.append(f"{name} is locked at {lock[name]} but {installed} is installed")
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for line in metadata.requires(requirement.name) or []:
            dependency = Requirement(line)
            wanted = any(dependency.marker is None or dependency.marker.evaluate({"extra": extra})
                         for extra in (extras or {""}))
            if wanted:
                todo.append((dependency, frozenset(dependency.extras)))
    assert not problems, "Run scripts/lock_deps.sh: " + "; ".join(sorted(set(problems)))
