"""The Celery app. Workers: `celery -A imadmin worker`."""

import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imadmin.settings")

app = Celery("imadmin", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
@worker_process_init.connect
def settle(**_signal):
    """A worker (or each process of a prefork pool) has loaded all it needs: see ``engine.settle_loaded_objects``."""
    from contactgroups.engine import settle_loaded_objects

    settle_loaded_objects()
