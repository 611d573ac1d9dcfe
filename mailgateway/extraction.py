"""What goes onto the ticket from a parsed mail: the text the person wrote, the HTML safe to show,
and which of its files may be kept (the upload rules) or are refused, with why. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from support.files import check_file, max_size_mb, safe_filename

from .html_text import html_to_text
from .parsing import MailAttachment, ParsedEmail
from .quoting import is_forward, visible_text
from .sanitize import sanitize_html

NO_TEXT = "(The mail had no text.)"

# The plain part some senders put beside an HTML mail instead of its text: "This is an HTML
# message. Please use an HTML capable mail program to read this message." (PHP's MIME classes),
# "To view the message, please use an HTML compatible email viewer!" (PHPMailer). Short, and about
# reading HTML: a person's words are in the HTML part.
_HTML_NOTICE_MAX = 300
_HTML_WORD = re.compile(r"\bhtml\b", re.IGNORECASE)
_NOTICE_WORDS = re.compile(
    r"\b(?:capable|compatible|viewer|(?:mail|email|e-mail) (?:client|program|application|reader)|"
    r"enable|activate)",
    re.IGNORECASE,
)


@dataclass
class Extracted:
    """What goes onto the ticket: the text the person wrote, safe HTML, files to keep or refuse."""

    text: str
    html: str
    files: list[MailAttachment] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def extract(mail: ParsedEmail) -> Extracted:
    """The person's own words, the HTML safe to show, and which files may be kept."""
    forwarded = is_forward(mail.subject)
    source = mail.text
    if not source.strip() or (mail.html and is_html_notice(source)):
        source = html_to_text(mail.html, keep_history=forwarded) or source
    text = visible_text(source, forwarded=forwarded) or ""
    html = sanitize_html(mail.html) if mail.html else ""
    files: list[MailAttachment] = []
    refused: list[str] = []
    for item in mail.attachments:
        problem = file_problem(item)
        if problem:
            refused.append(f"{safe_filename(item.filename)}: {problem}")
        else:
            files.append(item)
    if refused:
        text = (text + "\n\n" if text else "") + "\n".join(f"[Attachment left out - {line}]" for line in refused)
    return Extracted(text=text.strip() or NO_TEXT, html=html, files=files, refused=refused)


def is_html_notice(text: str) -> bool:
    """Whether a plain part only tells the reader to open the mail's HTML."""
    text = text.strip()
    return 0 < len(text) <= _HTML_NOTICE_MAX and bool(_HTML_WORD.search(text) and _NOTICE_WORDS.search(text))


def file_problem(item: MailAttachment) -> str:
    """Why a mailed file may not be kept (the upload rules), or "" when it may."""
    check = check_file(item.data[:8192], len(item.data), item.filename)
    if check.problem == "too_large":
        return f"larger than the limit of {max_size_mb()} MB"
    if not item.data:
        return "empty"
    if check.problem:
        return f"{check.content_type} is not an accepted type"
    return ""
