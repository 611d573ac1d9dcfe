"""Anymail's inbound signal -> `store_inbound()`: one receiver for every provider; and its
tracking signal -> `delivery.apply_delivery_report()` for the mail we sent.

Anymail has already checked the webhook's basic auth and the provider's signature. Past this
point no code sees the provider's payload: the mail is kept as raw bytes with its envelope and
the provider's own verdicts. If storing fails (the database is down) the exception reaches
Anymail, which answers 500, so the provider retries.
"""

from __future__ import annotations

import io
import logging
from email.generator import BytesGenerator
from email.policy import compat32
from typing import Any

from anymail.signals import AnymailInboundEvent, AnymailTrackingEvent, inbound, tracking
from django.dispatch import receiver

from .models import Door
from .store import store_inbound

logger = logging.getLogger("mailgateway")


def raw_bytes_of(message: Any) -> bytes:
    """The message as bytes, as close to what was received as the parsed form allows."""
    try:
        return bytes(message.as_bytes())
    except Exception:  # a header the modern policy cannot fold: write it as it was parsed
        buffer = io.BytesIO()
        BytesGenerator(buffer, policy=compat32, mangle_from_=False).flatten(message)
        return buffer.getvalue()


_SES_VERDICTS = {"PASS": "pass", "FAIL": "fail", "GRAY": "none", "PROCESSING_FAILED": "temperror"}


def provider_sender_verdicts(esp_name: str, esp_event: Any) -> dict[str, str]:
    """SPF, DKIM and DMARC as the provider checked them, for those that say so in the payload.

    Amazon SES puts its verdicts in the receipt rather than in an Authentication-Results header.
    """
    if esp_name != "Amazon SES" or not isinstance(esp_event, dict):
        return {}
    receipt = esp_event.get("receipt") or {}
    found = {}
    for method in ("spf", "dkim", "dmarc"):
        status = str((receipt.get(f"{method}Verdict") or {}).get("status", "")).upper()
        if status in _SES_VERDICTS:
            found[method] = _SES_VERDICTS[status]
    return found


@receiver(inbound, dispatch_uid="mailgateway.store_provider_mail")
def store_provider_mail(sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any) -> None:
    message = event.message
    verdicts = {
        "spam_detected": getattr(message, "spam_detected", None),
        "spam_score": getattr(message, "spam_score", None),
        **provider_sender_verdicts(esp_name, event.esp_event),
    }
    stored = store_inbound(
        raw_bytes_of(message),
        door=Door.WEBHOOK,
        provider=esp_name,
        provider_message_id=str(event.event_id or ""),
        envelope_sender=str(getattr(message, "envelope_sender", "") or ""),
        envelope_recipient=str(getattr(message, "envelope_recipient", "") or ""),
        provider_verdicts={k: v for k, v in verdicts.items() if v is not None},
    )
    logger.info("inbound mail from %s stored as %s (new: %s)", esp_name, stored.inbound.pk, stored.created)


@receiver(tracking, dispatch_uid="mailgateway.track_outbound_mail")
def track_outbound_mail(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """Anymail's tracking signal -> `apply_delivery_report()`; the provider's payload stops here."""
    from .delivery import DeliveryReport, apply_delivery_report

    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    esp_event = event.esp_event if isinstance(event.esp_event, dict) else {}
    # Anymail calls some soft bounces "bounced" (Postmark's SoftBounce); they do not mark the address.
    permanent = not (esp_name == "Postmark" and esp_event.get("Type") == "SoftBounce")
    report = DeliveryReport(
        kind=str(event.event_type or ""),
        provider=esp_name,
        provider_message_id=str(event.message_id or ""),
        recipient=str(event.recipient or ""),
        outbound_id=str(metadata.get("outbound_id") or ""),
        reject_reason=str(event.reject_reason or ""),
        detail=str(event.description or event.mta_response or "")[:2000],
        permanent=permanent,
    )
    apply_delivery_report(report)
