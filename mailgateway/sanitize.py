"""The one place where mail HTML is made safe to show in the console and on the web page.

Pure. Every caller goes through `sanitize_html()`, so the allow-list and the engine behind it
can change in one place. No scripts, no event handlers, no styles, no forms, no frames; links
only to http(s) and mailto and never able to reach the opener; images only from the mail's own
inline parts (`cid:`), which `link_inline_images()` points at their attachment downloads. Remote
images are dropped: they would tell the sender when and where an agent read the mail.

The engine is nh3 (the Rust html5ever-based sanitizer ammonia). bleach did the same job with
the same allow-list, but `bench/inbound.py` measured it at 40% of the time of an HTML
newsletter's whole trip through the gateway; nh3 is about forty times faster on the same mails.
The tests in `tests/test_mail_sanitize.py` state the allow-list, whatever the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import nh3

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li", "ol", "p", "pre", "q", "s",
        "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
        "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "*": frozenset({"title", "dir", "lang"}),
    "a": frozenset({"href"}),
    "img": frozenset({"alt", "width", "height", "src"}),
    "td": frozenset({"colspan", "rowspan", "align"}),
    "th": frozenset({"colspan", "rowspan", "align"}),
    "ol": frozenset({"start", "type"}),
    "li": frozenset({"value", "type"}),
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "cid"})
# Removed with everything inside them; every other element outside the allow-list loses only its tag.
_REMOVED_WITH_CONTENT = frozenset(
    {"script", "style", "head", "title", "template", "noscript", "iframe", "object", "embed", "svg", "math",
     "form", "textarea", "select", "button"}
)  # fmt: skip
_CID_SRC = re.compile(r"""(<img\b[^>]*?\bsrc=")cid:([^"]+)(")""", re.IGNORECASE)


def _only_inline_images(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not value.strip().lower().startswith("cid:"):
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(_REMOVED_WITH_CONTENT),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    attribute_filter=_only_inline_images,
    url_schemes=set(ALLOWED_PROTOCOLS),
    strip_comments=True,
    link_rel="noopener noreferrer nofollow",
    set_tag_attribute_values={"a": {"target": "_blank"}},
)


def sanitize_html(html: str) -> str:
    """Mail HTML reduced to the allow-list; the text of removed elements stays, their code does not."""
    if not html or not html.strip():
        return ""
    return _CLEANER.clean(html.replace("\x00", "")).strip()


def link_inline_images(html: str, url_for_cid: Mapping[str, str] | Callable[[str], str | None]) -> str:
    """`<img src="cid:x">` -> the stored attachment's URL; images whose part was not kept go."""
    lookup = url_for_cid.get if isinstance(url_for_cid, Mapping) else url_for_cid

    def replace(match: re.Match[str]) -> str:
        url = lookup(match.group(2).strip().strip("<>"))
        return f"{match.group(1)}{url}{match.group(3)}" if url else f"{match.group(1)}{match.group(3)}"

    return _CID_SRC.sub(replace, html)
