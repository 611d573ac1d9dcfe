"""Failed sign-ins counted in the cache: after too many for one address (or from one client),
sign-in is refused for a while, with a sentence saying so. A good password clears the address.
The web sign-in and the API's token both count here, so neither is a way round the other.

While the cache cannot be reached nothing is counted and nobody is refused (logged): people can
still sign in, and the passwords' own hashing still slows a guesser down."""

from __future__ import annotations

import hashlib
import logging

from django.core.cache import cache

from helpdesk.cache import count_up
from support.generations import CACHE_ERRORS
from support.network import client_key

logger = logging.getLogger(__name__)

MAX_FAILURES_PER_ADDRESS = 5
MAX_FAILURES_PER_CLIENT = 20
WINDOW_SECONDS = 15 * 60


def _key(kind: str, value: str) -> str:
    return f"signin-fail:{kind}:{hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]}"


def is_blocked(*, client: str, email: str) -> bool:
    try:
        by_address = cache.get(_key("address", email), 0)
        by_client = cache.get(_key("client", client_key(client)), 0)
    except CACHE_ERRORS:
        logger.warning("failed sign-ins not checked: the cache cannot be reached")
        return False
    return by_address >= MAX_FAILURES_PER_ADDRESS or by_client >= MAX_FAILURES_PER_CLIENT


def note_failure(*, client: str, email: str) -> None:
    try:
        for key in (_key("address", email), _key("client", client_key(client))):
            count_up(key, timeout=WINDOW_SECONDS)
    except CACHE_ERRORS:
        logger.warning("a failed sign-in not counted: the cache cannot be reached")


def clear(*, email: str) -> None:
    try:
        cache.delete(_key("address", email))
    except CACHE_ERRORS:
        logger.warning("failed sign-ins not cleared: the cache cannot be reached")
