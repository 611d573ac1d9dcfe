"""ISO-2022-JP as Japanese mail clients write it: with the Windows (CP932) characters. Pure.

Outlook, Becky! and most Japanese webmail send ISO-2022-JP (RFC 1468) but write characters of
their Windows code page into it: NEC's row 13 (circled numbers ①, Roman numerals, ㈱, №) and
the IBM extensions. Python's ISO-2022-JP codecs refuse those, and the text was read as ASCII,
escape sequences and all. This codec reads each two-byte JIS character as its Shift_JIS twin
and decodes the whole in CP932, which holds both sets. It is registered as `iso2022_jp_ms`
and tried after the strict codecs, so a standard text decodes as before.
"""

from __future__ import annotations

import codecs

CODEC_NAME = "iso2022_jp_ms"

_ESCAPES = {
    b"\x1b(B": "ascii",
    b"\x1b(J": "ascii",  # JIS X 0201 Roman: ASCII with yen and overline, read as ASCII as clients do
    b"\x1b(I": "kana",  # JIS X 0201 half-width katakana
    b"\x1b$@": "jis",  # JIS C 6226-1978
    b"\x1b$B": "jis",  # JIS X 0208
}


def iso2022jp_as_cp932(data: bytes) -> bytes:
    """The Shift_JIS (CP932) bytes of an ISO-2022-JP text. Raises ValueError on what is not one."""
    out = bytearray()
    mode = "ascii"
    index = 0
    while index < len(data):
        if data[index] == 0x1B:
            mode = _ESCAPES.get(data[index : index + 3], "")
            if not mode:
                raise ValueError(f"escape sequence {data[index : index + 4]!r} at {index}")
            index += 3
            continue
        byte = data[index]
        if byte > 0x7F:
            raise ValueError(f"8-bit byte at {index}")
        if mode == "jis" and byte not in b"\r\n":
            if index + 1 >= len(data) or not (0x21 <= byte <= 0x7E and 0x21 <= data[index + 1] <= 0x7E):
                raise ValueError(f"broken two-byte character at {index}")
            out += _jis_to_sjis(byte, data[index + 1])
            index += 2
            continue
        out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
        index += 1
    return bytes(out)


def _jis_to_sjis(first: int, second: int) -> bytes:
    lead = ((first + 1) >> 1) + (0x70 if first <= 0x5E else 0xB0)
    trail = second + (0x20 if second >= 0x60 else 0x1F) if first % 2 else second + 0x7E
    return bytes((lead, trail))


def _decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
    try:
        converted = iso2022jp_as_cp932(bytes(data))
    except ValueError as exc:
        raise UnicodeDecodeError(CODEC_NAME, bytes(data), 0, len(data), str(exc)) from None
    return converted.decode("cp932", errors), len(data)


def _encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
    return codecs.encode(text, "iso2022_jp", errors), len(text)


def _search(name: str) -> codecs.CodecInfo | None:
    if name.replace("-", "_") != CODEC_NAME:
        return None
    return codecs.CodecInfo(_encode, _decode, name=CODEC_NAME)  # type: ignore[arg-type]


codecs.register(_search)
