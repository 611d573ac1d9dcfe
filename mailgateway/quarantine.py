"""Staff decisions on quarantined mail: accept it into a ticket, open it as a new ticket,
discard it, or process it again.

Called by the console's quarantine page and the Django admin's actions. Each decision locks the
stored mail, checks that it is still quarantined and that the actor is staff, and applies the
mail through the same path as `ingest` (`apply_route()`), in one transaction; the stored row
records who decided.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from support import rules, services
from support.errors import InvalidInput, NotAllowed
from support.models import Channel, Message, Ticket, User

from .extraction import extract
from .ingest import apply_route, parse_mail, person_for, process_stored_mail, set_outcome
from .models import InboundEmail, InboundStatus
from .routing import NewTicket, Reply
from .store import read_raw_mail


def accept_into_ticket(inbound: InboundEmail, *, ticket: Ticket, actor: User) -> Message:
    """Staff vouch for a quarantined mail: its sender joins the ticket and the mail is posted there."""
    return _decide(inbound, actor, ticket=ticket)


def open_as_new_ticket(inbound: InboundEmail, *, actor: User) -> Message:
    """Staff turn a quarantined mail into a ticket of its own sender."""
    return _decide(inbound, actor, ticket=None)


def discard(inbound: InboundEmail, *, actor: User) -> None:
    """Staff looked at it and it is nothing: kept as ignored, with who decided."""
    with transaction.atomic():
        row = InboundEmail.objects.select_for_update().defer("raw").get(pk=inbound.pk)
        _require_quarantined(row, actor)
        set_outcome(row, InboundStatus.IGNORED, "discarded", f"Discarded by {actor.email}. {row.detail}")
        row.save()


def reprocess(inbound: InboundEmail) -> str:
    """Route a quarantined or failed mail again (for example after a participant was added)."""
    if inbound.status not in (InboundStatus.QUARANTINED, InboundStatus.FAILED, InboundStatus.RECEIVED):
        return inbound.status
    return process_stored_mail(str(inbound.pk), again=True)


def _require_quarantined(row: InboundEmail, actor: User) -> None:
    if not (actor.is_active and actor.is_staff):
        raise NotAllowed("Only staff may decide on quarantined mail.")
    if row.status != InboundStatus.QUARANTINED:
        raise InvalidInput(f"This mail is {row.status}, not quarantined.", {"status": [row.status]})


def _decide(inbound: InboundEmail, actor: User, *, ticket: Ticket | None) -> Message:
    with transaction.atomic():
        row = InboundEmail.objects.select_for_update().defer("raw").get(pk=inbound.pk)
        _require_quarantined(row, actor)
        raw = read_raw_mail(row.pk)  # a storage fault is not the mail's: it is raised as it is
        try:
            mail, _ = parse_mail(raw)
        except Exception as exc:  # the quarantine's "malformed": there is nothing to post
            raise InvalidInput(
                "The mail cannot be read, so there is nothing to post; keep the raw mail and discard it.",
                {"raw": [f"{type(exc).__name__}: {exc}"[:500]]},
            ) from exc
        if not mail.from_address:
            raise InvalidInput("The mail has no sender to post it as.", {"from": ["missing"]})
        sender = person_for(mail.from_address, mail.from_name)
        if ticket is not None and not rules.can_view_ticket(sender, ticket):
            services.add_participants(ticket=ticket, people=[sender], actor=actor, channel=Channel.EMAIL)
        route: NewTicket | Reply = (
            Reply(ticket=ticket, author=sender, routed_by="staff") if ticket is not None else NewTicket(author=sender)
        )
        apply_route(row, mail, route, extract(mail), staff_mail=False)
        row.reason, row.detail = "", f"{'Accepted' if ticket else 'Opened as a new ticket'} by {actor.email}."
        row.routed_by = "staff" if ticket is not None else "new"
        row.processed_at = timezone.now()
        row.save()
    assert row.message is not None
    return row.message
