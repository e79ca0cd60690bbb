"""The app's configuration: its name in the admin, and the SQLite user search kept after every migrate."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ContactGroupsConfig(AppConfig):
    name = "contactgroups"
    verbose_name = _("Chat conversation groups")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(keep_user_search, sender=self)


def keep_user_search(sender, using, **kwargs):
    """After a migrate: the SQLite search of Chat users again, if a migration rebuilt their table after it was made."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    from contactgroups.indexes import ensure_sqlite_user_search

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    applied = MigrationRecorder(connection).applied_migrations()
    if (sender.label, "0010_user_search") in applied:
        ensure_sqlite_user_search(connection)
