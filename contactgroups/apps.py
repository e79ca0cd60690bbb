from django.apps import AppConfig


class ContactGroupsConfig(AppConfig):
    name = "contactgroups"
    verbose_name = "Chat conversation groups"
    default_auto_field = "django.db.models.BigAutoField"
