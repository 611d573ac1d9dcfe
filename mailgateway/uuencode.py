"""Files uuencoded into mail: `begin 644 name` ... `end` blocks in a text body, and parts sent
with `Content-Transfer-Encoding: x-uuencode`. Pure.

Old Unix mailers (mailx, cron and database jobs) still send a file inside a plain text body this
way, and old Mac and Eudora mailers send uuencoded parts without the `begin` line that Python's
email needs to decode them. Left alone, either is lines of garbage where a file should be.
"""

from __future__ import annotations

import binascii
import re

_UU_BEGIN = re.compile(r"begin [0-7]{3,4} (?P<name>\S.*)")


def uuencoded_files(text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The text without its uuencoded blocks, and each block's (name as written, bytes).

    A block with a line that does not decode, or without its `end`, stays in the text as written.
    """
    lines = text.split("\n")
    kept: list[str] = []
    files: list[tuple[str, bytes]] = []
    index = 0
    while index < len(lines):
        begin = _UU_BEGIN.fullmatch(lines[index].rstrip())
        found = _uu_data(lines, index + 1, needs_end=True) if begin else None
        if begin is None or found is None:
            kept.append(lines[index])
            index += 1
        else:
            files.append((begin["name"], found[0]))
            index = found[1]
    return "\n".join(kept), files


def decode_uu_payload(text: str) -> bytes | None:
    """A part's x-uuencode body as bytes, with or without its `begin` line; None when it does not decode."""
    lines = text.strip().split("\n")
    start = 1 if _UU_BEGIN.fullmatch(lines[0].rstrip()) else 0
    found = _uu_data(lines, start, needs_end=False)
    return found[0] if found else None


def _uu_data(lines: list[str], start: int, *, needs_end: bool) -> tuple[bytes, int] | None:
    """The bytes of the uuencoded lines from `start` up to an `end` line, and the index after it."""
    data = bytearray()
    for index in range(start, len(lines)):
        line = lines[index].rstrip()
        if line == "end":
            return bytes(data), index + 1
        try:  # a2b_uu reads an empty line as 32 zero bytes: it is a zero-length line whose space was cut
            data += binascii.a2b_uu(line) if line else b""
        except (binascii.Error, ValueError):  # ValueError: not ASCII
            return None
    return None if needs_end else (bytes(data), len(lines))
