"""Visible text: what the person wrote, without the quoted history and signatures under it.

Contract: pure. In: the plain text of one mail body (a str). Out: a str. Touches nothing, never
raises on any str, and runs in time linear in the input: every pattern is matched against one
line at a time (two when a client wrapped an attribution line), each pattern has at most one
open-ended repeat per alternative, and lines longer than any marker can be are never matched.

It reads the body line by line, top to bottom:

- ">" lines are quoted history and are dropped wherever they stand, so the person's lines of an
  inline or bottom-posted answer are kept (the raw mail keeps the questions they answer);
- an attribution line ("On ... wrote:", "Am ... schrieb ...:", "Le ... a écrit :", ...), alone or
  wrapped over two lines, is dropped when a ">" quote follows it, or nothing when it is dated;
  when unquoted text follows one that names a time and an address in angle brackets, that text
  is the history (Outlook for Mac and Yahoo do not quote, and name both); under any other it is
  the person's: "On Monday at 10:00 the courier wrote:" / "Address not found" / "which is false.",
  or "Jeg skrev til support@... kl. 10.30 om følgende:" (an address written bare is prose);
- in any other language, a line (or two, wrapped) that ends in a colon and names a time and an
  address is an attribution too, when a ">" quote or nothing at all follows it;
- so is Gmail's older bare date and sender ("2026/3/3 Asha <asha@example.com>"), over a ">" quote
  that runs to the end of the mail (or to a signature or phone footer that ends it);
- a header block (adjacent From / Sent / To / Cc / Subject lines in any order, in the languages
  of `header_blocks`, under some text of the person's), with the rule Outlook draws above it, and
  the "-----Original Message-----" separators start the history: everything from there on is dropped;
- a forwarded mail is kept under the person's text, from its marker ("---------- Forwarded
  message ---------", "Begin forwarded message:"), or from the first line of history when the
  subject says the mail is a forward (`is_forward()`: Outlook forwards under a header block);
- the RFC 3676 signature separator "-- " ends the person's text, and so does a bare "--" (a client
  stripped the space) when only a signature can stand under it (`_is_bare_signature_marker`);
- "Sent from my iPhone" and the other footers of phones and mail apps (`mobile_footers`) are dropped;
- Outlook's placeholder for an inline picture in the plain text, "[cid:image001.png@01D9...]",
  becomes "[image: image001.png]" (the picture itself is an attachment of the message).

When nothing is left the mail is all history (a bare forward, a quote sent back): the whole text
is returned, since an empty message would lose what the mail said.
"""

from __future__ import annotations

import re
from itertools import islice

from .header_blocks import COLONS, LABEL_WORDS, RULE_TO_HEADER_GAP, is_header_block
from .mobile_footers import is_mobile_footer
from .signatures import may_be_signature_line

# No marker line is longer than this; longer lines are the person's text and are not matched.
_MAX_MARKER_LINE = 400
# The verb that ends an attribution line, from the start of the line.
# Gmail: "On Tue, 3 Mar 2026 at 10:02, Asha <asha@example.com> wrote:"; Apple Mail:
# "On 3 Mar 2026, at 10:02, Asha <asha@example.com> wrote:"; Thunderbird: "On 03/03/2026 10:02,
# Asha wrote:"; German Gmail "Am Di., 3. März 2026 um 10:02 Uhr schrieb Asha <asha@example.com>:"
# and its app "Asha <asha@example.com> schrieb am Di., 3. März 2026, 10:02:"; French "Le mar. 3 mars
# 2026 à 10:02, Asha <asha@example.com> a écrit :" (Gmail puts U+202F before the colon); Spanish
# "El mar, 3 mar 2026 a las 10:02, Asha (<asha@example.com>) escribió:"; Hindi "... Asha
# <asha@example.com> ने लिखा:"; Nepali "... Asha <asha@example.com> ले लेख्नुभयो:"; Polish Thunderbird
# "W dniu 3.03.2026 o 10:02, Asha pisze:" and Gmail "... Asha <asha@example.com> napisał(a):"; Czech
# "Dne 3. 3. 2026 v 10:02 Asha napsal(a):"; Hungarian Gmail "Asha <asha@example.com> ezt írta (időpont:
# 2026. márc. 3., K, 10:02):"; Danish, Norwegian and Swedish "... kl. 10:02 skrev Asha <asha@example.com>:";
# Finnish "ti 3.3.2026 klo 10.02 Asha (asha@example.com) kirjoitti:" and "Asha kirjoitti 3.3.2026 klo 10.02:".
_ATTRIBUTION = re.compile(
    r".*\s(?:wrote|schrieb(?:\s.*)?|a\sécrit|escribió|ने\sलिखा|लेख्नुभयो"
    r"|pisze|napisał(?:\(a\)|a)?|napsal(?:\(a\)|a)?|írta(?:\s.*)?|skrev(?:\s.*)?|kirjoitti(?:\s.*)?)\s?:"
)
# Every client dates its attribution line or names an address; prose that ends in "wrote:" rarely does.
_TIME = re.compile(r"\d{1,2}[:.]\d\d")
_DATED = re.compile(r"\d{1,2}[:.]\d\d|@")
# Gmail until about 2014, and its apps in East Asian locales, wrote a bare date and the sender with
# no verb and no colon: "2026/3/3 Asha <asha@example.com>". Dropped only over a ">" quote that ends
# the mail: with the person's answers under the quote, the line may be one of theirs.
_BARE_ATTRIBUTION = re.compile(r"\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\s.{0,200}<[^<>\s@]{1,64}@[^<>\s]{1,255}>")

# The markers of a forwarded mail: between dashes (Gmail, Thunderbird) or ending in a colon (Apple
# Mail). They also separate history (`_SEPARATOR`); alone (`_FORWARD`) what follows was sent to be read.
_FORWARD_RULED = r"Forwarded message|Weitergeleitete Nachricht|Message transféré|Mensaje reenviado"
_FORWARD_INTRO = (
    r"(?:Begin forwarded message|Anfang der weitergeleiteten Nachricht|Début du message réexpédié"
    r"|Inicio del mensaje reenviado)\s?:"
)
_SEPARATOR = re.compile(
    r"-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Original Nachricht|Message d'origine|Mensaje original"
    r"|Oorspronkelijk bericht|Messaggio originale|Mensagem original|Исходное сообщение"
    r"|Oryginalna wiadomość|Ursprungligt meddelande|Oprindelig meddelelse|Opprinnelig melding"
    rf"|{_FORWARD_RULED}"
    r"|Original|原始邮件)\s*-{2,}"  # Foxmail and QQ Mail: "------------------ 原始邮件 ------------------"
    rf"|{_FORWARD_INTRO}",
    re.IGNORECASE,
)
_FORWARD = re.compile(rf"-{{2,}}\s*(?:{_FORWARD_RULED})\s*-{{2,}}|{_FORWARD_INTRO}", re.IGNORECASE)
# Outlook desktop and Outlook on the web draw 32 underscores above the header block.
_RULE = re.compile(r"_{10,}")
# The first sign or word of every marker below except the attributions that end in a colon: quote,
# signature, separators, rule, header labels, bare-date attributions, mobile footers. Keep it in step with them.
_MARKER_START = re.compile(
    r"[ \t]*(?:[->_*]|\d{4}[/.-]|Sent|Get|Gesendet|Diese|Envoy|Enviado|Begin|Anfang|Début|Inicio|मेरे"
    r"|[從从]我的|发自我的|iPhone|iPad|Android|" + LABEL_WORDS + ")",
    re.IGNORECASE,
)


# Characters that show nothing: whitespace, no-break space, zero-width space, joiners, BOM.
_INVISIBLE = " \t\u00a0\u200b\u200c\u200d\u2060\ufeff"

# Outlook's plain text part marks where an inline picture sat with its Content-ID.
_CID_PLACEHOLDER = re.compile(r"\[cid:([^\]@\s]{1,200})@[^\]\s]{0,200}\]")


def visible_text(text: str, *, forwarded: bool = False) -> str:
    """Return what the person wrote in this plain-text body, or the whole body if that is all quote.

    The stored message text is what staff read, so quoted history and signatures go; the raw
    mail keeps everything else. A forwarded mail is not history but what the person sent to be
    read: it is kept under their text, from its marker ("---------- Forwarded message ---------",
    "Begin forwarded message:") or, when the mail says it is a forward (`forwarded`: its subject
    starts "Fwd:", "FW:", ...), from the first line of history, as Outlook forwards under a header
    block.
    """
    if "[cid:" in text:
        text = _CID_PLACEHOLDER.sub(r"[image: \1]", text)
    lines = [_rstripped(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = _without_long_gaps(lines)
    return _joined(_person_lines(lines, forwarded=forwarded)) or _joined([line.rstrip() for line in lines])


def _rstripped(line: str) -> str:
    """The line without trailing whitespace, but for the space of the RFC 3676 separator "-- ",
    which tells a signature from a "--" the person typed as a divider."""
    return _SIGNATURE_MARKER if line.strip() == "--" and line != line.rstrip() else line.rstrip()


_FORWARD_SUBJECT = re.compile(r"\s*(?:Fwd?|WG|TR|RV|Enc|Doorst)\s?:", re.IGNORECASE)


def is_forward(subject: str) -> bool:
    """Whether the subject says the mail forwards another: "Fwd:", "FW:", German "WG:", French
    "TR:", Spanish "RV:", Portuguese "Enc:", Dutch "Doorst:" (a reply starts "Re:" instead)."""
    return _FORWARD_SUBJECT.match(subject) is not None


def _without_long_gaps(lines: list[str]) -> list[str]:
    """Lines with nothing visible made empty, and every run of more than two empty lines cut to two.

    Webmailers (seen: Zoho) turn each empty `<div>` of the HTML into a line of the text part, some
    holding only a zero-width space: dozens of them stood between the person's sentences.
    """
    kept: list[str] = []
    for line in lines:
        line = "" if not line.strip(_INVISIBLE) else line
        if line or len(kept) < 2 or kept[-1] or kept[-2]:
            kept.append(line)
    return kept


_HISTORY = -1  # what _lines_to_drop answers at the first line of history
# A signature is some lines of text (a company's, with its address and disclaimer, runs long): a
# forward marker further under the "-- " belongs to older history.
_SIGNATURE_LINES = 30


def _person_lines(lines: list[str], *, forwarded: bool = False) -> list[str]:
    kept: list[str] = []
    dropped = False  # a line was dropped since the last kept text: do not double the blank lines round it
    quoted_tail = _quoted_tail(lines)
    i = 0
    while i < len(lines):
        drop = _lines_to_drop(lines, i, quoted_tail=quoted_tail)
        if drop == _HISTORY:
            start = _forward_start(lines, i, forwarded=forwarded)
            if start is not None:
                kept += ([""] if kept and kept[-1] else []) + lines[start:]
            break
        if drop:
            dropped, i = True, i + drop
            continue
        line = lines[i]
        if line:
            kept.append(line)
            dropped = False
        elif not (dropped and kept and not kept[-1]):
            kept.append(line)
        i += 1
    return kept


def _forward_start(lines: list[str], i: int, *, forwarded: bool) -> int | None:
    """Where a forwarded mail starts, when the history that starts at line i is one: its marker at
    i, or, after the person's signature at i, at the next line that starts history. A mail that
    says it is a forward counts any start of history (Outlook's rule and header block)."""
    if lines[i].strip() == "--":
        # Only within the signature: a marker further down is inside the history of a reply.
        i = next((j for j in _signature_reach(lines, i) if _starts_history(lines, j)), len(lines))
        if i == len(lines) or any(_is_quoted(line) or _attribution_span(lines, k) for k, line in _signature(lines, i)):
            return None
    line = lines[i].strip()
    if _FORWARD.fullmatch(line) or (forwarded and _starts_history(lines, i)):
        return i
    return None


def _signature_reach(lines: list[str], dashes: int) -> list[int]:
    """The lines with text under a "-- " that its signature may run to."""
    return list(islice((j for j in range(dashes + 1, len(lines)) if lines[j]), _SIGNATURE_LINES))


def _signature(lines: list[str], end: int) -> list[tuple[int, str]]:
    """The lines between the "-- " above `end` and `end`: where a signature stands."""
    start = max(k for k in range(end) if _starts_signature(lines, k))
    return [(k, lines[k]) for k in range(start + 1, end) if lines[k]]


_SIGNATURE_MARKER = "-- "
_BARE_SIGNATURE_LINES = 8  # a name, a title, a company, phones, a link and an address


def _starts_signature(lines: list[str], i: int) -> bool:
    """Whether line i is the "-- " over a signature, or a bare "--" that can only be one."""
    return lines[i] == _SIGNATURE_MARKER or (lines[i].strip() == "--" and _is_bare_signature_marker(lines, i))


def _is_bare_signature_marker(lines: list[str], i: int) -> bool:
    """Whether a "--" without its space, which many clients strip, still marks a signature.

    The person may type "--" as a divider, so it counts only when the text above it does not end
    in a colon and, down to the end of the mail or to the history under it, at most 8 lines
    follow, each of them one that `may_be_signature_line` lets pass: short, and no other "--", no
    list item ("1. Lid"), no sentence ("That is all."), no line ending in a colon. A name, a title,
    a phone number, a link and an address pass; under anything else the "--" and all are kept.
    """
    above = i - 1
    while above >= 0 and not lines[above]:
        above -= 1
    if above >= 0 and lines[above].endswith(COLONS):
        return False
    under = 0
    for j in range(i + 1, len(lines)):
        line = lines[j].strip()
        if not line or is_mobile_footer(line):
            continue
        if _is_quoted(line) or _starts_history(lines, j) or _attribution_span(lines, j) or _is_bare_attribution(line):
            break
        under += 1
        if under > _BARE_SIGNATURE_LINES or not may_be_signature_line(line):
            return False
    return True


def _quoted_tail(lines: list[str]) -> int:
    """The first of the quoted and empty lines that end the body (len(lines) when its last line is text).

    A "-- " signature and mobile footers under the quote do not end it: Gmail's older bare date
    line over "> Who is coming?" / "-- " / "Ana" is still the attribution of the quote below it.
    """
    i = _signature_start(lines)
    while i > 0 and (not lines[i - 1] or _is_quoted(lines[i - 1]) or is_mobile_footer(lines[i - 1])):
        i -= 1
    return i


def _signature_start(lines: list[str]) -> int:
    """The "-- " line of a signature that ends the body, with no quoted line under it (len(lines) if none)."""
    for i in range(len(lines) - 1, -1, -1):
        if _is_quoted(lines[i]):
            break
        if _starts_signature(lines, i):
            return i
    return len(lines)


def _lines_to_drop(lines: list[str], i: int, *, quoted_tail: int) -> int:
    """0 if line i is the person's; n to drop n lines (quote, footer, attribution over a quote); or _HISTORY.

    quoted_tail is where the quoted lines that end the body start (see _quoted_tail).
    """
    line = lines[i]
    if not line or not _may_be_marker(lines, i):
        return 0
    if _is_quoted(line) or is_mobile_footer(line):
        return 1
    if _starts_signature(lines, i) or _starts_history(lines, i):
        return _HISTORY
    if _is_bare_attribution(line) and i + 1 >= quoted_tail and _quote_follows(lines, i + 1):
        return 1
    span = _attribution_span(lines, i)
    if span and _quote_follows(lines, i + span):
        return span
    if span and _DATED.search(" ".join(lines[i : i + span])) and _quote_or_end_follows(lines, i + span):
        return span
    if span and _names_its_sender(" ".join(lines[i : i + span])):
        return _HISTORY
    span = _dated_address_span(lines, i)
    if span and _quote_or_end_follows(lines, i + span):
        return span
    return 0


def _may_be_marker(lines: list[str], i: int) -> bool:
    """A cheap test that lets most lines of a long body skip the others.

    Every marker starts with one of _MARKER_START's words or signs, or ends (alone or with the next
    line, when wrapped) in the colon of an attribution.
    """
    if lines[i].endswith(COLONS) or (i + 1 < len(lines) and lines[i + 1].endswith(COLONS)):
        return True
    return _MARKER_START.match(lines[i]) is not None


def _joined(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


def _is_quoted(line: str) -> bool:
    return line.lstrip(" \t").startswith(">")


def _starts_history(lines: list[str], i: int) -> bool:
    """True at the first line of unquoted history: a separator, or a header block and its rule."""
    line = lines[i].strip()
    if len(line) > _MAX_MARKER_LINE:
        return False
    if _SEPARATOR.fullmatch(line):
        return True
    if _RULE.fullmatch(line):
        following = [j for j in range(i + 1, min(i + 1 + RULE_TO_HEADER_GAP, len(lines))) if lines[j].strip()]
        return bool(following) and is_header_block(lines, following[0])
    return _has_text_above(lines, i) and is_header_block(lines, i)


def _has_text_above(lines: list[str], i: int) -> bool:
    """Whether a line with text stands above line i (_without_long_gaps leaves at most two empty ones first).

    A header block at the top is the person's own (a subject they typed, a mail they pasted): cut
    there, nothing would be left and the whole mail, history and all, would be kept.
    """
    return i > 2 or any(lines[:i])


def _attribution_span(lines: list[str], i: int) -> int:
    """How many lines (0, 1 or 2) the attribution starting at line i takes.

    Gmail wraps its plain text at 78 columns, so a long attribution arrives as two lines:
    "On Tue, 3 Mar 2026 at 10:02, SewaBazaar Support <" / "support@example.com> wrote:".
    """
    first = lines[i].strip()
    if _is_attribution(first):
        return 1
    if i + 1 >= len(lines) or not first or _is_quoted(lines[i + 1]):
        return 0
    second = lines[i + 1].strip()
    if not _is_attribution(f"{first} {second}"):
        return 0
    # The tail may pass for an attribution alone ("support@example.com> wrote:"). Then the line
    # above is its head only if it carries the time, as every client's head does, and does not
    # end a sentence, as the last line of a reply written right above the attribution would.
    if _is_attribution(second) and (not _TIME.search(first) or first.endswith((".", "!", "?"))):
        return 0
    return 2


def _is_attribution(text: str) -> bool:
    # Every attribution ends with a colon; checking that first keeps the patterns off most lines.
    return text.endswith(":") and len(text) <= _MAX_MARKER_LINE and _ATTRIBUTION.fullmatch(text) is not None


def _is_bare_attribution(line: str) -> bool:
    line = line.strip()
    return len(line) <= _MAX_MARKER_LINE and _BARE_ATTRIBUTION.fullmatch(line) is not None


def _dated_address_span(lines: list[str], i: int) -> int:
    """How many lines (0, 1 or 2) of an attribution in a language without a verb above, start at line i.

    Clients in every language date the line and name the address, and end it with a colon:
    Android in Russian "02.04.2012 14:20 пользователь "Bob" <bob@example.com> написал:", Gmail in
    Japanese "2026年3月3日(火) 10:02 Asha <asha@example.com>:", Italian "Il lun 15 gen 2025 alle
    17:03, Anna <anna@example.com>" / "ha scritto:" wrapped over two lines.
    """
    first = lines[i].strip()
    if _is_dated_address(first):
        return 1
    if first.endswith(COLONS) or i + 1 >= len(lines) or _is_quoted(lines[i + 1]):
        return 0
    second = lines[i + 1].strip()
    # A tail that is an attribution alone leaves the line above it to the person.
    return 2 if _is_dated_address(f"{first} {second}") and not _is_dated_address(second) else 0


# The sender's address in angle brackets, as clients write it ("Asha <asha@example.com>", wrapped
# as "Asha <\nasha@example.com>"); a person writing prose names an address bare.
_BRACKETED_ADDRESS = re.compile(r"<\s?[^\s<>@]+@[^\s<>]+\s?>")


def _names_its_sender(text: str) -> bool:
    """An attribution under which unquoted text is the history (Outlook for Mac, Yahoo): it names a
    time and the sender's address in angle brackets. A sentence of the person's with the verb, a
    time and a bare address ("Jeg skrev til support@... kl. 10.30 om følgende:") is not one."""
    return bool(_TIME.search(text) and _BRACKETED_ADDRESS.search(text))


def _is_dated_address(text: str) -> bool:
    return text.endswith(COLONS) and len(text) <= _MAX_MARKER_LINE and "@" in text and bool(_TIME.search(text))


def _quote_follows(lines: list[str], i: int) -> bool:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i < len(lines) and _is_quoted(lines[i])


def _quote_or_end_follows(lines: list[str], i: int) -> bool:
    """A quote, or nothing: the HTML of a reply loses its quote (a blockquote) before it gets here."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i == len(lines) or _is_quoted(lines[i])
