"""Staff log in with a second factor when STAFF_SECOND_FACTOR is on: no admin page before it, the setup wizard for
staff without an authenticator, backup codes good once, the login throttle still counting passwords, and a warning
on every page while the setting is off.

The fixture ``second_factor`` (tests/conftest.py) turns the setting on, as production has it;
tests/browser/test_second_factor.py goes through the same in Chromium, in English and Chinese.
"""

import re
import sys

import pytest
from django.test import Client
from django.utils import translation
from django_otp.plugins.otp_static.models import StaticToken

from contactgroups.conf import second_factor_required
from tests.admin_routes import ADMIN_ROUTES, concrete
from tests.make_run import make_run_env, run
from tests.project.test_security import production_env

LOGIN = "/admin/login/"
SETUP = "/admin/second-factor/setup/"
PASSWORD = "support-password"  # the staff fixture's
# The login is a wizard: each post after the password names its step (the view's name is the field's prefix).
STEP = "staff_login_view-current_step"


def log_in(client, username="support", password=PASSWORD, **extra):
    """The password step, posted as Django's admin login form posts it."""
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, **extra)


def give_code(client, code):
    return client.post(LOGIN, {STEP: "token", "token-otp_token": code, "next": "/admin/"})


def give_backup_code(client, code):
    asked = client.post(LOGIN, {STEP: "token", "wizard_goto_step": "backup"})
    assert "Enter one of your backup codes" in asked.content.decode()
    return client.post(LOGIN, {STEP: "backup", "backup-otp_token": code, "next": "/admin/"})


def on_admin_index(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 200 and "Conversation groups back-office" in response.content.decode()


# The setting -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("debug", "value", "required"), [
    (False, None, True), (True, None, False), (False, False, False), (True, True, True)])
def test_the_second_factor_is_required_unless_debug_is_on_or_the_setting_says(settings, debug, value, required):
    settings.DEBUG, settings.STAFF_SECOND_FACTOR = debug, value
    assert second_factor_required() is required


def required_in(env) -> str:
    probe = "import django; django.setup(); from contactgroups.conf import second_factor_required as r; print(r())"
    result = run([sys.executable, "-c", probe], env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_production_requires_it_and_make_run_does_not(tmp_path):
    assert required_in(production_env(tmp_path)) == "True"
    assert required_in(make_run_env(tmp_path)) == "False"
    assert required_in(production_env(tmp_path, STAFF_SECOND_FACTOR="false")) == "False"


def test_with_the_setting_off_every_page_says_staff_log_in_with_a_password_alone(client, staff):
    client.force_login(staff)
    for url in (LOGIN, "/admin/", "/admin/contactgroups/contactgroup/"):
        client.logout() if url == LOGIN else client.force_login(staff)
        page = client.get(url).content.decode()
        assert 'id="second-factor-off"' in page
        assert "Second factor off: staff log in with a password alone" in page
    client.cookies["django_language"] = "zh-hans"
    with translation.override("zh-hans"):
        warning = translation.gettext(
            "Second factor off: staff log in with a password alone (STAFF_SECOND_FACTOR).")
    assert warning.startswith("第二重验证已关闭")
    assert warning in client.get("/admin/").content.decode()


def test_with_the_setting_on_no_page_carries_the_warning(client, staff, second_factor):
    assert "second-factor-off" not in client.get(LOGIN).content.decode()
    second_factor.device(staff)
    log_in(client)
    give_code(client, second_factor.code(staff.totpdevice_set.get()))
    assert "second-factor-off" not in client.get("/admin/").content.decode()


# Staff without an authenticator: the setup wizard, and no admin page before ------------------------------------


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_staff_without_an_authenticator_are_taken_to_set_one_up_from_every_admin_page(client, rows, route,
                                                                                     second_factor):
    assert log_in(client)["Location"] == "/admin/"
    response = client.get(concrete(route, rows))
    assert (response.status_code, response["Location"]) == (302, SETUP)


def test_the_wizard_sets_up_an_authenticator_then_the_admin_opens_and_backup_codes_are_made(client, staff,
                                                                                          second_factor):
    log_in(client)
    page = client.get(SETUP)
    secret = re.search(r'id="second-factor-secret">([A-Z2-7]+)<', page.content.decode()).group(1)
    qr = re.search(r'<img src="([^"]+)"', page.content.decode()).group(1)
    image = client.get(qr)
    assert image["Content-Type"].startswith("image/svg+xml") and b"<svg" in image.content

    wrong = client.post(SETUP, {"staff_setup_view-current_step": "generator", "generator-token": "000000"})
    assert "That code is not right" in wrong.content.decode()
    assert not staff.totpdevice_set.exists() and not on_admin_index(client)

    done = client.post(SETUP, {"staff_setup_view-current_step": "generator",
                               "generator-token": second_factor.code(secret)})
    assert done["Location"] == "/admin/second-factor/setup/done/"
    assert "Make backup codes" in client.get(done["Location"]).content.decode()
    assert staff.totpdevice_set.get(confirmed=True)
    assert on_admin_index(client)

    codes = client.post("/admin/second-factor/backup-codes/", follow=True).content.decode()
    shown = re.findall(r"<li><code>([a-z0-9]+)</code></li>", codes)
    assert len(shown) == 10
    assert sorted(shown) == sorted(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True))


def test_staff_who_have_an_authenticator_cannot_set_up_another_without_its_code(client, staff, second_factor):
    second_factor.device(staff)
    client.force_login(staff)  # a session that never gave a code
    response = client.get(SETUP)
    assert response.status_code == 302 and response["Location"].startswith(f"{LOGIN}?next=")
    assert staff.totpdevice_set.count() == 1
    assert "_auth_user_id" not in client.session


# Staff with an authenticator: password, then code ---------------------------------------------------------------


def test_the_password_alone_opens_no_admin_page(client, staff, second_factor):
    second_factor.device(staff)
    step = log_in(client)
    assert step.status_code == 200
    assert "Enter the code your authenticator app shows now." in step.content.decode()
    assert "_auth_user_id" not in client.session
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_the_right_code_opens_the_admin_and_a_wrong_or_reused_one_does_not(client, staff, second_factor):
    device = second_factor.device(staff)
    log_in(client)
    wrong = give_code(client, "000000" if second_factor.code(device) != "000000" else "111111")
    assert wrong.status_code == 200 and "That code is not right" in wrong.content.decode()
    assert not on_admin_index(client)

    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None  # the wait after a wrong code
    device.save()
    code = second_factor.code(device)
    assert give_code(client, code)["Location"] == "/admin/"
    assert on_admin_index(client)

    client.logout()
    log_in(client)
    assert give_code(client, code).status_code == 200  # a code is good once
    assert not on_admin_index(client)


def test_a_backup_code_opens_the_admin_once(client, staff, second_factor):
    second_factor.device(staff)
    backup = staff.staticdevice_set.create(name="backup")
    backup.token_set.create(token="abcd1234")
    backup.token_set.create(token="efgh5678")
    log_in(client)
    assert give_backup_code(client, "abcd1234")["Location"] == "/admin/"
    assert on_admin_index(client)
    assert list(backup.token_set.values_list("token", flat=True)) == ["efgh5678"]

    client.logout()
    log_in(client)
    refused = give_backup_code(client, "abcd1234")
    assert "That backup code is not right, or was used already." in refused.content.decode()
    assert not on_admin_index(client)


def test_a_session_from_before_the_setting_was_on_must_log_in_again(client, staff, second_factor):
    second_factor.device(staff)
    client.force_login(staff)
    response = client.get("/admin/contactgroups/contactgroup/")
    assert response.status_code == 302 and response["Location"].startswith(f"{LOGIN}?next=")
    assert "_auth_user_id" not in client.session


def test_staff_setting_up_can_log_out(client, staff, second_factor):
    log_in(client)
    assert client.get(SETUP).status_code == 200
    client.post("/admin/logout/")
    assert "_auth_user_id" not in client.session


# The login throttle still counts wrong passwords ----------------------------------------------------------------


def test_a_locked_out_user_stays_locked_out_through_the_two_factor_login(client, staff, second_factor):
    device = second_factor.device(staff)
    for _ in range(4):
        assert "Please enter the correct username and password" in log_in(client, password="wrong").content.decode()
    assert log_in(client, password="wrong").status_code == 429
    locked = log_in(client)
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    # Nor can a code take the place of the refused password.
    assert give_code(client, second_factor.code(device)).status_code != 302
    assert not on_admin_index(client)
    assert "_auth_user_id" not in client.session
    # The same user from another address is unaffected, and goes on to the code as usual.
    elsewhere = Client(REMOTE_ADDR="192.0.2.44")
    assert "Enter the code your authenticator app shows now." in log_in(elsewhere).content.decode()


def test_wrong_codes_are_slowed_by_the_authenticator_not_counted_as_wrong_passwords(client, staff, second_factor):
    device = second_factor.device(staff)
    log_in(client)
    for _ in range(6):
        give_code(client, "000000" if second_factor.code(device) != "000000" else "111111")
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1
    throttled = give_code(client, second_factor.code(device)).content.decode()
    assert "Codes are refused for a moment" in throttled
    assert log_in(Client()).status_code == 200  # the password is still taken: no lockout


# The pages under the Content-Security-Policy --------------------------------------------------------------------


def test_the_second_factor_pages_carry_the_policy_and_no_inline_script_or_style(client, staff, second_factor):
    from tests.admin.test_content_security import assert_protected

    pages = [client.get(LOGIN)]
    log_in(client)
    pages.append(client.get(SETUP))
    for response in pages:
        assert_protected(response)
        body = response.content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body)
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=|javascript:", body)


def test_the_production_login_asks_staff_without_an_authenticator_to_set_one_up(tmp_path):
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "from django.contrib.auth import get_user_model\n"
        "from django.test import Client\n"
        "call_command('migrate', verbosity=0)\n"
        "get_user_model().objects.create_superuser('probe', password='probe-password-1')\n"
        "c = Client(HTTP_HOST='imadmin.example.com')\n"
        "c.post('/admin/login/', {'username': 'probe', 'password': 'probe-password-1', 'next': '/admin/'},"
        " secure=True)\n"
        "print(c.get('/admin/', secure=True)['Location'])\n"
    )
    result = run([sys.executable, "-c", script], production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == SETUP
