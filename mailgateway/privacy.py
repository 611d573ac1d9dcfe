"""The mail side of a customer's export and erasure (see `support.privacy` for the choices).

Export: the record of every mail they sent in (when, through which door, subject, outcome) and
of every mail sent to them (when, which kind, delivery status); not the raw bytes, whose content
is already in the exported messages. Erase: raw mail, addresses, subjects and error texts of the
mails from them, to them or on their tickets are removed; their reply tokens and any
undeliverable-address entry are deleted; mails held for staff on their tickets lose their text.
The rows stay (with their status and times) so that counts and metrics still add up.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from .models import HeldReply, InboundEmail, OutboundEmail, ReplyToken, UndeliverableAddress


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _inbound_of(email: str, ticket_ids: list[Any]) -> Any:
    return InboundEmail.objects.filter(
        Q(from_address__iexact=email) | Q(envelope_sender__iexact=email) | Q(ticket_id__in=ticket_ids)
    )


def _outbound_of(email: str, person: Any, ticket_ids: list[Any]) -> Any:
    return OutboundEmail.objects.filter(Q(to_address__iexact=email) | Q(recipient=person) | Q(ticket_id__in=ticket_ids))


def export_mail(email: str, person: Any, ticket_ids: list[Any]) -> dict[str, Any]:
    inbound = _inbound_of(email, ticket_ids).filter(Q(from_address__iexact=email) | Q(envelope_sender__iexact=email))
    outbound = OutboundEmail.objects.filter(Q(to_address__iexact=email) | Q(recipient=person))
    return {
        "mails_received_from_you": [
            {
                "received_at": _iso(row.received_at),
                "door": row.door,
                "subject": row.subject,
                "status": row.status,
                "reason": row.reason,
                "ticket": row.ticket.reference if row.ticket_id else None,
            }
            for row in inbound.select_related("ticket").defer("raw").order_by("received_at")
        ],
        "mails_sent_to_you": [
            {
                "created_at": _iso(row.created_at),
                "kind": row.template,
                "status": row.status,
                "ticket": row.ticket.reference,
            }
            for row in outbound.select_related("ticket").order_by("created_at")
        ],
        "undeliverable": UndeliverableAddress.objects.filter(address__iexact=email).exists(),
    }


def erase_mail(email: str, person: Any, ticket_ids: list[Any]) -> int:
    """Remove what the mail records hold about the person; returns how many inbound mails it touched."""
    touched = _inbound_of(email, ticket_ids).update(
        raw=b"",
        from_address="",
        envelope_sender="",
        envelope_recipient="",
        subject="",
        message_id_header="",
        detail="",
        error="",
        auth_results={},
        provider_verdicts={},
    )
    _outbound_of(email, person, ticket_ids).update(to_address="", context={}, error="")
    HeldReply.objects.filter(ticket_id__in=ticket_ids).update(text="")
    ReplyToken.objects.filter(person=person).delete()
    UndeliverableAddress.objects.filter(address__iexact=email).delete()
    return touched
