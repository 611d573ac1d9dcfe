"""A ticket's conversation rows, kept in the shared cache until the conversation or a person changes.

A ticket's detail (the API, the customer's page, the console) reads every message with its
sender and files: two queries and a row per message and file, most of the detail's time, for a
conversation that changes only when something is written to it. The rows are kept per ticket
and side (staff also see internal notes) under the ticket's `conversation_version`, which the
services move with every message and every file or HTML added to one, and under the people's
generation (`support.generations`), which a change to anyone's name, address or staff flag
(shown with each message) replaces.

Rows are only read from and kept in the cache outside a transaction: inside one they may hold
writes that are rolled back. On only with a cache shared by every process
(`CONVERSATION_CACHE_SECONDS`, on with Redis).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save

from .generations import Generation

PEOPLE = Generation("people:generation")
SHOWN_PERSON_FIELDS = frozenset({"name", "email", "is_staff"})

Rows = list[dict[str, Any]]


def is_enabled() -> bool:
    return settings.CONVERSATION_CACHE_SECONDS > 0


def conversation_rows(ticket: Any, *, staff: bool, read: Callable[[], Rows]) -> Rows:
    """The conversation's rows for one side, from the cache or from `read()`."""
    if not is_enabled() or transaction.get_connection().in_atomic_block:
        return read()
    key = f"conversation:{ticket.pk}:{ticket.conversation_version}:{'staff' if staff else 'customer'}"
    return list(PEOPLE.kept(key, read, settings.CONVERSATION_CACHE_SECONDS))


def _on_person_saved(sender: Any, update_fields: Any = None, **kwargs: Any) -> None:
    # A sign-in saves only `last_login`: that changes nothing shown in a conversation.
    if is_enabled() and (update_fields is None or SHOWN_PERSON_FIELDS & set(update_fields)):
        PEOPLE.changed()


def connect() -> None:
    from .models import User

    post_save.connect(_on_person_saved, sender=User, dispatch_uid="conversation_cache.person_saved")
