"""Staff sign in with a second factor: the login, the setup wizard and the backup codes (django-two-factor-auth).

With STAFF_SECOND_FACTOR on (the default unless DEBUG is on; ``contactgroups.conf.second_factor_required``), a
staff member reaches an admin page only in a session that passed a second factor: a code of an authenticator app
(TOTP, django-otp's ``otp_totp``) or one of their backup codes (``otp_static``), given after the password on the
login page (django-two-factor-auth's ``LoginView``, a wizard whose steps are the password, the code, and a backup
code instead). Staff who have no authenticator yet are signed in after their password and taken to the setup
wizard (a QR code and the secret it holds), and reach no admin page before it is done. The password step is
Django's admin login form, checked by django-axes like any login. With the setting off, the login asks for a
code only of staff who set up an authenticator, and every admin page says that staff sign in without one.
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.contrib.auth.views import redirect_to_login
from django.forms import ValidationError
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django_otp import user_has_device
from two_factor.forms import AuthenticationTokenForm, BackupTokenForm, TOTPDeviceForm
from two_factor.views import BackupTokensView, LoginView, QRGeneratorView, SetupCompleteView, SetupView

# Django's admin login form posts these fields; the wizard's own field says which step a post is for.
PASSWORD_STEP = LoginView.AUTH_STEP


# The forms, with the project's words (the library ships no Simplified Chinese).

TOKEN_ERRORS = {
    "token_required": _("Enter the code."),
    "invalid_token": _("That code is not right. Check the time on your phone and try again."),
    "n_failed_attempts": ngettext_lazy(
        "Codes are refused for a moment after %(failure_count)d wrong code: try again soon.",
        "Codes are refused for a moment after %(failure_count)d wrong codes: try again soon.",
        "failure_count"),
    "verification_not_allowed": _("Codes are refused for a moment: try again soon."),
}


class CodeForm(AuthenticationTokenForm):
    """The code of the staff member's authenticator app."""

    otp_error_messages = {**AuthenticationTokenForm.otp_error_messages, **TOKEN_ERRORS}

    # The wizard passes what the signature names.
    def __init__(self, user, initial_device, **kwargs):
        super().__init__(user, initial_device, **kwargs)
        self.fields["otp_token"].label = _("Code from your authenticator app")


class BackupCodeForm(BackupTokenForm):
    """One of the staff member's backup codes, each good once."""

    otp_error_messages = {**BackupTokenForm.otp_error_messages, **TOKEN_ERRORS,
                          "invalid_token": _("That backup code is not right, or was used already.")}

    def __init__(self, user, initial_device, **kwargs):
        super().__init__(user, initial_device, **kwargs)
        self.fields["otp_token"].label = _("Backup code")


class SetupCodeForm(TOTPDeviceForm):
    """The first code of a new authenticator, proving it holds the secret."""

    error_messages = {"invalid_token": _("That code is not right. Check the time on your phone and try again.")}

    def __init__(self, key, user, metadata=None, **kwargs):
        super().__init__(key, user, metadata, **kwargs)
        self.fields["token"].label = _("Code from your authenticator app")


# The pages.

class AdminPage:
    """A two-factor page in the admin's look: its header, its title."""

    admin_site = None
    title = ""

    def admin_context(self) -> dict:
        site = self.admin_site or admin.site
        return {**site.each_context(self.request), "title": self.title, "subtitle": None}


class StaffLoginView(AdminPage, LoginView):
    """The admin's login: the password (Django's admin form, as it always posted), then the second factor."""

    template_name = "two_factor/core/login.html"
    form_list = (
        (LoginView.AUTH_STEP, AdminAuthenticationForm),
        (LoginView.TOKEN_STEP, CodeForm),
        (LoginView.BACKUP_STEP, BackupCodeForm),
    )
    title = _("Log in")

    def get_form_prefix(self, step=None, form=None):
        # The password step's fields keep the names of Django's admin login form: username and password.
        return "" if (step or self.steps.current) == PASSWORD_STEP else super().get_form_prefix(step, form)

    def post(self, *args, **kwargs):
        step_field = f"{self.prefix}-current_step"
        if step_field not in self.request.POST:
            # A post of Django's admin login form (no wizard step): the password step, started again.
            self.storage.reset()
            data = self.request.POST.copy()
            data[step_field] = PASSWORD_STEP
            self.request.POST = data
        return super().post(*args, **kwargs)

    def get_form(self, step=None, **kwargs):
        if (step or self.steps.current) == self.TOKEN_STEP:
            # The library picks the form of the device's method; the project's words are the same for every one.
            form = super(LoginView, self).get_form(step=step, **kwargs)
        else:
            timed_out, self.show_timeout_error = self.show_timeout_error, False
            form = super().get_form(step=step, **kwargs)
            if timed_out:
                form.cleaned_data = getattr(form, "cleaned_data", {})
                form.add_error(None, ValidationError(_("Too long since the password: log in again.")))
        return form

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form, **kwargs)
        context.update(self.admin_context())
        context["app_path"] = self.request.get_full_path()
        context["username"] = self.request.user.get_username()
        context[REDIRECT_FIELD_NAME] = self.get_redirect_url() or reverse("admin:index")
        context.pop("cancel_url", None)
        return context


class StaffSetupView(AdminPage, SetupView):
    """Setting up an authenticator app: scan the QR code (or type the secret), then give its first code."""

    form_list = (("generator", SetupCodeForm),)
    title = _("Set up your second factor")

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and not user.is_verified() and user_has_device(user):
            # Only a session that passed the staff member's present device may set up another.
            logout(request)
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        return super().dispatch(request, *args, **kwargs)

    def get_form_list(self):
        form_list = super().get_form_list()
        form_list.pop("welcome", None)
        form_list["generator"] = SetupCodeForm
        return form_list

    def get_success_url(self):
        return reverse("two_factor:setup_complete")

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form, **kwargs)
        context.update(self.admin_context())
        context.pop("cancel_url", None)
        return context


class StaffSetupCompleteView(AdminPage, SetupCompleteView):
    """The second factor is set up: make backup codes, then go on to the admin."""

    title = _("Your second factor is set up")

    def get(self, request, *args, **kwargs):
        request.session.pop("next", None)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **self.admin_context()}


class StaffBackupCodesView(AdminPage, BackupTokensView):
    """The staff member's backup codes, each good once; making new ones drops the old ones."""

    title = _("Backup codes")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **self.admin_context()}


# Under /admin/ before the admin's own URLs; the names are the library's, which its views and templates reverse.
urlpatterns = ([
    path("setup/", StaffSetupView.as_view(), name="setup"),
    path("setup/qrcode/", QRGeneratorView.as_view(), name="qr"),
    path("setup/done/", StaffSetupCompleteView.as_view(), name="setup_complete"),
    path("backup-codes/", StaffBackupCodesView.as_view(), name="backup_tokens"),
], "two_factor")
