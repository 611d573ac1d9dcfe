"""The codec that really decodes a text part or a header, whatever the mail claims. Pure.

Clients label text with names Python does not know or with a smaller charset than they used
(`gb2312` holding GB18030, `ks_c_5601-1987` meaning CP949, 8-bit text with no charset at all), put
the charset of an HTML body only in its `<meta>`, and write UTF-8 straight into headers (RFC 6532).
A text is never lost to a charset: the last resort decodes every byte.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterable
from email.header import decode_header
from email.message import Message

from charset_normalizer import from_bytes

from .japanese import CODEC_NAME as ISO2022JP_MS

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
    # ISO-2022-JP is 7-bit: 8-bit bytes under its name (a header from a Windows mailer) are Shift_JIS
    "iso-2022-jp": (
        "iso2022_jp_2",
        "iso2022_jp_ext",
        "iso2022_jp_2004",
        "iso2022_jp_3",
        ISO2022JP_MS,
        "utf-8",
        "cp932",
    ),
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
# A text with no charset (or "us-ascii", a default, not a choice) that switches to JIS X 0208 or
# to half-width katakana is ISO-2022-JP: Outlook sends Japanese so without naming it.
_UNNAMED = {"", "us-ascii", "ascii"}
_ISO2022JP_ESCAPE = re.compile(rb"\x1b\$[@B]|\x1b\(I")
_SEVEN_BIT_CODECS = ("iso2022", "utf_7", "utf-7", "hz")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_Q_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[qQ]\?[^?\s]*\?=")
_ADDRESS_SPECIALS = re.compile(r'[(),:;<>@\[\]"\\]')
_SURROGATES = re.compile("[\udc80-\udcff]")
# One well-formed multi-byte UTF-8 character: a text that has one was written in UTF-8.
_UTF8_CHARACTER = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
# UTF-8 text with some bytes in Windows-1252: a gateway or a client pasted Latin-1 text (a disclaimer,
# a signature) into a UTF-8 body. Not a codec: a text read this way is handed on already decoded.
MIXED_UTF8 = "utf-8+cp1252"


def _cp1252_bytes(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("cp1252", errors="replace"), error.end


codecs.register_error(MIXED_UTF8, _cp1252_bytes)


# Latin-1 and its kin.
_WESTERN = frozenset({"cp1252", "iso8859-1", "latin-1", "iso8859-15"})
# Legacy single-byte charsets of the scripts whose letters Windows-1252 reads as accented Latin
# ones: mail in them arrives labelled "us-ascii", "iso-8859-1", or not at all, from old mailers,
# web forms and gateways.
_NON_LATIN_CODECS = ("cp1251", "koi8_r", "koi8_u", "iso8859_5", "cp1253", "iso8859_7", "cp1255", "cp1256")
# The letters of Windows-1252 text, as bytes: A-Z and a-z, and 0xC0-0xFF (U+00C0-U+00FF, accented).
_ASCII_LETTER_BYTES = bytes(range(0x41, 0x5B)) + bytes(range(0x61, 0x7B))
_ACCENTED_BYTES = bytes(range(0xC0, 0x100))
_MIN_ACCENTED_LETTERS = 12
_MIN_ACCENTED_WORDS = 3
_SAMPLE_BYTES = 32 * 1024


def decode_text(data: bytes, declared: str | None) -> tuple[str, str]:
    """(text, codec used). Tries what the label means, then UTF-8 (with Windows-1252 for the bytes that
    are not UTF-8, when most are) and Windows-1252; never fails. A text that Windows-1252 reads as
    words of accented letters only is Cyrillic, Greek, Hebrew or Arabic in that script's legacy
    charset (`_non_latin_reading()`)."""
    label = (declared or "").strip().strip("\"'").lower()
    if label in _UNNAMED and _ISO2022JP_ESCAPE.search(data):
        label = "iso-2022-jp"
    utf8_failed = False
    for codec in _codecs_for(label):
        if codec == "cp1252" and utf8_failed and _UTF8_CHARACTER.search(data):
            # UTF-8 with some bytes of Latin-1 pasted in (a disclaimer, a signature), unless the
            # text is a legacy charset whose byte pairs now and then happen to be valid UTF-8: in
            # Cyrillic and the like, or in Latin-1 itself ("é" and a no-break space before "»").
            western = data.decode("cp1252", errors="replace")
            legacy = _non_latin_reading(data, western)
            if legacy:
                return legacy
            mixed = data.decode("utf-8", errors=MIXED_UTF8)
            sample = _SAMPLE_BYTES
            if _misreadings(mixed[:sample], in_latin=_IN_LATIN_WORDS) <= _misreadings(western[:sample]):
                return mixed, MIXED_UTF8
            return western, "cp1252"
        if codec in _WESTERN and not data.isascii():  # UTF-8 only when it decodes as such, below
            utf8 = _utf8_under_latin_label(data, codec)
            if utf8 is not None:
                return utf8, "utf-8"
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            utf8_failed = utf8_failed or codec == "utf-8"
            continue
        if codec == "cp1252":
            return _non_latin_reading(data, text) or (text, codec)
        return text, codec
    text = data.decode("cp1252", errors="replace")
    return _non_latin_reading(data, text) or (text, "cp1252")


def _utf8_under_latin_label(data: bytes, codec: str) -> str | None:
    """The UTF-8 reading of a text labelled Latin-1 (a PHP form, a gateway's default), when it is
    valid UTF-8 and reads no worse than the label: Latin-1 capitals before a no-break space or a
    curly quote ("PRIORITÉ !", "JOSÉ\u2019S") are valid UTF-8 too, for characters no such word holds
    (IPA, Arabic, NKo). Greek letters, sub- and superscripts and ligatures do stand in Latin words
    ("5μg", "H₂O", "reﬂect"). Judged on the first 32 KB."""
    try:
        utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    western = data[:_SAMPLE_BYTES].decode(codec, errors="replace")
    return utf8 if _misreadings(utf8[:_SAMPLE_BYTES], in_latin=_IN_LATIN_WORDS) <= _misreadings(western) else None


def _non_latin_reading(data: bytes, western: str) -> tuple[str, str] | None:
    """(text, codec) when `western`, the Windows-1252 reading of `data`, is a misreading.

    In a Latin-script language a few letters in ten at most are accented; in Cyrillic read as
    Windows-1252 ("Çäðàâñòâóéòå") nearly all are, and so are whole words of several kinds. When
    both hold, the text's own script is chosen among the legacy charsets by charset-normalizer,
    which weighs each reading's letters against its languages."""
    # Counted on the bytes: Windows-1252 reads 0xC0-0xFF as U+00C0-U+00FF, one letter a byte.
    head = data[:_SAMPLE_BYTES]
    accented = len(head) - len(head.translate(None, _ACCENTED_BYTES))
    ascii_letters = len(head) - len(head.translate(None, _ASCII_LETTER_BYTES))
    if accented < _MIN_ACCENTED_LETTERS or accented < ascii_letters:
        return None
    sample = western[:_SAMPLE_BYTES]
    words = {w for w in _WORD.findall(sample) if len(w) >= 3 and not any(c.isascii() for c in w)}
    if len(words) < _MIN_ACCENTED_WORDS:  # a list of letters ("ÄÖÜäöüß") is no language's text
        return None
    best = from_bytes(data[:_SAMPLE_BYTES], cp_isolation=list(_NON_LATIN_CODECS)).best()
    if best is None:
        return None
    codec = codecs.lookup(best.encoding).name
    try:
        return data.decode(codec), codec
    except UnicodeDecodeError:  # the sample decoded and the rest does not: keep the first reading
        return None


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


def repair_charsets(message: Message) -> list[str]:
    """Relabel each text part with a codec that decodes it, so no later step loses its text."""
    notes = []
    for part in message.walk():
        if part.get_content_maintype() != "text" or part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment":  # a file: its bytes are kept as they came
            continue
        declared = part.get_param("charset")
        declared = declared if isinstance(declared, str) else None
        try:
            payload = part.get_payload(decode=True) or b""
            if not isinstance(payload, bytes):  # decode=True gives bytes for a non-multipart part
                continue
        except Exception:  # an undecodable transfer encoding: leave it to the parser's own recovery
            continue
        if declared is None and part.get_content_subtype() == "html":
            declared = html_meta_charset(payload)
        text, codec = decode_text(payload, declared)
        if codec.startswith(_SEVEN_BIT_CODECS) or codec == MIXED_UTF8:
            # Escape-sequence charsets look like ASCII, and mail-parser takes 7-bit text as it
            # is; mixed text has no codec to name: hand it the decoded text instead.
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


def decode_header_value(value: object, fallback: str | None = None) -> str:
    """An RFC 2047 header as text, whatever charset its encoded words claim; CR/LF removed.
    `fallback`: the charset of 8-bit bytes written straight into the header that are not UTF-8."""
    if value is None:
        return ""
    raw = unescape_raw_header(str(value), fallback)
    try:
        chunks = decode_header(raw)
    except Exception:  # a malformed encoded word: keep the header as it was written
        chunks = [(raw, None)]
    text = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            # decode_header() hands back the text between encoded words as raw-unicode-escape bytes.
            chunk = decode_text(chunk, charset)[0] if charset else chunk.decode("raw-unicode-escape", "replace")
        text.append(chunk)
    joined = "".join(text) if any(isinstance(c, bytes) for c, _ in chunks) else " ".join(text)
    return " ".join(joined.replace("\x00", "").split())


def html_meta_charset(html: bytes) -> str | None:
    """The charset an HTML body names in its `<meta>` (either form), read from its first 4 KB."""
    match = _META_CHARSET.search(html[:4096])
    return match.group(1).decode("ascii").lower() if match else None


def unescape_raw_header(value: str, fallback: str | None = None) -> str:
    """A header the parser read as ASCII with its 8-bit bytes escaped, as the text they spell.

    RFC 6532 allows UTF-8 there, and UTF-8 is tried first; older clients wrote the header in
    the charset of their body (a Russian spam run in Windows-1251, Eudora in Latin-1), which a
    mail client then reads with the body's charset: `fallback`. Without one, Windows-1252. When
    the body's charset makes words of Latin letters with a Cyrillic or CJK letter in the middle
    ("Jцrg") and Windows-1252 does not ("Jörg"), the header was Latin-1 after all.
    """
    if not _SURROGATES.search(value):
        return value
    data = value.encode("ascii", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        usable = fallback if fallback and _keeps_ascii(fallback) else None
        chinese = None if usable and usable.strip().lower() not in _UNNAMED else _chinese_reading(data)
        if chinese:
            return chinese
        text = decode_text(data, usable or "utf-8")[0]
        if usable:
            western = data.decode("cp1252", "replace")
            if _misreadings(text) > _misreadings(western):
                return western
        return text


# The 8-bit runs of a header, each with the ASCII letter that touches it on either side, if any.
_EIGHT_BIT_RUN = re.compile(rb"([A-Za-z]?)([\x80-\xff]+)([A-Za-z]?)")
# GB2312's hanzi rows: 0xB0-0xD7 hold the 3,755 common characters, 0xD8-0xF7 the rarer ones.
_GB_COMMON_LEADS = range(0xB0, 0xD8)
_GB_HANZI_LEADS = range(0xB0, 0xF8)


def _chinese_reading(data: bytes) -> str | None:
    """A header's 8-bit bytes read as GB2312, when that is what they are and no charset says so.

    Chinese Outlook Express and Foxmail write a file's name in the system's GBK straight into the
    header (`name=管理.doc`, in a mail whose text is "us-ascii" or which has no text part); read
    as Windows-1252 it is "¹ÜÀí.doc". The bytes are taken for Chinese only when they come in pairs
    of GB2312 hanzi, mostly common ones, with no ASCII letter against them: "Grüße", "ÇÃO" or
    Cyrillic in Windows-1251 stay as they were. (Korean in EUC-KR is not told apart: it was
    unreadable before, and is so still.)
    """
    leads = []
    for before, run, after in _EIGHT_BIT_RUN.findall(data):
        if len(run) % 2 or before or after:
            return None
        leads.extend(run[::2])
    if any(lead not in _GB_HANZI_LEADS for lead in leads):
        return None
    if 3 * sum(lead in _GB_COMMON_LEADS for lead in leads) < 2 * len(leads):
        return None
    try:
        return data.decode("gb2312")
    except UnicodeDecodeError:
        return None


_WORD = re.compile(r"[^\W_]+")
# Beyond the Latin blocks, yet written inside Latin words: combining accents (decomposed text),
# Greek (units, formulas), Vietnamese letters, sub- and superscripts, letterlike symbols, the
# Latin ligatures.
_IN_LATIN_WORDS = re.compile("[\u0300-\u036f\u0370-\u03ff\u1e00-\u1eff\u2070-\u209f\u2100-\u214f\ufb00-\ufb06]")
_NOTHING = re.compile("(?!)")
# A Latin-1 sign (¤ ± ½ ª ...) with a letter on each side: what CJK double bytes read as Latin-1
# look like ("§ÚªºGmail±b"); no Western word holds one. The degree sign ("Ø°C") and the Catalan
# middle dot ("col·legi") do stand between letters, and are not counted.
_SIGN_IN_A_WORD = re.compile(r"(?<=[^\W\d_])[\u00a1-\u00af\u00b1-\u00b6\u00b8-\u00bf](?=[^\W\d_])")


def _misreadings(text: str, *, in_latin: re.Pattern[str] = _NOTHING) -> int:
    """Signs of a wrong codec: words that mix ASCII letters with letters or digits beyond the Latin
    blocks (except those `in_latin` matches), Latin-1 signs in the middle of a word, and characters
    no text holds (private use, unassigned, the replacement character). A Chinese or Japanese line
    mixes ASCII letters into its words as a matter of course ("聽MP3"), so the signs weigh against
    its Latin-1 reading."""
    mixed = sum(
        1
        for word in _WORD.findall(text)
        if any(c.isascii() and c.isalpha() for c in word)
        and any(ord(c) > 0x24F and not in_latin.match(c) for c in word)
    )
    signs = len(_SIGN_IN_A_WORD.findall(text))
    return mixed + signs + sum(1 for c in text if c == "\ufffd" or unicodedata.category(c) in ("Co", "Cn"))


_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


def _keeps_ascii(label: str) -> bool:
    """Whether a charset reads ASCII bytes as ASCII: a header's names and addresses are ASCII, so
    a body in UTF-16 or EBCDIC says nothing about the 8-bit bytes of its headers."""
    try:
        return _PRINTABLE_ASCII.decode(_first_codec(label)) == _PRINTABLE_ASCII.decode("ascii")
    except (UnicodeDecodeError, LookupError):
        return False


def body_charset(message: Message) -> str | None:
    """The charset of the mail's first text part: the hint for 8-bit headers that are not UTF-8."""
    for part in message.walk():
        if part.get_content_maintype() == "text" and not part.is_multipart():
            charset = part.get_param("charset")
            return charset.strip().strip("\"'").lower() if isinstance(charset, str) else None
    return None


def header_charset(declared: str | None, read_with: str | None) -> str | None:
    """The charset in which to read 8-bit header bytes that are not UTF-8: the codec that read the
    body (`read_with`, after `repair_charsets()`), or the body's own label when reading rewrote the
    body as UTF-8 (ISO-2022-JP and the other 7-bit charsets): a Japanese mailer's Shift_JIS subject
    was read in Windows-1252, mojibake, since the body then said only "utf-8"."""
    if read_with == "utf-8" and declared and _first_codec(declared).startswith(_SEVEN_BIT_CODECS):
        return declared
    return read_with


def quote_encoded_words(value: str) -> str:
    """An address header with each Q-encoded word that holds an address special put in quotes.

    RFC 2047 forbids a bare comma in an encoded word of a display name; Apple Mail writes
    `=?iso-8859-1?Q?Gurung,=20Ram?= <ram@x>` anyway, and splitting the list at that comma
    turned one person into a broken name and no address. Quoted, the word is one name, decoded
    after the split as every name is. Words already inside quotes are left as they are.
    """
    parts: list[str] = []
    quoted, index = False, 0
    while index < len(value):
        char = value[index]
        word = _Q_ENCODED_WORD.match(value, index) if char == "=" and not quoted else None
        if word and _ADDRESS_SPECIALS.search(word.group()):
            parts.append('"' + word.group().replace("\\", "\\\\").replace('"', '\\"') + '"')
            index = word.end()
            continue
        if quoted and char == "\\":
            parts.append(value[index : index + 2])
            index += 2
            continue
        quoted = quoted != (char == '"')
        parts.append(char)
        index += 1
    return "".join(parts)
