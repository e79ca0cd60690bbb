"""Print a UserSig for the configured Chat app, for trying the REST API by hand or logging in a test client."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from contactgroups.chat import protocol
from contactgroups.chat.usersig import generate_usersig
from contactgroups.conf import usersig_credentials


class Command(BaseCommand):
    help = (
        "Print a UserSig (TLSSigAPIv2) for the configured SDKAppID on stdout, and nothing else. "
        "The identifier defaults to the configured Chat administrator. Only CHAT_SDKAPPID, CHAT_SECRET_KEY and "
        "CHAT_ADMIN_IDENTIFIER are needed: a UserSig does not depend on the region or the API address."
    )

    def add_arguments(self, parser):
        parser.add_argument("--identifier", help="UserID to sign for (default: CHAT_ADMIN_IDENTIFIER).")
        parser.add_argument(
            "--expire",
            type=int,
            default=protocol.USERSIG_DEFAULT_EXPIRE_SECONDS,
            help=f"Validity in seconds (default: {protocol.USERSIG_DEFAULT_EXPIRE_SECONDS}, 180 days).",
        )

    def handle(self, *args, identifier=None, expire, **options):
        try:
            sdkappid, secret_key, admin_identifier = usersig_credentials()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        identifier = admin_identifier if identifier is None else identifier
        problems = protocol.validate_user_id(identifier)
        if problems:
            raise CommandError(" ".join(problems))
        if expire <= 0:
            raise CommandError("--expire must be a positive number of seconds.")
        self.stdout.write(generate_usersig(sdkappid, secret_key, identifier, expire))
