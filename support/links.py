"""Signed, expiring links that open one ticket as one person (the link every mail carries).

The link names a ticket and a person and is signed with SECRET_KEY (salted for this use), so it
cannot be altered to reach another ticket or person, and it expires after
`TICKET_LINK_MAX_AGE_DAYS`. The web door signs the person in for that ticket only when the
person is active and may still see the ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

_SALT = "support.ticket-link"


@dataclass(frozen=True)
class TicketLink:
    ticket_id: str
    person_id: str


def ticket_link_token(*, ticket_id: Any, person_id: Any) -> str:
    return signing.dumps({"t": str(ticket_id), "p": str(person_id)}, salt=_SALT, compress=True)


def ticket_link_url(*, ticket_id: Any, person_id: Any) -> str:
    """The absolute URL a mail carries: `SITE_URL/t/<signed token>/`."""
    return f"{settings.SITE_URL.rstrip('/')}/t/{ticket_link_token(ticket_id=ticket_id, person_id=person_id)}/"


def read_ticket_link(token: str) -> TicketLink | None:
    """Whose link this is, or None when it was altered or has expired."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.TICKET_LINK_MAX_AGE_DAYS * 86400)
    except signing.BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str) or not isinstance(data.get("p"), str):
        return None
    return TicketLink(ticket_id=data["t"], person_id=data["p"])
