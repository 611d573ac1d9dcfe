"""Gunicorn settings of the web process: `gunicorn helpdesk.wsgi -c python:helpdesk.gunicorn_config`.

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS. The metrics
cleanup keeps prometheus-client's multiprocess folder (PROMETHEUS_MULTIPROC_DIR) correct when
gunicorn replaces a worker process.
"""

from __future__ import annotations

import os
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# A provider's webhook or an upload of 10 MB must finish; anything slower is stuck, not working.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Replaced now and then, so that a slow leak in one process never grows without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
# Access lines are text; with LOG_FORMAT=json they are left out so every line stays JSON.
accesslog = None if os.environ.get("LOG_FORMAT") == "json" else "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
