"""Every door's first and only write: keep the raw mail, then queue its processing.

`store_inbound()` runs in one short transaction, reads nothing but the header block (for the
Message-ID that makes the idempotency key), and schedules `process_inbound` on commit. When the
same mail was stored before, it returns the existing row and schedules nothing.

On PostgreSQL a large mail's bytes travel in the binary protocol (`write_raw_mail()`,
`read_raw_mail()`): Django's client-side binding would send a 25 MB mail as a 50 MB hex literal
inside the query text, held three times over while it is built and sent. A small mail goes in
the INSERT itself, which saves a round trip.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

import psycopg
from django.db import IntegrityError, connection, transaction

from helpdesk import metrics

from .models import InboundEmail

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MAX_HEADER_BYTES = 256 * 1024


@dataclass(frozen=True)
class Stored:
    inbound: InboundEmail
    created: bool


def extract_message_id(raw: bytes) -> str:
    """The Message-ID header, read from the header block only (cheap on a 40 MB mail)."""
    end = _HEADER_END.search(raw, 0, _MAX_HEADER_BYTES)
    head = raw[: end.start() if end else _MAX_HEADER_BYTES]
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(head)
        value = str(headers.get("Message-ID", "") or "")
    except Exception:  # a header block so broken that the stdlib gives up has no usable id
        return ""
    return " ".join(value.replace("\x00", "").split())[:998]


def mailbox_of(address: str) -> str:
    """`support+token@Example.com` -> `support@example.com`: the mailbox a mail was for."""
    address = address.strip().strip("<>").lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local.split('+', 1)[0]}@{domain}"


def idempotency_key(*, raw: bytes, message_id: str, envelope_recipient: str, provider: str, provider_id: str) -> str:
    """The same mail has the same key whichever door it came through and however often.

    A Message-ID is the best identity a mail has; the mailbox it was for keeps two mailboxes of
    one installation apart. Without a Message-ID, the provider's id, else the bytes themselves.
    """
    if message_id:
        basis = f"mid:{message_id.strip('<> ').lower()}:{mailbox_of(envelope_recipient)}"
    elif provider_id:
        basis = f"esp:{provider}:{provider_id}"
    else:
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    return "key:" + hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()


def store_inbound(
    raw: bytes,
    *,
    door: str,
    provider: str = "",
    provider_message_id: str = "",
    envelope_sender: str = "",
    envelope_recipient: str = "",
    provider_verdicts: dict[str, Any] | None = None,
) -> Stored:
    message_id = extract_message_id(raw)
    key = idempotency_key(
        raw=raw,
        message_id=message_id,
        envelope_recipient=envelope_recipient,
        provider=provider,
        provider_id=provider_message_id,
    )
    fields = {
        "door": door,
        "provider": provider[:32],
        "provider_message_id": provider_message_id[:255],
        "envelope_sender": envelope_sender[:998],
        "envelope_recipient": envelope_recipient[:998],
        "provider_verdicts": provider_verdicts or {},
        "raw": b"" if _binary_raw(raw) else raw,
        "raw_size": len(raw),
        "message_id_header": message_id,
    }
    try:
        if _binary_raw(raw) or connection.in_atomic_block:
            with transaction.atomic():
                inbound = InboundEmail.objects.create(idempotency_key=key, **fields)
                if _binary_raw(raw):
                    write_raw_mail(inbound.pk, raw)
                    del inbound.raw  # now deferred: reading it loads the stored bytes
                _queue_on_commit(inbound.pk, door)
        else:
            # One INSERT is a transaction of its own: no BEGIN and COMMIT round trips around it.
            # Outside any transaction, the on-commit queueing runs as soon as it has committed.
            inbound = InboundEmail.objects.create(idempotency_key=key, **fields)
            _queue_on_commit(inbound.pk, door)
    except IntegrityError:
        existing = InboundEmail.objects.defer("raw").filter(idempotency_key=key).first()
        if existing is None:  # the conflict was something else
            raise
        return Stored(inbound=existing, created=False)
    return Stored(inbound=inbound, created=True)


SMALL_RAW_BYTES = 64 * 1024


def _binary_raw(raw: bytes | None = None) -> bool:
    """Whether the raw bytes go in the binary protocol: on PostgreSQL, for mails past 64 KB."""
    return connection.vendor == "postgresql" and (raw is None or len(raw) > SMALL_RAW_BYTES)


_TABLE = InboundEmail._meta.db_table


def write_raw_mail(inbound_id: Any, raw: bytes) -> None:
    """Set a stored row's raw bytes, sent as a binary parameter (PostgreSQL only)."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:  # server-side binding, unlike Django's cursor
        cursor.execute(f'UPDATE "{_TABLE}" SET "raw" = %b WHERE "id" = %s', [raw, inbound_id])


def read_raw_mail(inbound_id: Any) -> bytes:
    """A stored row's raw bytes, received in the binary format on PostgreSQL (no hex to decode)."""
    if not _binary_raw():
        return bytes(InboundEmail.objects.values_list("raw", flat=True).get(pk=inbound_id))
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(f'SELECT "raw" FROM "{_TABLE}" WHERE "id" = %s', [inbound_id], binary=True)
        row = cursor.fetchone()
    if row is None:
        raise InboundEmail.DoesNotExist(inbound_id)
    return bytes(row[0])


def _queue_on_commit(inbound_id: Any, door: str) -> None:
    # robust: if the broker is down the mail is still stored; the sweeper queues it later.
    transaction.on_commit(lambda: _after_commit(inbound_id, door), robust=True)


def _after_commit(inbound_id: Any, door: str) -> None:
    metrics.MAILS_RECEIVED.labels(door=door).inc()
    _enqueue(inbound_id)


def _enqueue(inbound_id: Any) -> None:
    from .tasks import process_inbound

    process_inbound.delay(str(inbound_id))
