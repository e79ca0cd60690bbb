"""A Chat call's outcome for an answer this admin cannot read (no ErrorCode, one that is not a number, a number JSON
does not allow). Only the choices change; no row is rewritten."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("contactgroups", "0013_call_deadline_outcomes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncattempt",
            name="outcome",
            field=models.CharField(
                choices=[("ok", "Accepted"), ("partial", "Partly refused"), ("refused", "Refused"),
                         ("no_answer", "No answer"), ("too_slow", "Too slow"), ("too_large", "Answer too large"),
                         ("unreadable", "Answer not readable")],
                db_index=True, max_length=16, verbose_name="outcome",
            ),
        ),
    ]
