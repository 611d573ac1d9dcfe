"""Pure checks on uploaded and mailed files: the real type from the bytes, and a safe name.

The type a client claims and the extension are never trusted: the first bytes decide. A file
whose bytes are not a known binary format is accepted as text only if it decodes as text.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass

import filetype

_SNIFF_BYTES = 8192
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
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
