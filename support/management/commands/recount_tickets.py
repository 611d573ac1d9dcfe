"""`manage.py recount_tickets`: count every ticket's list columns again from its messages.

The services keep the columns (each side's snippet and unread count, who wrote the latest public
message) with every message; migrations fill them once. Run this after an upgrade that added
them while the old code was still serving (a message written in between is not counted), or
after messages were changed in the database by hand. Safe to run at any time: each batch locks
its tickets only while it recounts them.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from support.models import Ticket
from support.summaries import refresh_ticket_summaries


class Command(BaseCommand):
    help = "Count every ticket's list columns (snippets, unread counts, who wrote last) again from its messages."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", type=int, default=1000, help="tickets per transaction (default 1000)")

    def handle(self, *args: Any, **options: Any) -> None:
        batch = max(1, options["batch"])
        done, after = 0, None
        while True:
            tickets = Ticket.objects.order_by("pk")
            if after is not None:
                tickets = tickets.filter(pk__gt=after)
            ids = list(tickets.values_list("pk", flat=True)[:batch])
            if not ids:
                break
            done += refresh_ticket_summaries(Ticket.objects.filter(pk__in=ids))
            after = ids[-1]
        self.stdout.write(f"recounted {done} tickets")
