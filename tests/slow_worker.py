"""`celery -A tests.slow_worker worker`: the helpdesk's own app, whose mail processing stops midway.

Only for the test that kills a worker mid-task. After a mail's ticket or message is written (inside
the processing transaction, with the mail's row locked, nothing committed) the worker writes the
file named by SLOW_WORKER_MARKER and sleeps, so that the test can SIGKILL it exactly there.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from celery.signals import worker_ready

from helpdesk.celery import app

__all__ = ["app"]


@worker_ready.connect
def _stop_midway(**_: Any) -> None:
    from mailgateway import ingest  # Django is set up by now

    original = ingest.apply_route

    def apply_then_wait(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        Path(os.environ["SLOW_WORKER_MARKER"]).write_text("written, not committed")
        time.sleep(120)

    ingest.apply_route = apply_then_wait
