"""The shared cache on Redis, with one client object per connection pool.

Django's Redis cache builds a new `redis.Redis` for every operation, and each one fills a table
of about 170 response callbacks: some 60 µs, a third of a cache round trip on this machine, paid
by every request and every mail that reads or moves on a cached entry. A client holds no
connection of its own (it takes one from the pool for each command), so one per pool is safe to
share between threads.
"""

from __future__ import annotations

from typing import Any

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
