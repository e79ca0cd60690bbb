"""Sync conversation groups to Chat now, several at a time, under a staff user's name."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactgroups import rows, runs, words
from contactgroups.chat import protocol
from contactgroups.conf import app_settings, chat_config
from contactgroups.engine import has_broker
from contactgroups.management.base import ActorCommand, state_counts
from contactgroups.models import ContactGroup
from contactgroups.permissions import SYNC_PERMISSION

# At most this many failed groups are listed one by one; the summary counts them all.
FAILURES_LISTED_MAX = 100


class Command(ActorCommand):
    help = gettext_lazy(
        "Sync conversation groups to Chat in the Celery workers when a broker is configured, else in this "
        "process's threads (CONCURRENCY of them), a few dozen groups a task, at most RATE Chat calls a second per "
        "endpoint in all: the pending ones (draft, queued or being deleted; the default), the failed ones, or "
        "all. Each sync is audited and written to the admin history under --actor, who needs the permission "
        "to sync. Keeps going past a group that fails and exits non-zero if any did."
    )
    permissions = (SYNC_PERMISSION,)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--pending", dest="selection", action="store_const", const="pending",
                           help=_("Groups waiting for a sync: draft, queued or deleting (the default)."))
        which.add_argument("--failed", dest="selection", action="store_const", const="failed",
                           help=_("Groups whose last sync failed."))
        which.add_argument("--all", dest="selection", action="store_const", const="all",
                           help=_("Every group not deleted."))
        parser.set_defaults(selection="pending")
        parser.add_argument("--owner", action="extend", nargs="+", default=[], metavar="USERID",
                            help=_("Only the groups of these Chat users."))
        parser.add_argument("--concurrency", type=int, default=None,
                            help=_("Without a broker, the threads of this process that sync tasks of groups "
                                   "(default CELERY_WORKER_CONCURRENCY, as a worker); with one, the workers' own."))
        parser.add_argument("--rate", type=float, default=None,
                            help=words.rate_help_text(protocol.CALLS_PER_SECOND_MAX))
        parser.add_argument("--dry-run", action="store_true",
                            help=_("List the groups that would be synced; change nothing and call Chat not at all."))

    def handle(self, *args, **options):
        actor = self.actor(options)
        handed = has_broker()
        concurrency, rate = options["concurrency"], options["rate"]
        if concurrency is None:
            concurrency = app_settings.CELERY_WORKER_CONCURRENCY
        if concurrency < 1:
            raise CommandError(_("--concurrency must be at least 1."))
        if rate is not None and rate <= 0:
            raise CommandError(_("--rate must be a positive number of calls a second."))
        if rate is not None and rate > protocol.CALLS_PER_SECOND_MAX:
            self.stderr.write(words.rate_above_text(rate, protocol.CALLS_PER_SECOND_MAX))
        try:
            chat_config(**({"rate_limit": rate} if rate else {}))
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.require_known_owners(options["owner"])
        groups = rows.groups_to_sync(options["selection"], options["owner"])
        total = groups.count()
        if options["dry_run"]:
            return self.dry_run(groups, total, options["selection"])

        effective = rate or app_settings.CHAT_RATE_LIMIT or protocol.CALLS_PER_SECOND_MAX
        self.stdout.write(words.starting_text(
            options["selection"], total, actor.get_username(),
            app_settings.CELERY_WORKER_CONCURRENCY if handed else concurrency, format(effective, "g")))
        if handed:
            self.stdout.write(words.handing_text(app_settings.SYNC_TASK_GROUPS))
        progress = self.progress(total, "sync_contact_groups")
        counts = {state: 0 for state in ContactGroup.State.values}
        failed = 0
        try:
            with self.stalls_reported(progress):
                for end in runs.sync_in_background(
                        rows.stream_ids(groups), actor.pk,
                        app_settings.CELERY_WORKER_CONCURRENCY if handed else concurrency, rate, total=total):
                    counts[end.state] += 1
                    if end.failed:
                        failed += 1
                        if failed <= FAILURES_LISTED_MAX:
                            progress.note(end.line, self.stdout)
                        elif failed == FAILURES_LISTED_MAX + 1:
                            progress.note(_("More groups failed; the admin lists them (filter by state)."),
                                          self.stdout)
                    progress.advance(failed=int(end.failed))
        except KeyboardInterrupt:
            progress.close()
            raise CommandError(words.stopped_waiting_text(progress.done, total, handed=handed)) from None
        progress.close()

        done = progress.done
        self.stdout.write(words.run_summary_text(done, progress.elapsed,
                                                 state_counts(counts) or _("nothing to do")))
        if failed:
            raise CommandError(words.not_fully_synced_text(failed, done), returncode=1)

    def dry_run(self, groups, total: int, selection: str) -> None:
        fields = ("owner__user_id", "name", "state", "sync__chat_group_id", "sync__confirmed_name", "delete_requested")
        for pk, owner, name, state, chat_group_id, confirmed_name, delete_requested in rows.stream_rows(
            groups, fields
        ):
            self.stdout.write(words.would_sync_line(
                pk, name, owner, ContactGroup.State(state).label, delete=delete_requested,
                create=chat_group_id is None and not confirmed_name, group_id=chat_group_id))
        self.stdout.write(words.dry_run_text(selection, total))
