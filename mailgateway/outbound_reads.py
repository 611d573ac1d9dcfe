"""What sending a mail reads: the rows to send, locked, and the threads they show.

In: outbound row ids (or rows). Out: `OutboundEmail` rows with their ticket, message, sender
and recipient attached and `first_message_id`, `token_id` and `undeliverable` set, and
`Thread`s of plain `Entry`s. Reads only (the locking read takes row locks for the caller's
transaction), a fixed number of queries whatever the length of the threads. On PostgreSQL the
two hot reads are written out in SQL: Django compiled them in more CPU than a mail takes to
build and send.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, connections
from django.db.models import Exists, F, OuterRef, Subquery, Window
from django.db.models.base import ModelState
from django.db.models.functions import RowNumber
from django.utils import timezone
from psycopg.types.datetime import TimestamptzLoader

from support.models import Message, Ticket, User

from .models import OutboundEmail, OutboundStatus, ReplyToken, UndeliverableAddress

THREAD_WINDOW = 8
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Entry:
    """One message of the thread, as a mail shows it."""

    pk: Any
    message_id: str
    text: str
    author: str
    created_at: Any
    is_internal: bool
    sender_id: str = ""  # as text: it is only compared, and text loads without making a UUID
    by_staff: bool = False

    def __getitem__(self, name: str) -> Any:
        """Django's templates try a name as a key first: answered here, not by a TypeError."""
        return getattr(self, name)

    def __hash__(self) -> int:
        """By the message alone (equal entries are of one message): the generated hash took every
        field, the text and the date included, each time a batch looked up its thread block."""
        return hash(self.pk)

    @functools.cached_property
    def when(self) -> str:
        """`2 Dec 2026, 09:15` in the site's time zone (cheaper than the template's date filter;
        the default zone directly, as `localtime()` looks up the active one at every call)."""
        local = self.created_at.astimezone(timezone.get_default_timezone())
        return f"{local.day} {_MONTHS[local.month - 1]} {local.year}, {local.hour:02}:{local.minute:02}"

    @functools.cached_property
    def quoted(self) -> str:
        return quote(self.text)


@dataclass(frozen=True)
class Thread:
    first_id: str
    latest: tuple[Entry, ...]  # oldest first, at most THREAD_WINDOW


# -- pure helpers ------------------------------------------------------------------------------


# Characters that change the direction text is shown in (U+202E shows `evil` as `live`):
# in a From name they would make it read as something else.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def safe_display_name(name: str) -> str:
    """A name fit for a header shown to customers: one line, no direction overrides, and never
    an address."""
    name = " ".join((name or "").translate(_BIDI_CONTROLS).replace("\r", " ").replace("\n", " ").split())[:100]
    return "" if "@" in name else name


def quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def author_label(*, name: str, email: str, is_staff: bool) -> str:
    """How a message's author is named in a mail: staff by name only, never by address."""
    if is_staff:
        return safe_display_name(name) or "Support"
    return name or email


# -- reading the thread (a fixed number of queries) --------------------------------------------


def read_thread(outbound: OutboundEmail, *, staff_view: bool) -> Thread:
    """The latest messages the recipient may see, up to the one the mail carries (one query).

    The ticket's first Message-ID comes with the row (`first_message_id`, see `outbound_rows()`).
    """
    messages = Message.objects.filter(ticket_id=outbound.ticket_id)
    if not staff_view:
        messages = messages.filter(is_internal=False)
    if outbound.message is not None:
        messages = messages.filter(created_at__lte=outbound.message.created_at)
    rows = messages.order_by("-created_at", "-id").values_list(*_THREAD_FIELDS)[:THREAD_WINDOW]
    latest = tuple(entry for _, entry in _entries(reversed(rows)))
    return Thread(first_id=getattr(outbound, "first_message_id", "") or "", latest=latest)


def read_threads(rows: Sequence[OutboundEmail]) -> dict[Any, Thread]:
    """The threads of many rows in one query: the latest messages of each of their tickets.

    A row whose thread is not wholly among them (it carries an old message, or many notes are
    hidden from its recipient) is left out; the caller reads that one with `read_thread()`.
    """
    fetched = THREAD_WINDOW * 2
    # One Entry per message, shared by every mail of the batch that shows it (the mails of one
    # event all show the same thread), so that its date is formatted once.
    newest_first: dict[Any, list[Entry]] = {}
    for ticket_id, entry in _entries(latest_messages({r.ticket_id for r in rows}, fetched)):
        newest_first.setdefault(ticket_id, []).append(entry)
    for entries in newest_first.values():
        entries.sort(key=lambda e: (e.created_at, e.pk), reverse=True)
    threads: dict[Any, Thread] = {}
    for row in rows:
        candidates = newest_first.get(row.ticket_id, [])
        staff_view = row.recipient is not None and row.recipient.is_staff
        anchor = row.message.created_at if row.message is not None else None
        visible = [
            e for e in candidates if (staff_view or not e.is_internal) and (anchor is None or e.created_at <= anchor)
        ][:THREAD_WINDOW]
        if len(visible) < THREAD_WINDOW and len(candidates) == fetched:
            continue  # there may be more of its thread further back
        threads[row.pk] = Thread(first_id=getattr(row, "first_message_id", "") or "", latest=tuple(reversed(visible)))
    return threads


_THREAD_FIELDS = (
    "ticket_id", "id", "email_message_id", "message_text", "is_internal", "created_at", "sender__name", "sender__email",
    "sender__is_staff", "sender_id",
)  # fmt: skip


def latest_messages(ticket_ids: set[Any], count: int) -> list[tuple[Any, ...]]:
    """The latest `count` messages of each ticket, in no particular order (one query): tuples of
    the `_THREAD_FIELDS`.

    On PostgreSQL a LATERAL join reads only those rows through the (ticket, created_at) index;
    the portable window function reads and ranks every message of the tickets first (about 18 ms
    against 2-4 ms for 50 tickets of 200 messages).
    """
    if connection.vendor != "postgresql":
        rank = Window(RowNumber(), partition_by=[F("ticket_id")], order_by=[F("created_at").desc(), F("id").desc()])
        messages = Message.objects.filter(ticket_id__in=ticket_ids).annotate(rank=rank).filter(rank__lte=count)
        return list(messages.values_list(*_THREAD_FIELDS).order_by())
    message, user = Message._meta.db_table, User._meta.db_table
    sql = f"""
        SELECT m.ticket_id, m.id, m.email_message_id, m.message_text, m.is_internal, m.created_at,
               u.name, u.email, u.is_staff, m.sender_id::text
        FROM unnest(%s::uuid[]) AS t(id)
        CROSS JOIN LATERAL (
            SELECT * FROM "{message}" WHERE ticket_id = t.id ORDER BY created_at DESC, id DESC LIMIT %s
        ) AS m
        JOIN "{user}" AS u ON u.id = m.sender_id
    """
    return _fetch_all(sql, [list(ticket_ids), count])


def _fetch_all(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """A hot read on PostgreSQL, its timestamps loaded by psycopg's own (C) loader: Django's
    connection loads them with a Python subclass that parses each one with a regular expression
    (about 9 µs; a batch of 100 mails on long threads reads about 1,200: some 10 ms of its
    100-115). Same instants, in the session's time zone, which Django sets; the cursor is
    Django's, so the query is logged and counted as any other."""
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(sql, params)
        return cursor.fetchall()


def _entries(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, Entry]]:
    """(ticket id, Entry) for each row of `_THREAD_FIELDS`; each author's label worked out once."""
    authors: dict[tuple[str, str, bool], str] = {}
    for ticket_id, pk, message_id, text, is_internal, created_at, name, email, is_staff, sender_id in rows:
        author = authors.get((name, email, is_staff))
        if author is None:
            author = authors[name, email, is_staff] = author_label(name=name, email=email, is_staff=is_staff)
        yield ticket_id, Entry(pk, message_id, text, author, created_at, is_internal, str(sender_id), bool(is_staff))


def outbound_rows() -> Any:
    """Outbound rows with what sending needs in the same query: the people, the message, the
    recipient's reply token, whether the address is undeliverable, the ticket's first Message-ID."""
    first = (
        Message.objects.filter(ticket_id=OuterRef("ticket_id"), is_internal=False)
        .exclude(email_message_id="")
        .order_by("created_at", "id")
        .values("email_message_id")[:1]
    )
    token = ReplyToken.objects.filter(ticket_id=OuterRef("ticket_id"), person_id=OuterRef("recipient_id"))
    return OutboundEmail.objects.select_related("ticket", "message", "message__sender", "recipient").annotate(
        first_message_id=Subquery(first),
        token_id=Subquery(token.values("token_id")[:1]),
        undeliverable=Exists(UndeliverableAddress.objects.filter(address__iexact=OuterRef("to_address"))),
    )


# What `lock_rows()` reads of the related rows; the other fields stay deferred (loaded on use).
_TICKET_FIELDS = ("id", "reference", "title", "customer_id", "category", "status", "priority")
_MESSAGE_FIELDS = ("id", "created_at", "sender_id")
_RECIPIENT_FIELDS = ("id", "email", "name", "is_staff", "is_active")


def lock_rows(ids: Sequence[Any], *, skip_locked: bool, tried: int | None = None) -> list[OutboundEmail]:
    """The queued rows among `ids`, locked, as `outbound_rows()` gives them (one query); with
    `tried`, only those tried exactly that often (a row tried more has its next try on the way).

    On PostgreSQL the statement is written out: Django compiles `outbound_rows()` (three
    subqueries, four joins) in about 2 ms of CPU, as long as the mail takes to build and send,
    and builds five whole model instances per row where sending reads a few fields of each.
    """
    if connection.vendor != "postgresql":
        rows = outbound_rows().select_for_update(of=("self",), skip_locked=skip_locked)
        rows = rows.filter(pk__in=list(ids), status=OutboundStatus.QUEUED)
        return list(rows if tried is None else rows.filter(attempts=tried))
    params: list[Any] = [[str(i) for i in ids], OutboundStatus.QUEUED.value]
    return _fetch_rows(_lock_sql(skip_locked, tried is not None), params if tried is None else [*params, tried])


def can_claim_backlog() -> bool:
    """Only where a claim can skip the rows another worker holds (PostgreSQL): elsewhere two
    workers could read the same queued row and both send it."""
    return connection.vendor == "postgresql"


def outbox_runs_on() -> bool:
    """Whether mail goes out in runs of the outbox (OUTBOUND_COALESCE, where a run can claim)."""
    return bool(settings.OUTBOUND_COALESCE) and can_claim_backlog()


class RowState(NamedTuple):
    status: str
    attempts: int  # how often it was tried
    worker_deaths: int


def find_state(outbound_id: Any) -> RowState | None:
    """The row's state, read without a lock or a transaction (one query); None when it is gone."""
    with connection.cursor() as cursor:
        cursor.execute(_state_sql(), [OutboundEmail._meta.pk.get_db_prep_value(outbound_id, connection)])
        found = cursor.fetchone()
    return None if found is None else RowState(str(found[0]), int(found[1]), int(found[2]))


def claim_rows(outbound_id: Any, *, tried: int, backlog: int) -> list[OutboundEmail]:
    """This queued row, if it was tried exactly `tried` times, and up to `backlog` others never
    tried, locked, as `lock_rows()` gives them.

    One query. The row comes first; the others are the oldest queued rows with no attempt yet
    (a row tried before has its retry on the way, with its backoff). Rows another transaction
    holds are skipped, this one included: then nothing is claimed, since that worker is sending
    it. Without `can_claim_backlog()`, the row alone, waiting for its lock as `lock_rows()` does.
    """
    if backlog <= 0 or not can_claim_backlog():
        return lock_rows([outbound_id], skip_locked=can_claim_backlog(), tried=tried)
    queued = OutboundStatus.QUEUED.value
    rows = _fetch_rows(_claim_sql(), [str(outbound_id), queued, tried, queued, str(outbound_id), backlog])
    rows.sort(key=lambda row: (str(row.pk) != str(outbound_id), row.created_at))
    return rows


def _fetch_rows(sql: str, params: list[Any]) -> list[OutboundEmail]:
    found = _fetch_all(sql, params)
    # The connection itself: each attribute read through `django.db.connection` (a per-context
    # proxy) costs a lookup, five per row.
    database = connections[connection.alias]
    return [_row_from(values, database) for values in found]


def _tables() -> dict[Any, str]:
    models = (OutboundEmail, Ticket, Message, User, ReplyToken, UndeliverableAddress)
    return {m: connection.ops.quote_name(m._meta.db_table) for m in models}


def _select_rows(source: str) -> str:
    """The rows of `source` (named `o`) with their ticket, message, sender, recipient, reply token,
    undeliverable flag and the ticket's first Message-ID, in the order `_row_from()` reads. The
    message is read by its key (LIMIT keeps the planner from hashing the whole message table,
    which it chose while that was small: 2 ms of a batch of 100). The reply token is joined (one
    per ticket and person): as a subquery per row, a small token table was scanned once per row
    (1 ms of a batch of 100)."""
    table = _tables()
    columns = ", ".join(
        [f"o.{f.column}" for f in OutboundEmail._meta.concrete_fields]
        + [f"t.{c}" for c in _TICKET_FIELDS]
        + [f"m.{c}" for c in _MESSAGE_FIELDS]
        + ["m.name"]
        + [f"u.{c}" for c in _RECIPIENT_FIELDS]
    )
    return f"""
        SELECT {columns},
            (SELECT f.email_message_id FROM {table[Message]} f WHERE f.ticket_id = o.ticket_id
             AND NOT f.is_internal AND f.email_message_id <> '' ORDER BY f.created_at, f.id LIMIT 1),
            r.token_id,
            EXISTS (SELECT 1 FROM {table[UndeliverableAddress]} d WHERE UPPER(d.address) = UPPER(o.to_address))
        FROM {source} o
        JOIN {table[Ticket]} t ON t.id = o.ticket_id
        LEFT JOIN LATERAL (
            SELECT {", ".join(f"m.{c}" for c in _MESSAGE_FIELDS)}, s.name FROM {table[Message]} m
            JOIN {table[User]} s ON s.id = m.sender_id WHERE m.id = o.message_id LIMIT 1
        ) m ON true
        LEFT JOIN {table[User]} u ON u.id = o.recipient_id
        LEFT JOIN {table[ReplyToken]} r ON r.ticket_id = o.ticket_id AND r.person_id = o.recipient_id
    """


@functools.cache
def _lock_sql(skip_locked: bool, by_tries: bool) -> str:
    return (
        _select_rows(_tables()[OutboundEmail])
        + "WHERE o.id = ANY(%s::uuid[]) AND o.status = %s"
        + (" AND o.attempts = %s" if by_tries else "")
        + f" FOR UPDATE OF o{' SKIP LOCKED' if skip_locked else ''}"
    )


@functools.cache
def _claim_sql() -> str:
    """The locks are taken in the CTEs, which return each row as its lock found it (re-checked
    `queued` under the lock: a row another worker sent meanwhile drops out); the backlog is
    claimed only when the task's own row was."""
    outbound = _tables()[OutboundEmail]
    return f"""
        WITH own AS (
            SELECT * FROM {outbound} WHERE id = %s AND status = %s AND attempts = %s FOR UPDATE SKIP LOCKED
        ), backlog AS (
            SELECT * FROM {outbound} WHERE {_UNTRIED} AND id <> %s
            AND EXISTS (SELECT 1 FROM own) ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED
        ), claimed AS (SELECT * FROM own UNION ALL SELECT * FROM backlog)
    """ + _select_rows("claimed")


def claim_untried(limit: int) -> list[OutboundEmail]:
    """Up to `limit` queued rows never tried, oldest first, locked, as `lock_rows()` gives them
    (one query, PostgreSQL only): what a run of the outbox sends. Rows another transaction holds
    are skipped; so are rows tried before, whose retry is on its way with its backoff."""
    queued = OutboundStatus.QUEUED.value
    rows = _fetch_rows(_untried_sql(), [queued, limit])
    rows.sort(key=lambda row: row.created_at)
    return rows


def untried() -> Any:
    """The queued rows never tried that a batch may take: a row tried before has its retry on the
    way, and one a worker died holding goes alone (`worker_deaths`). `_UNTRIED` says it in SQL."""
    return OutboundEmail.objects.filter(status=OutboundStatus.QUEUED, attempts=0, worker_deaths=0)


# `untried()` for the written-out claims (the status is the parameter): a backlog and a run of the
# outbox take the same rows.
_UNTRIED = "status = %s AND attempts = 0 AND worker_deaths = 0"


def untried_ids(limit: int) -> list[str]:
    """The ids of up to `limit` queued rows never tried, oldest first (no lock)."""
    return [str(pk) for pk in untried().order_by("created_at").values_list("pk", flat=True)[:limit]]


@functools.cache
def _untried_sql() -> str:
    outbound = _tables()[OutboundEmail]
    return f"""
        WITH claimed AS (
            SELECT * FROM {outbound} WHERE {_UNTRIED} ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED
        )
    """ + _select_rows("claimed")


@functools.cache
def _state_sql() -> str:
    return f"SELECT status, attempts, worker_deaths FROM {_tables()[OutboundEmail]} WHERE id = %s"


@functools.cache
def _outbound_layout() -> tuple[tuple[str, ...], tuple[tuple[int, Any], ...]]:
    """The row's column names, and the fields whose database value needs converting (JSON)."""
    fields = OutboundEmail._meta.concrete_fields
    return tuple(f.attname for f in fields), tuple((i, f) for i, f in enumerate(fields) if hasattr(f, "from_db_value"))


def _row_from(values: Sequence[Any], database: Any) -> OutboundEmail:
    names, converters = _outbound_layout()
    n = len(names)
    own = list(values[:n])
    for i, field in converters:
        own[i] = field.from_db_value(own[i], None, database)
    alias = database.alias
    row = _loaded(OutboundEmail, names, own, alias)
    ticket_end = n + len(_TICKET_FIELDS)
    message_end = ticket_end + len(_MESSAGE_FIELDS)
    recipient_end = message_end + 1 + len(_RECIPIENT_FIELDS)
    # The related rows go where the foreign keys' descriptors keep what they loaded.
    related = row._state.fields_cache
    related["ticket"] = _loaded(Ticket, _TICKET_FIELDS, values[n:ticket_end], alias)
    related["message"] = related["recipient"] = None
    if values[ticket_end] is not None:
        message = _loaded(Message, _MESSAGE_FIELDS, values[ticket_end:message_end], alias)
        sender = _loaded(User, ("id", "name"), (message.sender_id, values[message_end]), alias)
        message._state.fields_cache["sender"] = sender
        related["message"] = message
    if values[message_end + 1] is not None:
        related["recipient"] = _loaded(User, _RECIPIENT_FIELDS, values[message_end + 1 : recipient_end], alias)
    row.first_message_id, row.token_id, row.undeliverable = values[recipient_end:]
    return row


def _loaded(model: Any, names: Sequence[str], values: Sequence[Any], alias: str) -> Any:
    """An instance with these fields loaded and the others deferred, as `Model.from_db()` makes it
    for `.only()`: the same instance dict and state, without `__init__` walking every field of the
    model (a third of the CPU of reading a batch). None of these models has init signal receivers
    (`test_outbound_batch` checks), which `__init__` would have sent."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = instance._state = ModelState()
    state.adding, state.db = False, alias
    return instance
