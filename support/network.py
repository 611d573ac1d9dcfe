"""Who a request came from, as far as the network can say: the limits on failed sign-ins and on
anonymous API calls count per client address."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR; or, when that is one of TRUSTED_PROXIES (reverse proxies that append the
    address they saw to X-Forwarded-For), the address the proxies saw: read from the right, the
    first entry that is not a trusted proxy itself. Entries further left are whatever the client
    wrote, and a request that did not come through a trusted proxy has its header ignored."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = trusted_proxies(tuple(settings.TRUSTED_PROXIES))
    address = remote
    hops = [hop.strip() for hop in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if hop.strip()]
    while hops and _is_among(address, proxies):
        address = hops.pop()
    return address


@functools.lru_cache(maxsize=8)
def trusted_proxies(entries: Sequence[str]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES read as networks: addresses (`127.0.0.1`) or ranges (`10.0.0.0/8`)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def client_key(address: str) -> str:
    """What the per-client counts are kept under: an IPv4 address, or an IPv6 address's /64 (one
    home or one server has a whole /64, and would otherwise get a fresh count per address)."""
    ip = _ip(address)
    if ip is None:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:203.0.113.9, a server listening on [::]
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address)
    except ValueError:  # not an address (a client wrote it)
        return None


def _is_among(address: str, networks: tuple[Network, ...]) -> bool:
    ip = _ip(address)
    if ip is None:  # nobody we trust
        return False
    # A server listening on [::] sees ::ffff:10.0.0.1: a proxy may be named in either form.
    if isinstance(ip, ipaddress.IPv6Address):
        forms: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = (ip, *filter(None, [ip.ipv4_mapped]))
    else:
        forms = (ip, ipaddress.IPv6Address(f"::ffff:{ip}"))
    return any(form in network for form in forms for network in networks)
