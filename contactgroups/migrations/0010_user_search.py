"""Search Chat users by any part of the UserID or the nickname: a trigram index on each database
(contactgroups.indexes), and prefix indexes for texts shorter than a trigram."""

from django.db import migrations

import contactgroups.indexes
from contactgroups.indexes import (
    POSTGRESQL_DROP_USER_SEARCH,
    POSTGRESQL_USER_SEARCH,
    SQLITE_DROP_USER_SEARCH,
    SQLITE_USER_SEARCH,
)

FORWARD = {"sqlite": SQLITE_USER_SEARCH, "postgresql": POSTGRESQL_USER_SEARCH}
BACKWARD = {"sqlite": SQLITE_DROP_USER_SEARCH, "postgresql": POSTGRESQL_DROP_USER_SEARCH}


def run(statements):
    def operation(apps, schema_editor):
        for statement in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(statement, params=None)
    return operation


class Migration(migrations.Migration):

    dependencies = [
        ('contactgroups', '0009_group_versions'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='chatuser',
            index=contactgroups.indexes.PrefixSearchIndex(field='user_id', name='chatuser_user_id_prefix'),
        ),
        migrations.AddIndex(
            model_name='chatuser',
            index=contactgroups.indexes.PrefixSearchIndex(field='nickname', name='chatuser_nickname_prefix'),
        ),
        migrations.RunPython(run(FORWARD), run(BACKWARD)),
    ]
