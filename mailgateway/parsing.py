"""Raw bytes -> `ParsedEmail`: plain data that the rest of the pipeline reads.

Pure: no database, no settings. mail-parser does the MIME walk (bodies, attachments, inline
parts); before it runs, every text part's charset is replaced by a codec that really decodes
its bytes (`charsets.py`). Address headers are split before their encoded words are decoded, so
a comma inside a display name (`"Sharma, Asha"`) does not split the person in two.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes, message_from_string
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import compat32
from typing import Any

import mailparser
from tnefparse import TNEF

from support.files import safe_filename

from .addresses import normalize_address, parse_address_list
from .charsets import (
    body_charset,
    decode_header_value,
    decode_text,
    header_charset,
    quote_encoded_words,
    repair_charsets,
    unescape_raw_header,
)
from .mime_prepare import (
    AttachedMail,
    MadeUpNames,
    ParsedMessage,
    decode_encoded_attached_mails,
    decode_uuencoded_parts,
    detach_attached_mails,
    file_named_text_parts,
    lenient_b64decode,
    name_misplaced_filenames,
    name_unnamed_files,
    read_8bit_file_names,
    read_boundaryless_multiparts,
    read_multiparts_labelled_as_one_part,
    read_plain_text_labelled_base64,
    read_types_with_a_tail,
    text_twins_for_lone_html,
)
from .smime import read_opaque_signed_parts
from .uuencode import uuencoded_files

__all__ = ["DeliveryReport", "MailAttachment", "ParsedEmail", "decode_header_value", "decode_text", "parse_email"]

_TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
# The signature of a signed mail (S/MIME, PGP/MIME) is proof, not content: never a file for people.
_SIGNATURE_TYPES = {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
_ADDRESS_HEADERS = (
    "from", "sender", "reply-to", "to", "cc", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to",
    "x-forwarded-to",
)  # fmt: skip
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,900}>")
_MAX_IDS = 100
_LEADING_BLANK_LINES = re.compile(rb"(?:[ \t]*\r?\n)+")
# A header's name and its colon, as the stdlib reads one (a name of any length), or with spaces
# before the colon, which the repair closes up.
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_SPACED_COLON = re.compile(rb"^([!-9;-~]+)[ \t]+:")  # a header name, then spaces before its colon
_MAX_BANNER_BYTES = 200
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MAX_HEADER_BYTES = 256 * 1024
_BARE_ADDRESS = re.compile(r"(?P<name>[^\s<>@,;:\"()][^<>@,;:\"()]*?)\s+(?P<address>[^\s<>@,;:\"()]+@[^\s<>@,;:\"()]+)")


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""
    inline: bool = False


@dataclass(frozen=True)
class DeliveryReport:
    """What a bounce says: who could not be reached, and which mail of ours it returns."""

    failed_recipients: tuple[str, ...]
    original_message_id: str
    permanent: bool


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str = ""
    subject: str = ""
    from_name: str = ""
    from_address: str = ""
    reply_to: tuple[tuple[str, str], ...] = ()  # (name, address)
    to: tuple[str, ...] = ()
    cc: tuple[tuple[str, str], ...] = ()
    delivered_to: tuple[str, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    content_type: str = "text/plain"
    text: str = ""
    html: str = ""
    attachments: tuple[MailAttachment, ...] = ()
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    report: DeliveryReport | None = None
    defects: tuple[str, ...] = ()
    # The header block was read only after a repair of lines inside it (unindented, or spaced
    # before the colon): the receiving server's checks may not have seen this From.
    headers_repaired: bool = False

    def header(self, name: str) -> str:
        """The first value of a header, decoded, or ""."""
        values = self.headers.get(name.lower(), ())
        return values[0] if values else ""


# -- the parse ------------------------------------------------------------------------------


def parse_email(raw: bytes) -> ParsedEmail:
    """Everything the pipeline needs from a raw message. Raises only on input that is not mail."""
    message, headers_repaired = _message_from(raw)
    read_types_with_a_tail(message)
    decode_encoded_attached_mails(message)
    read_opaque_signed_parts(message)
    read_multiparts_labelled_as_one_part(message)
    read_boundaryless_multiparts(message)
    read_plain_text_labelled_base64(message)
    file_named_text_parts(message)  # before repair_charsets(), which leaves files as they are
    declared = body_charset(message)  # before repair_charsets() relabels the body
    read_8bit_file_names(message, declared)
    defects = repair_charsets(message)
    report = delivery_report(message)
    attached_mails = detach_attached_mails(message)
    decode_uuencoded_parts(message)
    name_misplaced_filenames(message)
    names = MadeUpNames()
    name_unnamed_files(message, names)
    text_twins_for_lone_html(message)
    parser = mailparser.MailParser(message)
    charset = header_charset(declared, body_charset(message))
    headers = _headers(message, charset)
    first = lambda name: headers.get(name, ("",))[0]  # noqa: E731
    people = _address_headers(message, charset)
    senders = people.get("from") or people.get("sender") or []
    from_name, from_address = senders[0] if senders else ("", "")
    attachments = _attachments(parser.attachments, defects, attached_mails, names) + _calendar_parts(message)
    attachments += _unnamed_parts(message, names)
    text, uuencoded = extract_uuencoded(_joined(parser.text_plain))
    attachments += uuencoded
    defects += [str(d) for d in message.defects][:20]
    return ParsedEmail(
        message_id=_first_id(first("message-id")),
        subject=first("subject")[:998],
        from_name=from_name,
        from_address=from_address,
        reply_to=tuple(people.get("reply-to", ())),
        to=tuple(a for _, a in people.get("to", ())),
        cc=tuple(people.get("cc", ())),
        delivered_to=tuple(
            a
            for name in ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "x-forwarded-to")
            for _, a in people.get(name, ())
        ),
        in_reply_to=message_ids(first("in-reply-to")),
        references=message_ids(" ".join(headers.get("references", ()))),
        content_type=message.get_content_type(),
        text=text,
        html=_joined(parser.text_html),
        attachments=tuple(attachments),
        headers=headers,
        report=report,
        defects=tuple(defects),
        headers_repaired=headers_repaired,
    )


_FEED_BYTES = 1 << 20


def _message_from(raw: bytes) -> tuple[Message, bool]:
    """`message_from_bytes()` fed a megabyte at a time, cut at line ends; and whether its header
    block had to be repaired to be read.

    The same parse, without the decoded copy of the whole mail that `message_from_bytes()` holds
    while it parses: for a 25 MB mail that is 25 MB less at the peak.
    """
    start = _header_start(raw)
    message = _fed(raw, start)
    if message.get("From") is None and message.get("Sender") is None:
        repaired = _with_header_block_repaired(raw, start)
        if repaired is not None:
            again = _fed(repaired, 0)
            if again.get("From") is not None:
                return again, True
    # Lines skipped above the headers (blank ones, an export's banner) were put there after the
    # receiving server, which writes its own headers on top: its checks saw the headers.
    return message, False


def _fed(raw: bytes, start: int) -> Message:
    parser = BytesFeedParser(ParsedMessage, policy=compat32)  # keeps an encoded attached mail as its text
    while start < len(raw):
        end = raw.find(b"\n", start + _FEED_BYTES)
        end = len(raw) if end < 0 else end + 1
        parser.feed(raw[start:end])
        start = end
    return parser.close()


def _with_header_block_repaired(raw: bytes, start: int) -> bytes | None:
    """The mail with each unindented line inside its header block made a continuation line, and
    each header name followed by spaces before its colon written without them; None when it has
    neither.

    Kerio Connect exports the Received headers it writes with their continuation lines at the
    start of the line (`by mail.example.cz with ESMTP`). A bulk sender (Salesforce's ExactTarget)
    writes `List-ID : 6236073`, which RFC 5322 4.5.1 still allows a reader to take (obs-optional).
    The stdlib ends the header block at the first such line, so the From and Subject below it
    became body text and the mail had no sender. Tried only when the mail read so has no From.
    """
    end = _HEADER_END.search(raw, start, start + _MAX_HEADER_BYTES)
    if end is None:
        return None
    lines = raw[start : end.start()].split(b"\n")
    fixed = [_SPACED_COLON.sub(rb"\1:", lines[0], count=1)] + [
        _SPACED_COLON.sub(rb"\1:", line, count=1)
        if not line.strip() or line[:1] in b" \t" or _HEADER_LINE.match(line)
        else b" " + line
        for line in lines[1:]
    ]
    if fixed == lines:
        return None
    return b"\n".join(fixed) + raw[end.start() :]


def _header_start(raw: bytes) -> int:
    """Where the header lines begin: after the empty lines some exports and pipes put before them,
    and after one banner line some gateways write above the headers.

    An empty first line ends the header section (RFC 5322 2.1), so such a mail read as one with no
    headers at all, its From among the body text, and was quarantined as having no sender. A first
    line that is not a header (Kerio Connect's `---- Original email message ----`) does the same
    to the stdlib parser. Either is skipped only when a header line follows it; an mbox `From `
    line is left to the parser, which knows it.
    """
    blank = _LEADING_BLANK_LINES.match(raw)
    start = blank.end() if blank is not None else 0
    if _HEADER_LINE.match(raw, start) or raw.startswith(b"From ", start):
        return start
    end = raw.find(b"\n", start, start + _MAX_BANNER_BYTES)
    if end >= 0 and raw[start:end].strip() and _HEADER_LINE.match(raw, end + 1):
        return end + 1
    return 0


def message_ids(value: str) -> tuple[str, ...]:
    """`<a@x> <b@y>` -> ("<a@x>", "<b@y>"); a bare id without brackets is bracketed."""
    found = _MESSAGE_ID.findall(value or "")
    if not found and value and "@" in value and " " not in value.strip():
        found = [f"<{value.strip().strip('<>')}>"]
    return tuple(dict.fromkeys(found))[-_MAX_IDS:]


def _first_id(value: str) -> str:
    ids = message_ids(value)
    return ids[0] if ids else ""


def _headers(message: Message, charset: str | None) -> dict[str, tuple[str, ...]]:
    collected: dict[str, list[str]] = {}
    for name, value in list(message.raw_items())[:500]:  # raw: 8-bit bytes still escaped, not replaced
        collected.setdefault(name.strip().lower(), []).append(decode_header_value(value, charset)[:4000])
    return {name: tuple(values) for name, values in collected.items()}


def _address_headers(message: Message, charset: str | None) -> dict[str, list[tuple[str, str]]]:
    """(display name, address) pairs of each address header: split first, then names decoded."""
    values: dict[str, list[str]] = {}
    for name, value in list(message.raw_items())[:500]:
        name = name.strip().lower()
        if name in _ADDRESS_HEADERS:
            value = quote_encoded_words(unescape_raw_header(str(value), charset))
            values.setdefault(name, []).append(_bracket_bare_address(value)[:4000])
    return {name: parse_address_list(found, decode=decode_header_value) for name, found in values.items()}


def _bracket_bare_address(value: str) -> str:
    """`Fax Service fax@example.com` -> `Fax Service <fax@example.com>`; any other value as it is.

    Some gateways (fax-to-mail, scripts) write a name and an address without angle brackets;
    read as one address with spaces, it was no address at all and the mail had no sender.
    """
    bare = _BARE_ADDRESS.fullmatch(" ".join(value.split()))
    return f"{bare['name']} <{bare['address']}>" if bare else value


def _joined(parts: list[str]) -> str:
    return "\n\n".join(p.replace("\r\n", "\n").replace("\x00", "") for p in parts if p and p.strip())


def _attachments(
    found: list[dict], notes: list[str], attached_mails: list[AttachedMail], names: MadeUpNames
) -> list[MailAttachment]:
    result: list[MailAttachment] = []
    attached = iter(attached_mails)
    for item in found:
        content_type = (item.get("mail_content_type") or "application/octet-stream").lower()
        if content_type in _SIGNATURE_TYPES:
            continue
        data = _payload_bytes(item)
        attached_mail = next(attached, AttachedMail(b"")) if content_type.startswith("message/") and not data else None
        data = attached_mail.data if attached_mail else data
        content_id = (item.get("content-id") or "").strip().strip("<>")
        disposition = (item.get("content-disposition") or "").lower()
        filename = item.get("filename") or ""
        if content_id and filename.strip("<>") == content_id:  # mail-parser names a cid part by its id
            filename = ""
        if content_type == "message/rfc822":  # the sender's name, else its subject (mail-parser makes one up)
            filename = (attached_mail.filename if attached_mail else "") or _forwarded_name(data)
        if content_type in _TNEF_TYPES or filename.lower() == "winmail.dat":
            unpacked = _unpack_tnef(data, notes)
            if unpacked is not None:
                result.extend(unpacked)
                continue
        inline = bool(content_id) and not disposition.startswith("attachment")
        result.append(
            MailAttachment(
                filename=filename or names(content_type),
                content_type=content_type,
                data=data,
                content_id=content_id[:255],
                inline=inline,
            )
        )
    return result


def _payload_bytes(item: Mapping[str, object]) -> bytes:
    payload = item.get("payload") or ""
    if item.get("binary"):
        try:
            return base64.b64decode(str(payload))
        except (binascii.Error, ValueError):
            return lenient_b64decode(str(payload))
    return str(payload).encode("utf-8", errors="surrogateescape")


def extract_uuencoded(text: str) -> tuple[str, list[MailAttachment]]:
    """Files uuencoded into a text body -> the text without them, the files (`uuencode.py`). The
    name gets the same cleaning as any file's name: it is the sender's string, path and all."""
    text, found = uuencoded_files(text)
    files = []
    for raw_name, data in found:
        name = safe_filename(raw_name, fallback="attachment.bin")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        files.append(MailAttachment(filename=name, content_type=content_type, data=data))
    return text, files


def _forwarded_name(data: bytes) -> str:
    head = data[:65536].decode("utf-8", "replace")
    subject = decode_header_value(message_from_string(head, policy=compat32).get("Subject", ""))
    return f"{subject[:120] or 'Forwarded message'}.eml"


def _calendar_parts(message: Message) -> list[MailAttachment]:
    """Invitations sent as a body part (`text/calendar`), which mail-parser leaves out: kept as files."""
    invites = []
    for part in message.walk():
        disposition = str(part.get("Content-Disposition", "")).lower()
        if part.get_content_type() == "text/calendar" and not disposition.startswith("attachment"):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes) and data.strip():
                invites.append(MailAttachment(filename="invite.ics", content_type="text/calendar", data=data))
    return invites


def _unnamed_parts(message: Message, names: MadeUpNames) -> list[MailAttachment]:
    """Files with neither a name nor a Content-ID, which mail-parser drops: kept, with a made-up name.

    Some clients send a picture as `Content-Disposition: inline` with no filename, between the
    text parts of a multipart/mixed. mail-parser keeps a part that has a name, a Content-ID, an
    `attachment` disposition or RTF, and takes every other part for body text.
    """
    files: list[MailAttachment] = []
    for part in _leaves(message):
        content_type = part.get_content_type()
        disposition = part.get_content_disposition()
        if (
            part.get_content_maintype() in ("text", "multipart")
            or content_type in _SIGNATURE_TYPES | _TNEF_TYPES | {"application/pgp-encrypted", "application/rtf"}
            or part.get_filename()
            or part.get("Content-ID")
            or disposition == "attachment"
        ):
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            files.append(MailAttachment(names(content_type), content_type, data))
    return files


def _leaves(part: Message) -> Iterator[Message]:
    """The leaf parts of a mail, without going into an attached mail (kept whole as its .eml)."""
    if part.get_content_maintype() == "message":
        return
    payload = part.get_payload() if part.is_multipart() else None
    if not isinstance(payload, list):
        yield part
        return
    for child in payload:
        if isinstance(child, Message):
            yield from _leaves(child)


def _unpack_tnef(data: bytes, notes: list[str]) -> list[MailAttachment] | None:
    """Outlook's winmail.dat -> the files inside it; None when it is not readable TNEF."""
    try:
        tnef = TNEF(data, do_checksum=False)
    except Exception:  # not TNEF after all: keep it as the file it claims to be
        notes.append("winmail.dat could not be unpacked")
        return None
    files = []
    for index, item in enumerate(tnef.attachments):
        name = _tnef_name(item, tnef.codepage)
        files.append(
            MailAttachment(
                filename=name.strip("\x00 ") or f"winmail-{index + 1}.bin",
                content_type="application/octet-stream",
                data=bytes(item.data or b""),
            )
        )
    return files


def _tnef_name(item: Any, codepage: str | None) -> str:
    """An attachment's name in winmail.dat. Outlook without Unicode writes it in the mail's code
    page (Windows-1252 when none is said), which tnefparse decodes as UTF-8 and fails on; its raw
    bytes (`_name`, the one way to reach them) are then read in that code page."""
    try:
        name = item.long_filename()
    except Exception:
        name = getattr(item, "_name", b"")
    if isinstance(name, bytes):
        try:
            name = name.decode(codepage or "cp1252")
        except (LookupError, UnicodeDecodeError):
            name = name.decode("cp1252", "replace")
    return str(name or "")


# -- delivery reports -----------------------------------------------------------------------


def delivery_report(message: Message) -> DeliveryReport | None:
    """A `multipart/report; report-type=delivery-status` read into who failed and for which mail."""
    if message.get_content_type() != "multipart/report":
        return None
    failed: list[str] = []
    permanent = False
    original = ""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            for block in _status_blocks(part):
                action = block.get("action", "").lower()
                status = block.get("status", "")
                recipient = block.get("final-recipient") or block.get("original-recipient") or ""
                address = normalize_address(recipient.rpartition(";")[2])
                if action == "failed" and address:
                    failed.append(address)
                    permanent = permanent or status.startswith("5")
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers") and not original:
            original = _original_message_id(part)
    return DeliveryReport(tuple(dict.fromkeys(failed)), original, permanent)


def _status_blocks(part: Message) -> list[dict[str, str]]:
    payload = part.get_payload()
    blocks = [block for block in payload if isinstance(block, Message)] if isinstance(payload, list) else []
    if not blocks and isinstance(payload, str):  # some relays send the fields as plain text
        blocks = [message_from_bytes(chunk.encode(), policy=compat32) for chunk in re.split(r"\n\s*\n", payload)]
    return [{k.lower(): " ".join(str(v).split()) for k, v in block.items()} for block in blocks]


def _original_message_id(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return _first_id(str(payload[0].get("Message-ID", "")))
    if isinstance(payload, str):
        inner = message_from_bytes(payload.encode("utf-8", "surrogateescape"), policy=compat32)
        return _first_id(str(inner.get("Message-ID", "")))
    return ""
