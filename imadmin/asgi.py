"""The ASGI application. Without a broker, the in-process executor takes up stranded groups as it starts."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imadmin.settings")
application = get_asgi_application()

from contactgroups.tasks import start_in_web_process  # noqa: E402  (needs Django set up)

start_in_web_process()
