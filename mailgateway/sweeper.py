"""No mail waits forever: queue again the mail whose task was lost.

A door commits the mail and then queues its task; if Redis was down at that moment (the provider
still got its 200), or a task was lost with a Redis that restarted without its data, the row stays
`received`. `requeue_stuck_inbound()` finds rows still `received` longer than
`INBOUND_STUCK_AFTER_SECONDS` and queues `process_inbound` for each again, oldest first, at most
`SWEEP_BATCH` per run. A mail whose processing failed (attempts > 0) has its retry on the way and is
left to it, unless it still waits after `SWEEP_RETRYING_AFTER_SECONDS`. Outbound mail is found the
same way after `OUTBOUND_STUCK_AFTER_SECONDS`; one tried before is left to its retry until that
retry is overdue by as long (its longest backoff is known from its tries).

A row is queued again at most once per that period: a marker with that lifetime is kept in the
cache (Redis, next to the queue). While a backlog is longer than the period this adds one cheap
duplicate task per mail (processing locks the row and does nothing for a mail already handled),
not one per sweep. If Redis loses its data the markers go with the queue, and everything stuck
is queued again, which is what is needed then.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from .models import InboundEmail, InboundStatus

logger = logging.getLogger("mailgateway")


def _not_retrying(*, since_field: str, now: datetime) -> Q:
    """Rows with no retry on the way: never tried, or tried so long ago that the retry was lost."""
    retrying_after = timedelta(seconds=settings.SWEEP_RETRYING_AFTER_SECONDS)
    return Q(attempts=0) | Q(**{f"{since_field}__lt": now - retrying_after})


def find_stuck_inbound(*, now: datetime, stuck_after: timedelta, limit: int) -> list[str]:
    rows = (
        InboundEmail.objects.filter(status=InboundStatus.RECEIVED, received_at__lt=now - stuck_after)
        .filter(_not_retrying(since_field="received_at", now=now))
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
    return [str(pk) for pk in rows]


def requeue_stuck_inbound(*, now: datetime | None = None) -> list[str]:
    """Queue again every mail stuck in `received`; returns the ids queued this time."""
    from helpdesk import metrics

    from .tasks import process_inbound

    stuck_after = timedelta(seconds=settings.INBOUND_STUCK_AFTER_SECONDS)
    marker_seconds = max(1, settings.INBOUND_STUCK_AFTER_SECONDS)
    queued: list[str] = []
    for inbound_id in find_stuck_inbound(
        now=now or timezone.now(), stuck_after=stuck_after, limit=settings.SWEEP_BATCH
    ):
        if not cache.add(f"mailgateway:requeued:{inbound_id}", 1, timeout=marker_seconds):
            continue  # queued again recently; its task is still on the way
        process_inbound.delay(inbound_id)
        queued.append(inbound_id)
    if queued:
        logger.warning("sweeper: queued %s stuck inbound mails again", len(queued), extra={"requeued": len(queued)})
    metrics.count_requeued("inbound", len(queued))
    return queued


def requeue_stuck_outbound(*, now: datetime | None = None) -> list[str]:
    """Queue again every outbound mail still `queued` after OUTBOUND_STUCK_AFTER_SECONDS.

    Sent by task name (`mailgateway.send_outbound`, routed to the outbound queue); the sending task
    itself makes a second delivery of the same row harmless.
    """
    from celery import current_app
    from django.apps import apps

    from helpdesk import metrics

    try:
        outbound_model = apps.get_model("mailgateway", "OutboundEmail")
    except LookupError:  # outbound mail is not installed in this version
        return []
    stuck_after = settings.OUTBOUND_STUCK_AFTER_SECONDS
    now = now or timezone.now()
    rows = (
        outbound_model.objects.filter(status="queued", created_at__lt=now - timedelta(seconds=stuck_after))
        .filter(_outbound_retry_lost(now=now, stuck_after=stuck_after))
        .order_by("created_at")
        .values_list("pk", "attempts")[: settings.SWEEP_BATCH]
    )
    queued: list[str] = []
    for pk, tried in rows:
        outbound_id = str(pk)
        if not cache.add(f"mailgateway:requeued-out:{outbound_id}", 1, timeout=max(1, stuck_after)):
            continue
        # The mail's next try: a task sends only the try its mail is due for.
        current_app.send_task("mailgateway.send_outbound", args=[outbound_id], kwargs={"attempt": tried + 1})
        queued.append(outbound_id)
    if queued:
        logger.warning("sweeper: queued %s stuck outbound mails again", len(queued), extra={"requeued": len(queued)})
    metrics.count_requeued("outbound", len(queued))
    return queued


def _outbound_retry_lost(*, now: datetime, stuck_after: int) -> Q:
    """Rows with no try on the way: never tried, or whose next try is overdue by `stuck_after`.
    A mail tried n times has its next try at most `longest_backoff(n)` after its last try (the
    row's `updated_at`): 45 s after the first, an hour and a half at most; a lost retry is found
    then, not hours later."""
    from .tasks import longest_backoff

    lost = Q(attempts=0)
    for tried in range(1, settings.OUTBOUND_MAX_RETRIES + 1):
        overdue = now - timedelta(seconds=longest_backoff(tried) + stuck_after)
        lost |= Q(attempts=tried, updated_at__lt=overdue)
    # Tried more often than the retries allow now (the setting was lowered): its last try is due.
    overdue = now - timedelta(seconds=longest_backoff(settings.OUTBOUND_MAX_RETRIES + 1) + stuck_after)
    return lost | Q(attempts__gt=settings.OUTBOUND_MAX_RETRIES, updated_at__lt=overdue)


def run_outbox_for_waiting_mail(*, now: datetime | None = None) -> bool:
    """With runs of the outbox (OUTBOUND_COALESCE), ask for one when mail never tried has waited
    longer than a run's mark lives: its run was lost, killed, or skipped rows another worker held
    and then let go, and nothing else would send it before OUTBOUND_STUCK_AFTER_SECONDS. Through
    the mark, like any run: none is added while one waits. One indexed read; True when a run was
    asked for."""
    from .outbound_reads import outbox_runs_on, untried
    from .tasks import OUTBOX_RUN_MARK_SECONDS, request_outbox_run

    if not outbox_runs_on():
        return False
    since = (now or timezone.now()) - timedelta(seconds=OUTBOX_RUN_MARK_SECONDS)
    if not untried().filter(created_at__lt=since).exists():
        return False
    logger.warning("sweeper: mail never tried waited over %s s: a run of the outbox asked for", OUTBOX_RUN_MARK_SECONDS)
    request_outbox_run()
    return True
