"""Create conversation groups from a CSV file, checked as the admin checks them, and queue them for sync."""

import sys

from django.conf import settings
from django.core.management.base import CommandError

from contactgroups import bulk
from contactgroups.imports.csvfile import CsvError
from contactgroups.imports.groups import GroupImportPlan, apply_group_import, plan_group_import
from contactgroups.management.base import ActorCommand, counted
from contactgroups.models import ContactGroup
from contactgroups.permissions import ADD_GROUP_PERMISSION, SYNC_PERMISSION


class Command(ActorCommand):
    help = (
        "Create conversation groups from a CSV file whose first row names the columns owner, group_name, type "
        "(1 one-to-one, 2 group conversation) and target (the other user's UserID, or the Chat group id); one "
        "row per conversation, rows of one owner and name make one group. Each group is checked as the admin "
        "checks it and imported whole or not at all; refused rows are listed with their row number, column and "
        "reason. Imported groups are queued for sync to Chat once saved. Everything is recorded under --actor, "
        "who needs the permissions to add and to sync conversation groups. Exits non-zero if a row was refused "
        "or a sync failed."
    )
    permissions = (ADD_GROUP_PERMISSION, SYNC_PERMISSION)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("file", metavar="FILE.csv", help="The CSV file, or - for standard input.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Check the file and list what would be created; change nothing, call Chat not at all.")
        parser.add_argument("--no-sync", action="store_true",
                            help="Create the groups as drafts without syncing them, for a later "
                                 "`sync_contact_groups --pending --concurrency N`.")

    def handle(self, *args, **options):
        actor = self.actor(options)
        source = "standard input" if options["file"] == "-" else options["file"]
        try:
            if options["file"] == "-":
                plan = plan_group_import(sys.stdin.buffer, source)
            else:
                with open(options["file"], "rb") as stream:
                    plan = plan_group_import(stream, source)
        except OSError as exc:
            raise CommandError(f"Cannot read {source}: {exc.strerror}.") from None
        except CsvError as exc:
            raise CommandError(f"{exc} Nothing was changed.") from None

        if options["dry_run"]:
            for group in plan.accepted:
                self.stdout.write(f"Would create {group.describe()}.")
            self.report_rejected(plan.rejected_rows())
            self.stdout.write(
                f"Dry run: {counted(len(plan.accepted), 'group')} with "
                f"{counted(plan.conversation_count, 'conversation')} would be created, "
                f"{counted(len(plan.rejected), 'group')} refused. Nothing was changed and Chat was not called."
            )
            return self.finish(plan.rejected_rows(), 0)

        progress = self.progress(len(plan.accepted), "import_contact_groups", "group")
        result = apply_group_import(
            plan, actor.pk, source, queue_sync=not options["no_sync"],
            on_group=lambda group, pk: progress.advance(failed=int(pk is None)),
        )
        progress.close()
        rejected_rows = GroupImportPlan(rejected=result.rejected, problems=plan.problems).rejected_rows()
        self.report_rejected(rejected_rows)
        self.stdout.write(
            f"Created {counted(len(result.created), 'group')} from {source}; "
            f"{counted(len(result.rejected), 'group')} refused."
        )
        failed_syncs = 0
        if result.created and not options["no_sync"] and not settings.CELERY_BROKER_URL:
            failed_syncs = self.report_syncs(result.created)
        elif result.created and not options["no_sync"]:
            self.stdout.write("Queued for sync to Chat; the Celery workers do it.")
        self.finish(rejected_rows, failed_syncs)

    def report_rejected(self, rows) -> None:
        for problem in rows:
            self.stdout.write(problem.line())

    def report_syncs(self, created: list[int]) -> int:
        """Without a broker the syncs ran as each group was saved: say how they ended."""
        states: dict[str, int] = {}
        for chunk_start in range(0, len(created), bulk.ID_CHUNK):
            chunk = created[chunk_start : chunk_start + bulk.ID_CHUNK]
            for state in ContactGroup.objects.filter(pk__in=chunk).values_list("state", flat=True):
                states[state] = states.get(state, 0) + 1
        self.stdout.write("Synced to Chat: " + ", ".join(
            f"{count} {ContactGroup.State(state).label.lower()}" for state, count in sorted(states.items())
        ) + ".")
        return sum(count for state, count in states.items()
                   if state not in bulk.DONE_STATES)

    def finish(self, rejected_rows, failed_syncs: int) -> None:
        problems = []
        if rejected_rows:
            problems.append(f"{counted(len(rejected_rows), 'row')} refused")
        if failed_syncs:
            problems.append(f"{counted(failed_syncs, 'group')} did not sync fully")
        self.fail_if(problems)
