"""Read Chat users' groups now, as the periodic drift sweep does, and mark the groups the users changed in the app."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactgroups import runs, words
from contactgroups.management.base import ActorCommand, failure_text
from contactgroups.models import ChatUser
from contactgroups.permissions import PULL_PERMISSION
from contactgroups.sync.drift import owners_to_sweep

# At most this many groups found changed, and failed users, are listed one by one; the summary counts them all.
LISTED_MAX = 100


class Command(ActorCommand):
    help = gettext_lazy(
        "Read the conversation groups of every Chat user with a group in Chat (get_contact_group, one call a user "
        "unless a user's conversations fill several pages), or of the given users, as the periodic drift sweep "
        "does: each group the user changed in the app is marked “Changed in the app” and its history says what "
        "differs. Nothing is changed in Chat or in the mirror's groups. Calls take at most "
        "SYNC_DRIFT_SWEEP_RATE_SHARE of Chat's rate, leaving the rest to staff. --actor needs the permission to "
        "pull. Keeps going past a user that fails and exits non-zero if any did."
    )
    permissions = (PULL_PERMISSION,)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--owner", action="extend", nargs="+", metavar="USERID",
                            help=_("Only these Chat users (default: every one with a group in Chat)."))
        parser.add_argument("--concurrency", type=int, default=None, metavar="N",
                            help=_("Users read at once (default SYNC_DRIFT_SWEEP_CONCURRENCY)."))

    def handle(self, *args, **options):
        actor = self.actor(options)
        owners = owners_to_sweep()
        if options["owner"]:
            self.require_known_owners(options["owner"])
            owners = owners.filter(user_id__in=options["owner"])
        if options["concurrency"] is not None and options["concurrency"] < 1:
            raise CommandError(_("--concurrency must be at least 1."))
        owner_pks = list(owners.order_by("pk").values_list("pk", flat=True))
        progress = self.progress(len(owner_pks), "sweep_contact_groups", "user")
        listed_lines = 0

        def on_owner(owner_pk, result):
            nonlocal listed_lines
            if "sweep" in result:
                progress.advance()
                return
            progress.advance(failed=1)
            if listed_lines < LISTED_MAX:
                listed_lines += 1
                user_id = ChatUser.objects.filter(pk=owner_pk).values_list("user_id", flat=True).first()
                progress.note(words.sweep_read_failed_text(user_id, failure_text(result["failure"])), self.stdout)

        with self.stalls_reported(progress):
            summary = runs.sweep(actor.pk, owner_pks, options["concurrency"], on_owner=on_owner)
        progress.close()
        self.list_changed(owner_pks)
        failed = len(summary.failures)
        self.stdout.write(words.sweep_summary_text(
            read=summary.owners, total=len(owner_pks), seconds=progress.elapsed, groups=summary.groups,
            drifted=summary.drifted, found=summary.found, cleared=summary.cleared, skipped=summary.skipped,
            failed=failed))
        if failed:
            raise CommandError(words.sweep_failed_text(failed), returncode=1)

    def list_changed(self, owner_pks) -> None:
        """One line for each group found changed in the app (the first LISTED_MAX)."""
        from contactgroups.models import ContactGroup

        changed = (ContactGroup.objects.live().drifted().filter(owner__in=owner_pks)
                   .select_related("owner", "sync").order_by("owner__user_id", "name"))
        for group in changed[:LISTED_MAX]:
            self.stdout.write(words.sweep_changed_line(group.owner.user_id, group.name, group.sync.drift))
