"""Human ticket references (`SB-1042`): unique and never reused, even under concurrency.

PostgreSQL hands out numbers from a real sequence (no lock is held for the transaction, and a
number taken by a rolled-back transaction is simply skipped). Other databases use one counter
row updated before it is read, which takes the write lock first (SQLite serialises writers).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connection
from django.db.models import F

from .models import TicketReferenceCounter

SEQUENCE_NAME = "support_ticket_reference_seq"
_COUNTER = "ticket"


def format_reference(number: int) -> str:
    return f"{settings.TICKET_REFERENCE_PREFIX}-{number}"


def next_ticket_number() -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [SEQUENCE_NAME])
            return int(cursor.fetchone()[0]) + settings.TICKET_REFERENCE_START
    updated = TicketReferenceCounter.objects.filter(name=_COUNTER).update(value=F("value") + 1)
    if not updated:
        TicketReferenceCounter.objects.get_or_create(name=_COUNTER, defaults={"value": 0})
        TicketReferenceCounter.objects.filter(name=_COUNTER).update(value=F("value") + 1)
    value = TicketReferenceCounter.objects.values_list("value", flat=True).get(name=_COUNTER)
    return int(value) + settings.TICKET_REFERENCE_START


def next_ticket_reference() -> str:
    return format_reference(next_ticket_number())


def reference_in_subject(subject: str) -> str | None:
    """The ticket reference a subject carries in brackets (`Re: [SB-1042] Refund`), as written."""
    prefix = re.escape(settings.TICKET_REFERENCE_PREFIX)
    match = re.search(rf"\[\s*({prefix}-\d{{1,12}})\s*\]", subject or "", re.IGNORECASE)
    return match.group(1) if match else None


def reference_spellings(text: str, *, typed_loosely: bool = False) -> set[str]:
    """The stored forms a typed reference may have (`sb-1042` -> `SB-1042`): an exact match on these
    uses the unique index, where a case-insensitive comparison would scan every ticket.

    `typed_loosely` (a search box) also reads what people type for a ticket: `1042`, `#1042`,
    `SB1042`, `SB 1042`."""
    text = text.strip()
    spellings = {text, text.upper()}
    prefix, _, number = text.rpartition("-")
    if number.isdigit() and prefix.lower() == settings.TICKET_REFERENCE_PREFIX.lower():
        spellings.add(format_reference(int(number)))
    if typed_loosely:
        loose = text.lstrip("#").replace(" ", "")
        if loose[: len(settings.TICKET_REFERENCE_PREFIX)].lower() == settings.TICKET_REFERENCE_PREFIX.lower():
            loose = loose[len(settings.TICKET_REFERENCE_PREFIX) :].lstrip("-")
        if loose.isdigit() and len(loose) <= 18:
            spellings.add(format_reference(int(loose)))
    return spellings
