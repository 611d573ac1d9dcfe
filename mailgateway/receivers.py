"""Anymail's inbound signal -> `store_inbound()`: one receiver for every provider.

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

from anymail.signals import AnymailInboundEvent, inbound
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


@receiver(inbound, dispatch_uid="mailgateway.store_provider_mail")
def store_provider_mail(sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any) -> None:
    message = event.message
    verdicts = {
        "spam_detected": getattr(message, "spam_detected", None),
        "spam_score": getattr(message, "spam_score", None),
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
