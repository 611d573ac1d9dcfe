"""The one place where mail HTML is made safe to show in the console and on the web page.

Pure. Every caller goes through `sanitize_html()`, so the allow-list and the engine behind it
can change in one place. No scripts, no event handlers, no styles, no forms, no frames; links
only to http(s) and mailto and never able to reach the opener; images only from the mail's own
inline parts (`cid:`), which `link_inline_images()` points at their attachment downloads. Remote
images are dropped: they would tell the sender when and where an agent read the mail.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import bleach

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li", "ol", "p", "pre", "q", "s",
        "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
        "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "cid"})
_CID_SRC = re.compile(r"""(<img\b[^>]*?\bsrc=")cid:([^"]+)(")""", re.IGNORECASE)


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in ("title", "dir", "lang"):
        return True
    if tag == "a":
        return name == "href"
    if tag == "img":
        return name in ("alt", "width", "height") or (name == "src" and value.strip().lower().startswith("cid:"))
    if tag in ("td", "th"):
        return name in ("colspan", "rowspan", "align")
    if tag in ("ol", "li"):
        return name in ("start", "type", "value")
    return False


def _safe_links(attrs: dict, new: bool = False) -> dict | None:
    href_key = (None, "href")
    if href_key in attrs:
        attrs[(None, "rel")] = "noopener noreferrer nofollow"
        attrs[(None, "target")] = "_blank"
    return attrs


_CLEANER = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=_allowed_attribute,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[lambda source: bleach.linkifier.LinkifyFilter(source, callbacks=[_safe_links], skip_tags={"pre"})],
)


def sanitize_html(html: str) -> str:
    """Mail HTML reduced to the allow-list; the text of removed elements stays, their code does not."""
    if not html or not html.strip():
        return ""
    html = re.sub(r"(?is)<(script|style|head|title|template|noscript)\b.*?</\1\s*>", "", html.replace("\x00", ""))
    return _CLEANER.clean(html).strip()


def link_inline_images(html: str, url_for_cid: Mapping[str, str] | Callable[[str], str | None]) -> str:
    """`<img src="cid:x">` -> the stored attachment's URL; images whose part was not kept go."""
    lookup = url_for_cid.get if isinstance(url_for_cid, Mapping) else url_for_cid

    def replace(match: re.Match[str]) -> str:
        url = lookup(match.group(2).strip().strip("<>"))
        return f"{match.group(1)}{url}{match.group(3)}" if url else f"{match.group(1)}{match.group(3)}"

    return _CID_SRC.sub(replace, html)
