"""What the domain announces after a change has committed.

Receivers (notifications, metrics, live updates) connect here; the doors never send anything.
Every signal is sent from `transaction.on_commit`, so a receiver never sees a change that was
rolled back. Each carries `ticket`, `actor` and `channel`, plus the keyword named below.
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


def announce(signal: Signal, **kwargs: Any) -> None:
    transaction.on_commit(lambda: signal.send(sender="support", **kwargs))
