"""The thread block of a mail: the message it carries in full, and the one before it quoted.

Built by the helpdesk, as a mail client builds its "On ..., ... wrote:" lines, and placed by the
mail templates as `{{ thread_text }}` and `{{ thread_html }}` (as hosted helpdesks give their
templates a ready comments placeholder). The templates word everything around it. Pure: two
`Entry`s (or None) in, text out.

It was a pair of Django templates. Rendering those was two fifths of rendering a mail, and every
mail of a batch to a different pair of messages (one per event) rendered them again.
"""

from __future__ import annotations

from html import escape

from django.utils.safestring import SafeString, mark_safe

from .outbound_reads import Entry

_INTERNAL_TEXT = " (internal note)"
_INTERNAL_HTML = " <em>(internal note)</em>"
# Lines end in <br>: Outlook for Windows (Word's engine) does not keep a text's line breaks for
# `white-space:pre-wrap`, which keeps its runs of spaces elsewhere. A long word or link wraps.
_WRAP = "white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word"
_CARRIED_HTML = f'<div dir="auto" style="{_WRAP}">'
_QUOTED_HTML = (
    f'<blockquote dir="auto" style="margin:0 0 0 .8ex;border-left:2px solid #ccc;padding-left:1ex;color:#666;{_WRAP}">'
)


def thread_text(message: Entry | None, previous: Entry | None) -> str:
    """The carried message under its author and date, then the previous one quoted with `> `."""
    parts = []
    if message is not None:
        internal = _INTERNAL_TEXT if message.is_internal else ""
        parts.append(f"{message.author} wrote{internal} on {message.when}:\n\n{message.text}\n")
    if previous is not None:
        internal = _INTERNAL_TEXT if previous.is_internal else ""
        parts.append(f"\nOn {previous.when}, {previous.author} wrote{internal}:\n{previous.quoted}\n")
    return "".join(parts) + "\n"


def thread_html(message: Entry | None, previous: Entry | None) -> SafeString:
    """The same as HTML, every value escaped (as Django's `escape` does, quotes included); the
    previous message in a grey blockquote."""
    parts = []
    if message is not None:
        internal = _INTERNAL_HTML if message.is_internal else ""
        parts.append(
            f"<p><strong>{escape(message.author)}</strong> wrote{internal} on {escape(message.when)}:</p>\n"
            f"{_CARRIED_HTML}{_lines(message.text)}</div>"
        )
    parts.append("\n")
    if previous is not None:
        internal = _INTERNAL_TEXT if previous.is_internal else ""
        parts.append(
            f'<p style="color:#666">On {escape(previous.when)}, {escape(previous.author)} wrote{internal}:</p>\n'
            f"{_QUOTED_HTML}{_lines(previous.text)}</blockquote>"
        )
    return mark_safe("".join(parts) + "\n")


def _lines(text: str) -> str:
    return escape(text).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")
