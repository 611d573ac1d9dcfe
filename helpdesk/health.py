"""Liveness, readiness and the state of the mail queues, for load balancers and operators.

`GET /healthz` answers 200 while the process serves requests and touches nothing else (a restart
is the only cure for a process that cannot answer it). `GET /readyz` checks what a request needs:
the database (`SELECT 1`) and, when Celery uses Redis, the broker (`PING`); it answers 503 when
either fails, naming which. It also reports, without failing on them, the depth of each Celery
queue, how many mails wait to be processed and the age of the oldest: a long queue is a reason to
add workers, not to take a web process out of service (providers would then get errors).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

# Kombu keeps a queue with priorities as extra lists named `<queue>\x06\x16<step>`.
_PRIORITY_SUFFIXES = ("", *(f"\x06\x16{step}" for step in (3, 6, 9)))


@dataclass(frozen=True)
class Check:
    ok: bool
    ms: float
    error: str = ""


@dataclass(frozen=True)
class MailBacklog:
    waiting: int
    oldest_waiting_seconds: float | None
    stuck: int


def _timed(probe: Any) -> Check:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # any failure of a dependency is the answer, not a crash
        return Check(ok=False, ms=_ms_since(started), error=type(exc).__name__ + ": " + str(exc)[:200])
    return Check(ok=True, ms=_ms_since(started))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def broker_uses_redis() -> bool:
    return str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://"))


def broker_client() -> Any:
    import redis

    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)


def check_database() -> Check:
    def probe() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    return _timed(probe)


def check_broker() -> Check | None:
    """None when Celery runs in-process (no broker to check)."""
    if not broker_uses_redis():
        return None
    return _timed(lambda: broker_client().ping())


def queue_depths() -> dict[str, int]:
    """Messages waiting in each Celery queue (not those a worker holds unacknowledged)."""
    if not broker_uses_redis():
        return {}
    client = broker_client()
    pipe = client.pipeline()
    for queue in settings.CELERY_QUEUE_NAMES:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(queue + suffix)
    lengths = pipe.execute()
    per_queue = len(_PRIORITY_SUFFIXES)
    return {
        queue: int(sum(lengths[i * per_queue : (i + 1) * per_queue]))
        for i, queue in enumerate(settings.CELERY_QUEUE_NAMES)
    }


def mail_backlog(now: datetime | None = None) -> MailBacklog:
    from mailgateway.models import InboundEmail, InboundStatus

    now = now or timezone.now()
    waiting = InboundEmail.objects.filter(status=InboundStatus.RECEIVED)
    oldest = waiting.order_by("received_at").values_list("received_at", flat=True).first()
    stuck_since = now - timedelta(seconds=settings.INBOUND_STUCK_AFTER_SECONDS)
    return MailBacklog(
        waiting=waiting.count(),
        oldest_waiting_seconds=round((now - oldest).total_seconds(), 1) if oldest else None,
        stuck=waiting.filter(received_at__lt=stuck_since).count(),
    )


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    database = check_database()
    broker = check_broker()
    ready = database.ok and (broker is None or broker.ok)
    body: dict[str, Any] = {
        "status": "ready" if ready else "not_ready",
        "database": asdict(database),
        "redis": asdict(broker) if broker is not None else {"ok": None, "detail": "not used: tasks run in-process"},
    }
    if broker is not None and broker.ok:
        body["queues"] = _or_error(queue_depths)
    if database.ok:
        body["inbound_mail"] = _or_error(lambda: asdict(mail_backlog()))
    return JsonResponse(body, status=200 if ready else 503)


def _or_error(read: Any) -> Any:
    try:
        return read()
    except Exception as exc:  # a report that cannot be read is shown as such; readiness stands
        return {"error": type(exc).__name__}
