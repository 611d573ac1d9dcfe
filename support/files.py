"""Pure checks on uploaded and mailed files: the real type from the bytes, a safe name, and the
rules every door applies (`check_file()`: size and accepted types, from settings).

The type a client claims and the extension are never trusted: the first bytes decide. A file
whose bytes are not a known binary format is accepted as text only if it decodes as text.
"""

from __future__ import annotations

import functools
import mimetypes
import os
import re
import unicodedata
from dataclasses import dataclass

import filetype
from django.conf import settings

_SNIFF_BYTES = 8192
# Controls, path and shell characters, and the marks that turn text right to left ("invoice\u202egpj.exe"
# shows as "invoiceexe.jpg").
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*\u200e\u200f\u202a-\u202e\u2066-\u2069]+')
_TEXT_TYPES_BY_EXTENSION = {".csv": "text/csv", ".tsv": "text/csv"}


@dataclass(frozen=True)
class SniffedType:
    content_type: str
    is_text: bool


def sniff_content_type(head: bytes, filename: str) -> SniffedType | None:
    """The MIME type the bytes really are, or None when they are neither a known format nor text."""
    kind = filetype.guess(head[:_SNIFF_BYTES]) if head else None
    if kind is not None:
        return SniffedType(content_type=kind.mime, is_text=False)
    if _looks_like_text(head[:_SNIFF_BYTES]):
        extension = os.path.splitext(filename)[1].lower()
        return SniffedType(content_type=_TEXT_TYPES_BY_EXTENSION.get(extension, "text/plain"), is_text=True)
    return None


@dataclass(frozen=True)
class FileCheck:
    """What the upload rules say of a file: `problem` is "", "too_large" or "not_accepted";
    `content_type` is what its bytes are ("unknown binary data" when no known format)."""

    problem: str
    content_type: str = ""


def max_size_mb() -> int:
    """ATTACHMENT_MAX_BYTES in whole megabytes, as the doors tell people the limit."""
    return settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)


def check_file(head: bytes, size: int, filename: str) -> FileCheck:
    """The upload rules, the same for the web, the API and mail: at most ATTACHMENT_MAX_BYTES, and
    bytes of a type in ATTACHMENT_ALLOWED_TYPES (`head`: the first 8 KB or more)."""
    if size > settings.ATTACHMENT_MAX_BYTES:
        return FileCheck("too_large")
    sniffed = sniff_content_type(head, safe_filename(filename))
    if sniffed is None or sniffed.content_type not in settings.ATTACHMENT_ALLOWED_TYPES:
        return FileCheck("not_accepted", sniffed.content_type if sniffed else "unknown binary data")
    return FileCheck("", sniffed.content_type)


def _looks_like_text(sample: bytes) -> bool:
    if b"\x00" in sample:
        return False
    if sample.startswith(b"MZ") or sample.startswith(b"\x7fELF"):
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        # The sample may end in the middle of a multi-byte character.
        if exc.start >= len(sample) - 3:
            return True
    printable = sum(1 for byte in sample if byte >= 0x20 or byte in b"\t\r\n\f")
    return printable / max(len(sample), 1) > 0.95


# The extensions each accepted type may keep; the first is the one a name that does not fit gets.
_EXTENSIONS = {
    "text/plain": (".txt", ".text", ".log", ".md", ".eml", ".ics"),
    "text/csv": (".csv", ".tsv"),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
    "application/msword": (".doc", ".dot"),
    "application/vnd.ms-excel": (".xls", ".xlt"),
    "application/vnd.ms-powerpoint": (".ppt", ".pps", ".pot"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
}


def stored_filename(name: str, content_type: str) -> str:
    """The name a file is kept and downloaded under: `safe_filename()`, ending in an extension of
    the type its bytes are. The bytes decide the type, and the name must not say otherwise: text
    named `run.bat`, `page.html` or `report.pdf` is kept as `run.bat.txt`, `page.html.txt`,
    `report.pdf.txt`, so that whoever downloads it opens text, never a script or a web page. A name
    made up for an unnamed part (`attachment.bin`) takes the right extension instead of `.bin`; a
    type with no known extension gets `.bin` (nothing opens it as anything)."""
    name = safe_filename(name)
    stem, extension = os.path.splitext(name)
    extensions = _extensions_of(content_type)
    if extension.lower() in extensions:
        return name
    if extension.lower() in _NO_TYPE:
        name = stem or name
    ending = extensions[0] if extensions else ".bin"
    return safe_filename(name[: 255 - len(ending)].rstrip(" .") + ending)


# What a name says when it says no type: the made-up names of unnamed parts and winmail.dat's files.
_NO_TYPE = {".bin", ".dat"}


@functools.lru_cache(maxsize=64)
def _extensions_of(content_type: str) -> tuple[str, ...]:
    """Ours, then Python's own table (not the machine's /etc/mime.types: the same on every machine)
    for a type an operator allowed. Bytes of no known type name no extension but .bin (Python's
    table would allow .exe or .so)."""
    if content_type == "application/octet-stream":
        return (".bin",)
    return _EXTENSIONS.get(content_type) or tuple(_DEFAULT_TYPES.guess_all_extensions(content_type))


_DEFAULT_TYPES = mimetypes.MimeTypes()


def safe_filename(name: str, *, fallback: str = "attachment") -> str:
    """A display name with no path, no control characters and at most 255 characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = _UNSAFE_NAME_CHARS.sub("_", name).strip(" .")
    if not name:
        return fallback
    if len(name) > 255:
        stem, extension = os.path.splitext(name)
        extension = extension[:16]
        name = stem[: 255 - len(extension)] + extension
    return name
