from django.db import migrations

from contactgroups.chat.record import refused_codes

BATCH = 2000


def fill(apps, schema_editor):
    """The codes each call already in the audit refused items with, read from its stored answer."""
    SyncAttempt = apps.get_model("contactgroups", "SyncAttempt")
    SyncAttemptRefusal = apps.get_model("contactgroups", "SyncAttemptRefusal")
    calls = SyncAttempt.objects.filter(refused_items__gt=0).order_by().values_list("pk", "response")
    batch = []
    for pk, response in calls.iterator(chunk_size=BATCH):
        batch.extend(SyncAttemptRefusal(attempt_id=pk, code=code) for code in refused_codes(response))
        if len(batch) >= BATCH:
            SyncAttemptRefusal.objects.bulk_create(batch)
            batch = []
    SyncAttemptRefusal.objects.bulk_create(batch)


def empty(apps, schema_editor):
    apps.get_model("contactgroups", "SyncAttemptRefusal").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ('contactgroups', '0005_syncattemptrefusal'),
    ]

    operations = [
        migrations.RunPython(fill, empty),
    ]
