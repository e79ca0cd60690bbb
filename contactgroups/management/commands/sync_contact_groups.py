"""Sync conversation groups to Chat now, several at a time, under a staff user's name."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from contactgroups import rows, runs, words
from contactgroups.chat import protocol
from contactgroups.conf import app_settings, chat_config
from contactgroups.engine import has_broker
from contactgroups.management.base import ActorCommand, listed, state_counts
from contactgroups.models import ContactGroup
from contactgroups.permissions import SYNC_PERMISSION

# At most this many failed groups are listed one by one; the summary counts them all.
FAILURES_LISTED_MAX = 100


def starting_text(selection: str, total: int) -> str:
    """The line that opens a run: which groups, how many, under whom and how fast (see ``handle``)."""
    if selection == "failed":
        return ngettext(
            "Syncing %(count)d failed group as %(actor)s, %(concurrency)d at a time, at most %(rate)s Chat calls a "
            "second per endpoint.",
            "Syncing %(count)d failed groups as %(actor)s, %(concurrency)d at a time, at most %(rate)s Chat calls a "
            "second per endpoint.", total)
    if selection == "all":
        return ngettext(
            "Syncing %(count)d group (all not deleted) as %(actor)s, %(concurrency)d at a time, at most %(rate)s "
            "Chat calls a second per endpoint.",
            "Syncing %(count)d groups (all not deleted) as %(actor)s, %(concurrency)d at a time, at most %(rate)s "
            "Chat calls a second per endpoint.", total)
    return ngettext(
        "Syncing %(count)d pending group as %(actor)s, %(concurrency)d at a time, at most %(rate)s Chat calls a "
        "second per endpoint.",
        "Syncing %(count)d pending groups as %(actor)s, %(concurrency)d at a time, at most %(rate)s Chat calls a "
        "second per endpoint.", total)


def dry_run_text(selection: str, total: int) -> str:
    if selection == "failed":
        return ngettext(
            "Dry run: %(count)d failed group would be synced; nothing was changed and Chat was not called.",
            "Dry run: %(count)d failed groups would be synced; nothing was changed and Chat was not called.", total)
    if selection == "all":
        return ngettext(
            "Dry run: %(count)d group (all not deleted) would be synced; nothing was changed and Chat was not "
            "called.",
            "Dry run: %(count)d groups (all not deleted) would be synced; nothing was changed and Chat was not "
            "called.", total)
    return ngettext(
        "Dry run: %(count)d pending group would be synced; nothing was changed and Chat was not called.",
        "Dry run: %(count)d pending groups would be synced; nothing was changed and Chat was not called.", total)


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
                            help=_("Chat calls a second per endpoint, at most (default CHAT_RATE_LIMIT, else "
                                   "Chat's documented %(max)d).") % {"max": protocol.CALLS_PER_SECOND_MAX})
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
            self.stderr.write(_("Warning: --rate %(rate)s is above Chat's documented %(max)d calls a second; Chat "
                                "will refuse calls beyond it.")
                              % {"rate": format(rate, "g"), "max": protocol.CALLS_PER_SECOND_MAX})
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
        self.stdout.write(starting_text(options["selection"], total) % {
            "count": total, "actor": actor.get_username(),
            "concurrency": app_settings.CELERY_WORKER_CONCURRENCY if handed else concurrency,
            "rate": format(effective, "g")})
        if handed:
            self.stdout.write(words.handing_text(app_settings.SYNC_TASK_GROUPS))
        progress = self.progress(total, "sync_contact_groups")
        counts = {state: 0 for state in ContactGroup.State.values}
        failed = 0
        try:
            for end in runs.sync_in_background(
                    rows.stream_ids(groups), actor.pk,
                    app_settings.CELERY_WORKER_CONCURRENCY if handed else concurrency, rate, total=total):
                counts[end.state] += 1
                if end.failed:
                    failed += 1
                    if failed <= FAILURES_LISTED_MAX:
                        progress.note(end.line, self.stdout)
                    elif failed == FAILURES_LISTED_MAX + 1:
                        progress.note(_("More groups failed; the admin lists them (filter by state)."), self.stdout)
                progress.advance(failed=int(end.failed))
        except runs.Stalled as stalled:
            progress.close()
            raise CommandError(words.workers_stalled_text(stalled.missing, runs.stall_seconds())) from None
        except KeyboardInterrupt:
            progress.close()
            if handed:
                raise CommandError(ngettext(
                    "Stopped waiting after %(done)d of %(total)d group; the Celery workers go on syncing the rest.",
                    "Stopped waiting after %(done)d of %(total)d groups; the Celery workers go on syncing the rest.",
                    total) % {"done": progress.done, "total": total}) from None
            message = ngettext(
                "Interrupted after %(done)d of %(total)d group; what Chat confirmed for the syncs already under way "
                "was saved, and the rest are untouched.",
                "Interrupted after %(done)d of %(total)d groups; what Chat confirmed for the syncs already under way "
                "was saved, and the rest are untouched.", total) % {"done": progress.done, "total": total}
            raise CommandError(message) from None
        progress.close()

        done = progress.done
        self.stdout.write(words.run_summary_text(done, progress.elapsed,
                                                 listed(state_counts(counts)) or _("nothing to do")))
        if failed:
            raise CommandError(ngettext(
                "%(failed)d of %(done)d group did not sync fully; see the lines above and the admin.",
                "%(failed)d of %(done)d groups did not sync fully; see the lines above and the admin.",
                done,
            ) % {"failed": failed, "done": done}, returncode=1)

    def dry_run(self, groups, total: int, selection: str) -> None:
        fields = ("owner__user_id", "name", "state", "chat_group_id", "confirmed_name", "delete_requested")
        for pk, owner, name, state, chat_group_id, confirmed_name, delete_requested in rows.stream_rows(
            groups, fields
        ):
            params = {"pk": pk, "name": name, "owner": owner, "state": str(ContactGroup.State(state).label).lower(),
                      "group_id": chat_group_id}
            if delete_requested:
                line = _("Would sync group %(pk)d “%(name)s” of %(owner)s (%(state)s): delete it from Chat.")
            elif chat_group_id is None and not confirmed_name:
                line = _("Would sync group %(pk)d “%(name)s” of %(owner)s (%(state)s): create it in Chat.")
            else:
                line = _("Would sync group %(pk)d “%(name)s” of %(owner)s (%(state)s): bring Chat's GroupId "
                         "%(group_id)s to match.")
            self.stdout.write(line % params)
        self.stdout.write(dry_run_text(selection, total) % {"count": total})
