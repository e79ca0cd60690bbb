from django.db import migrations

BATCH = 2000

# The columns that moved from each group's row to its sync row: (the group's name, the sync row's name).
MOVED = (
    ("chat_group_id", "chat_group_id"), ("confirmed_name", "confirmed_name"),
    ("confirmed_conversations", "confirmed_conversations"), ("create_intent", "create_intent"),
    ("last_error_code", "last_error_code"), ("last_error_info", "last_error_info"),
    ("last_synced_at", "last_synced_at"), ("last_outcome", "last_outcome"), ("conflicts", "conflicts"),
    ("sync_calls_done", "calls_done"), ("sync_calls_planned", "calls_planned"), ("chat_reading", "chat_reading"),
    ("chat_read_at", "chat_read_at"), ("drift", "drift"), ("sync_lock_token", "lock_token"),
    ("sync_lock_until", "lock_until"),
)


def forward(apps, schema_editor):
    """Every group gets its sync row, holding what its own row held of Chat and of the sync."""
    ContactGroup = apps.get_model("contactgroups", "ContactGroup")
    GroupSync = apps.get_model("contactgroups", "GroupSync")
    columns = ["pk", "owner_id", "state", *(old for old, _new in MOVED)]
    batch = []
    for row in ContactGroup.objects.order_by("pk").values(*columns).iterator(chunk_size=BATCH):
        batch.append(GroupSync(group_id=row["pk"], owner_id=row["owner_id"], deleted=row["state"] == "deleted",
                               **{new: row[old] for old, new in MOVED}))
        if len(batch) >= BATCH:
            GroupSync.objects.bulk_create(batch)
            batch = []
    GroupSync.objects.bulk_create(batch)


def back(apps, schema_editor):
    """Each group's row gets back what its sync row held."""
    ContactGroup = apps.get_model("contactgroups", "ContactGroup")
    GroupSync = apps.get_model("contactgroups", "GroupSync")
    batch = []
    rows = GroupSync.objects.order_by("pk").values("group_id", *(new for _old, new in MOVED))
    for row in rows.iterator(chunk_size=BATCH):
        batch.append(ContactGroup(pk=row["group_id"], **{old: row[new] for old, new in MOVED}))
        if len(batch) >= BATCH:
            ContactGroup.objects.bulk_update(batch, [old for old, _new in MOVED])
            batch = []
    if batch:
        ContactGroup.objects.bulk_update(batch, [old for old, _new in MOVED])
    GroupSync.objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ('contactgroups', '0015_group_sync'),
    ]

    operations = [
        migrations.RunPython(forward, back),
    ]
