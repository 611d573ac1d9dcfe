"""Counters for Prometheus, and `GET /metrics` that serves them.

Counters are kept where the work happens: `helpdesk_mails_received_total` by the doors (web
processes, the pipe command, the IMAP poll; counted in `mailgateway.store` after the commit), the
outcomes by the Celery workers that process mail, `sent` and `bounced` by outbound mail and bounce
handling. With `PROMETHEUS_MULTIPROC_DIR` set (the
same folder for gunicorn and the workers of one host, emptied at start), /metrics adds them up
across processes; without it each process counts for itself (fine for `runserver`).

At every scrape /metrics also reads the current state: each Celery queue's depth, the mails
waiting to be processed and the age of the oldest (`helpdesk.health`).

/metrics answers to `Authorization: Bearer $METRICS_TOKEN`; without a token it is closed (404)
unless `METRICS_PUBLIC=true`.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger("helpdesk.metrics")

MAILS_RECEIVED = Counter("helpdesk_mails_received", "Inbound mails stored (duplicates not counted)", ["door"])
MAILS_PROCESSED = Counter("helpdesk_mails_processed", "Inbound mails that became a ticket or a message")
MAILS_IGNORED = Counter("helpdesk_mails_ignored", "Inbound mails recorded and ignored", ["reason"])
MAILS_QUARANTINED = Counter("helpdesk_mails_quarantined", "Inbound mails held for staff", ["reason"])
MAILS_FAILED = Counter("helpdesk_mails_failed", "Inbound mails whose last processing retry failed")
MAILS_SENT = Counter("helpdesk_mails_sent", "Outbound mails handed to the mail provider")
MAILS_BOUNCED = Counter("helpdesk_mails_bounced", "Bounces of mail the helpdesk sent (reports and provider events)")
MAILS_REQUEUED = Counter("helpdesk_mails_requeued", "Stuck mails queued again by the sweeper", ["direction"])


def _after_commit(count: Any) -> None:
    """Count what committed only: a rolled-back change is not an event."""
    transaction.on_commit(count, robust=True)


def count_outcome(status: str, reason: str = "") -> None:
    """A stored mail's processing ended with this status (`mailgateway.models.InboundStatus`)."""

    def count() -> None:
        if status == "processed":
            MAILS_PROCESSED.inc()
        elif status == "ignored":
            MAILS_IGNORED.labels(reason=reason or "unknown").inc()
            if reason == "bounce":
                MAILS_BOUNCED.inc()
        elif status == "quarantined":
            MAILS_QUARANTINED.labels(reason=reason or "unknown").inc()
        elif status == "failed":
            MAILS_FAILED.inc()

    _after_commit(count)


def count_sent(number: int = 1) -> None:
    if number:
        _after_commit(lambda: MAILS_SENT.inc(number))


def count_bounced() -> None:
    _after_commit(MAILS_BOUNCED.inc)


def count_requeued(direction: str, number: int) -> None:
    if number:
        MAILS_REQUEUED.labels(direction=direction).inc(number)


class BacklogCollector(Collector):
    """The queues and the waiting mail, read when Prometheus scrapes."""

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # so that registering does not run `collect()` (and query the database) at import

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from .health import broker_uses_redis, mail_backlog, queue_depths

        if broker_uses_redis():
            depth = GaugeMetricFamily("helpdesk_queue_depth", "Messages waiting in a Celery queue", labels=["queue"])
            try:
                for queue, length in queue_depths().items():
                    depth.add_metric([queue], length)
                yield depth
            except Exception:
                logger.warning("metrics: the broker could not be read", exc_info=True)
        try:
            backlog = mail_backlog()
        except Exception:
            logger.warning("metrics: the database could not be read", exc_info=True)
            return
        yield GaugeMetricFamily("helpdesk_inbound_waiting", "Inbound mails not processed yet", value=backlog.waiting)
        yield GaugeMetricFamily(
            "helpdesk_inbound_stuck",
            "Inbound mails waiting longer than INBOUND_STUCK_AFTER_SECONDS",
            value=backlog.stuck,
        )
        yield GaugeMetricFamily(
            "helpdesk_inbound_oldest_waiting_seconds",
            "Age of the oldest inbound mail not processed yet (0 when none waits)",
            value=backlog.oldest_waiting_seconds or 0.0,
        )


_backlog = BacklogCollector()
REGISTRY.register(_backlog)


def registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    merged.register(_backlog)
    return merged


def scrape_refusal(request: HttpRequest) -> JsonResponse | None:
    """Why this request may not read the metrics, or None when it may."""
    token = settings.METRICS_TOKEN
    if not token:
        if settings.METRICS_PUBLIC:
            return None
        # Not found rather than forbidden: an unconfigured /metrics does not announce itself.
        return JsonResponse({"error": "not_found", "message": "Not found.", "details": {}}, status=404)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if hmac.compare_digest(given.encode(), token.encode()):
        return None
    return JsonResponse(
        {"error": "not_authenticated", "message": "Send Authorization: Bearer <METRICS_TOKEN>.", "details": {}},
        status=401,
    )


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = scrape_refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
