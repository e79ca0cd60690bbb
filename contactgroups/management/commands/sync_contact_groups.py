"""Sync conversation groups to Chat now, several at a time, under a staff user's name."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from contactgroups import bulk
from contactgroups.chat import protocol
from contactgroups.conf import chat_config
from contactgroups.management.base import ActorCommand
from contactgroups.models import ContactGroup
from contactgroups.permissions import SYNC_PERMISSION

# At most this many failed groups are listed one by one; the summary counts them all.
FAILURES_LISTED_MAX = 100


class Command(ActorCommand):
    help = (
        "Sync conversation groups to Chat in this process, CONCURRENCY at a time, at most RATE Chat calls a "
        "second per endpoint: the pending ones (draft, queued or being deleted; the default), the failed ones, or "
        "all. Each sync is audited and written to the admin history under --actor, who needs the permission "
        "to sync. Keeps going past a group that fails and exits non-zero if any did."
    )
    permissions = (SYNC_PERMISSION,)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--pending", dest="selection", action="store_const", const="pending",
                           help="Groups waiting for a sync: draft, queued or deleting (the default).")
        which.add_argument("--failed", dest="selection", action="store_const", const="failed",
                           help="Groups whose last sync failed.")
        which.add_argument("--all", dest="selection", action="store_const", const="all",
                           help="Every group not deleted.")
        parser.set_defaults(selection="pending")
        parser.add_argument("--owner", action="extend", nargs="+", default=[], metavar="USERID",
                            help="Only the groups of these Chat users.")
        parser.add_argument("--concurrency", type=int, default=bulk.DEFAULT_CONCURRENCY,
                            help="Groups synced at once, each in its own thread and database connection "
                                 f"(default {bulk.DEFAULT_CONCURRENCY}).")
        parser.add_argument("--rate", type=float, default=None,
                            help="Chat calls a second per endpoint, at most (default CHAT_RATE_LIMIT, else Chat's "
                                 f"documented {protocol.CALLS_PER_SECOND_MAX}).")
        parser.add_argument("--dry-run", action="store_true",
                            help="List the groups that would be synced; change nothing and call Chat not at all.")

    def handle(self, *args, **options):
        actor = self.actor(options)
        concurrency, rate = options["concurrency"], options["rate"]
        if concurrency < 1:
            raise CommandError("--concurrency must be at least 1.")
        if rate is not None and rate <= 0:
            raise CommandError("--rate must be a positive number of calls a second.")
        if rate is not None and rate > protocol.CALLS_PER_SECOND_MAX:
            self.stderr.write(f"Warning: --rate {rate:g} is above Chat's documented {protocol.CALLS_PER_SECOND_MAX} "
                              "calls a second; Chat will refuse calls beyond it.")
        try:
            chat_config(**({"rate_limit": rate} if rate else {}))
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.require_known_owners(options["owner"])
        groups = bulk.groups_to_sync(options["selection"], options["owner"])
        total = groups.count()
        if options["dry_run"]:
            return self.dry_run(groups, total, options["selection"])

        effective = rate or getattr(settings, "CHAT_RATE_LIMIT", None) or protocol.CALLS_PER_SECOND_MAX
        self.stdout.write(
            f"Syncing {total} {options['selection']} group{'s' if total != 1 else ''} as {actor.get_username()}, "
            f"{concurrency} at a time, at most {effective:g} Chat calls a second per endpoint."
        )
        progress = self.progress(total, "sync_contact_groups", "group")
        counts = {state: 0 for state in ContactGroup.State.values}
        failed = crashed = 0
        clients = bulk.ThreadClients(**({"rate_limit": rate} if rate else {}))
        try:
            results = bulk.run_concurrently(
                bulk.stream_ids(groups),
                lambda group_pk: bulk.sync_and_report(group_pk, actor.pk, client=clients.get()),
                concurrency,
            )
            for group_pk, outcome in results:
                if isinstance(outcome, Exception):
                    line = f"Group {group_pk}: the sync stopped: {type(outcome).__name__}: {outcome}"
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
                        progress.note("More groups failed; the admin lists them (filter by state).", self.stdout)
                progress.advance(failed=int(is_failure))
        except KeyboardInterrupt:
            progress.close()
            message = f"Interrupted after {progress.done} of {total} groups; the rest are untouched."
            raise CommandError(message) from None
        finally:
            clients.close()
        progress.close()

        done = progress.done
        per_second = done / progress.elapsed if progress.elapsed else 0.0
        parts = [f"{counts[state]} {ContactGroup.State(state).label.lower()}" for state in counts if counts[state]]
        if crashed:
            parts.append(f"{crashed} stopped by an error")
        self.stdout.write(
            f"Synced {done} group{'s' if done != 1 else ''} in {progress.elapsed:.1f} s ({per_second:.1f} groups/s): "
            + (", ".join(parts) or "nothing to do") + "."
        )
        if failed:
            raise CommandError(f"{failed} of {done} groups did not sync fully; see the lines above and the admin.",
                               returncode=1)

    def dry_run(self, groups, total: int, selection: str) -> None:
        fields = ("owner__user_id", "name", "state", "chat_group_id", "confirmed_name", "delete_requested")
        for pk, owner, name, state, chat_group_id, confirmed_name, delete_requested in bulk.stream_rows(
            groups, fields
        ):
            if delete_requested:
                action = "delete it from Chat"
            elif chat_group_id is None and not confirmed_name:
                action = "create it in Chat"
            else:
                action = f"bring Chat's GroupId {chat_group_id} to match"
            label = ContactGroup.State(state).label.lower()
            self.stdout.write(f"Would sync group {pk} “{name}” of {owner} ({label}): {action}.")
        self.stdout.write(
            f"Dry run: {total} {selection} group{'s' if total != 1 else ''} would be synced; nothing was changed "
            "and Chat was not called."
        )
