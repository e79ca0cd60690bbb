"""Create conversation groups from a CSV file, checked as the admin checks them, and queue them for sync."""

import sys

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactgroups import runs, words
from contactgroups.conf import app_settings
from contactgroups.imports.csvfile import CsvError
from contactgroups.imports.groups import GroupImportPlan, apply_group_import, plan_group_import
from contactgroups.management.base import ActorCommand, state_counts
from contactgroups.permissions import ADD_GROUP_PERMISSION, SYNC_PERMISSION

# Threads that sync the new groups without a broker, unless told otherwise (--concurrency).
DEFAULT_CONCURRENCY = 8


class Command(ActorCommand):
    help = gettext_lazy(
        "Create conversation groups from a CSV file whose first row names the columns owner, group_name, type "
        "(1 one-to-one, 2 group conversation) and target (the other user's UserID, or the Chat group id); one "
        "row per conversation, rows of one owner and name make one group. Each group is checked as the admin "
        "checks it and imported whole or not at all; refused rows are listed with their row number, column and "
        "reason. Imported groups are queued for sync to Chat once saved; without a broker this command syncs them "
        "itself once all are saved, --concurrency at a time. Everything is recorded under --actor, "
        "who needs the permissions to add and to sync conversation groups. Exits non-zero if a row was refused "
        "or a sync failed."
    )
    permissions = (ADD_GROUP_PERMISSION, SYNC_PERMISSION)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("file", metavar="FILE.csv", help=_("The CSV file, or - for standard input."))
        parser.add_argument("--dry-run", action="store_true",
                            help=_("Check the file and list what would be created; change nothing, call Chat not "
                                   "at all."))
        parser.add_argument("--no-sync", action="store_true",
                            help=_("Create the groups as drafts without syncing them, for a later "
                                   "`sync_contact_groups --pending --concurrency N`."))
        parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                            help=words.concurrency_help_text(DEFAULT_CONCURRENCY))

    def handle(self, *args, **options):
        actor = self.actor(options)
        if options["concurrency"] < 1:
            raise CommandError(_("--concurrency must be at least 1."))
        # ``source`` is stored in the history as it is; ``shown`` is how this run names it.
        source = "standard input" if options["file"] == "-" else options["file"]
        shown = _("standard input") if options["file"] == "-" else options["file"]
        try:
            if options["file"] == "-":
                plan = plan_group_import(sys.stdin.buffer, source)
            else:
                with open(options["file"], "rb") as stream:
                    plan = plan_group_import(stream, source)
        except OSError as exc:
            raise CommandError(words.cannot_read_text(shown, exc.strerror)) from None
        except CsvError as exc:
            raise CommandError(words.nothing_changed_text(exc)) from None

        if options["dry_run"]:
            for group in plan.accepted:
                self.stdout.write(words.would_create_text(group.describe()))
            self.report_rejected(plan.rejected_rows())
            self.stdout.write(words.groups_dry_run_text(len(plan.accepted), plan.conversation_count,
                                                        len(plan.rejected)))
            return self.finish(plan.rejected_rows(), 0)

        # Without a broker the groups are synced here, in bulk, once every one is saved.
        bulk_sync = not options["no_sync"] and not app_settings.CELERY_BROKER_URL
        progress = self.progress(len(plan.accepted), "import_contact_groups")
        result = apply_group_import(
            plan, actor.pk, source, queue_sync=not options["no_sync"],
            on_group=lambda group, pk: progress.advance(failed=int(pk is None)), send_tasks=not bulk_sync,
        )
        progress.close()
        rejected_rows = GroupImportPlan(rejected=result.rejected, problems=plan.problems).rejected_rows()
        self.report_rejected(rejected_rows)
        self.stdout.write(words.groups_created_text(len(result.created), shown, len(result.rejected)))
        failed_syncs = 0
        if result.created and bulk_sync:
            failed_syncs = self.sync_created(result.created, actor.pk, options["concurrency"])
        elif result.created and not options["no_sync"]:
            self.stdout.write(_("Queued for sync to Chat; the Celery workers do it."))
        self.finish(rejected_rows, failed_syncs)

    def report_rejected(self, rows) -> None:
        for problem in rows:
            self.stdout.write(problem.line())

    def sync_created(self, created: list[int], actor_id: int, concurrency: int) -> int:
        """Sync the new groups as sync_contact_groups does (``runs.sync_in_background``, ``concurrency`` threads of
        this process). Says how they ended; returns how many did not sync fully."""
        states: dict[str, int] = {}
        failed = 0
        progress = self.progress(len(created), _("sync to Chat"))
        try:
            for end in runs.sync_in_background(created, actor_id, concurrency, total=len(created)):
                states[end.state] = states.get(end.state, 0) + 1
                if end.failed:
                    failed += 1
                    progress.note(end.line, self.stdout)
                progress.advance(failed=int(end.failed))
        finally:
            progress.close()
        self.stdout.write(words.synced_states_text(state_counts(states)))
        return failed

    def finish(self, rejected_rows, failed_syncs: int) -> None:
        self.fail_if(words.groups_import_problems(len(rejected_rows), failed_syncs))
