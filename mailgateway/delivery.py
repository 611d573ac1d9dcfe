"""What providers report about mail we sent: `DeliveryReport` in, `OutboundEmail` updated.

The Anymail tracking receiver (`receivers.py`) maps the provider's event to a `DeliveryReport`
(plain data); `apply_delivery_report()` finds our record of that mail and moves its status.
A hard bounce, a complaint, or a rejection because the address bounced before, is invalid or
complained marks the address undeliverable: no more mail goes there until staff clear it (delete
the row in the admin). A report about a mail we have no record of changes nothing, as for
inbound bounces: it is no evidence about anyone.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from helpdesk import metrics

from .models import OutboundEmail, OutboundStatus, UndeliverableAddress

logger = logging.getLogger("mailgateway.delivery")

# Later reports never undo worse ones (a "delivered" after a complaint stays a complaint).
_RANK = {
    OutboundStatus.SENT: 1,
    OutboundStatus.DELIVERED: 2,
    OutboundStatus.REJECTED: 3,
    OutboundStatus.BOUNCED: 3,
    OutboundStatus.COMPLAINED: 4,
}
_STATUS_OF = {
    "delivered": OutboundStatus.DELIVERED,
    "bounced": OutboundStatus.BOUNCED,
    "complained": OutboundStatus.COMPLAINED,
    "rejected": OutboundStatus.REJECTED,
}
_UNDELIVERABLE_REJECTIONS = frozenset({"bounced", "invalid", "spam"})


@dataclass(frozen=True)
class DeliveryReport:
    kind: str  # Anymail's event type: delivered, bounced, complained, rejected, deferred, opened, ...
    provider: str
    provider_message_id: str = ""
    recipient: str = ""
    outbound_id: str = ""  # our metadata, when the provider sends it back
    reject_reason: str = ""
    detail: str = ""
    permanent: bool = True  # False for a bounce the provider calls soft or temporary


def marks_undeliverable(report: DeliveryReport) -> bool:
    if report.kind == "bounced":
        return report.permanent
    if report.kind == "complained":
        return True
    return report.kind == "rejected" and report.reject_reason in _UNDELIVERABLE_REJECTIONS


def find_outbound(report: DeliveryReport) -> OutboundEmail | None:
    if report.outbound_id:
        try:
            found = OutboundEmail.objects.filter(pk=uuid.UUID(report.outbound_id)).first()
        except ValueError:
            found = None
        if found is not None:
            return found
    if not report.provider_message_id:
        return None
    rows = OutboundEmail.objects.filter(
        Q(provider_message_id=report.provider_message_id) | Q(message_id_header=report.provider_message_id)
    )
    if report.recipient:
        rows = rows.filter(to_address__iexact=report.recipient)
    latest = list(rows.order_by("-created_at")[:2])
    if len(latest) > 1 and not report.recipient:
        # One id went to several people (a web ticket's first message: the customer's acknowledgement
        # and every agent's notice): a report that names nobody cannot say whose mail it was.
        return None
    return latest[0] if latest else None


def apply_delivery_report(report: DeliveryReport) -> OutboundEmail | None:
    """Update the record of the mail this report is about; returns it (None when unknown)."""
    status = _STATUS_OF.get(report.kind)
    if status is None:
        return None  # opened, clicked, deferred, queued ...: nothing we act on
    with transaction.atomic():
        row = find_outbound(report)
        if row is None:
            logger.info("%s report from %s about a mail we have no record of", report.kind, report.provider)
            return None
        row = OutboundEmail.objects.select_for_update().get(pk=row.pk)
        if status == OutboundStatus.BOUNCED and row.status != OutboundStatus.BOUNCED:
            metrics.count_bounced()  # once per mail, however often the provider reports it
        if _RANK.get(status, 0) >= _RANK.get(row.status, 0):  # type: ignore[call-overload]
            row.status = status
        if status != OutboundStatus.DELIVERED:
            row.error = (f"{report.kind} ({report.reject_reason or 'no reason given'}): {report.detail}")[:4000]
        row.updated_at = timezone.now()
        row.save(update_fields=["status", "error", "updated_at"])
        if marks_undeliverable(report):
            address = (report.recipient or row.to_address).strip().lower()
            UndeliverableAddress.objects.get_or_create(
                address=address,
                defaults={"reason": _reason(report), "detail": f"{report.provider}: {report.detail}"[:2000]},
            )
    return row


def _reason(report: DeliveryReport) -> str:
    return {"bounced": "bounce", "complained": "complaint"}.get(report.kind, "rejected")
