"""The audit's filters and search each read one index in the list's order; the single-column indexes they replace
are dropped by name (on SQLite, altering the fields would copy the whole table once a field)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FIELDS = ["actor", "error_code", "group", "operation", "outcome", "owner_user_id", "started_at"]


def single_column_indexes(schema_editor, model):
    """The names Django gave the fields' own indexes (db_index), and their ``_like`` twins on PostgreSQL."""
    table = model._meta.db_table
    for name in FIELDS:
        column = model._meta.get_field(name).column
        yield schema_editor._create_index_name(table, [column], suffix="")
        yield schema_editor._create_index_name(table, [column], suffix="_like")


def drop_single_column_indexes(apps, schema_editor):
    model = apps.get_model("contactgroups", "SyncAttempt")
    for name in single_column_indexes(schema_editor, model):
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_single_column_indexes(apps, schema_editor):
    model = apps.get_model("contactgroups", "SyncAttempt")
    for name in FIELDS:
        field = model._meta.get_field(name)
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))
        like = getattr(schema_editor, "_create_like_index_sql", None)  # PostgreSQL's, for a varchar
        like = like and like(model, field)
        if like is not None:
            schema_editor.execute(like)


class Migration(migrations.Migration):

    dependencies = [
        ('contactgroups', '0021_group_search'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='syncattempt',
            index=models.Index(fields=['started_at', 'id'], name='syncattempt_started'),
        ),
        migrations.AddIndex(
            model_name='syncattempt',
            index=models.Index(fields=['actor', 'started_at', 'id'], name='syncattempt_actor_started'),
        ),
        migrations.AddIndex(
            model_name='syncattempt',
            index=models.Index(fields=['operation', 'started_at', 'id'], name='syncattempt_operation_started'),
        ),
        migrations.AddIndex(
            model_name='syncattempt',
            index=models.Index(fields=['outcome', 'started_at', 'id'], name='syncattempt_outcome_started'),
        ),
        migrations.AddIndex(
            model_name='syncattempt',
            index=models.Index(fields=['error_code', 'started_at', 'id'], name='syncattempt_code_started'),
        ),
        migrations.AddIndex(
            model_name='syncattempt',
            index=models.Index(fields=['owner_user_id', 'started_at', 'id'], name='syncattempt_owner_started'),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.AlterField(
                model_name='syncattempt',
                name='actor',
                field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='staff user'),
            ),
            migrations.AlterField(
                model_name='syncattempt',
                name='error_code',
                field=models.IntegerField(blank=True, null=True, verbose_name='ErrorCode'),
            ),
            migrations.AlterField(
                model_name='syncattempt',
                name='group',
                field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='sync_attempts', to='contactgroups.contactgroup', verbose_name='group'),
            ),
            migrations.AlterField(
                model_name='syncattempt',
                name='operation',
                field=models.CharField(max_length=64, verbose_name='operation'),
            ),
            migrations.AlterField(
                model_name='syncattempt',
                name='outcome',
                field=models.CharField(choices=[('ok', 'Accepted'), ('partial', 'Partly refused'), ('refused', 'Refused'), ('no_answer', 'No answer'), ('not_sent', 'Not sent'), ('too_slow', 'Too slow'), ('too_large', 'Answer too large'), ('unreadable', 'Answer not readable')], max_length=16, verbose_name='outcome'),
            ),
            migrations.AlterField(
                model_name='syncattempt',
                name='owner_user_id',
                field=models.CharField(blank=True, max_length=32, verbose_name='owner'),
            ),
            migrations.AlterField(
                model_name='syncattempt',
                name='started_at',
                field=models.DateTimeField(verbose_name='started'),
            ),
            ],
            database_operations=[migrations.RunPython(drop_single_column_indexes, create_single_column_indexes)],
        ),
    ]
