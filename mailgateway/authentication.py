"""Sender-authentication verdicts (SPF, DKIM, DMARC) kept with each inbound mail.

Pure. The verdicts come from the `Authentication-Results` header that the receiving server
added (RFC 8601) and from `Received-SPF`, or from the provider's own fields. Anyone can write
such a header into a mail they send, so only the topmost one counts (the last hop, ours), and
when `trusted_servers` is given only headers from those authserv-ids count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_RESULT = re.compile(r"\b(spf|dkim|dmarc|arc)\s*=\s*([a-z]+)", re.IGNORECASE)
_METHODS = ("spf", "dkim", "dmarc")


def sender_verdicts(
    headers: Mapping[str, tuple[str, ...]],
    provider_verdicts: Mapping[str, Any] | None = None,
    *,
    trusted_servers: Iterable[str] = (),
) -> dict[str, str]:
    """{"spf": "pass", "dkim": "fail", "dmarc": "none", "source": "..."}: only what is known."""
    trusted = {s.strip().lower() for s in trusted_servers if s.strip()}
    verdicts: dict[str, str] = {}
    for value in headers.get("authentication-results", ()):
        server = value.split(";", 1)[0].strip().split()[0].lower() if value.strip() else ""
        if trusted and server not in trusted:
            continue
        for method, result in _RESULT.findall(value):
            method = method.lower()
            if method in _METHODS and method not in verdicts:
                verdicts[method] = result.lower()
        if verdicts:
            verdicts["source"] = f"Authentication-Results from {server or 'an unnamed server'}"
        break  # the topmost header that counts is the one our side added
    if "spf" not in verdicts:
        received_spf = headers.get("received-spf", ("",))[0].strip()
        if received_spf:
            verdicts["spf"] = received_spf.split()[0].lower()
    for method in _METHODS:
        given = (provider_verdicts or {}).get(method)
        if isinstance(given, str) and given.strip() and method not in verdicts:
            verdicts[method] = given.strip().split()[0].lower()
            verdicts.setdefault("source", "the provider")
    return verdicts


def fails_dmarc(verdicts: Mapping[str, str]) -> bool:
    return verdicts.get("dmarc") in ("fail", "permerror")
