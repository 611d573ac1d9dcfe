"""Failed sign-ins counted in the cache: after too many for one address (or from one client),
sign-in is refused for a while, with a sentence saying so. A good password clears the address."""

from __future__ import annotations

import hashlib

from django.core.cache import cache

MAX_FAILURES_PER_ADDRESS = 5
MAX_FAILURES_PER_CLIENT = 20
WINDOW_SECONDS = 15 * 60


def _key(kind: str, value: str) -> str:
    return f"signin-fail:{kind}:{hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]}"


def is_blocked(*, client: str, email: str) -> bool:
    by_address = cache.get(_key("address", email), 0)
    by_client = cache.get(_key("client", client), 0)
    return by_address >= MAX_FAILURES_PER_ADDRESS or by_client >= MAX_FAILURES_PER_CLIENT


def note_failure(*, client: str, email: str) -> None:
    for key in (_key("address", email), _key("client", client)):
        cache.add(key, 0, WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, WINDOW_SECONDS)


def clear(*, email: str) -> None:
    cache.delete(_key("address", email))
