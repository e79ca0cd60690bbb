"""Sync conversation groups to Chat now, several at a time, under a staff user's name."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from contactgroups import bulk, handoff
from contactgroups.chat import protocol
from contactgroups.conf import app_settings, chat_config
from contactgroups.management.base import ActorCommand, failure_text, listed, state_counts
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
        "Sync conversation groups to Chat in PROCESSES processes of this machine, or in the Celery workers when "
        "a broker is configured, CONCURRENCY at a time in each, at most RATE Chat calls a second per endpoint in "
        "all: the pending ones (draft, queued or being deleted; the default), the failed ones, or "
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
                            help=_("Groups synced at once in each process, each in its own thread (default "
                                   "%(default)d; with a broker, %(handed)d in each task a worker runs).")
                            % {"default": bulk.SYNC_THREADS, "handed": handoff.TASK_THREADS})
        parser.add_argument("--processes", type=int, default=None,
                            help=_("Processes syncing groups, each with its own threads and database "
                                   "connections, their Chat calls spaced as one process's (default: one for each "
                                   "core, at most one for each %(batch)d groups).") % {"batch": bulk.BATCH_SIZE})
        parser.add_argument("--rate", type=float, default=None,
                            help=_("Chat calls a second per endpoint, at most (default CHAT_RATE_LIMIT, else "
                                   "Chat's documented %(max)d).") % {"max": protocol.CALLS_PER_SECOND_MAX})
        parser.add_argument("--dry-run", action="store_true",
                            help=_("List the groups that would be synced; change nothing and call Chat not at all."))

    def handle(self, *args, **options):
        actor = self.actor(options)
        handed = bool(app_settings.CELERY_BROKER_URL)
        concurrency, rate = options["concurrency"], options["rate"]
        if concurrency is None:
            concurrency = handoff.TASK_THREADS if handed else bulk.SYNC_THREADS
        if concurrency < 1:
            raise CommandError(_("--concurrency must be at least 1."))
        if options["processes"] is not None and options["processes"] < 1:
            raise CommandError(_("--processes must be at least 1."))
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
        groups = bulk.groups_to_sync(options["selection"], options["owner"])
        total = groups.count()
        if options["dry_run"]:
            return self.dry_run(groups, total, options["selection"])

        effective = rate or app_settings.CHAT_RATE_LIMIT or protocol.CALLS_PER_SECOND_MAX
        processes = 1 if handed else min(options["processes"] or bulk.default_processes(total), max(total, 1))
        self.stdout.write(starting_text(options["selection"], total) % {
            "count": total, "actor": actor.get_username(), "concurrency": concurrency * processes,
            "rate": format(effective, "g")})
        if handed:
            self.stdout.write(_("Handing them to the Celery workers, %(batch)d a task, each task synced "
                                "%(concurrency)d at a time; their Chat calls share one rate limit.")
                              % {"batch": handoff.TASK_GROUPS, "concurrency": concurrency})
        progress = self.progress(total, "sync_contact_groups")
        counts = {state: 0 for state in ContactGroup.State.values}
        failed = crashed = 0
        clients = bulk.ThreadClients(**({"rate_limit": rate} if rate else {}))
        try:
            if handed:
                results = handoff.hand_out(bulk.stream_ids(groups), actor.pk, handoff.stall_seconds(),
                                           concurrency=concurrency, rate=rate)
            elif processes > 1:
                results = bulk.sync_in_processes(
                    bulk.stream_ids(groups), actor.pk, processes, concurrency,
                    {"rate_limit": rate} if rate else {}, failure_text, total)
            else:
                results = bulk.sync_batched(bulk.stream_ids(groups), actor.pk, concurrency, clients)
            for group_pk, outcome in results:
                if isinstance(outcome, Exception):
                    line = _("Group %(pk)d: the sync stopped: %(error)s") % {
                        "pk": group_pk,
                        "error": str(outcome) if isinstance(outcome, bulk.RemoteFailure) else failure_text(outcome)}
                    is_failure = True
                    crashed += 1
                else:
                    counts[outcome.state] += 1
                    line, is_failure = outcome.line(), outcome.failed
                if is_failure:
                    failed += 1
                    if failed <= FAILURES_LISTED_MAX:
                        progress.note(line, self.stdout)
                    elif failed == FAILURES_LISTED_MAX + 1:
                        progress.note(_("More groups failed; the admin lists them (filter by state)."), self.stdout)
                progress.advance(failed=int(is_failure))
        except handoff.Stalled as stalled:
            progress.close()
            raise CommandError(ngettext(
                "%(missing)d group handed to the Celery workers has not reported in %(seconds)d s; the admin "
                "shows where it is.",
                "%(missing)d groups handed to the Celery workers have not reported in %(seconds)d s; the admin "
                "shows where they are.", stalled.missing) % {"missing": stalled.missing,
                                                            "seconds": handoff.stall_seconds()}) from None
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
        finally:
            clients.close()
        progress.close()

        done = progress.done
        per_second = done / progress.elapsed if progress.elapsed else 0.0
        parts = state_counts(counts)
        if crashed:
            parts.append(ngettext("%(count)d stopped by an error", "%(count)d stopped by an error", crashed)
                         % {"count": crashed})
        self.stdout.write(ngettext(
            "Synced %(count)d group in %(seconds).1f s (%(rate).1f groups/s): %(states)s.",
            "Synced %(count)d groups in %(seconds).1f s (%(rate).1f groups/s): %(states)s.",
            done,
        ) % {"count": done, "seconds": progress.elapsed, "rate": per_second,
             "states": listed(parts) or _("nothing to do")})
        if failed:
            raise CommandError(ngettext(
                "%(failed)d of %(done)d group did not sync fully; see the lines above and the admin.",
                "%(failed)d of %(done)d groups did not sync fully; see the lines above and the admin.",
                done,
            ) % {"failed": failed, "done": done}, returncode=1)

    def dry_run(self, groups, total: int, selection: str) -> None:
        fields = ("owner__user_id", "name", "state", "chat_group_id", "confirmed_name", "delete_requested")
        for pk, owner, name, state, chat_group_id, confirmed_name, delete_requested in bulk.stream_rows(
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
