"""The reads that processing makes for every mail, as SQL written once instead of built each time.

Django's compiler spends more CPU on these queries than the database spends answering them: about
0.9 ms to build the locking read and 1.1 ms for the sender with their flood count, against well
under 0.1 ms to run either on PostgreSQL. They run for every inbound mail, so they are written here
once per process, from the models' own table and column names, and run through `Model.objects.raw()`
(which still applies each field's conversions). The SQL is portable: PostgreSQL and SQLite.

Reads only, except that `lock_inbound()` takes the row lock of its transaction. The thread lookup
(`find_tickets_by_message_ids()`, about 0.8 ms to build with `select_related`) is here for the same
reason.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from support.models import Message, Ticket, User

from .models import InboundEmail, InboundStatus, OutboundEmail


def _columns(model: type[Model], alias: str, *, leave_out: tuple[str, ...] = ()) -> str:
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if f.attname not in leave_out]
    return ", ".join(f"{alias}.{quote(str(f.column))}" for f in fields)


def _uuid(model: type[Model], value: Any) -> Any:
    """A primary key as the database compares it (a UUID on PostgreSQL, hex text on SQLite)."""
    return model._meta.pk.get_db_prep_value(value, connection)


@cache
def _lock_sql(vendor: str, for_update: bool) -> str:
    table = connection.ops.quote_name(InboundEmail._meta.db_table)
    return (
        f"SELECT {_columns(InboundEmail, 'i', leave_out=('raw',))}, "
        f'CASE WHEN i."raw_size" <= %s THEN i."raw" END AS small_raw '
        f'FROM {table} i WHERE i."id" = %s' + (" FOR UPDATE" if for_update else "")
    )


def lock_inbound(inbound_id: Any, *, small_raw_bytes: int) -> InboundEmail | None:
    """The stored mail's row, locked for this transaction, without its raw bytes (deferred) but
    with `small_raw`: the bytes when the mail is at most `small_raw_bytes`, else None."""
    sql = _lock_sql(connection.vendor, connection.features.has_select_for_update)
    found = list(InboundEmail.objects.raw(sql, [small_raw_bytes, _uuid(InboundEmail, inbound_id)]))
    return found[0] if found else None


@cache
def _sender_sql(vendor: str) -> str:
    users = connection.ops.quote_name(User._meta.db_table)
    inbound = connection.ops.quote_name(InboundEmail._meta.db_table)
    # One row whether or not the sender has an account (the LEFT JOIN), so that an unknown
    # sender's mails are counted in the same round trip. LOWER(email): the index that
    # `User.objects.with_email()` uses.
    return (
        f"SELECT {_columns(User, 'u')}, ("
        f'SELECT COUNT(*) FROM {inbound} m WHERE m."from_address" = %s AND m."received_at" >= %s '
        f'AND m."id" <> %s AND m."status" <> %s) AS recent_mails '
        f'FROM (SELECT 1 AS one) AS one LEFT JOIN {users} u ON LOWER(u."email") = %s '
        f'ORDER BY u."id" LIMIT 1'
    )


def find_sender(inbound: InboundEmail, address: str) -> tuple[User | None, int]:
    """The account of `address` (None: none) and how many other mails from it were processed
    within the last hour (the flood rule)."""
    since = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(hours=1))
    params = [address, since, _uuid(InboundEmail, inbound.pk), InboundStatus.RECEIVED.value]
    row = next(iter(User.objects.raw(_sender_sql(connection.vendor), [*params, address.strip().lower()])))
    recent = int(row.recent_mails)  # type: ignore[attr-defined]
    return (row if row.pk is not None else None), recent


@cache
def _thread_sql(vendor: str, ids: int) -> str:
    tickets = connection.ops.quote_name(Ticket._meta.db_table)
    messages = connection.ops.quote_name(Message._meta.db_table)
    sent = connection.ops.quote_name(OutboundEmail._meta.db_table)
    wanted = ", ".join(["%s"] * ids)
    return (
        f'SELECT {_columns(Ticket, "t")}, m."email_message_id" AS matched_id FROM {messages} m '
        f'JOIN {tickets} t ON t."id" = m."ticket_id" WHERE m."email_message_id" IN ({wanted}) '
        f'UNION ALL SELECT {_columns(Ticket, "t")}, o."message_id_header" AS matched_id FROM {sent} o '
        f'JOIN {tickets} t ON t."id" = o."ticket_id" WHERE o."message_id_header" IN ({wanted})'
    )


def find_tickets_by_message_ids(ids: list[str]) -> dict[str, Ticket]:
    """The tickets of the messages, and of the mails we sent, with these Message-IDs, by
    Message-ID (the ticket's people are loaded when used: routing needs only their ids). A mail
    carrying a message that came by mail has an id of its own, kept only on its outbound row."""
    found = Ticket.objects.raw(_thread_sql(connection.vendor, len(ids)), [*ids, *ids])
    return {ticket.matched_id: ticket for ticket in found}  # type: ignore[attr-defined]
