"""The app's configuration: its name in the admin, and the SQLite searches by part of a name kept after every
migrate."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ContactGroupsConfig(AppConfig):
    name = "contactgroups"
    verbose_name = _("Chat conversation groups")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(keep_searches, sender=self)


def keep_searches(sender, using, **kwargs):
    """After a migrate: each SQLite search by part of a name (contactgroups.indexes.SEARCHES) again, if a migration
    rebuilt its table after the search was made."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    from contactgroups.indexes import SEARCHES

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    applied = MigrationRecorder(connection).applied_migrations()
    for search in SEARCHES:
        if (sender.label, search.migration) in applied:
            search.ensure_sqlite(connection)
