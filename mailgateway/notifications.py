"""Who hears of what: receivers of the domain events (`support.events`) that queue mail.

The events arrive inside the transaction of the change (`support.events.recorded`): the outbox.
Each receiver decides the people (pure functions over plain data, `plan_*`), then
`queue_notices()` writes an in-app `Notification` per person and an `OutboundEmail` per mail in
that same transaction, and on commit starts a run of the outbox (`mailgateway.send_outbox`, with
OUTBOUND_COALESCE) or `mailgateway.send_outbound` for them (`_enqueue`). So a mail is
queued exactly when its change commits, and never for a change that was rolled back. The doors
never send mail; nothing here writes tickets.

| event | who |
| --- | --- |
| ticket opened | the customer (acknowledgement), and the staff list (new ticket) |
| public staff reply | the customer and the ticket's participants, each with their own mail |
| customer's or participant's reply | the assigned agent, or the staff list when unassigned |
| internal note | the assigned agent and agents mentioned (`@sita` or `@sita@example.com`); never a customer |
| status changed to resolved | the customer |
| assigned | the new agent (not when they took it themselves) |
| escalated | the supervisors (`SUPERVISOR_ADDRESSES`, else superusers) |

Nobody is mailed about their own action, except the acknowledgement of one's own new ticket.
Per-person preferences switch mail events off (in-app notifications stay on); undeliverable
addresses and acknowledgements beyond `OUTBOUND_ACK_PER_HOUR` are recorded as `skipped`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from support import events
from support.models import (
    Channel,
    Message,
    Notification,
    NotificationEvent,
    NotificationPreference,
    Status,
    Ticket,
    User,
)

from .models import OutboundEmail, OutboundStatus, UndeliverableAddress
from .outbound import CARRIES_MESSAGE, carried_message_id, is_own_message_id, new_message_id
from .outbound_reads import outbox_runs_on

logger = logging.getLogger("mailgateway.notifications")

# `@sita` or `@sita@sewabazaar.test` in an internal note: that agent is told of it.
_MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")


@dataclass(frozen=True)
class Notice:
    """One person to tell about one thing: a mail from `template`, and an in-app notification."""

    person: User
    template: str
    in_app: bool = True
    context: dict[str, Any] = field(default_factory=dict)


# -- deciding (pure) ---------------------------------------------------------------------------


def extract_mentions(text: str) -> set[str]:
    """`@sita` and `@sita@example.com` in a note, lower-cased."""
    return {m.lower().rstrip(".") for m in _MENTION.findall(text or "")}


def mentioned_staff(text: str, staff: Iterable[User]) -> list[User]:
    wanted = extract_mentions(text)
    if not wanted:
        return []
    return [s for s in staff if s.email.lower() in wanted or s.email.lower().split("@")[0] in wanted]


def without(people: Iterable[User | None], *excluded: User | None) -> list[User]:
    """Each active person once, in order, leaving out the excluded (the actor)."""
    skip = {p.pk for p in excluded if p is not None}
    found: dict[Any, User] = {}
    for person in people:
        if person is not None and person.is_active and person.pk not in skip and person.pk not in found:
            found[person.pk] = person
    return list(found.values())


def plan_message(
    *,
    ticket: Ticket,
    message: Message,
    participants: Sequence[User],
    staff_list: Sequence[User],
    mentioned: Sequence[User],
) -> list[Notice]:
    author = message.sender
    if message.is_internal:
        return [Notice(p, "internal_note") for p in without([ticket.assigned_agent, *mentioned], author) if p.is_staff]
    if message.is_from_customer:
        staff = [ticket.assigned_agent] if ticket.assigned_agent is not None else list(staff_list)
        return [Notice(p, "customer_reply") for p in without(staff, author) if p.is_staff]
    return [Notice(p, "agent_reply") for p in without([ticket.customer, *participants], author) if not p.is_staff]


def plan_opened(*, ticket: Ticket, actor: User, staff_list: Sequence[User]) -> list[Notice]:
    ack = [Notice(ticket.customer, "ticket_opened", in_app=False)] if ticket.customer.is_active else []
    return ack + [Notice(p, "new_ticket") for p in without(staff_list, actor, ticket.customer) if p.is_staff]


# -- reading the people ------------------------------------------------------------------------


def staff_list() -> list[User]:
    people = User.objects.filter(is_staff=True, is_active=True)
    if settings.STAFF_NOTIFY_ADDRESSES:
        people = people.filter(_any_address(settings.STAFF_NOTIFY_ADDRESSES))
    return list(people.order_by("email"))


def supervisors() -> list[User]:
    people = User.objects.filter(is_staff=True, is_active=True)
    if settings.SUPERVISOR_ADDRESSES:
        return list(people.filter(_any_address(settings.SUPERVISOR_ADDRESSES)).order_by("email"))
    return list(people.filter(is_superuser=True).order_by("email"))


def _any_address(addresses: Iterable[str]) -> Q:
    query = Q(pk__in=[])
    for address in addresses:
        query |= Q(email__iexact=address)
    return query


def ensure_message_id(message: Message) -> str:
    """The message's Message-ID, generated and stored when it has none (written on the web)."""
    if not message.email_message_id:
        candidate = new_message_id()
        Message.objects.filter(pk=message.pk, email_message_id="").update(email_message_id=candidate)
        message.email_message_id = Message.objects.values_list("email_message_id", flat=True).get(pk=message.pk)
    return message.email_message_id


# -- writing the notices -----------------------------------------------------------------------


def _summary(notice: Notice, ticket: Ticket, message: Message | None) -> str:
    who = ""
    if message is not None:
        who = message.sender.name or ("Support" if message.sender.is_staff else message.sender.email)
    words = {
        "new_ticket": f"New ticket from {who}",
        "agent_reply": f"{who} replied",
        "customer_reply": f"{who} replied",
        "internal_note": f"Internal note by {who}",
        "ticket_resolved": "The ticket was resolved",
        "ticket_assigned": "The ticket was assigned to you",
        "ticket_escalated": "The ticket was escalated",
    }
    return f"{ticket.reference}: {words.get(notice.template, notice.template)}"[:255]


@dataclass(frozen=True)
class _Facts:
    """What decides whether one person's mail is sent: read for all of a call's people at once."""

    muted: frozenset[str]  # templates they switched off by mail
    undeliverable: bool
    acks_this_hour: int


def _facts(notices: Sequence[Notice]) -> dict[Any, _Facts]:
    """Per person: muted events, a bounced address, acknowledgements of the hour; one query.

    Written as SQL once per shape: built by Django's compiler (three subqueries) it took about
    2 ms of CPU per mailed ticket, against a fraction of that to run. Addresses compare as
    `__iexact` does on PostgreSQL (UPPER on both sides)."""
    templates = sorted({n.template for n in notices})
    people = {_db_id(n.person.pk) for n in notices}
    acks = "ticket_opened" in templates
    since = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(hours=1))
    params: list[Any] = ["ticket_opened", since, OutboundStatus.SKIPPED.value] if acks else []
    with connection.cursor() as cursor:
        cursor.execute(_facts_sql(len(people), len(templates), acks), [*params, *templates, *people])
        rows = cursor.fetchall()
    return {
        person: _Facts(
            muted=frozenset(t for t, off in zip(templates, muted, strict=True) if off),
            undeliverable=bool(undeliverable),
            acks_this_hour=int(count),
        )
        for person, undeliverable, count, *muted in rows
    }


def _db_id(pk: Any) -> Any:
    """A person's id as the database returns it (a UUID on PostgreSQL, hex text on SQLite)."""
    return User._meta.pk.get_db_prep_value(pk, connection)


@functools.cache
def _facts_sql(people: int, templates: int, acks: bool) -> str:
    table = {m: connection.ops.quote_name(m._meta.db_table) for m in (User, UndeliverableAddress, OutboundEmail)}
    prefs = connection.ops.quote_name(NotificationPreference._meta.db_table)
    count = (
        f'(SELECT COUNT(*) FROM {table[OutboundEmail]} o WHERE UPPER(o."to_address") = UPPER(u."email") '
        f'AND o."template" = %s AND o."created_at" >= %s AND o."status" <> %s)'
        if acks
        else "0"
    )
    muted = "".join(
        f', EXISTS (SELECT 1 FROM {prefs} p WHERE p."person_id" = u."id" AND p."event" = %s AND NOT p."email")'
        for _ in range(templates)
    )
    return (
        f'SELECT u."id", EXISTS (SELECT 1 FROM {table[UndeliverableAddress]} d '
        f'WHERE UPPER(d."address") = UPPER(u."email")), {count}{muted} '
        f'FROM {table[User]} u WHERE u."id" IN ({", ".join(["%s"] * people)})'
    )


def queue_notices(
    *, ticket: Ticket, message: Message | None, notices: Sequence[Notice], in_reply_to: str = ""
) -> list[OutboundEmail]:
    """In-app notifications and queued mails for these notices; sending starts on commit."""
    if not notices:
        return []
    # No savepoint of its own: the receivers' guard holds one, and a failure here must undo it all.
    with transaction.atomic(savepoint=False):
        Notification.objects.bulk_create(
            [
                Notification(
                    recipient=n.person,
                    ticket=ticket,
                    message=message,
                    event=n.template,
                    summary=_summary(n, ticket, message),
                )
                for n in notices
                if n.in_app and n.template in NotificationEvent.values
            ]
        )
        facts = _facts(notices)
        rows = [
            _row(n, ticket, message, facts[_db_id(n.person.pk)], in_reply_to)
            for n in notices
            if n.template not in facts[_db_id(n.person.pk)].muted
        ]
        OutboundEmail.objects.bulk_create(rows)
        queued = [str(row.pk) for row in rows if row.status == OutboundStatus.QUEUED]
        if queued:

            def enqueue_after_commit() -> None:
                # A named function: Django logs a robust callback's failure by its __qualname__,
                # which a functools.partial lacks (the logging itself raised, and the request
                # that had committed answered 500 while Redis was down).
                _enqueue(queued)

            transaction.on_commit(enqueue_after_commit, robust=True)
    return rows


def _row(notice: Notice, ticket: Ticket, message: Message | None, facts: _Facts, in_reply_to: str) -> OutboundEmail:
    address = notice.person.email
    status, error = OutboundStatus.QUEUED, ""
    ack_limit = settings.OUTBOUND_ACK_PER_HOUR
    if facts.undeliverable:
        status, error = OutboundStatus.SKIPPED, "The address is marked undeliverable."
    elif notice.template == "ticket_opened" and 0 <= ack_limit <= facts.acks_this_hour:
        status = OutboundStatus.SKIPPED
        error = f"More than {settings.OUTBOUND_ACK_PER_HOUR} acknowledgements to this address within an hour."
    carries = message is not None and (
        notice.template in CARRIES_MESSAGE
        # A ticket opened on the web or by the API: its first message was never a mail, so the
        # acknowledgement stands for it, under its id, in the customer's mailbox; every later mail
        # names that id, and the customer's client threads them under a mail it holds.
        or (notice.template == "ticket_opened" and message.channel != Channel.EMAIL)
    )
    context = dict(notice.context)
    if in_reply_to:
        context["in_reply_to"] = in_reply_to
    return OutboundEmail(
        ticket=ticket,
        message=message,
        recipient=notice.person,
        to_address=address,
        template=notice.template,
        message_id_header=_message_id(notice, message if carries else None),
        context=context,
        status=status,
        error=error,
    )


def _message_id(notice: Notice, carried: Message | None) -> str:
    """A message written here lends its id (ours) to every mail carrying it; one that came by mail
    is carried to each recipient under an id of their own (`carried_message_id()`); any other mail
    gets a new one."""
    if carried is None:
        return new_message_id()
    if is_own_message_id(carried.email_message_id):
        return carried.email_message_id
    return carried_message_id(carried.email_message_id, str(carried.sender_id), str(notice.person.pk))


def _enqueue(outbound_ids: list[str]) -> None:
    """With OUTBOUND_COALESCE, a run of the outbox takes them (one task for a burst of events);
    else one event's mails go out together (one transaction, one connection), a single one alone."""
    from .tasks import request_outbox_run, send_outbound, send_outbound_batch

    if outbox_runs_on() and request_outbox_run():
        return
    if len(outbound_ids) == 1:
        send_outbound.delay(outbound_ids[0], 1)  # its first try
    else:
        send_outbound_batch.delay(outbound_ids)


# -- the receivers -----------------------------------------------------------------------------


def _guarded(handler: Any) -> Any:
    """A failure to notify is logged and does not undo or fail the change: its rows roll back to a
    savepoint, and the change's transaction goes on."""

    @functools.wraps(handler)
    def run(sender: Any, **kwargs: Any) -> None:
        try:
            with transaction.atomic():
                handler(**kwargs)
        except Exception:
            logger.exception("notifying about %s failed", handler.__name__)

    return run


@_guarded
def on_ticket_opened(*, ticket: Ticket, message: Message, actor: User, **kwargs: Any) -> None:
    ensure_message_id(message)
    notices = plan_opened(ticket=ticket, actor=actor, staff_list=staff_list())
    if message.routed_by == "form":
        # The address came from a web form, as typed: its acknowledgement does not quote what was
        # written, or the form would mail anyone's words to anyone from our address.
        notices = [
            replace(n, context={**n.context, "quote": False}) if n.template == "ticket_opened" else n for n in notices
        ]
    queue_notices(ticket=ticket, message=message, notices=notices)


@_guarded
def on_message_added(*, ticket: Ticket, message: Message, actor: User, **kwargs: Any) -> None:
    ensure_message_id(message)
    ticket = _with_people(ticket)
    participants: list[User] = []
    staff: list[User] = []
    mentioned: list[User] = []
    if message.is_internal:
        mentioned = mentioned_staff(message.message_text, User.objects.filter(is_staff=True, is_active=True))
    elif message.is_from_customer:
        staff = staff_list() if ticket.assigned_agent is None else []
    else:
        participants = [p.person for p in ticket.participants.select_related("person")]
    notices = plan_message(
        ticket=ticket, message=message, participants=participants, staff_list=staff, mentioned=mentioned
    )
    queue_notices(ticket=ticket, message=message, notices=notices)


def _with_people(ticket: Ticket) -> Ticket:
    """The caller's ticket (read under its lock in this transaction), with a customer or agent it
    holds from before that read forgotten when the read changed their id: loaded again if used."""
    for name in ("customer", "assigned_agent"):
        field = Ticket._meta.get_field(name)
        if field.is_cached(ticket):  # type: ignore[union-attr]
            person = getattr(ticket, name)
            if (person.pk if person is not None else None) != getattr(ticket, field.attname):  # type: ignore[union-attr]
                field.delete_cached_value(ticket)  # type: ignore[union-attr]
    return ticket


@_guarded
def on_ticket_changed(*, ticket: Ticket, actor: User, events: Sequence[Any] = (), **kwargs: Any) -> None:
    resolved = any(e.kind == "status" and e.to_value == Status.RESOLVED for e in events)
    if not resolved:
        return
    ticket = Ticket.objects.select_related("customer").get(pk=ticket.pk)
    notices = [Notice(p, "ticket_resolved") for p in without([ticket.customer], actor)]
    queue_notices(ticket=ticket, message=None, notices=notices)


@_guarded
def on_ticket_assigned(*, ticket: Ticket, actor: User, agent: User | None = None, **kwargs: Any) -> None:
    if agent is None:
        return
    notices = [
        Notice(p, "ticket_assigned", context={"by": actor.name or "A colleague"}) for p in without([agent], actor)
    ]
    queue_notices(ticket=ticket, message=None, notices=notices)


@_guarded
def on_ticket_escalated(*, ticket: Ticket, actor: User, reason: str = "", **kwargs: Any) -> None:
    context = {"reason": reason, "by": actor.name or actor.email}
    notices = [Notice(p, "ticket_escalated", context=context) for p in without(supervisors(), actor)]
    queue_notices(ticket=ticket, message=None, notices=notices)


def connect() -> None:
    """Called from `MailgatewayConfig.ready()`: each event, inside the transaction of its change."""
    for event, handler, name in (
        (events.ticket_opened, on_ticket_opened, "opened"),
        (events.message_added, on_message_added, "message"),
        (events.ticket_changed, on_ticket_changed, "changed"),
        (events.ticket_assigned, on_ticket_assigned, "assigned"),
        (events.ticket_escalated, on_ticket_escalated, "escalated"),
    ):
        events.recorded.connect(handler, sender=event, dispatch_uid=f"mailgateway.notify.{name}")
