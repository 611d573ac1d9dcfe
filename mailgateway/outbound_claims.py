"""A mail that kills the worker sending it must not take the outbox down with it.

A worker that dies mid-batch (out of memory, a crash in a C library, the hard time limit) rolls
the batch back, and its task comes back (acks late, rejected on worker loss): the same mails are
claimed again, with the one that killed it among them, again and again. So each claim of a mail
is counted in the shared cache (kept a day) before it is sent, and set against the tries the
mail has recorded: a claim that left no try behind ended without an outcome.

- In a batch, a mail with such a claim behind it is set aside (ALONE) and, once the batch has
  committed, sent alone in a transaction of its own: the others go out first.
- Sent alone, a mail with OUTBOUND_MAX_DELIVERIES such claims behind it is `failed`, with the
  reason, for staff to see, instead of being handed to worker after worker.

One read and one write of the cache per batch. Without the cache the mails are sent uncounted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger("mailgateway.outbound")

# A mail of a batch that had a claim without an outcome: its caller sends it alone.
ALONE = "alone"

_KEEP_SECONDS = 86400


def _key(row: Any) -> str:
    return f"mailgateway:out-claims:{row.pk}"


def count_claims(rows: Sequence[Any]) -> dict[Any, int] | None:
    """The claims without an outcome behind each row, by pk, once this claim is counted; None
    when the cache does not answer (nothing counted)."""
    try:
        claims = cache.get_many([_key(row) for row in rows])
        cache.set_many({_key(row): claims.get(_key(row), 0) + 1 for row in rows}, timeout=_KEEP_SECONDS)
    except Exception:
        logger.warning("the cache did not answer: outbound claims are not counted", exc_info=True)
        return None
    return {row.pk: max(0, claims.get(_key(row), 0) - row.attempts) for row in rows}


def uncount_claims(rows: Sequence[Any]) -> None:
    """These rows were claimed but not tried (the batch ran out of time, or set them aside): the
    claim is not one without an outcome."""
    if not rows:
        return
    try:
        claims = cache.get_many([_key(row) for row in rows])
        cache.set_many({key: max(0, count - 1) for key, count in claims.items()}, timeout=_KEEP_SECONDS)
    except Exception:
        logger.warning("the cache did not answer: outbound claims are not uncounted", exc_info=True)


def is_killing_workers(unfinished: int) -> bool:
    return unfinished >= settings.OUTBOUND_MAX_DELIVERIES


def killing_workers_error(unfinished: int) -> str:
    return f"Taken by a worker {unfinished} times without an outcome (the worker died or was killed each time)."
