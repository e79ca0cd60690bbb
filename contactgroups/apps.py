from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactGroupsConfig(AppConfig):
    name = "contactgroups"
    verbose_name = _("Chat conversation groups")
    default_auto_field = "django.db.models.BigAutoField"
