"""The list columns of a ticket (snippets, unread counts, who wrote the last public message):
counted in as each message is written, recounted from the messages after the rare writes that
bypass `services.add_message()`."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Case, Count, F, OuterRef, QuerySet, Subquery, When
from django.db.models.functions import Coalesce, Left
from django.db.models.lookups import Exact

from . import ticket_counts
from .models import SNIPPET_LENGTH, Message, Ticket


def count_message(ticket: Ticket, message: Message) -> list[str]:
    """Count `message` into the ticket's list columns (snippets, unread counts, who wrote the
    last public message) of each side that may see it; returns the fields changed. The caller
    holds the ticket's row lock."""
    snippet = message.message_text[:SNIPPET_LENGTH]
    ticket.staff_snippet = snippet
    ticket.conversation_version += 1
    changed = ["staff_snippet", "conversation_version"]
    if not message.read_by_staff:
        ticket.unread_by_staff += 1
        changed.append("unread_by_staff")
    if not message.is_internal:
        ticket.customer_snippet = snippet
        ticket.last_public_from_staff = not message.is_from_customer
        changed += ["customer_snippet", "last_public_from_staff"]
        if not message.read_by_customer:
            ticket.unread_by_customer += 1
            changed.append("unread_by_customer")
    return changed


def refresh_ticket_summaries(tickets: QuerySet[Ticket]) -> int:
    """Recount the list columns of `tickets` from their messages, for the rare writes that
    change messages without `add_message()` (erasure, the admin). Returns the tickets updated."""
    shown = Message.objects.filter(ticket=OuterRef("pk"))
    public = shown.filter(is_internal=False)

    def latest(messages: QuerySet[Message]) -> Any:
        return Left(Subquery(messages.order_by("-created_at").values("message_text")[:1]), SNIPPET_LENGTH)

    def how_many(messages: QuerySet[Message]) -> Any:
        counted = messages.order_by().values("ticket").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(counted), 0)

    last_public_from_customer = Subquery(public.order_by("-created_at").values("is_from_customer")[:1])

    with transaction.atomic():
        # Locked first, in one order: a message being added meanwhile then commits before the
        # recount's UPDATE starts, and that statement's snapshot counts it.
        ids = list(tickets.order_by("pk").select_for_update().values_list("pk", flat=True))
        ticket_counts.tickets_changed()  # an UPDATE sends no signal
        return Ticket.objects.filter(pk__in=ids).update(
            conversation_version=F("conversation_version") + 1,
            staff_snippet=latest(shown),
            customer_snippet=latest(public),
            unread_by_staff=how_many(shown.filter(read_by_staff=False)),
            unread_by_customer=how_many(public.filter(read_by_customer=False)),
            last_public_from_staff=Case(When(Exact(last_public_from_customer, False), then=True), default=False),
        )
