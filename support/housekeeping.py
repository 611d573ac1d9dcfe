"""Routine care of the tickets, run by Celery beat (`helpdesk.tasks`): closing what was left resolved."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from . import services
from .models import Status, Ticket


def close_resolved_tickets(*, after_days: int, now: datetime | None = None, limit: int = 1000) -> int:
    """Close tickets resolved more than `after_days` ago that nobody reopened; returns how many.

    Each goes through `services.close_if_resolved_before`, so the closing is a ticket event like
    any other. `after_days` 0 or less switches it off.
    """
    if after_days <= 0:
        return 0
    resolved_before = (now or timezone.now()) - timedelta(days=after_days)
    note = f"Closed automatically: resolved for more than {after_days} days without a reply."
    candidates = Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lt=resolved_before).order_by("resolved_at")
    closed = 0
    for ticket in candidates[:limit]:
        if services.close_if_resolved_before(ticket=ticket, resolved_before=resolved_before, note=note):
            closed += 1
    return closed
