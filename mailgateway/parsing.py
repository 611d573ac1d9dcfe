"""Raw bytes -> `ParsedEmail`: plain data that the rest of the pipeline reads.

Pure: no database, no settings. mail-parser does the MIME walk (bodies, attachments, inline
parts); before it runs, every text part's charset is replaced by a codec that really decodes
its bytes, because clients label text with names Python does not know or with a smaller
charset than they used (`gb2312` holding GB18030, `ks_c_5601-1987` meaning CP949, 8-bit text
with no charset at all). A text is never lost to a charset: the last resort decodes every byte.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes
from email.feedparser import BytesFeedParser
from email.header import decode_header
from email.message import Message
from email.policy import compat32

import mailparser
from tnefparse import TNEF

from .addresses import normalize_address, parse_address_list

# Names clients send -> codecs to try, best first. A label is a promise clients often break.
_CHARSET_CANDIDATES: dict[str, tuple[str, ...]] = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "x-gbk": ("gb18030",),
    "cp936": ("gb18030",),
    "ks_c_5601-1987": ("cp949",),
    "ks_c_5601": ("cp949",),
    "ksc5601": ("cp949",),
    "euc-kr": ("cp949",),
    "iso-2022-jp": ("iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_2004", "iso2022_jp_3"),
    "iso-2022-jp-1": ("iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_ext"),
    "iso-2022-jp-2": ("iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_2004"),
    "iso-2022-jp-3": ("iso2022_jp_3", "iso2022_jp_2004"),
    "iso-2022-jp-2004": ("iso2022_jp_2004", "iso2022_jp_3"),
    "shift_jis": ("cp932", "shift_jis_2004"),
    "shift-jis": ("cp932", "shift_jis_2004"),
    "sjis": ("cp932", "shift_jis_2004"),
    "x-sjis": ("cp932", "shift_jis_2004"),
    "euc-jp": ("euc_jis_2004", "cp932"),
    "big5": ("big5hkscs", "cp950"),
    "iso-8859-1": ("cp1252",),
    "latin1": ("cp1252",),
    "latin-1": ("cp1252",),
    "us-ascii": ("utf-8", "cp1252"),
    "ascii": ("utf-8", "cp1252"),
    "iso-8859-8-i": ("iso-8859-8",),
    "windows-874": ("cp874",),
    "tis-620": ("cp874",),
    "utf8": ("utf-8",),
    "unicode-1-1-utf-7": ("utf-7",),
}
_UNKNOWN_FALLBACKS = ("utf-8", "cp1252")
_SEVEN_BIT_CODECS = ("iso2022", "utf_7", "utf-7", "hz")
_TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,900}>")
_MAX_IDS = 100


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
    reply_to: tuple[str, ...] = ()
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

    def header(self, name: str) -> str:
        """The first value of a header, decoded, or ""."""
        values = self.headers.get(name.lower(), ())
        return values[0] if values else ""


# -- charsets -------------------------------------------------------------------------------


def decode_text(data: bytes, declared: str | None) -> tuple[str, str]:
    """(text, codec used). Tries what the label means, then UTF-8 and Windows-1252; never fails."""
    label = (declared or "").strip().strip("\"'").lower()
    for codec in _codecs_for(label):
        try:
            return data.decode(codec), codec
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("cp1252", errors="replace"), "cp1252"


def _codecs_for(label: str) -> Iterable[str]:
    candidates = list(_CHARSET_CANDIDATES.get(label, ()))
    if not candidates and label:
        for name in (label, label.removeprefix("x-"), label.replace("_", "-")):
            try:
                candidates.append(codecs.lookup(name).name)
                break
            except LookupError:
                continue
    return dict.fromkeys([*candidates, *_UNKNOWN_FALLBACKS])


def _repair_charsets(message: Message) -> list[str]:
    """Relabel each text part with a codec that decodes it, so no later step loses its text."""
    notes = []
    for part in message.walk():
        if part.get_content_maintype() != "text" or part.is_multipart():
            continue
        declared = part.get_param("charset")
        declared = declared if isinstance(declared, str) else None
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception:  # an undecodable transfer encoding: leave it to the parser's own recovery
            continue
        text, codec = decode_text(payload, declared)
        if codec.startswith(_SEVEN_BIT_CODECS):
            # Escape-sequence charsets look like ASCII, and mail-parser takes 7-bit text as it
            # is: hand it the decoded text instead.
            part.set_payload(text)
            del part["Content-Transfer-Encoding"]
            part["Content-Transfer-Encoding"] = "8bit"
            part.set_param("charset", "utf-8")
        elif (declared or "").lower() != codec:
            part.set_param("charset", codec)
            if declared and codec != codecs.lookup(_first_codec(declared)).name:
                notes.append(f"charset {declared!r} read as {codec}")
    return notes


def _first_codec(label: str) -> str:
    for codec in _codecs_for(label.lower()):
        return codec
    return "utf-8"


def decode_header_value(value: object) -> str:
    """An RFC 2047 header as text, whatever charset its encoded words claim; CR/LF removed."""
    if value is None:
        return ""
    raw = str(value)
    try:
        chunks = decode_header(raw)
    except Exception:  # a malformed encoded word: keep the header as it was written
        chunks = [(raw, None)]
    text = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            chunk = decode_text(chunk, charset)[0] if charset else chunk.decode("utf-8", errors="replace")
        text.append(chunk)
    joined = "".join(text) if any(isinstance(c, bytes) for c, _ in chunks) else " ".join(text)
    return " ".join(joined.replace("\x00", "").split())


# -- the parse ------------------------------------------------------------------------------


def parse_email(raw: bytes) -> ParsedEmail:
    """Everything the pipeline needs from a raw message. Raises only on input that is not mail."""
    message = _message_from(raw)
    defects = _repair_charsets(message)
    parser = mailparser.MailParser(message)
    headers = _headers(message)
    first = lambda name: headers.get(name, ("",))[0]  # noqa: E731
    senders = parse_address_list(headers.get("from", ()))
    from_name, from_address = senders[0] if senders else ("", "")
    if not from_address:
        from_address = normalize_address(first("sender"))
    attachments = _attachments(parser.attachments, defects)
    defects += [str(d) for d in message.defects][:20]
    return ParsedEmail(
        message_id=_first_id(first("message-id")),
        subject=first("subject")[:998],
        from_name=from_name,
        from_address=from_address,
        reply_to=tuple(a for _, a in parse_address_list(headers.get("reply-to", ()))),
        to=tuple(a for _, a in parse_address_list(headers.get("to", ()))),
        cc=tuple(parse_address_list(headers.get("cc", ()))),
        delivered_to=tuple(
            a
            for name in ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "x-forwarded-to")
            for _, a in parse_address_list(headers.get(name, ()))
        ),
        in_reply_to=message_ids(first("in-reply-to")),
        references=message_ids(" ".join(headers.get("references", ()))),
        content_type=message.get_content_type(),
        text=_joined(parser.text_plain),
        html=_joined(parser.text_html),
        attachments=tuple(attachments),
        headers=headers,
        report=delivery_report(message),
        defects=tuple(defects),
    )


_FEED_BYTES = 1 << 20


def _message_from(raw: bytes) -> Message:
    """`message_from_bytes()` fed a megabyte at a time, cut at line ends.

    The same parse, without the decoded copy of the whole mail that `message_from_bytes()` holds
    while it parses: for a 25 MB mail that is 25 MB less at the peak.
    """
    parser = BytesFeedParser(policy=compat32)
    start = 0
    while start < len(raw):
        end = raw.find(b"\n", start + _FEED_BYTES)
        end = len(raw) if end < 0 else end + 1
        parser.feed(raw[start:end])
        start = end
    return parser.close()


def message_ids(value: str) -> tuple[str, ...]:
    """`<a@x> <b@y>` -> ("<a@x>", "<b@y>"); a bare id without brackets is bracketed."""
    found = _MESSAGE_ID.findall(value or "")
    if not found and value and "@" in value and " " not in value.strip():
        found = [f"<{value.strip().strip('<>')}>"]
    return tuple(dict.fromkeys(found))[-_MAX_IDS:]


def _first_id(value: str) -> str:
    ids = message_ids(value)
    return ids[0] if ids else ""


def _headers(message: Message) -> dict[str, tuple[str, ...]]:
    collected: dict[str, list[str]] = {}
    for name, value in message.items()[:500]:
        collected.setdefault(name.strip().lower(), []).append(decode_header_value(value)[:4000])
    return {name: tuple(values) for name, values in collected.items()}


def _joined(parts: list[str]) -> str:
    return "\n\n".join(p.replace("\r\n", "\n").replace("\x00", "") for p in parts if p and p.strip())


def _attachments(found: list[dict], notes: list[str]) -> list[MailAttachment]:
    result: list[MailAttachment] = []
    for index, item in enumerate(found):
        data = _payload_bytes(item)
        content_type = (item.get("mail_content_type") or "application/octet-stream").lower()
        content_id = (item.get("content-id") or "").strip().strip("<>")
        disposition = (item.get("content-disposition") or "").lower()
        filename = item.get("filename") or ""
        if content_id and filename.strip("<>") == content_id:  # mail-parser names a cid part by its id
            filename = ""
        if content_type in _TNEF_TYPES or filename.lower() == "winmail.dat":
            unpacked = _unpack_tnef(data, notes)
            if unpacked is not None:
                result.extend(unpacked)
                continue
        inline = bool(content_id) and not disposition.startswith("attachment")
        result.append(
            MailAttachment(
                filename=filename or _name_for(content_type, index),
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
            return base64.b64decode(re.sub(r"[^A-Za-z0-9+/]", "", str(payload)) + "==", validate=False)
    return str(payload).encode("utf-8", errors="surrogateescape")


def _name_for(content_type: str, index: int) -> str:
    subtype = content_type.partition("/")[2] or "bin"
    extension = {"jpeg": "jpg", "svg+xml": "svg", "plain": "txt", "octet-stream": "bin"}.get(subtype, subtype)
    return f"attachment-{index + 1}.{re.sub(r'[^a-z0-9]', '', extension)[:8] or 'bin'}"


def _unpack_tnef(data: bytes, notes: list[str]) -> list[MailAttachment] | None:
    """Outlook's winmail.dat -> the files inside it; None when it is not readable TNEF."""
    try:
        tnef = TNEF(data, do_checksum=False)
    except Exception:  # not TNEF after all: keep it as the file it claims to be
        notes.append("winmail.dat could not be unpacked")
        return None
    files = []
    for index, item in enumerate(tnef.attachments):
        try:
            name = item.long_filename() or item.name
        except Exception:  # a broken name property: the file still counts
            name = getattr(item, "name", "") or ""
        name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name or "")
        files.append(
            MailAttachment(
                filename=name.strip("\x00 ") or f"winmail-{index + 1}.bin",
                content_type="application/octet-stream",
                data=bytes(item.data or b""),
            )
        )
    return files


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
    blocks = payload if isinstance(payload, list) else []
    if not blocks and isinstance(payload, str):  # some relays send the fields as plain text
        blocks = [message_from_bytes(chunk.encode(), policy=compat32) for chunk in re.split(r"\n\s*\n", payload)]
    return [{k.lower(): " ".join(str(v).split()) for k, v in block.items()} for block in blocks]


def _original_message_id(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        return _first_id(str(payload[0].get("Message-ID", "")))
    if isinstance(payload, str):
        inner = message_from_bytes(payload.encode("utf-8", "surrogateescape"), policy=compat32)
        return _first_id(str(inner.get("Message-ID", "")))
    return ""
