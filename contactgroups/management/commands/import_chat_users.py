"""Add Chat users from a CSV file (or take those not yet imported) and import them into Chat."""

import sys

from django.core.management.base import CommandError

from contactgroups import bulk, sync
from contactgroups.chat import protocol
from contactgroups.imports.csvfile import CsvError
from contactgroups.imports.users import create_users, plan_user_import
from contactgroups.management.base import ActorCommand, counted
from contactgroups.models import ChatUser
from contactgroups.permissions import ADD_USER_PERMISSION, IMPORT_USERS_PERMISSION


class Command(ActorCommand):
    help = (
        "Create Chat users from a CSV file whose first row names the columns user_id and, optionally, nickname "
        "(every UserID checked as the admin checks it), or take every user not yet imported (--unimported); "
        "then import them into Chat (multiaccount_import, 100 a call) and check them (account_check). Refused "
        "rows are listed with their row number. Everything is recorded under --actor, who needs the permission "
        "to import users (and to add users, for a file). Exits non-zero if a row or a user failed."
    )
    permissions = (IMPORT_USERS_PERMISSION,)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("file", nargs="?", metavar="FILE.csv", help="The CSV file, or - for standard input.")
        parser.add_argument("--unimported", action="store_true",
                            help="Import every Chat user of the mirror that Chat does not have yet.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Check the file and say what would be done; change nothing and call Chat not at all.")

    def handle(self, *args, **options):
        if bool(options["file"]) == options["unimported"]:
            raise CommandError("Give either a CSV file or --unimported.")
        if options["file"]:
            actor = self.actor(options, ADD_USER_PERMISSION)
            source = "standard input" if options["file"] == "-" else options["file"]
            plan = self.read_plan(options["file"], source)
            for problem in plan.problems:
                self.stdout.write(problem.line())
            if options["dry_run"]:
                for row, user_id, _nickname in plan.new:
                    self.stdout.write(f"Would add {user_id} (row {row}).")
                self.stdout.write(
                    f"Dry run: {counted(len(plan.new), 'new user')} and {counted(len(plan.known), 'known user')} "
                    f"would be imported into Chat; {counted(len(plan.problems), 'row')} refused. Nothing was changed "
                    "and Chat was not called."
                )
                return self.finish(refused_rows=len(plan.problems))
            user_pks = create_users(plan, actor.pk, source)
            self.stdout.write(f"Added {counted(len(plan.new), 'new Chat user')} from {source}; "
                              f"{counted(len(plan.known), 'other was', 'others were')} known already.")
            refused_rows = len(plan.problems)
        else:
            actor = self.actor(options)
            unimported = ChatUser.objects.exclude(import_state=ChatUser.ImportState.IMPORTED)
            if options["dry_run"]:
                count = 0
                for _pk, user_id in bulk.stream_rows(unimported, ["user_id"]):
                    self.stdout.write(f"Would import {user_id}.")
                    count += 1
                self.stdout.write(f"Dry run: {counted(count, 'user')} would be imported into Chat. Nothing was "
                                  "changed and Chat was not called.")
                return
            user_pks = bulk.stream_ids(unimported)
            refused_rows = 0
        self.import_users(user_pks, actor, refused_rows)

    def read_plan(self, path: str, source: str):
        try:
            if path == "-":
                return plan_user_import(sys.stdin.buffer, source)
            with open(path, "rb") as stream:
                return plan_user_import(stream, source)
        except OSError as exc:
            raise CommandError(f"Cannot read {source}: {exc.strerror}.") from None
        except CsvError as exc:
            raise CommandError(f"{exc} Nothing was changed.") from None

    def import_users(self, user_pks, actor, refused_rows: int) -> None:
        """Import and check the users in batches of Chat's maximum, reporting progress and every failure."""
        user_pks = list(user_pks)
        progress = self.progress(len(user_pks), "import_chat_users", "user")
        imported = not_imported = failed = 0
        for batch in protocol.chunks(user_pks, protocol.ACCOUNTS_PER_IMPORT_MAX):
            try:
                report = sync.import_users(batch, actor.pk)
            except Exception as exc:  # a failing batch never stops the others; the summary counts it
                failed += len(batch)
                progress.note(f"A batch of {counted(len(batch), 'user')} failed: {exc}", self.stdout)
                progress.advance(len(batch), failed=len(batch))
                continue
            for user_id in report.not_imported:
                progress.note(f"{user_id}: Chat does not have it after the import.", self.stdout)
            for user_id in report.failed:
                progress.note(f"{user_id}: Chat could not say whether it has it.", self.stdout)
            imported += len(report.imported)
            not_imported += len(report.not_imported)
            failed += len(report.failed)
            progress.advance(len(batch), failed=len(report.not_imported) + len(report.failed))
        progress.close()
        self.stdout.write(
            f"Imported into Chat: {imported} of {counted(len(user_pks), 'user')}; {not_imported} not imported, "
            f"{failed} failed."
        )
        self.finish(refused_rows, not_imported + failed)

    def finish(self, refused_rows: int = 0, failed_users: int = 0) -> None:
        problems = []
        if refused_rows:
            problems.append(f"{counted(refused_rows, 'row')} of the file refused")
        if failed_users:
            problems.append(f"{counted(failed_users, 'user')} not in Chat")
        self.fail_if(problems)
