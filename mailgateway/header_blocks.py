"""The header block that mail clients write over the mail answered or forwarded: From, Sent (or
Date), To, Cc and Subject in adjacent lines, in the languages of the marketplace. Pure; used by
`quoting`. A reply's own lines that look like labels ("From: Kathmandu / To: Pokhara") are not one.
"""

from __future__ import annotations

import re

# Outlook writes From, Sent, To, Cc, Subject; long To and Cc lists wrap onto extra lines.
_HEADER_BLOCK_LINES = 10
# Clients put a rule and a blank line or two between the reply and the header block.
RULE_TO_HEADER_GAP = 3
# Chinese and Japanese clients end a label or an attribution with a full-width colon.
COLONS = (":", "\uff1a")

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
# Every label word, for the quick test of whether a line may start a marker.
LABEL_WORDS = "|".join((_FROM_LABELS, _DATE_LABELS, _SUBJECT_LABELS))


def is_header_block(lines: list[str], i: int) -> bool:
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
    Thapa"), so there a line after one that ends in ";" continues the list too; after "To:
    Pokhara" a line of the person's ("Please book 5 seats") ends the run.
    """
    run: list[str] = []
    in_recipients = False
    from_first = _HEADER_FROM.match(lines[i].strip()) is not None
    window = [line.strip() for line in lines[i : i + _HEADER_BLOCK_LINES]]
    for k, line in enumerate(window):
        if any(label.match(line) for label in _HEADER_LABELS):
            in_recipients = False
        elif _HEADER_RECIPIENTS.match(line):
            in_recipients = True
        elif not (in_recipients and line and ("@" in line or ";" in line or (from_first and _names_go_on(window, k)))):
            break
        run.append(line)
    return run


def _names_go_on(window: list[str], k: int) -> bool:
    """Whether line k of a From-first block is a names-only list wrapped: after a line that ends in
    ";", or wrapped inside a name ("...; Fatima" / "Khan") with a label on the next line."""
    following = window[k + 1] if k + 1 < len(window) else ""
    return window[k - 1].endswith(";") or any(label.match(following) for label in (*_HEADER_LABELS, _HEADER_RECIPIENTS))


def _introduced_by_colon(lines: list[str], i: int) -> bool:
    above = [line for line in lines[max(0, i - RULE_TO_HEADER_GAP) : i] if line]
    return bool(above) and above[-1].endswith(COLONS)
