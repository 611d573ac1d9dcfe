"""Visible text: what the person wrote, without the quoted history and signatures under it.

Contract: pure. In: the plain text of one mail body (a str). Out: a str. Touches nothing, never
raises on any str, and runs in time linear in the input: every pattern is matched against one
line at a time (two when a client wrapped an attribution line), each pattern has at most one
open-ended repeat per alternative, and lines longer than any marker can be are never matched.

It reads the body line by line, top to bottom:

- ">" lines are quoted history and are dropped wherever they stand, so the person's lines of an
  inline or bottom-posted answer are kept (the raw mail keeps the questions they answer);
- an attribution line ("On ... wrote:", "Am ... schrieb ...:", "Le ... a écrit :", ...), alone or
  wrapped over two lines, is dropped when a ">" quote follows it; when unquoted text follows a
  dated one, that text is the history (Outlook for Mac and Yahoo do not quote);
- in any other language, a line (or two, wrapped) that ends in a colon and names a time and an
  address is an attribution too, when a ">" quote or nothing at all follows it;
- so is Gmail's older bare date and sender ("2026/3/3 Asha <asha@example.com>"), over a ">" quote
  that runs to the end of the mail (or to a signature or phone footer that ends it);
- a header block (adjacent From / Sent / To / Cc / Subject lines in any order, in the languages
  below, under some text of the person's), with the rule Outlook draws above it, and the
  "-----Original Message-----" start the history: everything from there on is dropped;
- a forwarded mail is kept under the person's text, from its marker ("---------- Forwarded
  message ---------", "Begin forwarded message:"), or from the first line of history when the
  subject says the mail is a forward (`is_forward()`: Outlook forwards under a header block);
- the RFC 3676 signature separator "-- " ends the person's text;
- "Sent from my iPhone" and the other mobile footers are dropped;
- Outlook's placeholder for an inline picture in the plain text, "[cid:image001.png@01D9...]",
  becomes "[image: image001.png]" (the picture itself is an attachment of the message).

When nothing is left the mail is all history (a bare forward, a quote sent back): the whole text
is returned, since an empty message would lose what the mail said.
"""

from __future__ import annotations

import re

# No marker line is longer than this; longer lines are the person's text and are not matched.
_MAX_MARKER_LINE = 400
# Clients put a rule and a blank line or two between the reply and the header block.
_RULE_TO_HEADER_GAP = 3
# Outlook writes From, Sent, To, Cc, Subject; long To and Cc lists wrap onto extra lines.
_HEADER_BLOCK_LINES = 10

# The verb that ends an attribution line, from the start of the line.
# Gmail: "On Tue, 3 Mar 2026 at 10:02, Asha <asha@example.com> wrote:"; Apple Mail:
# "On 3 Mar 2026, at 10:02, Asha <asha@example.com> wrote:"; Thunderbird: "On 03/03/2026 10:02,
# Asha wrote:"; German Gmail "Am Di., 3. März 2026 um 10:02 Uhr schrieb Asha <asha@example.com>:"
# and its app "Asha <asha@example.com> schrieb am Di., 3. März 2026, 10:02:"; French "Le mar. 3 mars
# 2026 à 10:02, Asha <asha@example.com> a écrit :" (Gmail puts U+202F before the colon); Spanish
# "El mar, 3 mar 2026 a las 10:02, Asha (<asha@example.com>) escribió:"; Hindi "... Asha
# <asha@example.com> ने लिखा:"; Nepali "... Asha <asha@example.com> ले लेख्नुभयो:".
_ATTRIBUTION = re.compile(r".*\s(?:wrote|schrieb(?:\s.*)?|a\sécrit|escribió|ने\sलिखा|लेख्नुभयो)\s?:")
# Every client dates its attribution line or names an address; prose that ends in "wrote:" rarely does.
_TIME = re.compile(r"\d{1,2}[:.]\d\d")
_DATED = re.compile(r"\d{1,2}[:.]\d\d|@")
# Gmail until about 2014, and its apps in East Asian locales, wrote a bare date and the sender with
# no verb and no colon: "2026/3/3 Asha <asha@example.com>". Dropped only over a ">" quote that ends
# the mail: with the person's answers under the quote, the line may be one of theirs.
_BARE_ATTRIBUTION = re.compile(r"\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\s.{0,200}<[^<>\s@]{1,64}@[^<>\s]{1,255}>")
# Chinese and Japanese clients end the attribution with a full-width colon.
_COLONS = (":", "\uff1a")

_SEPARATOR = re.compile(
    r"-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Original Nachricht|Message d'origine|Mensaje original"
    r"|Oorspronkelijk bericht|Messaggio originale|Mensagem original|Исходное сообщение"
    r"|Oryginalna wiadomość|Ursprungligt meddelande|Oprindelig meddelelse|Opprinnelig melding"
    r"|Forwarded message|Weitergeleitete Nachricht|Message transféré|Mensaje reenviado"
    r"|Original|原始邮件)\s*-{2,}"  # Foxmail and QQ Mail: "------------------ 原始邮件 ------------------"
    r"|(?:Begin forwarded message|Anfang der weitergeleiteten Nachricht|Début du message réexpédié"
    r"|Inicio del mensaje reenviado)\s?:",
    re.IGNORECASE,
)
# The markers of a forwarded mail (Gmail, Thunderbird, Apple Mail): what follows was sent to be read.
_FORWARD = re.compile(
    r"-{2,}\s*(?:Forwarded message|Weitergeleitete Nachricht|Message transféré|Mensaje reenviado)\s*-{2,}"
    r"|(?:Begin forwarded message|Anfang der weitergeleiteten Nachricht|Début du message réexpédié"
    r"|Inicio del mensaje reenviado)\s?:",
    re.IGNORECASE,
)
# Outlook desktop and Outlook on the web draw 32 underscores above the header block.
_RULE = re.compile(r"_{10,}")
# Gmail renders Outlook's bold labels as "*From:*"; French puts a (no-break) space before the colon;
# Chinese and Japanese Outlook write a full-width colon.
_LABEL = r"\*?(?:{})\s?\*?\s?[:\uff1a]"
# Outlook's header block in English, German, French, Spanish, Hindi, and the languages of the
# staff and customers a marketplace meets besides (Dutch, Italian, Portuguese, Russian, Polish,
# Swedish, Danish and Norwegian, Turkish, Chinese, Japanese).
_FROM_LABELS = "From|Von|De|Van|Da|От|Od|Från|Fra|Kimden|प्रेषक|发件人|寄件者|差出人"
_HEADER_FROM = re.compile(_LABEL.format(_FROM_LABELS), re.IGNORECASE)
# Spanish Outlook 2003 to 2010 writes "Enviado el:", Brazilian Outlook "Enviada em:"; Outlook in
# Traditional Chinese "傳送時間:" or "寄件日期:".
_DATE_LABELS = (
    r"Sent|Date|Gesendet|Datum|Envoyé|Enviad[oa](?:\s(?:el|em))?|Fecha|Verzonden|Inviato|Data|Отправлено"
    r"|Дата|Wysłano|Skickat|Sendt|Gönderildi|Tarih|भेजा गया|दिनांक|发送时间|日期|傳送時間|寄件日期|送信日時"
)
_HEADER_DATE = re.compile(_LABEL.format(_DATE_LABELS), re.IGNORECASE)
_SUBJECT_LABELS = "Subject|Betreff|Objet|Asunto|Onderwerp|Oggetto|Assunto|Тема|Temat|Ämne|Emne|Konu|विषय|主题|主旨|件名"
_HEADER_SUBJECT = re.compile(_LABEL.format(_SUBJECT_LABELS), re.IGNORECASE)
_HEADER_LABELS = (_HEADER_FROM, _HEADER_DATE, _HEADER_SUBJECT)
# The recipients' lines between them; only inside a block, so short words such as "A:" are safe here.
_HEADER_RECIPIENTS = re.compile(
    _LABEL.format(
        "To|An|À|A|Para|Aan|Кому|Do|Till|Til|Kime|प्रति|收件人|收件者|宛先"
        "|Cc|Bcc|Kopie|Копия|DW|Kopia|Kopi|Bilgi|抄送|副本|密件副本"
    ),
    re.IGNORECASE,
)
# The Date line of Windows Live Hotmail and the webmailers names the time: "Tue, 3 Mar 2026 10:02:00 +0545".
_CLOCK = re.compile(r"\d{1,2}:\d\d")
# Outlook dates its Sent line with the year ("Tuesday, March 3, 2026 10:02 AM", "2026年3月3日 10:02"),
# or a numeric date ("3/3/26 10:02"); prose such as "Date: 3 March 10:00" names none.
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)|\d{1,2}[/.-]\d{1,2}[/.-]\d\d")
# An address as clients write it on the From line: "Asha <asha@example.com>", "[mailto:asha@example.com]".
_ADDRESS = re.compile(r"[^\s@<>]@[^\s@<>]")

# What phones and K-9 Mail ask to excuse after "Sent from my ...": "please excuse my brevity and any typos".
_EXCUSED = (
    r"(?:brevity|briefness|terseness|typos?|misspellings|auto-?correct(?:ions?)?"
    r"|(?:spelling|typing|typographical)(?:\s+(?:errors|mistakes))?|errors|mistakes)"
)
_EXCUSED_PHRASE = rf"(?:(?:my|the|any|all)\s+)?{_EXCUSED}"
_APOLOGY = rf"\s?[,.;-]?\s+please\s+excuse\s+{_EXCUSED_PHRASE}(?:\s+and\s+{_EXCUSED_PHRASE})?"
# The device that "Sent from my ..." names ("iPhone", "Samsung Galaxy A52 5G phone", "Android device with
# K-9 Mail", "Windows Phone"); "Sent from my bank account." names none and is the person's.
_DEVICE = (
    r"(?:i?phone|smartphone|mobile|cell(?:phone)?|device|tablet|handset|iPad|iPod|Android|BlackBerry|Galaxy"
    r"|Samsung|Huawei|Honor|Xiaomi|Redmi|Pixel|Nexus|Nokia|Lumia|Motorola|Moto|Droid|HTC|LG|Sony|Xperia"
    r"|OnePlus|OPPO|vivo|ZTE|Lenovo|ASUS|Kindle|Surface|Watch|Mail|Outlook)"
)
# The platform an app's footer may name, and the link Outlook and Windows Mail put in the plain text:
# "Sent from Mail<https://go.microsoft.com/fwlink/?LinkId=550986> for Windows 10", "Sent from Yahoo
# Mail on Android", "Sent from Outlook for iOS". Nothing else follows the app's name.
_LINK = r"(?:\s?<https?://[^\s<>]{1,200}>)?"
_PLATFORM = r"(?:iOS|Android|iPhone|iPad|Mac|Windows(?:\s(?:10|11|Phone))?)"
_APP_FOOTER = rf"Sent from (?:Yahoo Mail|Mail|Outlook|Windows Mail|Mailbox){_LINK}(?:\s(?:for|on)\s{_PLATFORM}{_LINK})?"
# The device of the Chinese footers ("从我的 iPhone 发送", "发自我的华为手机", "发自我的三星Galaxy智能手机"): a
# brand, a model of Latin letters and digits, then "phone"; "发自我的内心..." ("from my heart") is prose.
_DEVICE_ZH = (
    r"(?:iPhone|iPad|iPod|Android|Galaxy|Samsung|HUAWEI|Honor|Xiaomi|Redmi|OPPO|vivo|OnePlus|Pixel"
    r"|华为|華為|小米|红米|紅米|荣耀|榮耀|三星|魅族|一加|手机|手機|平板|安卓)"
    r"(?:\s?[A-Za-z0-9+-]{1,15}){0,4}(?:\s?(?:智能手机|智慧型手機|手机|手機|平板电脑|平板))?"
)
# One whole line, as the phone or app writes it under the reply. The words of "Sent from my ..."
# hold no comma, so a sentence such as "Sent from my phone, please call me back." stays; one to
# five of them, one naming a device ("Sent from my PayPal account." stays). The apology
# that phones and K-9 Mail add ("..., please excuse my brevity.") is part of the footer when it
# excuses brevity or typing, and nothing more.
_FOOTERS = (
    rf"Sent from my(?=(?:\s+[^\s,;]+){{0,4}}?\s+{_DEVICE}\b)(?:\s+[^\s,;]+){{1,5}}(?:{_APOLOGY})?",
    _APP_FOOTER,
    rf"Sent with (?:Airmail|Spark){_LINK}",
    rf"Get Outlook for\s{_PLATFORM}{_LINK}",
    r"Von meinem(?:\s+\S+){1,3}\s+gesendet",
    r"Gesendet von meinem(?:\s+\S+){1,3}",
    r"Diese Nachricht wurde von meinem(?:\s+\S+){1,4}\s+gesendet",  # K-9 Mail in German
    r"Envoyé (?:de|depuis) mon(?:\s+\S+){1,3}",
    r"Enviado desde mi(?:\s+\S+){1,3}",
    r"मेरे(?:\s+\S+){1,3}\s+से\s+भेजा\s+गया",
    # iOS and Android in Chinese (traditional, simplified) and Japanese, naming the device
    rf"[從从]我的\s?{_DEVICE_ZH}\s?(?:傳送|发送)",
    rf"发自我的\s?{_DEVICE_ZH}",
    r"(?:iPhone|iPad|Android)\s?から送信",
)
_MOBILE_FOOTER = re.compile(rf"(?:{'|'.join(_FOOTERS)})[.!]?", re.IGNORECASE)


# The first sign or word of every marker below except the attributions that end in a colon: quote,
# signature, separators, rule, header labels, bare-date attributions, mobile footers. Keep it in step with them.
_MARKER_START = re.compile(
    r"[ \t]*(?:[->_*]|\d{4}[/.-]|Sent|Get|Gesendet|Diese|Envoy|Enviado|Begin|Anfang|Début|Inicio|मेरे"
    r"|[從从]我的|发自我的|iPhone|iPad|Android|" + "|".join((_FROM_LABELS, _DATE_LABELS, _SUBJECT_LABELS)) + ")",
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
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = _without_long_gaps(lines)
    return _joined(_person_lines(lines, forwarded=forwarded)) or _joined(lines)


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
        i = next((j for j in range(i + 1, len(lines)) if lines[j] and _starts_history(lines, j)), len(lines))
        if i == len(lines):
            return None
    line = lines[i].strip()
    if _FORWARD.fullmatch(line) or (forwarded and _starts_history(lines, i)):
        return i
    return None


def _quoted_tail(lines: list[str]) -> int:
    """The first of the quoted and empty lines that end the body (len(lines) when its last line is text).

    A "-- " signature and mobile footers under the quote do not end it: Gmail's older bare date
    line over "> Who is coming?" / "-- " / "Ana" is still the attribution of the quote below it.
    """
    i = _signature_start(lines)
    while i > 0 and (not lines[i - 1] or _is_quoted(lines[i - 1]) or _is_mobile_footer(lines[i - 1])):
        i -= 1
    return i


def _signature_start(lines: list[str]) -> int:
    """The "-- " line of a signature that ends the body, with no quoted line under it (len(lines) if none)."""
    for i in range(len(lines) - 1, -1, -1):
        if _is_quoted(lines[i]):
            break
        if lines[i].strip() == "--":
            return i
    return len(lines)


def _lines_to_drop(lines: list[str], i: int, *, quoted_tail: int) -> int:
    """0 if line i is the person's; n to drop n lines (quote, footer, attribution over a quote); or _HISTORY.

    quoted_tail is where the quoted lines that end the body start (see _quoted_tail).
    """
    line = lines[i]
    if not line or not _may_be_marker(lines, i):
        return 0
    if _is_quoted(line) or _is_mobile_footer(line):
        return 1
    if line.strip() == "--" or _starts_history(lines, i):
        return _HISTORY
    if _is_bare_attribution(line) and i + 1 >= quoted_tail and _quote_follows(lines, i + 1):
        return 1
    span = _attribution_span(lines, i)
    if span and _quote_follows(lines, i + span):
        return span
    if span and _DATED.search(" ".join(lines[i : i + span])):
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
    if lines[i].endswith(_COLONS) or (i + 1 < len(lines) and lines[i + 1].endswith(_COLONS)):
        return True
    return _MARKER_START.match(lines[i]) is not None


def _joined(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


def _is_quoted(line: str) -> bool:
    return line.lstrip(" \t").startswith(">")


def _is_mobile_footer(line: str) -> bool:
    return len(line) <= 160 and _MOBILE_FOOTER.fullmatch(line.strip()) is not None


def _starts_history(lines: list[str], i: int) -> bool:
    """True at the first line of unquoted history: a separator, or a header block and its rule."""
    line = lines[i].strip()
    if len(line) > _MAX_MARKER_LINE:
        return False
    if _SEPARATOR.fullmatch(line):
        return True
    if _RULE.fullmatch(line):
        following = [j for j in range(i + 1, min(i + 1 + _RULE_TO_HEADER_GAP, len(lines))) if lines[j].strip()]
        return bool(following) and _is_header_block(lines, following[0])
    return _has_text_above(lines, i) and _is_header_block(lines, i)


def _has_text_above(lines: list[str], i: int) -> bool:
    """Whether a line with text stands above line i (_without_long_gaps leaves at most two empty ones first).

    A header block at the top is the person's own (a subject they typed, a mail they pasted): cut
    there, nothing would be left and the whole mail, history and all, would be kept.
    """
    return i > 2 or any(lines[:i])


def _is_header_block(lines: list[str], i: int) -> bool:
    """From, a date and a subject in adjacent lines from line i: the block over the message answered or forwarded.

    Outlook starts it with From; Windows Live Hotmail and some webmailers start it with the Date or
    the Subject. Asking for all three keeps prose such as "From: Kathmandu / To: Pokhara" in the
    reply. A block that starts with From is believed when its From line names an address or its
    Sent line a date with the year and a time, as Outlook writes one or the other even for names
    only (Exchange); "From: Kathmandu / ... / Date: 3 March 10:00" stays. A block that does not
    start with From is believed only as those clients write it, the From naming an address and the
    Date a time, and not when a line of the person's ending in a colon introduces it ("The mail you
    sent me looks wrong:"): then it is pasted into the reply.
    """
    run = _header_run(lines, i)
    if not run or not any(label.match(run[0]) for label in _HEADER_LABELS):
        return False
    from_line, date_line, subject_line = (
        next((line for line in run if label.match(line)), "") for label in _HEADER_LABELS
    )
    if not (from_line and date_line and subject_line):
        return False
    if _HEADER_FROM.match(run[0]):
        return _ADDRESS.search(from_line) is not None or _is_dated_time(date_line)
    return "@" in from_line and _CLOCK.search(date_line) is not None and not _introduced_by_colon(lines, i)


def _is_dated_time(line: str) -> bool:
    return _CLOCK.search(line) is not None and _YEAR.search(line) is not None


def _header_run(lines: list[str], i: int) -> list[str]:
    """The adjacent lines from line i that a header block may hold: labels, and a To or Cc list wrapped.

    A wrapped line of the list names an address or holds a "; ". Outlook's block, which starts
    with From, may list display names only (Exchange: "To: Ana Lopez; Bikash Rai;" / "Ekta
    Thapa"), so there any line up to the next label continues the list.
    """
    run: list[str] = []
    in_recipients = False
    from_first = _HEADER_FROM.match(lines[i].strip()) is not None
    for line in lines[i : i + _HEADER_BLOCK_LINES]:
        line = line.strip()
        if any(label.match(line) for label in _HEADER_LABELS):
            in_recipients = False
        elif _HEADER_RECIPIENTS.match(line):
            in_recipients = True
        elif not (in_recipients and line and (from_first or "@" in line or ";" in line)):
            break
        run.append(line)
    return run


def _introduced_by_colon(lines: list[str], i: int) -> bool:
    above = [line for line in lines[max(0, i - _RULE_TO_HEADER_GAP) : i] if line]
    return bool(above) and above[-1].endswith(_COLONS)


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
    if first.endswith(_COLONS) or i + 1 >= len(lines) or _is_quoted(lines[i + 1]):
        return 0
    second = lines[i + 1].strip()
    # A tail that is an attribution alone leaves the line above it to the person.
    return 2 if _is_dated_address(f"{first} {second}") and not _is_dated_address(second) else 0


def _is_dated_address(text: str) -> bool:
    return text.endswith(_COLONS) and len(text) <= _MAX_MARKER_LINE and "@" in text and bool(_TIME.search(text))


def _quote_follows(lines: list[str], i: int) -> bool:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i < len(lines) and _is_quoted(lines[i])


def _quote_or_end_follows(lines: list[str], i: int) -> bool:
    """A quote, or nothing: the HTML of a reply loses its quote (a blockquote) before it gets here."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i == len(lines) or _is_quoted(lines[i])
