"""What the domain announces about a change.

Two moments, so that no receiver ever acts on a change that was rolled back:

- `recorded` is sent inside the writer's transaction, with `sender` the event's signal below and
  that event's keywords. It is for the outbox: rows that must commit or roll back with the change
  itself (the queued mail and in-app notifications). Such a receiver reaches nothing outside the
  database; it defers that (queueing a task) with `transaction.on_commit`. One transaction, not
  a second one after the commit, is also what keeps a mailed ticket cheap.
- The event's own signal is sent from `transaction.on_commit`, for receivers that act outside
  the database (metrics, live updates).

Each carries `ticket`, `actor` and `channel`, plus the keyword named below.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal

ticket_opened = Signal()  # message
message_added = Signal()  # message
ticket_changed = Signal()  # events: list[TicketEvent]
ticket_assigned = Signal()  # agent, previous
ticket_escalated = Signal()  # reason

recorded = Signal()  # sender: one of the signals above; inside the transaction


def announce(signal: Signal, **kwargs: Any) -> None:
    recorded.send(sender=signal, **kwargs)
    transaction.on_commit(lambda: signal.send(sender="support", **kwargs))
