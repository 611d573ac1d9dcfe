"""Exact counts of ticket lists, kept in the shared cache until a ticket changes.

A page of 100 tickets reads 100 rows off an index, but its `count` scans every ticket the
filter matches (25,000 open tickets: about 3 ms, the largest part of the page), and that number
only changes when a ticket is written. So each count is kept under its own SQL together with
the tickets' generation (`support.generations`), which every committed ticket write replaces.

On only when the cache is shared by every process (`TICKET_COUNT_CACHE_SECONDS`, on with Redis);
the entries expire anyway, which bounds the harm of a write that bypassed the models.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save

from .generations import Generation

TICKETS = Generation("tickets:generation")
GENERATION_KEY = TICKETS.key
_COUNT_PREFIX = "tickets:count:"


def is_enabled() -> bool:
    return settings.TICKET_COUNT_CACHE_SECONDS > 0


def count_tickets(tickets: QuerySet[Any]) -> int:
    """`tickets.count()`, from the cache when no ticket changed since it was counted."""
    if not is_enabled() or TICKETS.pending():
        return tickets.count()
    sql, params = tickets.query.sql_with_params()
    key = _COUNT_PREFIX + hashlib.sha256(repr((sql, params)).encode()).hexdigest()
    return int(TICKETS.kept(key, tickets.count, settings.TICKET_COUNT_CACHE_SECONDS))


def tickets_changed() -> None:
    """Every kept count is stale once the current transaction commits."""
    if is_enabled():
        TICKETS.changed()


def _on_ticket_write(sender: Any, **kwargs: Any) -> None:
    tickets_changed()


def connect() -> None:
    """Every saved or deleted ticket, and every deleted person (an agent's tickets become
    unassigned by the database), moves the generation on. Called once by the app config."""
    from .models import Ticket, User

    post_save.connect(_on_ticket_write, sender=Ticket, dispatch_uid="ticket_counts.ticket_saved")
    post_delete.connect(_on_ticket_write, sender=Ticket, dispatch_uid="ticket_counts.ticket_deleted")
    post_delete.connect(_on_ticket_write, sender=User, dispatch_uid="ticket_counts.person_deleted")
