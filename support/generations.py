"""Generations: one random token in the shared cache per kind of data that other entries derive from.

Entries kept in the cache (a list's count, a conversation's rows) are stored with the token they
were computed under and served only while it is still current. A write replaces the token after
its transaction commits (once per transaction): until then other processes do not see the write,
so what they keep is still right; the writing transaction itself computes afresh while its
change is pending, and a rollback replaces nothing. A token evicted from the cache is started
anew, and never equals an old one.

The shared cache is a help, never a need: when it cannot be reached (`CACHE_ERRORS`), readers
read the database and a token that could not be replaced is logged; the entries kept under it
expire with their timeout.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What the shared cache raises when it cannot be reached.
CACHE_ERRORS = (RedisError, OSError)


class Generation:
    def __init__(self, key: str) -> None:
        self.key = key
        self._state = threading.local()  # Django's connections are per thread, so is a pending change
        self._replace_after_commit = self._replace  # one object, found again in the on-commit list

    def current(self, known: str | None = None) -> str:
        """The token now; `known` is the value of `key` when the caller read it already."""
        token = known or cache.get(self.key)
        if token:
            return str(token)
        started = uuid.uuid4().hex
        if cache.add(self.key, started, timeout=None):
            return started
        return str(cache.get(self.key) or started)

    def kept(self, key: str, compute: Callable[[], Any], timeout: int) -> Any:
        """`compute()`, from the cache when it was kept under `key` with the current token;
        otherwise computed and kept there for `timeout` seconds. One cache round trip for both
        the token and the entry; without a reachable cache, `compute()` every time."""
        try:
            found = cache.get_many([self.key, key])
            token = self.current(found.get(self.key))
        except CACHE_ERRORS:
            logger.warning("The shared cache is unreachable: %s is computed afresh.", key, exc_info=True)
            return compute()
        entry = found.get(key)
        if entry is not None and entry[0] == token:
            return entry[1]
        value = compute()
        try:
            cache.set(key, (token, value), timeout=timeout)
        except CACHE_ERRORS:
            logger.warning("The shared cache is unreachable: %s was not kept.", key, exc_info=True)
        return value

    def changed(self) -> None:
        """What derives from this data is stale once the current transaction commits."""
        if not self.pending():
            self._state.pending = True
            # Robust: the change is committed whatever happens here, so a failure must neither
            # fail the request nor stop the on-commit work queued after it (the mail to send).
            transaction.on_commit(self._replace_after_commit, robust=True)

    def pending(self) -> bool:
        """Whether the open transaction changed the data and the token was not replaced yet."""
        if not getattr(self._state, "pending", False):
            return False
        # Django's list of the transaction's on-commit callbacks; a rollback empties it.
        run_on_commit = transaction.get_connection().run_on_commit
        return any(callback is self._replace_after_commit for _, callback, _ in run_on_commit)

    def _replace(self) -> None:
        self._state.pending = False
        try:
            cache.set(self.key, uuid.uuid4().hex, timeout=None)
        except CACHE_ERRORS:
            logger.warning(
                "The shared cache is unreachable: %s was not moved on; what was kept "
                "under it may be shown until it expires.",
                self.key,
                exc_info=True,
            )
