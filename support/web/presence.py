"""Which agents have a ticket open in the console, and whether they are typing a reply.

Each open console page tells the server every few seconds (`note`); an entry older than
`STALE_SECONDS` is gone. Kept in the cache only (Redis in production, memory locally): losing it
loses nothing but the notice. Two beats at the same moment may drop one of them; the next beat,
seconds later, puts it back.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache import cache

from support.generations import CACHE_ERRORS
from support.models import Ticket, User

logger = logging.getLogger(__name__)

STALE_SECONDS = 30


def _key(ticket: Ticket) -> str:
    return f"presence:{ticket.pk}"


def _fresh(entries: dict[str, Any], now: float) -> dict[str, Any]:
    return {k: v for k, v in entries.items() if now - v["at"] < STALE_SECONDS}


def note(ticket: Ticket, agent: User, *, typing: bool) -> None:
    now = time.time()
    try:
        entries = _fresh(cache.get(_key(ticket)) or {}, now)
        entries[str(agent.pk)] = {"name": agent.display_name, "typing": typing, "at": now}
        cache.set(_key(ticket), entries, STALE_SECONDS * 2)
    except CACHE_ERRORS:  # the cache is down: no notice for a while, nothing else lost
        logger.warning("presence not noted: the cache cannot be reached")


def others_on(ticket: Ticket, agent: User) -> list[dict[str, Any]]:
    """The other agents on this ticket now: `[{"name": ..., "typing": bool}]`; none while the
    cache cannot be reached."""
    try:
        entries = _fresh(cache.get(_key(ticket)) or {}, time.time())
    except CACHE_ERRORS:
        return []
    return [
        {"name": v["name"], "typing": v["typing"]}
        for k, v in sorted(entries.items(), key=lambda kv: kv[1]["name"])
        if k != str(agent.pk)
    ]
