"""Shared fixtures: the people of the helpdesk and API clients that authenticate for real."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from support.models import User


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    has_redis = bool(os.environ.get("REDIS_URL"))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (the second pass of .ci/run)"))
        if "redis" in item.keywords and not has_redis:
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL (the second pass of .ci/run)"))


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()


@pytest.fixture(autouse=True)
def _console_counts_finished() -> Iterator[None]:
    """A queue page may start the console's background count (its own database connection);
    each test waits for it, so that no count outlives its test or holds the test database."""
    yield
    for thread in threading.enumerate():
        if thread.name == "console-counts":
            thread.join(timeout=30)


@pytest.fixture(autouse=True)
def _test_settings(settings: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> None:
    """Files go to a temporary folder; passwords use a fast hasher (PBKDF2 costs ~0.3 s each)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")  # type: ignore[attr-defined]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture
def customer_a(db: None) -> User:
    return User.objects.create_user("asha@example.com", "pw-asha-123", name="Asha Rai")


@pytest.fixture
def customer_b(db: None) -> User:
    return User.objects.create_user("bikash@example.com", "pw-bikash-123", name="Bikash Thapa")


@pytest.fixture
def agent(db: None) -> User:
    return User.objects.create_user("agent@sewabazaar.test", "pw-agent-123", name="Sita Agent", is_staff=True)


@pytest.fixture
def other_agent(db: None) -> User:
    return User.objects.create_user("ram@sewabazaar.test", "pw-ram-123", name="Ram Agent", is_staff=True)


@pytest.fixture
def admin_user(db: None) -> User:
    return User.objects.create_superuser("admin@sewabazaar.test", "pw-admin-123", name="Admin")


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    """An API client that sends a real JWT bearer token for the user (or none)."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        return client

    return make


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def anymail_outbox(settings):  # type: ignore[no-untyped-def]
    """Sent mail goes to Anymail's test backend, whose outbox starts empty."""
    from django.core import mail as django_mail

    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    django_mail.outbox = []


@pytest.fixture
def committed(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Run the block's on-commit work (the events, then the send tasks) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def unreachable_cache(settings):  # type: ignore[no-untyped-def]
    """A shared cache that refuses every connection, as a Redis that went away does."""
    settings.CACHES = {"default": {"BACKEND": "helpdesk.cache.SharedRedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    settings.TICKET_COUNT_CACHE_SECONDS = 60
