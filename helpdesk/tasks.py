"""Housekeeping tasks for Celery beat, on the `housekeeping` queue (see CELERY_BEAT_SCHEDULE).

Celery wrappers only: each calls one function that does the work and can be run and tested
without Celery. A failure is retried with exponential backoff and jitter.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

logger = logging.getLogger("helpdesk.housekeeping")

_RETRYING = {
    "autoretry_for": (Exception,),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
    "ignore_result": True,
}


@shared_task(name="helpdesk.sweep_stuck_mail", acks_late=True, soft_time_limit=120, time_limit=150, **_RETRYING)
def sweep_stuck_mail() -> dict[str, int]:
    """Queue again inbound mail stuck in `received` (and outbound mail stuck in `queued`), and a run
    of the outbox for mail never tried that no run took."""
    from mailgateway.sweeper import requeue_stuck_inbound, requeue_stuck_outbound, run_outbox_for_waiting_mail

    return {
        "inbound": len(requeue_stuck_inbound()),
        "outbound": len(requeue_stuck_outbound()),
        "outbox_runs": int(run_outbox_for_waiting_mail()),
    }


@shared_task(name="helpdesk.close_resolved_tickets", acks_late=True, soft_time_limit=600, time_limit=660, **_RETRYING)
def close_resolved_tickets() -> int:
    from support.housekeeping import close_resolved_tickets as close

    closed = close(after_days=settings.AUTO_CLOSE_RESOLVED_DAYS)
    if closed:
        logger.info("closed %s resolved tickets", closed, extra={"closed": closed})
    return closed


@shared_task(name="helpdesk.purge_raw_mail", acks_late=True, soft_time_limit=1800, time_limit=1860, **_RETRYING)
def purge_raw_mail() -> int:
    from mailgateway.retention import purge_raw_mail as purge

    purged = purge(older_than_days=settings.RAW_MAIL_RETENTION_DAYS)
    if purged:
        logger.info("removed the raw bytes of %s old mails", purged, extra={"purged": purged})
    return purged
