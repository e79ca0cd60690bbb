"""imadmin, the Django project: settings, URLs, the WSGI and ASGI applications and the Celery app."""

from imadmin.celery import app as celery_app

__all__ = ["celery_app"]
