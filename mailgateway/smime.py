"""Opaque-signed S/MIME: the mail inside the signature. Pure.

Outlook (with "send clear text signed message" turned off) and other clients may sign a mail as
one `application/pkcs7-mime; smime-type=signed-data` part, `smime.p7m`: the text the person
wrote is inside the PKCS#7 SignedData (RFC 5652), and a reader that does not look inside sees
only a file it may not keep. Such a part is replaced by the MIME entity it carries, as mail
clients show it. The signature is not checked here: who sent the mail is SPF, DKIM and DMARC's
question. Encrypted mail (enveloped-data) cannot be read and stays what it is.

The SignedData is read with a small BER reader (clients write it with indefinite lengths and the
content in chunks), to a bounded depth.
"""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from typing import NamedTuple

from .mime_prepare import ParsedMessage

_PKCS7_TYPES = {"application/pkcs7-mime", "application/x-pkcs7-mime"}
_SIGNED_DATA_OID = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2
_SEQUENCE, _OID, _OCTETS, _CHUNKED_OCTETS, _EXPLICIT_0 = 0x30, 0x06, 0x04, 0x24, 0xA0
_MAX_DEPTH = 16


class _Element(NamedTuple):
    tag: int
    start: int  # where its content starts
    end: int  # where its content ends
    next: int  # where the next element starts


def read_opaque_signed_parts(message: Message) -> None:
    """Each opaque-signed part (the whole mail, or a part of it) becomes the entity it signs."""
    for part in message.walk():  # an entity put in place is walked in turn
        if part.is_multipart() or part.get_content_type() not in _PKCS7_TYPES:
            continue
        if str(part.get_param("smime-type", "") or "").lower() not in ("", "signed-data"):
            continue
        data = part.get_payload(decode=True)
        content = signed_content(data) if isinstance(data, bytes) else None
        if content is None:
            continue
        _put_in_place(part, message_from_bytes(content, ParsedMessage, policy=compat32))


def signed_content(data: bytes) -> bytes | None:
    """The content a PKCS#7 SignedData carries, or None (not SignedData, detached, or broken)."""
    try:
        info = _element(data, 0, 0)
        kind, explicit = _children(data, info, 0)[:2]
        if info.tag != _SEQUENCE or kind.tag != _OID or data[kind.start : kind.end] != _SIGNED_DATA_OID:
            return None
        signed = _children(data, explicit, 1)[0]
        encapsulated = _children(data, signed, 2)[2]
        parts = _children(data, encapsulated, 3)
        if len(parts) < 2 or parts[1].tag != _EXPLICIT_0:  # detached: the content travels beside it
            return None
        return _octets(data, _children(data, parts[1], 4)[0], 5)
    except (ValueError, IndexError):
        return None


def _put_in_place(part: Message, entity: Message) -> None:
    for name in [key for key in part if key.lower().startswith("content-")]:
        del part[name]
    for name, value in entity.items():
        if name.lower().startswith("content-"):
            part[name] = value
    part.preamble, part.epilogue = entity.preamble, entity.epilogue
    part.set_payload(entity.get_payload())


def _element(data: bytes, pos: int, depth: int) -> _Element:
    if depth > _MAX_DEPTH or pos + 2 > len(data):
        raise ValueError("too deep or cut short")
    tag, first = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not used in SignedData")
    if first == 0x80:  # indefinite length: the content runs to an end-of-contents (00 00)
        if not tag & 0x20:
            raise ValueError("a primitive element of indefinite length")
        end = pos + 2
        while data[end : end + 2] != b"\x00\x00":
            end = _element(data, end, depth + 1).next
            if end > len(data):
                raise ValueError("no end-of-contents")
        return _Element(tag, pos + 2, end, end + 2)
    start, length = pos + 2, first
    if first & 0x80:
        size = first & 0x7F
        if size > 4:
            raise ValueError("a length beyond 4 bytes")
        start, length = pos + 2 + size, int.from_bytes(data[pos + 2 : pos + 2 + size], "big")
    if start + length > len(data):
        raise ValueError("cut short")
    return _Element(tag, start, start + length, start + length)


def _children(data: bytes, parent: _Element, depth: int) -> list[_Element]:
    children, pos = [], parent.start
    while pos < parent.end:
        child = _element(data, pos, depth + 1)
        children.append(child)
        pos = child.next
    return children


def _octets(data: bytes, element: _Element, depth: int) -> bytes:
    if element.tag == _OCTETS:
        return data[element.start : element.end]
    if element.tag == _CHUNKED_OCTETS:
        return b"".join(_octets(data, chunk, depth + 1) for chunk in _children(data, element, depth))
    raise ValueError("the content is not an OCTET STRING")
