"""Search groups by any part of the name and of a group conversation's id: a trigram index on each database
(contactgroups.indexes: GROUP_NAME_SEARCH, GROUP_ID_SEARCH)."""

from django.db import migrations

from contactgroups.indexes import GROUP_ID_SEARCH, GROUP_NAME_SEARCH


def run(*, forward: bool):
    def operation(apps, schema_editor):
        for search in (GROUP_NAME_SEARCH, GROUP_ID_SEARCH):
            for statement in search.statements(schema_editor.connection.vendor, forward=forward):
                schema_editor.execute(statement, params=None)
    return operation


class Migration(migrations.Migration):

    dependencies = [
        ('contactgroups', '0020_syncattempt_page_read'),
    ]

    operations = [
        migrations.RunPython(run(forward=True), run(forward=False)),
    ]
