"""Passes over the parsed MIME tree before mail-parser reads it. Pure: the message only.

mail-parser decides what is body text and what is a file from each part's headers; some
mailers write those headers so that it decides wrong. Each pass here fixes one such case in
the tree itself (and says why), so that mail-parser then reads the mail as a mail client shows it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32

from mailparser.utils import as_string_safe

from .charsets import decode_header_value, decode_text, unescape_raw_header
from .html_text import html_to_text
from .uuencode import decode_uu_payload

__all__ = [
    "AttachedMail",
    "MadeUpNames",
    "ParsedMessage",
    "decode_encoded_attached_mails",
    "decode_uuencoded_parts",
    "detach_attached_mails",
    "file_named_text_parts",
    "made_up_name",
    "name_misplaced_filenames",
    "name_unnamed_files",
    "read_8bit_file_names",
    "read_boundaryless_multiparts",
    "read_multiparts_labelled_as_one_part",
    "read_plain_text_labelled_base64",
    "read_types_with_a_tail",
    "text_twins_for_lone_html",
]

_UU_ENCODINGS = {"x-uuencode", "uuencode", "x-uue", "uue"}
# A part's own header line: only these open a part; a text's `Note:` or `Thanks:` does not.
_PART_HEADER = r"(?:Content-[A-Za-z-]+|MIME-Version)[ \t]*:"
# A boundary line followed by a part's first header: the mark of a multipart's parts.
_PART_START = re.compile(r"^--([^\s]{1,200})[ \t]*\r?\n" + _PART_HEADER, re.MULTILINE | re.IGNORECASE)
_PART_HEADER_LINE = re.compile(_PART_HEADER, re.IGNORECASE)
_MAIL_TYPES = {"message/rfc822", "message/global"}
# A type/subtype, then words where a `;` or the end of the value belongs (RFC 2045 5.1).
_TYPE_WITH_TAIL = re.compile(r"\s*([\w!#$&^.+-]+/[\w!#$&^.+-]+)[ \t]+([^;]*)(.*)", re.DOTALL)
_PARAMETER = re.compile(r"(?<![\w.-])[\w.-]+=(?:\"[^\"]*\"|[^\s;\"]+)")  # from a word's start: linear
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/]*")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")
_HEADER_START = re.compile(rb"[!-9;-~]{1,76}:")  # a header's name and its colon (RFC 5322 2.2)
_MAIL_ENCODINGS = {"base64", "quoted-printable"}  # encodings a mail is attached in, against RFC 2046 5.2.1
_BODY_TYPES = {"text/plain", "text/html"}


@dataclass(frozen=True)
class AttachedMail:
    """A mail attached as a file: its bytes, and the file name its sender gave it ("" when none)."""

    data: bytes
    filename: str = ""


class ParsedMessage(Message):
    """compat32's Message, except that the parser keeps an attached mail sent base64- or
    quoted-printable-encoded as its encoded text, for `decode_encoded_attached_mails()`.

    Python's parser reads the body of any `message/*` part as a mail, whatever its
    Content-Transfer-Encoding: it read the encoded text's lines as header lines, so the mail could
    not be had back from what it made of them. Quoted-printable breaks a line longer than 76
    characters with a soft break (`=` at its end, RFC 2045 6.7); the line after the break ends
    the header section, and the mail kept had a cut Subject and its other headers in its body.
    The parser asks a part's main type once, after its headers and before its body (the payload
    is still None then); only that question is answered `application`, so the body is read as
    the lines it is. Afterwards the part is the `message/*` part it says it is.
    """

    def get_content_maintype(self) -> str:
        maintype = super().get_content_maintype()
        if maintype == "message" and self.get_payload() is None and _encoding(self) in _MAIL_ENCODINGS:
            return "application"
        return maintype


def decode_encoded_attached_mails(message: Message) -> None:
    """An attached mail sent base64- or quoted-printable-encoded is read as the mail it encodes.

    RFC 2046 5.2.1 allows only 7bit, 8bit or binary for message/rfc822, yet Gmail sends a
    forwarded .eml base64-encoded. The message must be parsed into `ParsedMessage`s, which keep
    such a part's body as the encoded text; that text decoded is the attached mail, byte for byte.
    """
    for part in message.walk():  # a decoded mail is walked in turn: one attached inside it too
        encoding = _encoding(part)
        if part.get_content_type() not in _MAIL_TYPES or encoding not in _MAIL_ENCODINGS or part.is_multipart():
            continue
        decoded = _decoded_body(part, encoding)
        if decoded is None:  # not what it says it is: read as the mail its bytes are
            del part["Content-Transfer-Encoding"]  # so that get_payload() gives the bytes as they came
            raw = part.get_payload(decode=True)
            part.set_payload(
                [message_from_bytes(raw if isinstance(raw, bytes) else b"", ParsedMessage, policy=compat32)]
            )
            continue
        del part["Content-Transfer-Encoding"]
        part.set_payload([message_from_bytes(decoded, ParsedMessage, policy=compat32)])


def _encoding(part: Message) -> str:
    return str(part.get("Content-Transfer-Encoding", "")).strip().lower()


def _decoded_body(part: Message, encoding: str) -> bytes | None:
    """A part's body decoded by its encoding; None when it is not base64 after all.

    Quoted-printable is decoded from the body's bytes as they came. Base64 is decoded here, not
    by get_payload(decode=True), which takes any text for base64 and gives bytes for it."""
    if encoding != "base64":
        data = part.get_payload(decode=True)
        return data if isinstance(data, bytes) else None
    try:
        return _b64decode(str(part.get_payload()).encode("ascii", "replace"))
    except (binascii.Error, ValueError):
        return None


def _b64decode(data: bytes) -> bytes:
    """The bytes a base64 text stands for; `binascii.Error` when it is no base64 (an attached mail
    sent as it is under a base64 label). Line breaks, padding and one dangling last character (a
    webmailer's slip) are forgiven; so are stray characters (a trailing "--", a no-break space)
    when what is left decodes to a mail's first header line."""
    decoded = lenient_b64decode(data)
    if _BASE64_TEXT.fullmatch(b"".join(data.split()).replace(b"=", b"")) or _HEADER_START.match(decoded):
        return decoded
    raise binascii.Error("not base64")


def lenient_b64decode(data: str | bytes) -> bytes:
    """Base64 as a mail client reads it: stray characters skipped, a dangling last one dropped.

    Some webmailers put one character too many into a file's base64 (seen: a stray "A" before
    a PDF). 4n+1 characters cannot be decoded at all, and the whole mail was quarantined as
    malformed; the file keeps what its other characters say.
    """
    text = data.encode("ascii", "replace") if isinstance(data, str) else data
    cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", text)
    cleaned = cleaned[: len(cleaned) - 1] if len(cleaned) % 4 == 1 else cleaned
    return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))


def read_plain_text_labelled_base64(message: Message) -> None:
    """A text part labelled base64 whose body is written out in words is read as those words.

    Some mailers and relays label a plain text part `Content-Transfer-Encoding: base64`; decoded
    as base64, its words became bytes of no charset ("¦Z(Íל¶x"). A line of base64 holds only
    letters, digits, `+`, `/` and `=`: a body most of whose lines hold anything else (a space
    between words, a comma, a full stop) is not base64.
    """
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text" or _encoding(part) != "base64":
            continue
        body = part.get_payload()
        lines = [line.strip() for line in body.splitlines() if line.strip()] if isinstance(body, str) else []
        if 2 * sum(1 for line in lines if _NOT_BASE64.search(line)) > len(lines):
            part.replace_header("Content-Transfer-Encoding", "8bit")


def detach_attached_mails(message: Message) -> list[AttachedMail]:
    """Each mail attached as a file (`message/*`, disposition attachment) as bytes, then emptied.

    mail-parser keeps such a part as a file and also reads the text parts inside it into the
    body: the forwarded mail's text and HTML became the sender's own (an HTML-less reply showed
    the attached mail's HTML instead). Emptied, mail-parser sees only the file; its bytes are
    taken here, in the same order, and given back to it in `parsing._attachments()`.

    A forwarded mail with no Content-Disposition at all (Pine and Alpine forward so; a MIME
    digest's parts, RFC 2046 5.1.5, are such mails) or an `inline` one (mutt forwards so) is one
    too, and is marked an attachment: mail-parser read its parts as the sender's own text.
    """
    found = []
    for part in message.walk():  # walk() reads a part's children after yielding it: none left
        if part is not message and _is_mail_not_attached(part):
            _mark_attachment(part)
        attached = part.get_content_disposition() == "attachment"
        if attached and part.get_content_maintype() == "message" and part.is_multipart():
            text = "".join(as_string_safe(inner) for inner in part.get_payload())  # as mail-parser flattens it
            name = decode_header_value(part.get_filename() or "")  # RFC 2231 or encoded words
            found.append(AttachedMail(text.encode("utf-8", errors="surrogateescape"), name.strip()))
            part.set_payload([])
    return found


def _is_mail_not_attached(part: Message) -> bool:
    return part.get_content_type() in _MAIL_TYPES and part.get_content_disposition() != "attachment"


def _mark_attachment(part: Message) -> None:
    """`Content-Disposition: attachment`, keeping the header's parameters (its filename)."""
    parameters = str(part.get("Content-Disposition", "")).partition(";")[2]
    del part["Content-Disposition"]
    part["Content-Disposition"] = f"attachment;{parameters}" if parameters.strip() else "attachment"


def file_named_text_parts(message: Message) -> None:
    """A text/plain or text/html part with a file name is a file the sender attached, not body text.

    mail-parser keeps a named `inline` text part both as a file and as body text, so a log.txt
    attached inline was pasted into the sender's words (byte-order mark and all). Such a part
    is marked an attachment, its name kept. Unnamed text parts stay the body (Apple Mail splits
    one around an inline picture), and so do a mail that is one named text part and the parts
    of a multipart/alternative (each is the body itself, RFC 2046 5.1.4).
    """
    files = _named_text_parts(message)
    body = [leaf for leaf in _body_leaves(message, into_alternatives=True) if leaf not in files]
    if not body and files:  # the sender named its body (SAP, GroupWise, scanners): it stays the body
        files = files[1:]
    for part in message.walk():
        if part.is_multipart() or not _is_named_text(part) or part.get_content_disposition() == "attachment":
            continue
        if part in files:
            _mark_attachment(part)
        else:  # a named body: unnamed, or mail-parser would keep it as a file as well
            part.del_param("filename", header="Content-Disposition")
            part.del_param("name")


def _named_text_parts(part: Message, *, in_alternative: bool = False) -> list[Message]:
    """The named text parts that may be files: not inside a multipart/alternative (each part there
    is the body) and not the root of a multipart/related (the body its pictures belong to, RFC 2387)."""
    children = part.get_payload() if part.is_multipart() else None
    if not isinstance(children, list):
        return []
    kind = part.get_content_type()
    inside = in_alternative or kind == "multipart/alternative"
    found: list[Message] = []
    for index, child in enumerate(c for c in children if isinstance(c, Message)):
        is_root = kind == "multipart/related" and index == 0
        if not (inside or is_root) and _is_named_text(child) and child.get_content_disposition() != "attachment":
            found.append(child)
        found += _named_text_parts(child, in_alternative=inside)
    return found


def _is_named_text(part: Message) -> bool:
    return part.get_content_type() in _BODY_TYPES and bool(part.get_filename())


def decode_uuencoded_parts(message: Message) -> None:
    """Each part sent as `Content-Transfer-Encoding: x-uuencode` decoded here and handed on as base64.

    Python's email decodes uuencode only from a `begin` line; old Mac and Eudora mailers send
    the encoded lines without one, and the file was kept as its uuencoded text. A part whose
    lines do not decode is left as it came.
    """
    for part in message.walk():
        encoding = _encoding(part)
        payload = part.get_payload()
        if encoding not in _UU_ENCODINGS or not isinstance(payload, str):
            continue
        data = decode_uu_payload(payload)
        if data is not None:
            part.replace_header("Content-Transfer-Encoding", "base64")
            part.set_payload(base64.encodebytes(data).decode("ascii"))


def read_8bit_file_names(message: Message, charset: str | None) -> None:
    """A file's name written as raw 8-bit bytes into its Content-Disposition or Content-Type is
    read as the mail's other headers are: UTF-8, else the body's charset, else Windows-1252.

    RFC 2231 and RFC 2047 are the ways to write such a name; older webmailers and clients put
    the bytes straight in (`filename="Hofjägerallee.jpg"` in Latin-1). The stdlib keeps those
    bytes escaped and mail-parser turned each of them into U+FFFD.
    """
    for part in message.walk():
        if part.get_content_maintype() == "multipart":  # an attached mail (message/rfc822) has a name too
            continue
        for name in ("Content-Disposition", "Content-Type"):
            raw = next((value for key, value in part.raw_items() if key.lower() == name.lower()), None)
            if not isinstance(raw, str):
                continue
            read = unescape_raw_header(raw, charset)
            if read != raw:  # it held 8-bit bytes (`unescape_raw_header` leaves any other as it is)
                part.replace_header(name, read)


def name_misplaced_filenames(message: Message) -> None:
    """A file named only by a `filename` parameter of its Content-Type gets that as its `name`.

    `filename` belongs to Content-Disposition (RFC 2183) and `name` to Content-Type; some Outlook
    versions write `Content-Type: image/jpeg; filename="image001.jpg"` with no disposition, and
    mail-parser, reading only the two right places, named the picture after its Content-ID.
    Text parts are left alone: a name would turn a body into a file.
    """
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() == "text" or part.get_filename():
            continue
        misplaced = part.get_param("filename")
        if isinstance(misplaced, str) and misplaced.strip():
            part.set_param("name", misplaced.strip())


def name_unnamed_files(message: Message, names: MadeUpNames) -> None:
    """A file part with no name gets a made-up one that says what it is: `attachment-1.pdf`.

    mail-parser names a part filed only by `Content-Disposition: attachment` (or by being RTF)
    with ten random letters and `.txt`, whatever it holds: a PDF sent without a name reached the
    ticket as `qzmkvtrbwa.txt`. Attached mails are left alone; their name comes from the mail.
    """
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        filed = part.get_content_disposition() == "attachment" or part.get_content_subtype() == "rtf"
        if filed and not part.get_filename():
            part.set_param("name", names(part.get_content_type()))


class MadeUpNames:
    """The made-up names of one mail's files, numbered across every pass that gives one (files
    filed as attachments here, pictures known only by their Content-ID, inline parts mail-parser
    drops), so that no two files of a mail share a name."""

    def __init__(self) -> None:
        self.given = 0

    def __call__(self, content_type: str) -> str:
        self.given += 1
        return made_up_name(content_type, self.given - 1)


def made_up_name(content_type: str, index: int) -> str:
    """`image/jpeg`, 0 -> `attachment-1.jpg`: a name for the index-th file that came without one."""
    subtype = content_type.partition("/")[2] or "bin"
    extension = {"jpeg": "jpg", "svg+xml": "svg", "plain": "txt", "octet-stream": "bin"}.get(subtype, subtype)
    return f"attachment-{index + 1}.{re.sub(r'[^a-z0-9]', '', extension)[:8] or 'bin'}"


def text_twins_for_lone_html(message: Message) -> None:
    """An HTML body part with no plain-text alternative, in a mail whose body also has plain text,
    gets one: the part becomes a multipart/alternative of its text and itself.

    Parts of a multipart/mixed are shown one after the other (RFC 2046 5.1.3); a server that
    appends a footer or a disclaimer to a mail adds it as such a part, HTML to a text mail or
    text to an HTML one. mail-parser keeps the text parts for the text and the HTML parts for
    the HTML, so an HTML mail with a text footer had only the footer as its text and the
    person's words were lost. HTML parts inside a multipart/alternative already have their text;
    an HTML-only mail is left to `html_to_text` as before.
    """
    lone = [part for part in _body_leaves(message, into_alternatives=False) if part.get_content_subtype() == "html"]
    has_text = any(part.get_content_subtype() == "plain" for part in _body_leaves(message, into_alternatives=True))
    if not lone or not has_text:
        return
    texts = [_text_of(p) for p in _body_leaves(message, into_alternatives=True) if p.get_content_subtype() == "plain"]
    plain = _squashed(" ".join(texts))
    # An HTML part that is a copy of the text beside it (Python's MIMEMultipart() is mixed by
    # default, and scripts attach both) would double the person's words.
    lone = [p for p in lone if _squashed(html_to_text(_text_of(p))) not in plain]
    if not lone:
        return
    for container in list(message.walk()):  # a snapshot: the new alternatives are not walked
        children = container.get_payload()
        if not container.is_multipart() or not isinstance(children, list):
            continue
        if any(child in lone for child in children):
            container.set_payload([_with_text_twin(child) if child in lone else child for child in children])


def _body_leaves(part: Message, *, into_alternatives: bool) -> list[Message]:
    """The leaf parts that are body text, not files; those inside an alternative only when asked."""
    if part.get_content_type() == "multipart/alternative" and not into_alternatives:
        return []
    children = part.get_payload()
    if part.is_multipart() and isinstance(children, list):
        nested = (_body_leaves(c, into_alternatives=into_alternatives) for c in children if isinstance(c, Message))
        return [leaf for leaves in nested for leaf in leaves]
    named = part.get_content_disposition() == "attachment" or bool(part.get_filename())
    return [part] if part.get_content_type() in _BODY_TYPES and not named else []


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    charset = part.get_param("charset")
    return decode_text(payload if isinstance(payload, bytes) else b"", charset if isinstance(charset, str) else None)[0]


def _squashed(text: str) -> str:
    return " ".join(text.split())


def _with_text_twin(part: Message) -> Message:
    html = _text_of(part)
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText(html_to_text(html), "plain", "utf-8"))
    alternative.attach(part)
    return alternative


def read_boundaryless_multiparts(message: Message) -> None:
    """A part labelled multipart that Python could not split: read by the boundary its parts
    really use, or, when it has no parts at all, as the plain text it is.

    Some mailers label a one-part mail `multipart/mixed; boundary=...` and write the text with no
    boundary line at all. Python's email keeps such a part as one string under its multipart
    label, mail-parser finds no text part in it, and the person's words were lost. But a part
    whose parameter only differs from its boundary lines (in case, or lost to a header an MTA
    broke) does have parts: read as text it would paste their headers and base64 into the
    message, so it is split by the boundary its lines use. Its charset is not known:
    `repair_charsets()`, which runs after this, finds one.
    """
    for part in list(message.walk()):
        payload = part.get_payload()
        if part.get_content_maintype() != "multipart" or not isinstance(payload, str):
            continue
        # The body's bytes as they came (decoded, when a multipart was encoded against the rules):
        # get_payload() would decode 8-bit bytes as ASCII and each non-ASCII letter became U+FFFD.
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        found = _PART_START.search(data.decode("utf-8", "surrogateescape"))
        if found is None:
            part.set_type("text/plain")  # its parameters kept: mail-parser looks for the boundary
            continue
        boundary = found.group(1)
        head = f'Content-Type: {part.get_content_type()}; boundary="{boundary}"\n\n'
        rebuilt = message_from_bytes(head.encode("utf-8", "surrogateescape") + data, policy=compat32)
        if isinstance(rebuilt.get_payload(), list):
            del part["Content-Transfer-Encoding"]
            part.set_param("boundary", boundary)
            part.set_payload(rebuilt.get_payload())


def read_multiparts_labelled_as_one_part(message: Message) -> None:
    """A part labelled `text/html; boundary="..."` (one part, with a multipart's parameter) whose
    body opens with that boundary and a part's headers: read as the multipart/mixed it is.

    Some PHP mail scripts and bulk mailers write a multipart body under a one-part type. Read as
    its label says, the message began with the boundary line and the part's own headers
    (`Content-Type: text/html;`, `Content-Transfer-Encoding: 7bit`), shown as the sender's words.
    Only a body that starts with its own declared boundary is relabelled: a text that merely
    mentions a boundary stays text.
    """
    for part in list(message.walk()):
        boundary = part.get_boundary()
        payload = part.get_payload()
        if part.get_content_maintype() in ("multipart", "message") or not boundary or not isinstance(payload, str):
            continue
        lines = payload.lstrip("\r\n").split("\n", 2)
        if len(lines) < 2 or lines[0].rstrip() != f"--{boundary}" or not _PART_HEADER_LINE.match(lines[1]):
            continue
        # A multipart's body is not transfer-encoded (RFC 2045 6.4): without the label's encoding,
        # get_payload(decode=True) gives the body's bytes as they came. get_payload() does not: it
        # decodes 8-bit bytes in the label's charset (ASCII when it names none), and each
        # non-ASCII letter of the parts became U+FFFD.
        del part["Content-Transfer-Encoding"]
        body = part.get_payload(decode=True)
        head = f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'.encode("utf-8", "surrogateescape")
        rebuilt = message_from_bytes(head + (body if isinstance(body, bytes) else b""), policy=compat32)
        if isinstance(rebuilt.get_payload(), list):
            part.set_type("multipart/mixed")  # its boundary parameter kept
            part.set_payload(rebuilt.get_payload())


def read_types_with_a_tail(message: Message) -> None:
    """A one-part Content-Type with words after its type and no `;` before them is read as its type.

    Spam kits and hand-rolled mail scripts write `Content-Type: text/html Content-Transfer-Encoding:
    8bit` (two headers run into one) or `text/plain charset=us-ascii`. Python's email takes the
    whole value for the type, "text/html content-transfer-encoding: 8bit", which no reader knows:
    mail-parser skipped the part, and the mail was stored with no text, its body nowhere but in
    the raw mail. The leading type/subtype is kept, with any `name=value` parameters of the tail.
    """
    for part in message.walk():
        value = part.get("Content-Type")
        found = _TYPE_WITH_TAIL.fullmatch(str(value)) if value is not None and not part.is_multipart() else None
        if found is None or not found.group(2).strip():
            continue
        parameters = "".join(f"; {word}" for word in _PARAMETER.findall(found.group(2)))
        part.replace_header("Content-Type", found.group(1) + parameters + found.group(3))
