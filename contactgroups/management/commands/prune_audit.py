"""Delete the Chat calls the audit no longer keeps (AUDIT_KEEP_DAYS, AUDIT_KEEP_SWEEP_DAYS), a batch at a time."""

from django.core.management.base import BaseCommand

from contactgroups import words
from contactgroups.conf import app_settings
from contactgroups.models import SyncAttempt
from contactgroups.models.audit import Retention


class Command(BaseCommand):
    help = (
        "Delete from the audit the drift sweep's reads older than AUDIT_KEEP_SWEEP_DAYS and every other Chat call "
        "older than AUDIT_KEEP_DAYS, AUDIT_PRUNE_BATCH calls a statement, oldest first. Celery beat runs the same "
        "every AUDIT_PRUNE_SECONDS. The counts of calls a minute (the health page's) are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args, dry_run=False, **options):
        retention = Retention.now()
        if dry_run:
            counts = SyncAttempt.objects.expired(retention)
        else:
            counts = SyncAttempt.objects.prune(retention, app_settings.AUDIT_PRUNE_BATCH)
        self.stdout.write(words.audit_pruned_text(*counts, app_settings.AUDIT_KEEP_SWEEP_DAYS,
                                                  app_settings.AUDIT_KEEP_DAYS, dry_run))
