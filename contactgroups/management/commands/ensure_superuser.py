"""Create the first admin account if it does not exist yet; used by `make run`."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy

from contactgroups import words
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
            self.stdout.write(words.superuser_text(username, exists=True))
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        User.objects.create_superuser(username=username, email="", password=password or None)
        user = User.objects.get(username=username)
        if password:
            self.stdout.write(words.superuser_text(username, from_environment=True))
            return
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
        self.stdout.write(self.style.SUCCESS(
            words.superuser_text(username, password=password)
        ))
