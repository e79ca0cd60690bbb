"""Chat calls counted a minute at a time, filled from the audit rows already written."""

from datetime import UTC

from django.db import migrations, models
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncMinute

from contactgroups.chat.errors import THROTTLING_CODES


def count_existing_calls(apps, schema_editor):
    """The counts of every SyncAttempt so far, aggregated by the database."""
    database = schema_editor.connection.alias
    SyncAttempt = apps.get_model("contactgroups", "SyncAttempt")
    SyncAttemptRefusal = apps.get_model("contactgroups", "SyncAttemptRefusal")
    CallMinute = apps.get_model("contactgroups", "CallMinute")
    RefusalMinute = apps.get_model("contactgroups", "RefusalMinute")
    attempts = SyncAttempt.objects.using(database).annotate(bucket=TruncMinute("started_at", tzinfo=UTC))
    CallMinute.objects.using(database).bulk_create([
        CallMinute(minute=row["bucket"], operation=row["operation"], calls=row["calls"], failed=row["failed"],
                   partial=row["partial"], throttled=row["throttled"], duration_total_ms=row["total"],
                   duration_max_ms=row["longest"])
        for row in attempts.values("bucket", "operation").order_by().annotate(
            calls=Count("pk"), failed=Count("pk", filter=Q(outcome__in=["refused", "no_answer"])),
            partial=Count("pk", filter=Q(outcome="partial")),
            throttled=Count("pk", filter=Q(error_code__in=THROTTLING_CODES)),
            total=Sum("duration_ms"), longest=Max("duration_ms"))
    ], batch_size=500)
    refusals = {}
    answered = (attempts.exclude(error_code__isnull=True).exclude(error_code=0)
                .values("bucket", "error_code").order_by().annotate(calls=Count("pk")))
    for row in answered:
        refusals[(row["bucket"], row["error_code"])] = row["calls"]
    items = (SyncAttemptRefusal.objects.using(database).exclude(code=F("attempt__error_code"))
             .annotate(bucket=TruncMinute("attempt__started_at", tzinfo=UTC))
             .values("bucket", "code").order_by().annotate(calls=Count("pk")))
    for row in items:
        key = (row["bucket"], row["code"])
        refusals[key] = refusals.get(key, 0) + row["calls"]
    RefusalMinute.objects.using(database).bulk_create([
        RefusalMinute(minute=minute, code=code, calls=calls) for (minute, code), calls in refusals.items()
    ], batch_size=500)


class Migration(migrations.Migration):

    dependencies = [
        ('contactgroups', '0010_user_search'),
    ]

    operations = [
        migrations.CreateModel(
            name='CallMinute',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('minute', models.DateTimeField(verbose_name='minute')),
                ('operation', models.CharField(max_length=64, verbose_name='operation')),
                ('calls', models.PositiveIntegerField(default=0, verbose_name='calls')),
                ('failed', models.PositiveIntegerField(default=0, verbose_name='failed calls')),
                ('partial', models.PositiveIntegerField(default=0, verbose_name='partly refused calls')),
                ('throttled', models.PositiveIntegerField(default=0, verbose_name='throttled calls')),
                ('duration_total_ms', models.BigIntegerField(default=0, verbose_name='total duration (ms)')),
                ('duration_max_ms', models.PositiveIntegerField(default=0, verbose_name='longest duration (ms)')),
            ],
            options={
                'verbose_name': 'Chat calls in a minute',
                'verbose_name_plural': 'Chat calls in a minute',
                'constraints': [
                    models.UniqueConstraint(fields=('minute', 'operation'), name='callminute_minute_operation'),
                ],
            },
        ),
        migrations.CreateModel(
            name='RefusalMinute',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('minute', models.DateTimeField(verbose_name='minute')),
                ('code', models.IntegerField(verbose_name='code')),
                ('calls', models.PositiveIntegerField(default=0, verbose_name='calls')),
            ],
            options={
                'verbose_name': 'refusals in a minute',
                'verbose_name_plural': 'refusals in a minute',
                'constraints': [models.UniqueConstraint(fields=('minute', 'code'), name='refusalminute_minute_code')],
            },
        ),
        migrations.RunPython(count_existing_calls, migrations.RunPython.noop, elidable=True),
    ]
