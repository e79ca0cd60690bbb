"""Add Chat users from a CSV file (or take those not yet imported) and import them into Chat."""

import sys

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactgroups import rows, tasks, words
from contactgroups.chat import protocol
from contactgroups.engine import run_each
from contactgroups.imports.csvfile import CsvError
from contactgroups.imports.users import create_users, plan_user_import
from contactgroups.management.base import ActorCommand, failure_text
from contactgroups.models import ChatUser
from contactgroups.permissions import ADD_USER_PERMISSION, IMPORT_USERS_PERMISSION
from contactgroups.sync import AccountReport
from contactgroups.sync.outcome import reported_failure


class Command(ActorCommand):
    help = gettext_lazy(
        "Create Chat users from a CSV file whose first row names the columns user_id and, optionally, nickname "
        "(every UserID checked as the admin checks it), or take every user not yet imported (--unimported); "
        "then import them into Chat (multiaccount_import, 100 a call) and check them (account_check). Refused "
        "rows are listed with their row number. Everything is recorded under --actor, who needs the permission "
        "to import users (and to add users, for a file). Exits non-zero if a row or a user failed."
    )
    permissions = (IMPORT_USERS_PERMISSION,)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("file", nargs="?", metavar="FILE.csv", help=_("The CSV file, or - for standard input."))
        parser.add_argument("--unimported", action="store_true",
                            help=_("Import every Chat user of the mirror that Chat does not have yet."))
        parser.add_argument("--dry-run", action="store_true",
                            help=_("Check the file and say what would be done; change nothing and call Chat not "
                                   "at all."))

    def handle(self, *args, **options):
        if bool(options["file"]) == options["unimported"]:
            raise CommandError(_("Give either a CSV file or --unimported."))
        if options["file"]:
            actor = self.actor(options, ADD_USER_PERMISSION)
            # ``source`` is stored in the history as it is; ``shown`` is how this run names it.
            source = "standard input" if options["file"] == "-" else options["file"]
            shown = _("standard input") if options["file"] == "-" else options["file"]
            plan = self.read_plan(options["file"], source, shown)
            for problem in plan.problems:
                self.stdout.write(problem.line())
            if options["dry_run"]:
                for row, user_id, _nickname in plan.new:
                    self.stdout.write(words.would_add_user_text(user_id, row))
                self.stdout.write(words.users_dry_run_text(len(plan.new), len(plan.known), len(plan.problems)))
                return self.finish(refused_rows=len(plan.problems))
            user_pks = create_users(plan, actor.pk, source)
            self.stdout.write(words.users_added_text(len(plan.new), shown, len(plan.known)))
            refused_rows = len(plan.problems)
        else:
            actor = self.actor(options)
            unimported = ChatUser.objects.exclude(import_state=ChatUser.ImportState.IMPORTED)
            if options["dry_run"]:
                count = 0
                for _pk, user_id in rows.stream_rows(unimported, ["user_id"]):
                    self.stdout.write(words.would_import_user_text(user_id))
                    count += 1
                self.stdout.write(words.unimported_dry_run_text(count))
                return
            user_pks = rows.stream_ids(unimported)
            refused_rows = 0
        self.import_users(user_pks, actor, refused_rows)

    def read_plan(self, path: str, source: str, shown: str):
        try:
            if path == "-":
                return plan_user_import(sys.stdin.buffer, source)
            with open(path, "rb") as stream:
                return plan_user_import(stream, source)
        except OSError as exc:
            raise CommandError(words.cannot_read_text(shown, exc.strerror)) from None
        except CsvError as exc:
            raise CommandError(words.nothing_changed_text(exc)) from None

    def import_users(self, user_pks, actor, refused_rows: int) -> None:
        """Import and check the users in batches of Chat's maximum (on the workers when there is a broker, else one
        batch after the other in this process), reporting progress and every failure."""
        user_pks = list(user_pks)
        progress = self.progress(len(user_pks), "import_chat_users", "user")
        counts = {"imported": 0, "not_imported": 0, "failed": 0}

        def ended(args, value):
            batch = args[0]
            if isinstance(value, BaseException):  # the task itself ended (a bug, a worker lost)
                value = {"failure": reported_failure(value)}
            if "failure" in value:
                counts["failed"] += len(batch)
                progress.note(words.user_batch_failed_text(len(batch), failure_text(value["failure"])), self.stdout)
                progress.advance(len(batch), failed=len(batch))
                return
            report = AccountReport(**value["report"])
            for user_id in report.not_imported:
                progress.note(words.user_not_in_chat_text(user_id), self.stdout)
            for user_id in report.failed:
                progress.note(words.user_unknown_in_chat_text(user_id), self.stdout)
            counts["imported"] += len(report.imported)
            counts["not_imported"] += len(report.not_imported)
            counts["failed"] += len(report.failed)
            progress.advance(len(batch), failed=len(report.not_imported) + len(report.failed))

        with self.stalls_reported(progress):
            run_each(tasks.import_users_report,
                     [(batch, actor.pk) for batch in protocol.chunks(user_pks, protocol.ACCOUNTS_PER_IMPORT_MAX)],
                     ended, threads=1)
        progress.close()
        self.stdout.write(words.users_imported_text(counts["imported"], len(user_pks), counts["not_imported"],
                                                    counts["failed"]))
        self.finish(refused_rows, counts["not_imported"] + counts["failed"])

    def finish(self, refused_rows: int = 0, failed_users: int = 0) -> None:
        self.fail_if(words.users_import_problems(refused_rows, failed_users))
