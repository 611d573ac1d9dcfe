"""Mail addresses as the gateway needs them: parsed leniently, compared case-insensitively.

Pure functions. Reply addresses are `support+<token>@domain`, where `support@domain` is the
support address; some relays upper-case or lower-case local parts, so comparisons ignore case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from email.utils import getaddresses

_TOKEN = re.compile(r"^[a-z2-7]{26}$")
_SANE_ADDRESS = re.compile(r"^[^@\s<>\"(),;:\\\[\]]{1,64}@[A-Za-z0-9.-]{1,253}$")
# An unquoted display name that holds an "@" before an angle address: `a@x.org <b@y.org>`.
# Possessive: nothing is given back, so a try that fails costs one pass to the next comma or
# bracket, not one pass per "@" before it (backtracking, a header of "a@a@...a@ x <" took 29 s
# at 64 KB). The name's trailing space is taken with it and dropped when it is quoted.
_ADDRESS_LIKE_NAME = re.compile(
    r"(?P<lead>^|,)(?P<space>\s*+)(?P<name>[^,\"<>()@]*+@[^,\"<>()]*+)<(?P<address>[^<>,]*+)>"
)


def normalize_address(address: str) -> str:
    """`<Asha@Example.COM> ` -> `asha@example.com`; "" when it is not a usable address.

    A domain written fully qualified (`asha@example.com.`, the DNS root's dot) is the same
    mailbox: without the dot, so the person is one customer and replies reach them."""
    address = (address or "").strip().strip("<>").strip()
    if address.endswith(".") and "@" in address:
        address = address[:-1]
    if not _SANE_ADDRESS.match(address) or ".." in address.split("@", 1)[1]:
        return ""
    return address.lower()


def parse_address_list(values: Iterable[str], *, decode: Callable[[str], str] | None = None) -> list[tuple[str, str]]:
    """(display name, normalized address) pairs from header values, skipping what is unusable.

    Give raw header values and `decode` for their encoded words: a display name is decoded only
    after the list is split, since a decoded name may itself hold a comma.
    """
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    flat = [_quote_address_like_names(" ".join(str(v).split())) for v in values if v]
    for name, address in getaddresses(flat):
        address = normalize_address(address)
        if address and address not in seen:
            seen.add(address)
            name = decode(name) if decode else name
            found.append((" ".join(name.split())[:150], address))
    return found


def _quote_address_like_names(value: str) -> str:
    """`alice@example.com <bob@example.com>` -> `"alice@example.com" <bob@example.com>`.

    Some clients and forms write the sender's address as an unquoted display name (RFC 5322
    wants a phrase there, and "@" is not allowed in one). Python's `getaddresses()` then reads
    two people, and the first, the name, became the sender: the mail was posted, and answered,
    as someone who never wrote it. Quoted, the name stays a name and the mailbox in the angle
    brackets is the person.
    """
    if "@" not in value or "<" not in value:
        return value
    return _ADDRESS_LIKE_NAME.sub(lambda m: f'{m["lead"]}{m["space"]}"{m["name"].rstrip()}" <{m["address"]}>', value)


def split_address(address: str) -> tuple[str, str, str]:
    """`support+tok@x.org` -> ("support", "tok", "x.org"); the tag is "" when there is none."""
    local, _, domain = address.rpartition("@")
    base, _, tag = local.partition("+")
    return base, tag, domain


def find_reply_tokens(recipients: Iterable[str], *, support_address: str) -> list[str]:
    """Tokens from plus-addresses of the support mailbox, in the order the recipients came."""
    support = normalize_address(support_address)
    if not support:
        return []
    support_base, _, support_domain = split_address(support)
    tokens: list[str] = []
    for recipient in recipients:
        address = normalize_address(recipient)
        if not address:
            continue
        base, tag, domain = split_address(address)
        if base == support_base and domain == support_domain and _TOKEN.match(tag) and tag not in tokens:
            tokens.append(tag)
    return tokens


def is_support_address(address: str, *, support_address: str) -> bool:
    """The support mailbox itself or any of its plus-addresses: mail from there is our own."""
    address, support = normalize_address(address), normalize_address(support_address)
    if not address or not support:
        return False
    base, _, domain = split_address(address)
    support_base, _, support_domain = split_address(support)
    return base == support_base and domain == support_domain
