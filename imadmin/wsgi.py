"""The WSGI application. Without a broker, the in-process executor takes up stranded groups as it starts."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imadmin.settings")
application = get_wsgi_application()

from contactgroups.tasks import start_in_web_process  # noqa: E402  (needs Django set up)

start_in_web_process()
