"""The shared cache on Redis keeps one client per connection pool instead of one per operation."""

from __future__ import annotations

import os

import pytest

from helpdesk.cache import SharedRedisCache

pytestmark = pytest.mark.redis


@pytest.fixture
def shared_cache():
    found = SharedRedisCache(os.environ["REDIS_URL"], {})
    yield found
    found.clear()


def test_every_operation_uses_the_same_client(shared_cache):
    first = shared_cache._cache.get_client("a", write=True)
    assert shared_cache._cache.get_client("b") is first


def test_entries_are_kept_and_read_back_through_the_one_client(shared_cache):
    shared_cache.set("reply-token", {"ticket": "SB-1042"}, timeout=30)
    shared_cache.set_many({"one": 1, "two": 2}, timeout=30)
    assert shared_cache.get("reply-token") == {"ticket": "SB-1042"}
    assert shared_cache.get_many(["one", "two", "three"]) == {"one": 1, "two": 2}
    assert shared_cache.add("one", 10, timeout=30) is False
    assert shared_cache.incr("one") == 2
