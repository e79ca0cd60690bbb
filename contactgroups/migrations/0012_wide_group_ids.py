"""GroupId in a 64-bit column: Chat documents it as an Integer with no bound, and an id past 2**31 - 1 would
not fit PostgreSQL's integer."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contactgroups", "0011_health"),
    ]

    operations = [
        migrations.AlterField(
            model_name="contactgroup",
            name="chat_group_id",
            field=models.PositiveBigIntegerField(blank=True, editable=False, null=True, verbose_name="GroupId"),
        ),
        migrations.AlterField(
            model_name="groupversion",
            name="chat_group_id",
            field=models.PositiveBigIntegerField(blank=True, null=True, verbose_name="GroupId"),
        ),
    ]
