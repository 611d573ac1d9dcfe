"""The Celery app. Eager (in-process) unless REDIS_URL names a broker; see settings."""

import gc
import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def freeze_startup_heap(*, collect: bool = True) -> None:
    """What a worker holds from its start (Django, the apps and their libraries: about 110,000
    objects) lives as long as the worker: kept out of the garbage collector's full passes, which
    walked all of it every thousand mails or so, about 45 ms each (7% of sending a mail in
    `bench/outbound.py`)."""
    if collect:
        gc.collect()
    gc.freeze()


@worker_ready.connect
def _freeze_in_worker(**_: object) -> None:
    """The solo and thread pools run tasks in the worker itself (the solo pool, having sent
    `worker_process_init` too, freezes again after a collection)."""
    freeze_startup_heap()


@worker_process_init.connect
def _freeze_in_pool_child(**_: object) -> None:
    """A prefork child, just forked: no collection first, which would write to every object it
    shares with the parent and so copy every page they sit on."""
    freeze_startup_heap(collect=False)
