"""A small builder of raw mail for tests: headers, text and HTML parts, files, charsets.

`build_mail()` gives the bytes a mail client would send; keyword arguments name the parts
a test cares about and everything else has a plausible default.
"""

from __future__ import annotations

import itertools
import struct
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

_counter = itertools.count(1)


def build_mail(
    *,
    sender: str = "Asha Gurung <asha@example.com>",
    to: str = "support@example.com",
    cc: str | None = None,
    subject: str = "Plumber did not arrive",
    text: str | None = "The plumber did not come at 9am.",
    html: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
    inline: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]  (content id, data, type)
    charset: str = "utf-8",
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    message["Message-ID"] = message_id or f"<test-{next(_counter)}@mail.example.com>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text, charset=charset)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html", charset=charset)
        else:
            message.add_alternative(html, subtype="html", charset=charset)
    for content_id, data, content_type in inline:
        body = message.get_body(("html",)) or message
        maintype, subtype = content_type.split("/")
        body.add_related(data, maintype=maintype, subtype=subtype, cid=f"<{content_id}>")
    for filename, data, content_type in files:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def tnef_with_file(filename: str | bytes, data: bytes, *, codepage: int | None = None) -> bytes:
    """A minimal Outlook winmail.dat (TNEF) stream that carries one attached file; a `bytes` name is
    written as it is, in the stream's `codepage` (as Outlook writes names when it is not Unicode)."""

    def attribute(level: int, attr_id: int, attr_type: int, payload: bytes) -> bytes:
        checksum = sum(payload) & 0xFFFF
        return (
            struct.pack("<BII", level, (attr_type << 16) | attr_id, len(payload))
            + payload
            + struct.pack("<H", checksum)
        )

    message_level, attachment_level = 1, 2
    stream = struct.pack("<IH", 0x223E9F78, 0x0001)
    stream += attribute(message_level, 0x9006, 0x0009, struct.pack("<I", 0x00010000))  # TNEF version
    if codepage is not None:
        stream += attribute(message_level, 0x9007, 0x0006, struct.pack("<II", codepage, 0))  # OEM code page
    title = filename if isinstance(filename, bytes) else filename.encode("ascii")
    stream += attribute(attachment_level, 0x9002, 0x0006, b"\x01\x00\xff\xff\xff\xff" + b"\x00" * 8)  # rend data
    stream += attribute(attachment_level, 0x8010, 0x0001, title + b"\x00")  # title
    stream += attribute(attachment_level, 0x800F, 0x0006, data)  # data
    return stream


def deliver(raw: bytes, *, door: str = "raw", recipient: str = "", sender: str = "", verdicts: dict | None = None):  # type: ignore[no-untyped-def]
    """Store a mail as a door would, then process it as the worker would; the fresh row."""
    from mailgateway.ingest import process_stored_mail
    from mailgateway.store import store_inbound

    stored = store_inbound(
        raw, door=door, envelope_recipient=recipient, envelope_sender=sender, provider_verdicts=verdicts
    )
    process_stored_mail(str(stored.inbound.pk))
    stored.inbound.refresh_from_db()
    return stored.inbound
