"""Generations: one random token in the shared cache per kind of data that other entries derive from.

Entries kept in the cache (a list's count, a conversation's rows) are stored with the token they
were computed under and served only while it is still current. A write replaces the token after
its transaction commits (once per transaction): until then other processes do not see the write,
so what they keep is still right; the writing transaction itself computes afresh while its
change is pending, and a rollback replaces nothing. A token evicted from the cache is started
anew, and never equals an old one.
"""

from __future__ import annotations

import threading
import uuid

from django.core.cache import cache
from django.db import transaction


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

    def changed(self) -> None:
        """What derives from this data is stale once the current transaction commits."""
        if not self.pending():
            self._state.pending = True
            transaction.on_commit(self._replace_after_commit)

    def pending(self) -> bool:
        """Whether the open transaction changed the data and the token was not replaced yet."""
        if not getattr(self._state, "pending", False):
            return False
        # Django's list of the transaction's on-commit callbacks; a rollback empties it.
        run_on_commit = transaction.get_connection().run_on_commit
        return any(callback is self._replace_after_commit for _, callback, _ in run_on_commit)

    def _replace(self) -> None:
        self._state.pending = False
        cache.set(self.key, uuid.uuid4().hex, timeout=None)
