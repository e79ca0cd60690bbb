"""The admin's pages of staff users and their groups, in the staff's language.

Django stores each permission's name in English when it migrates ("Can add conversation group") and the admin's
permission pickers show that stored text: in Chinese, a list of English. These pages show instead the name made
from the permission's action and its model's (translated) name for the four permissions Django makes for every
model, and the name as declared, translated, for a model's own (``Meta.permissions``, marked for translation where
declared). The permissions of the second factor's devices are left out: their pages are not the staff's
(imadmin/admin_site.py), so they grant nothing. The page that sets a user's password says its warning in the
staff's language (Django joins it to its help in English once, when it is imported). Registered by the admin site
once Django's own admin of users and groups is.
"""

from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy

# The permissions Django makes for every model, by action.
DEFAULT_PERMISSIONS = {
    "add": gettext_lazy("Can add %(model)s"),
    "change": gettext_lazy("Can change %(model)s"),
    "delete": gettext_lazy("Can delete %(model)s"),
    "view": gettext_lazy("Can view %(model)s"),
}


def permission_label(permission) -> str:
    """``app | model | what it allows``, each part in the active language."""
    model = permission.content_type.model_class()
    action, _, model_name = permission.codename.partition("_")
    if model is not None and action in DEFAULT_PERMISSIONS and model_name == model._meta.model_name:
        name = DEFAULT_PERMISSIONS[action] % {"model": model._meta.verbose_name}
    else:
        name = gettext(permission.name)
    return f"{permission.content_type} | {name}"


# The apps whose permissions no page of this admin uses: the second factor's devices.
NOT_GRANTED = ("otp_static", "otp_totp")


def _password_form():
    from django.contrib.auth.forms import AdminPasswordChangeForm, SetUnusablePasswordMixin

    class PasswordForm(AdminPasswordChangeForm):
        usable_password_help_text = format_lazy(
            '{}<ul id="id_unusable_warning" class="messagelist"><li class="warning">{}</li></ul>',
            SetUnusablePasswordMixin.usable_password_help_text,
            gettext_lazy("If disabled, the current password for this user will be lost."))

    return PasswordForm


def _worded(admin_class):
    """``admin_class`` whose permission pickers label each permission with ``permission_label``."""

    class Worded(admin_class):
        def formfield_for_manytomany(self, db_field, request, **kwargs):
            if db_field.related_model._meta.label == "auth.Permission":
                kwargs["queryset"] = db_field.related_model.objects.exclude(
                    content_type__app_label__in=NOT_GRANTED).select_related("content_type")
            field = super().formfield_for_manytomany(db_field, request, **kwargs)
            if field is not None and db_field.related_model._meta.label == "auth.Permission":
                field.label_from_instance = permission_label
            return field

    if hasattr(admin_class, "change_password_form"):
        Worded.change_password_form = _password_form()
    Worded.__name__ = Worded.__qualname__ = f"Worded{admin_class.__name__}"
    return Worded


def replace_user_and_group_admins(site) -> None:
    """Registers the admin of users and of groups again, as they were but for the permissions' names."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    for model in (get_user_model(), Group):
        if site.is_registered(model):
            admin_class = type(site.get_model_admin(model))
            site.unregister(model)
            site.register(model, _worded(admin_class))
