"""Small makers for tests: state only what differs from a sensible default."""

from __future__ import annotations

import io
from typing import Any

from support import message_files, services
from support.models import Attachment, Channel, Message, Ticket, User

PNG_1PX = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF_HEAD = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" * 8
LINUX_ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56


def make_ticket(customer: User, **overrides: Any) -> Ticket:
    fields: dict[str, Any] = {"title": "Cleaner did not come", "message_text": "Booked for 9am.", "category": "booking"}
    fields.update(overrides)
    return services.open_ticket(customer=customer, **fields)


def make_reply(ticket: Ticket, author: User, text: str = "A reply", **overrides: Any) -> Message:
    return services.add_message(
        ticket=ticket, author=author, message_text=text, channel=overrides.pop("channel", Channel.WEB), **overrides
    )


def make_attachment(ticket: Ticket, uploader: User, *, data: bytes = PNG_1PX, name: str = "photo.png") -> Attachment:
    return message_files.store_attachment(
        ticket=ticket, uploader=uploader, content=io.BytesIO(data), filename=name, size=len(data)
    )


def make_sent_attachment(message: Message, uploader: User, *, name: str = "photo.png") -> Attachment:
    """A file already attached to `message` (as a mail attachment or an upload sent with it)."""
    attachment = make_attachment(message.ticket, uploader, name=name)
    attachment.message = message
    attachment.save(update_fields=["message"])
    return attachment


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the documented error body with this status and code; returns the body."""
    assert response.status_code == status, getattr(response, "content", response)
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "details"}, body
    assert body["error"] == code and isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["details"], dict), body
    return body
