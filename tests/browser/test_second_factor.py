"""A staff member sets up a second factor in Chromium and logs in with it, in English and in Chinese.

With STAFF_SECOND_FACTOR on, as in production (the ``second_factor`` fixture): the password leads to the setup
wizard, whose secret gives the code an authenticator app would show; the backup codes are shown; then a login
with password and code, one with a backup code (used up after), and refusals without a code or with a wrong one,
each staying on the login with no admin page opened. No Content-Security-Policy violation on the way (the
listener of tests/browser/test_untrusted_markup.py).
"""

import re

import pytest
from django.utils import translation
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORT, screenshot
from tests.browser.test_untrusted_markup import Guard

pytestmark = pytest.mark.browser

PASSWORD = "support-password"  # the staff fixture's
LOGIN = re.compile(r"/admin/login/")
SETUP = re.compile(r"/admin/second-factor/setup/$")


def wrong_code(second_factor, device) -> str:
    """A code the authenticator does not show now, nor a step before or after."""
    near = {second_factor.code(device, offset) for offset in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in near)


@pytest.mark.parametrize(("locale", "language"), [("en-US", "en"), ("zh-CN", "zh-hans")])
def test_staff_set_up_a_second_factor_and_log_in_with_it_or_a_backup_code_and_not_without(
        browser, site, staff, second_factor, locale, language):
    def say(message: str) -> str:
        with translation.override(language):
            return translation.gettext(message)

    context = browser.new_context(viewport=VIEWPORT, locale=locale, timezone_id="UTC", base_url=site)
    guard = Guard(context)
    page = context.new_page()
    back_office = page.get_by_role("heading", name=say("Conversation groups back-office"))

    def password_step():
        page.goto("/admin/")
        expect(page).to_have_url(LOGIN)
        page.get_by_label(say("username"), exact=False).fill("support")
        page.get_by_label(say("password"), exact=False).first.fill(PASSWORD)
        page.get_by_role("button", name=say("Log in")).click()

    def log_out():
        page.get_by_role("button", name=say("Log out")).click()
        expect(page.get_by_role("heading", name=say("Conversation groups back-office"))).not_to_be_visible()

    def no_admin_page():
        page.goto("/admin/contactgroups/contactgroup/")
        expect(page).to_have_url(LOGIN)
        expect(back_office).not_to_be_visible()

    try:
        # The password leads to the setup wizard, and no admin page opens before it is done.
        password_step()
        expect(page).to_have_url(SETUP)
        expect(page.get_by_role("heading", name=say("Set up your second factor"))).to_be_visible()
        page.goto("/admin/contactgroups/contactgroup/")
        expect(page).to_have_url(SETUP)
        qr = page.get_by_role("img", name=say("QR code for your authenticator app"))
        expect(qr).to_be_visible()
        assert qr.evaluate("image => image.complete && image.naturalWidth > 0")
        secret = page.locator("#second-factor-secret").inner_text()
        page.get_by_label(say("Code from your authenticator app")).fill(second_factor.code(secret))
        page.get_by_role("button", name=say("Confirm")).click()

        # Set up; the backup codes next.
        expect(page.get_by_role("heading", name=say("Your second factor is set up"))).to_be_visible()
        page.get_by_role("button", name=say("Make backup codes")).click()
        expect(page.get_by_role("heading", name=say("Backup codes"))).to_be_visible()
        codes = page.locator("#backup-codes code").all_inner_texts()
        assert len(codes) == 10 and len(set(codes)) == 10
        screenshot(page, f"second-factor-backup-codes-{language}")
        page.get_by_role("link", name=say("Go to the admin")).click()
        expect(back_office).to_be_visible()
        log_out()

        # Password and the app's code.
        device = staff.totpdevice_set.get(confirmed=True)
        password_step()
        expect(page.get_by_text(say("Enter the code your authenticator app shows now."))).to_be_visible()
        no_admin_page()  # the password alone opened nothing
        password_step()
        page.get_by_label(say("Code from your authenticator app")).fill(second_factor.code(device))
        page.get_by_role("button", name=say("Log in")).click()
        expect(back_office).to_be_visible()
        log_out()

        # A backup code, once.
        for attempt in ("first", "again"):
            password_step()
            page.get_by_role("button", name=say("Use a backup code")).click()
            expect(page.get_by_text(say("Enter one of your backup codes. Each lets you in once."))).to_be_visible()
            page.get_by_label(say("Backup code")).fill(codes[0])
            page.get_by_role("button", name=say("Log in")).click()
            if attempt == "first":
                expect(back_office).to_be_visible()
                log_out()
        expect(page.get_by_text(say("That backup code is not right, or was used already."))).to_be_visible()
        expect(page).to_have_url(LOGIN)
        no_admin_page()
        assert not staff.staticdevice_set.get().token_set.filter(token=codes[0]).exists()

        # A wrong code.
        password_step()
        page.get_by_label(say("Code from your authenticator app")).fill(wrong_code(second_factor, device))
        page.get_by_role("button", name=say("Log in")).click()
        expect(page.get_by_text(say("That code is not right. Check the time on your phone and try again.")))\
            .to_be_visible()
        expect(page.get_by_text(say("Enter the code your authenticator app shows now."))).to_be_visible()
        no_admin_page()
        guard.assert_quiet()
    except Exception:
        screenshot(page, f"failed-second-factor-{language}")
        raise
    finally:
        context.close()
