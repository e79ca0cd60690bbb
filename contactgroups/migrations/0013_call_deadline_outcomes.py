"""Two outcomes of a Chat call: too slow (past its deadline, whole answer included) and an answer too large to read.
Only the choices change; no row is rewritten."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("contactgroups", "0012_wide_group_ids"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncattempt",
            name="outcome",
            field=models.CharField(
                choices=[("ok", "Accepted"), ("partial", "Partly refused"), ("refused", "Refused"),
                         ("no_answer", "No answer"), ("too_slow", "Too slow"), ("too_large", "Answer too large")],
                db_index=True, max_length=16, verbose_name="outcome",
            ),
        ),
    ]
