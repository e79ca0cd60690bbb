"""Create the first admin account if it does not exist yet; used by `make run`."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contactgroups.management.base import TranslatedCommand


class Command(TranslatedCommand):
    help = gettext_lazy(
        "Create a superuser named DJANGO_SUPERUSER_USERNAME (default: admin) unless it exists. Its password is "
        "DJANGO_SUPERUSER_PASSWORD, or a generated one printed once."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        if User.objects.filter(username=username).exists():
            self.stdout.write(_("Admin account “%(username)s” already exists; its password is unchanged.")
                              % {"username": username})
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        User.objects.create_superuser(username=username, email="", password=password or None)
        user = User.objects.get(username=username)
        if password:
            self.stdout.write(_("Created admin account “%(username)s” with the password from "
                                "DJANGO_SUPERUSER_PASSWORD.") % {"username": username})
            return
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
        self.stdout.write(self.style.SUCCESS(
            _("Created admin account “%(username)s”. Its password, shown only this once: %(password)s")
            % {"username": username, "password": password}
        ))
