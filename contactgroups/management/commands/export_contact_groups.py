"""Write the mirror of conversation groups, with Chat's GroupIds and ResultCodes, as CSV for audits."""

import logging

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactgroups import words
from contactgroups.exports import csv_text, exported_rows
from contactgroups.management.base import ActorCommand, RawStream
from contactgroups.models import ContactGroup
from contactgroups.permissions import VIEW_GROUP_PERMISSION

logger = logging.getLogger(__name__)


class Command(ActorCommand):
    help = gettext_lazy(
        "Write conversation groups as CSV to standard output (or --output FILE), one row per conversation "
        "(a group without any has one row with empty conversation columns): owner, group_name, group_id (Chat's "
        "GroupId), state, type, target, result_code and result_info (Chat's last answer for the conversation). "
        "A cell that a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage return) "
        "is written with a ' in front, which import_contact_groups takes off again. Streams, so any number of "
        "groups fits. --actor needs the permission to view conversation groups. Changes nothing."
    )
    permissions = (VIEW_GROUP_PERMISSION,)

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--owner", action="extend", nargs="+", default=[], metavar="USERID",
                            help=_("Only the groups of these Chat users."))
        parser.add_argument("--include-deleted", action="store_true", help=_("Also the groups deleted from Chat."))
        parser.add_argument("--output", metavar="FILE", help=_("Write to FILE instead of standard output."))

    def handle(self, *args, **options):
        actor = self.actor(options)
        self.require_known_owners(options["owner"])
        groups = ContactGroup.objects.all() if options["include_deleted"] else ContactGroup.objects.live()
        if options["owner"]:
            groups = groups.filter(owner__user_id__in=options["owner"])
        total = groups.count()
        progress = self.progress(total, "export_contact_groups")
        if options["output"]:
            try:
                with open(options["output"], "w", encoding="utf-8", newline="") as stream:
                    rows = self.write(stream, groups, progress)
            except OSError as exc:
                raise CommandError(words.cannot_write_text(options["output"], exc.strerror)) from None
        else:
            rows = self.write(RawStream(self.stdout), groups, progress)
        progress.close()
        logger.info("%s exported %d conversation groups (%d rows)", actor.get_username(), total, rows)
        self.stderr.write(
            words.exported_text(progress.done, rows),
            style_func=lambda text: text,
        )

    def write(self, stream, groups, progress) -> int:
        """Writes the file the admin's CSV export downloads (``exports.csv_text``); returns its number of rows."""
        rows = 0

        def counted():
            nonlocal rows
            for row in exported_rows(groups, on_chunk=progress.advance):
                rows += 1
                yield row

        for piece in csv_text(counted()):
            stream.write(piece)
        return rows
