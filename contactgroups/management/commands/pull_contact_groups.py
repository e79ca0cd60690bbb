"""Replace the mirror of some Chat users' groups with what Chat holds, and report what differed."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactgroups import rows, tasks, words
from contactgroups.engine import run_each
from contactgroups.management.base import ActorCommand, failure_text
from contactgroups.models import ChatUser
from contactgroups.permissions import PULL_PERMISSION
from contactgroups.sync import PullReport
from contactgroups.sync.outcome import reported_failure

# At most this many failed owners are listed one by one; the summary counts them all.
FAILURES_LISTED_MAX = 100


class Command(ActorCommand):
    help = gettext_lazy(
        "Pull conversation groups from Chat (get_contact_group) into the mirror for the given Chat users, or for "
        "every one not known to be missing from Chat: groups made in the app are adopted, groups gone from Chat "
        "are marked deleted, names and conversations are taken from Chat (unsynced local edits are replaced). "
        "Each difference is written to the admin history under --actor, who needs the permission to pull. "
        "Keeps going past a user that fails and exits non-zero if any did."
    )
    permissions = (PULL_PERMISSION,)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--owner", action="extend", nargs="+", metavar="USERID",
                         help=_("The Chat users whose groups to pull."))
        who.add_argument("--all-owners", action="store_true",
                         help=_("Every Chat user in the mirror except those Chat said it does not have."))
        parser.add_argument("--dry-run", action="store_true",
                            help=_("List the users that would be pulled; change nothing and call Chat not at all."))

    def handle(self, *args, **options):
        actor = self.actor(options)
        if options["owner"]:
            self.require_known_owners(options["owner"])
            owners = ChatUser.objects.filter(user_id__in=options["owner"])
        else:
            owners = ChatUser.objects.exclude(import_state=ChatUser.ImportState.NOT_IMPORTED)
        total = owners.count()
        if options["dry_run"]:
            for _pk, user_id in rows.stream_rows(owners, ["user_id"]):
                self.stdout.write(words.would_pull_text(user_id))
            self.stdout.write(words.pull_dry_run_text(total))
            return

        progress = self.progress(total, "pull_contact_groups", "user")
        user_ids = dict(rows.stream_rows(owners, ["user_id"]))
        owner_pks = list(user_ids)
        counts = dict.fromkeys(("adopted", "changed", "deleted", "unchanged", "skipped", "failed"), 0)

        def ended(args, value):
            if isinstance(value, BaseException):  # the task itself ended (a bug, a worker lost): its owners failed
                value = [[pk, {"failure": reported_failure(value)}] for pk in args[0]]
            for owner_pk, result in value:
                if "failure" in result:
                    counts["failed"] += 1
                    if counts["failed"] <= FAILURES_LISTED_MAX:
                        progress.note(words.pull_failed_text(user_ids[owner_pk], failure_text(result["failure"])),
                                      self.stdout)
                    progress.advance(failed=1)
                    continue
                report = PullReport(**result["report"])
                for line in words.pull_report_lines(report):
                    progress.note(line, self.stdout)
                for name in ("adopted", "changed", "deleted", "skipped"):
                    counts[name] += len(getattr(report, name))
                counts["unchanged"] += report.unchanged
                progress.advance()

        # On the workers when there is a broker, else one owner after the other in this process.
        with self.stalls_reported(progress):
            run_each(tasks.pull_owners_report,
                     [(owner_pks[start:start + tasks.PULL_OWNERS_A_TASK], actor.pk)
                      for start in range(0, len(owner_pks), tasks.PULL_OWNERS_A_TASK)], ended, threads=1)
        progress.close()
        failed = counts.pop("failed")
        self.stdout.write(words.pull_summary_text(
            pulled=progress.done - failed, total=total, seconds=progress.elapsed, failed=failed, **counts))
        if failed:
            raise CommandError(words.pulls_failed_text(failed, total), returncode=1)
