"""Raw mail is kept only as long as it may be needed: `RAW_MAIL_RETENTION_DAYS`.

`purge_raw_mail()` empties the raw bytes of handled mail (processed or ignored) received before
the retention period. What the mail became stays: the message and its attachments, and the mail's
record (door, envelope, Message-ID, sender, subject, SPF/DKIM/DMARC verdicts, status, reason,
`raw_size`). Mail still waiting, quarantined or failed keeps its bytes whatever its age, because
staff may still need to process it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .models import InboundEmail, InboundStatus

HANDLED = (InboundStatus.PROCESSED, InboundStatus.IGNORED)


def purge_raw_mail(*, older_than_days: int, now: datetime | None = None, batch: int = 500) -> int:
    """Empty the raw bytes of handled mail older than the period; returns how many. 0 days: off."""
    if older_than_days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    purged = 0
    while True:
        # In batches, each its own short transaction, so a big first purge does not hold locks long.
        with transaction.atomic():
            ids = list(
                InboundEmail.objects.filter(status__in=HANDLED, received_at__lt=cutoff)
                .exclude(raw=b"")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return purged
            purged += InboundEmail.objects.filter(pk__in=ids).update(raw=b"")
