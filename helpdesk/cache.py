"""The shared cache on Redis, with one client object per connection pool.

Django's Redis cache builds a new `redis.Redis` for every operation, and each one fills a table
of about 170 response callbacks: some 60 µs, a third of a cache round trip on this machine, paid
by every request and every mail that reads or moves on a cached entry. A client holds no
connection of its own (it takes one from the pool for each command), so one per pool is safe to
share between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _ClientPerPool(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # _get_connection_pool and _client: Django's own RedisCacheClient, untyped in django-stubs.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))  # type: ignore[attr-defined]
        return client


class SharedRedisCache(RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ClientPerPool

    def redis(self) -> Any:
        """The client for writes (`redis.Redis`), for what Django's cache API cannot say."""
        return self._cache.get_client(write=True)


def count_up(key: str, *, timeout: int) -> int:
    """Add one to the counter at `key`, kept `timeout` seconds from its first count; the new count.

    One round trip for the first count of a window (`add`), two after. A counter that expires
    between the two starts again at one. Raises what the cache raises when it cannot be reached.
    """
    from django.core.cache import cache

    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


# -- tallies: a count per member under one name, changed for many members in one round trip -----

# On Redis a tally is a hash, changed by a script: every member in one round trip, atomically. It
# lives TALLY_SECONDS after its last addition; a member whose count falls to zero is removed.
TALLY_SECONDS = 7 * 86400
_ADD = f"""
local counts = {{}}
for i, member in ipairs(ARGV) do counts[i] = redis.call('HINCRBY', KEYS[1], member, 1) end
redis.call('EXPIRE', KEYS[1], {TALLY_SECONDS})
return counts
"""
_SUBTRACT = """
for _, member in ipairs(ARGV) do
  if redis.call('HINCRBY', KEYS[1], member, -1) <= 0 then redis.call('HDEL', KEYS[1], member) end
end
return 0
"""
# In the embedded default's memory cache a tally is a dict in one entry, changed under a lock: that
# cache is the process's own. Other caches (shared, with no atomic way to change a dict) keep none:
# every count is one, and nothing stands.
_local_tallies = threading.Lock()


def _cache() -> Any:
    """The default cache itself: `django.core.cache.cache` is a proxy, which no `isinstance` sees
    through."""
    from django.core.cache import caches

    return caches["default"]


def add_to_tally(name: str, members: Sequence[str]) -> list[int]:
    """Add one to each member's count in the tally `name`; their new counts, in order. Raises
    what the cache raises when it cannot be reached."""
    cache = _cache()
    if not members:
        return []
    if isinstance(cache, SharedRedisCache):
        return [int(n) for n in cache.redis().eval(_ADD, 1, cache.make_and_validate_key(name), *members)]
    if not isinstance(cache, LocMemCache):
        return [1] * len(members)  # no tally kept (see `_local_tally`)
    with _local_tally(cache, name) as tally:
        for member in members:
            tally[member] = tally.get(member, 0) + 1
        return [tally[member] for member in members]


def subtract_from_tally(name: str, members: Sequence[str]) -> None:
    """Take one from each member's count, removing the members that reach zero."""
    cache = _cache()
    if not members:
        return
    if isinstance(cache, SharedRedisCache):
        cache.redis().eval(_SUBTRACT, 1, cache.make_and_validate_key(name), *members)
        return
    with _local_tally(cache, name) as tally:
        for member in members:
            tally[member] = tally.get(member, 0) - 1
            if tally[member] <= 0:
                del tally[member]


def drop_from_tally(name: str, members: Sequence[str]) -> None:
    """Remove these members, whatever their counts."""
    cache = _cache()
    if not members:
        return
    if isinstance(cache, SharedRedisCache):
        cache.redis().hdel(cache.make_and_validate_key(name), *members)
        return
    with _local_tally(cache, name) as tally:
        for member in members:
            tally.pop(member, None)


@contextmanager
def _local_tally(cache: Any, name: str) -> Iterator[dict[str, int]]:
    """The tally as a dict to change, written back after: in the process's own memory cache, under
    its lock; in any other cache a dict that is thrown away (every count one, nothing stands)."""
    if not isinstance(cache, LocMemCache):
        yield {}
        return
    with _local_tallies:
        tally = cache.get(name) or {}
        yield tally
        cache.set(name, tally, timeout=TALLY_SECONDS)


def tally_of(name: str) -> dict[str, int]:
    """The whole tally, member by member (for tests and operators)."""
    cache = _cache()
    if isinstance(cache, SharedRedisCache):
        found = cache.redis().hgetall(cache.make_and_validate_key(name))
        return {member.decode(): int(count) for member, count in found.items()}
    return dict(cache.get(name) or {}) if isinstance(cache, LocMemCache) else {}
