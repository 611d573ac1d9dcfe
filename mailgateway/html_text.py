"""HTML mail -> readable plain text, for mail that has no text part.

Pure. Blocks become paragraphs and a <div> a line; line breaks and list items survive, scripts and styles are
dropped, links keep their address. The quoted history that clients wrap in known elements
(Gmail's `gmail_quote`, Apple's and Thunderbird's `blockquote type=cite`, Outlook's
`divRplyFwdMsg`, Lotus Notes' `domino-section`, BlackBerry's `_persistentHeader`, and the
`<hr id="stopSpelling">` of the older Outlook.com and Hotmail, after which everything is history)
is left out here, as are the signatures clients mark (`gmail_signature`, Thunderbird's
`moz-signature`, Outlook on the web's `Signature`, Proton Mail's `protonmail_signature_block`, the
"Get Outlook for iOS" of Outlook's apps in `ms-outlook-mobile-signature`) and text the mail hides
from its reader (`display:none`: a newsletter's preheader, tracking text); plain-text rules in
`quoting` catch the rest.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = {
    "p", "section", "article", "header", "footer", "table", "tr", "ul", "ol", "dl", "h1", "h2", "h3",
    "h4", "h5", "h6", "pre", "hr", "center", "address", "form", "fieldset", "dd", "dt",
}  # fmt: skip
# A <div> is a line: Gmail, Apple Mail and Outlook on the web write each line of a message as one,
# and an empty line as <div><br></div>.
_LINES = {"div"}
_SKIPPED = {"script", "style", "head", "title", "template", "noscript", "svg", "object", "iframe"}
_VOID = {"br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "param", "source", "wbr"}
_QUOTE_CLASSES = {"gmail_quote", "gmail_extra", "moz-cite-prefix", "yahoo_quoted", "protonmail_quote"}
_QUOTE_CLASSES |= {"domino-section"}  # Lotus Notes: the mail answered, under a "--- Sender --- Subject ---" head
_SIGNATURE_CLASSES = {"gmail_signature", "moz-signature", "protonmail_signature_block"}
_SIGNATURE_IDS = {"signature", "ms-outlook-mobile-signature"}  # Outlook on the web; Outlook for iOS and Android
_HISTORY_IDS = {
    "divrplyfwdmsg", "appendonsend", "olk_src_body_section", "mail-editor-reference-message-container", "stopspelling",
    "_persistentheader",  # BlackBerry: the answered mail's From / Sent / To / Subject, then the mail
}  # fmt: skip
_HIDDEN = re.compile(r"display\s*:\s*none", re.IGNORECASE)
# Elements whose end tag HTML lets a writer leave out, and the start tags that close them. Without
# this, a hidden <p> with no </p> hid the rest of the mail.
_CLOSES_P = {
    "address", "article", "aside", "blockquote", "details", "div", "dl", "fieldset", "figure", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p", "pre", "section", "table", "ul",
}  # fmt: skip
_IMPLIED_END = {"li": {"li"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"}, "td": {"td", "th"}, "th": {"td", "th"}}
_IMPLIED_END["tr"] = {"td", "th", "tr"}


class _TextCollector(HTMLParser):
    def __init__(self, *, leave_out: bool = True, keep_history: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.leave_out = leave_out  # False: every word, history, signatures and hidden text too
        self.keep_history = keep_history  # True: quotes and history too (a forward's forwarded mail)
        self.out: list[str] = []
        self.has_text = False  # some words were written out
        self.last = ""  # the last chunk written out that is not only spaces
        self.skip_depth = 0  # > 0 while inside an element whose text is left out
        self.stack: list[tuple[str, bool]] = []
        self.history_started = False
        self.href: str | None = None
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.history_started:
            return
        self._close_implied(tag)
        values = {k.lower(): (v or "") for k, v in attrs}
        classes = set(values.get("class", "").lower().split())
        element_id = values.get("id", "").lower()
        history = element_id in _HISTORY_IDS or "outlookmessageheader" in classes
        if self.leave_out and not self.keep_history and history:
            self.history_started = True
            return
        if tag in _VOID:
            if tag == "br" and not self.skip_depth:
                self._write("\n")
            elif tag == "hr" and not self.skip_depth:
                self._write("\n\n")
            return
        signature = bool(classes & _SIGNATURE_CLASSES) or element_id in _SIGNATURE_IDS
        skipped = tag in _SKIPPED or (
            self.leave_out
            and (
                (not self.keep_history and (tag == "blockquote" or bool(classes & _QUOTE_CLASSES)))
                or (signature and self.has_text)  # a signature under the person's words, not instead of them
                or bool(_HIDDEN.search(values.get("style", "")))
            )
        )
        self.stack.append((tag, skipped))
        if skipped:
            self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag in _BLOCKS:
            self._write("\n\n")
        elif tag in _LINES:
            self._end_line()
        elif tag == "li":
            self._write("\n- ")
        elif tag in ("td", "th"):
            self._write(" ")
        elif tag == "a":
            self.href = values.get("href", "")
            self.link_text = []

    def handle_endtag(self, tag: str) -> None:
        if self.history_started:
            return
        # Close up to the matching open tag; HTML in mail is often unbalanced.
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                for _, skipped in self.stack[index:]:
                    if skipped:
                        self.skip_depth -= 1
                del self.stack[index:]
                break
        else:
            return
        if self.skip_depth:
            return
        if tag in _BLOCKS:
            self._write("\n\n")
        elif tag in _LINES:
            self._end_line()
        elif tag == "a" and self.href is not None:
            label = "".join(self.link_text).strip()
            href = self.href.strip()
            if href.startswith(("http://", "https://")) and href != label and href.rstrip("/") != label.rstrip("/"):
                self._write(f" ({href})")
            self.href = None

    def _close_implied(self, tag: str) -> None:
        """Close the open elements that this start tag ends although their end tag was left out."""
        while self.stack:
            top = self.stack[-1][0]
            if not ((top == "p" and tag in _CLOSES_P) or top in _IMPLIED_END.get(tag, ())):
                return
            if self.stack.pop()[1]:
                self.skip_depth -= 1

    def _write(self, chunk: str) -> None:
        self.out.append(chunk)
        if chunk.strip(" "):
            self.last = chunk
            self.has_text = self.has_text or bool(chunk.strip())

    def _end_line(self) -> None:
        """A line break unless the text already ends one (a <div> right after another)."""
        if self.last and not self.last.endswith("\n"):
            self._write("\n")

    def handle_data(self, data: str) -> None:
        if self.history_started or self.skip_depth:
            return
        in_pre = any(tag in ("pre", "textarea") for tag, _ in self.stack)
        text = data.replace("\r\n", "\n") if in_pre else re.sub(r"\s+", " ", data)  # <pre> keeps its lines
        self._write(text)
        if self.href is not None:
            self.link_text.append(text)


def html_to_text(html: str, *, keep_history: bool = False) -> str:
    """The text of the mail without what `_TextCollector` leaves out, or every word of it when that
    leaves nothing (a mail that is all quote, or all in a hidden or signature element), or when
    `keep_history`: a forward, whose forwarded mail clients wrap as they wrap a quote."""
    return _text(html, leave_out=True, keep_history=keep_history) or _text(html, leave_out=False)


def _text(html: str, *, leave_out: bool, keep_history: bool = False) -> str:
    collector = _TextCollector(leave_out=leave_out, keep_history=keep_history)
    try:
        collector.feed(html or "")
        collector.close()
    except Exception:  # the stdlib parser is lenient; this is only a guard for the pipeline
        return re.sub(r"<[^>]*>", " ", html or "").strip()
    text = "".join(collector.out).replace("\xa0", " ")
    lines = [line.strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
