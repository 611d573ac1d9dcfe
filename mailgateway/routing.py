"""Where a mail belongs: read-only, `ParsedEmail` in, a `Route` out.

In this order (spec section 5): a signed reply token in any recipient address; then
In-Reply-To / References against the Message-IDs of messages the helpdesk sent or received;
then a ticket reference in the subject; else a new ticket. A token, header or subject match
counts only when the sender is one of the ticket's people; anyone else's mail is quarantined
(`sender_mismatch`), never appended: a shared In-Reply-To or a ticket number in a subject is not
proof of who someone is. A staff From that fails DMARC is not trusted as staff.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from support.models import Status, Ticket, User
from support.references import reference_in_subject, reference_spellings

from .addresses import find_reply_tokens
from .inbound_queries import find_tickets_by_message_ids
from .tokens import verify_reply_token


@dataclass(frozen=True)
class NewTicket:
    routed_by: str = "new"
    follow_up_of: Ticket | None = None
    author: User | None = None  # the sender, when they already have an account


@dataclass(frozen=True)
class Reply:
    ticket: Ticket
    author: User
    routed_by: str


@dataclass(frozen=True)
class Quarantine:
    reason: str
    detail: str
    ticket: Ticket | None = None


Route = NewTicket | Reply | Quarantine


@dataclass(frozen=True)
class Envelope:
    """What routing needs to know about a mail, whichever door it came through."""

    sender_address: str
    recipients: tuple[str, ...]
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    dmarc_failed: bool = False
    # The From was found only by repairing the header block, and DMARC did not pass: the receiving
    # server's checks may have read a mail with no From at all.
    sender_unverified: bool = False


def find_user(address: str) -> User | None:
    if not address:
        return None
    return User.objects.with_email(address).first()


def is_ticket_person(ticket: Ticket, user: User | None) -> bool:
    if user is None or not user.is_active:
        return False
    if user.is_staff or ticket.customer_id == user.pk:
        return True
    return ticket.participants.filter(person=user).exists()


_LOOK_UP = object()


def route_email(envelope: Envelope, *, sender: User | object | None = _LOOK_UP) -> Route:
    """`sender` is the user of the From address when the caller has already found it (or None)."""
    if sender is _LOOK_UP:
        sender = find_user(envelope.sender_address)
    assert sender is None or isinstance(sender, User)
    if sender is not None and sender.is_staff and envelope.dmarc_failed:
        return Quarantine(
            "sender_unverified",
            f"{envelope.sender_address} is staff but the mail failed DMARC.",
        )
    if sender is not None and sender.is_staff and envelope.sender_unverified:
        return Quarantine(
            "sender_unverified",
            f"{envelope.sender_address} is staff, but the mail's From was read only after repairing its "
            "broken header block, and DMARC did not pass for it.",
        )
    by_token = _route_by_token(envelope, sender)
    if by_token is not None:
        return by_token
    for routed_by, ticket in _thread_candidates(envelope):
        if not is_ticket_person(ticket, sender):
            return Quarantine(
                "sender_mismatch",
                f"{envelope.sender_address or 'An unknown sender'} is not one of the people of {ticket.reference} "
                f"(matched by {routed_by}).",
                ticket,
            )
        return _reply_or_follow_up(ticket, sender, routed_by)  # type: ignore[arg-type]
    return NewTicket(author=sender)


def _route_by_token(envelope: Envelope, sender: User | None) -> Route | None:
    for token in find_reply_tokens(envelope.recipients, support_address=settings.SUPPORT_ADDRESS):
        owner = verify_reply_token(token)
        if owner is None:
            continue
        ticket = Ticket.objects.select_related("customer").filter(pk=owner.ticket_id).first()
        if ticket is None:
            continue
        if sender is None or sender.pk != owner.person_id:
            if sender is not None and not sender.is_staff and is_ticket_person(ticket, sender):
                # The customer's or a participant's answer-all to another person's mail: never
                # posted as the token's person; their own headers decide. (Staff using a colleague's
                # token stay quarantined: a token is what lets an agent's mail carry commands.)
                continue
            return Quarantine(
                "sender_mismatch",
                f"The reply address belongs to someone else than {envelope.sender_address or 'the sender'}.",
                ticket,
            )
        return _reply_or_follow_up(ticket, sender, "token")
    return None


def _reply_or_follow_up(ticket: Ticket, author: User, routed_by: str) -> Route:
    if ticket.status == Status.CLOSED and not author.is_staff:
        return NewTicket(routed_by=f"follow_up:{routed_by}", follow_up_of=ticket, author=author)
    return Reply(ticket=ticket, author=author, routed_by=routed_by)


def _thread_candidates(envelope: Envelope) -> Iterable[tuple[str, Ticket]]:
    """Tickets the mail's headers, then its subject, point at: the first one found wins."""
    for routed_by, ids in (("in_reply_to", envelope.in_reply_to), ("references", tuple(reversed(envelope.references)))):
        ticket = _ticket_by_message_ids(ids)
        if ticket is not None:
            yield routed_by, ticket
            return
    ticket = _ticket_by_subject(envelope.subject)
    if ticket is not None:
        yield "subject", ticket


def _ticket_by_message_ids(ids: tuple[str, ...]) -> Ticket | None:
    wanted = [i for i in dict.fromkeys(_normalize_id(i) for i in ids) if i][:50]
    if not wanted:
        return None
    found = find_tickets_by_message_ids(wanted)
    for message_id in wanted:  # the order the mail gives: nearest first
        if message_id in found:
            return found[message_id]
    return None


def _normalize_id(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    return value if value.startswith("<") else f"<{value.strip('<>')}>"


def _ticket_by_subject(subject: str) -> Ticket | None:
    reference = reference_in_subject(subject)
    if reference is None:
        return None
    return Ticket.objects.select_related("customer").filter(reference__in=reference_spellings(reference)).first()
