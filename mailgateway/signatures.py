"""The lines a signature is made of, for telling a bare "--" over a signature (a client stripped
the space of the RFC 3676 "-- ") from a "--" the person typed as a divider. Pure; used by `quoting`.
"""

from __future__ import annotations

import re

from .header_blocks import COLONS

# A name, a title, a phone number, a link or an address fits on a line this long.
_SIGNATURE_LINE = 80
_LIST_ITEM = re.compile(r"\s*(?:\d{1,3}[.)]|[-*•])\s")
_SENTENCE_ENDS = (".", "!", "?", "।", "。")


def may_be_signature_line(line: str) -> bool:
    """Whether a line under a bare "--" may be part of a signature: shorter than 80 characters,
    and no other "--", no list item ("1. Lid", "- Lid"), no line ending in a colon, and no sentence
    of three words or more that ends in ".", "!" or "?" after a word not capitalised ("That is
    all." is a sentence, "Example Pvt. Ltd." a company's name)."""
    line = line.strip()
    # A second "--" makes the first a divider; stopping there also keeps a body of dashes linear.
    if line == "--" or len(line) >= _SIGNATURE_LINE or line.endswith(COLONS) or _LIST_ITEM.match(line):
        return False
    words = line.split()
    return not (len(words) >= 3 and line.endswith(_SENTENCE_ENDS) and not words[-1][0].isupper())
