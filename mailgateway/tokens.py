"""Signed reply tokens: issue one for a (ticket, person), and find whose a token is.

`issue_reply_token()` writes (once per ticket and person); `verify_reply_token()` only reads.
Tokens are masked in logs with `mask_token()`.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction

from .models import ReplyToken

_ID_BYTES = 10  # 16 base32 characters
_MAC_BYTES = 6  # 10 base32 characters (after padding is dropped)


@dataclass(frozen=True)
class TokenOwner:
    ticket_id: UUID | str
    person_id: UUID | str
    token: ReplyToken


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _mac(token_id: str, ticket_id: UUID | str, person_id: UUID | str) -> str:
    key = settings.REPLY_TOKEN_KEY.encode()
    message = f"{token_id}:{ticket_id}:{person_id}".encode()
    return _b32(hmac.digest(key, message, "sha256")[:_MAC_BYTES])  # one call into OpenSSL


def mask_token(token: str) -> str:
    return token[:4] + "…" if token else ""


def issue_reply_token(*, ticket_id: UUID | str, person_id: UUID) -> str:
    """The token for this person on this ticket (the same one each time)."""
    row = ReplyToken.objects.filter(ticket_id=ticket_id, person_id=person_id).first()
    if row is None:
        try:
            with transaction.atomic():
                row = ReplyToken.objects.create(
                    token_id=_b32(secrets.token_bytes(_ID_BYTES)), ticket_id=ticket_id, person_id=person_id
                )
        except IntegrityError:
            row = ReplyToken.objects.get(ticket_id=ticket_id, person_id=person_id)
    return row.token_id + _mac(row.token_id, row.ticket_id, row.person_id)


def verify_reply_token(token: str) -> TokenOwner | None:
    """Whose token this is, or None when it is unknown or its signature does not verify."""
    token = (token or "").strip().lower()
    if len(token) != 26:
        return None
    token_id, mac = token[:16], token[16:]
    row = ReplyToken.objects.filter(token_id=token_id).first()
    if row is None or not hmac.compare_digest(mac, _mac(row.token_id, row.ticket_id, row.person_id)):
        return None
    return TokenOwner(ticket_id=row.ticket_id, person_id=row.person_id, token=row)


def reply_token_of(*, token_id: str, ticket_id: UUID | str, person_id: UUID | str) -> str:
    """The full token of a stored `ReplyToken` (when its row was read with something else)."""
    return token_id + _mac(token_id, ticket_id, person_id)
