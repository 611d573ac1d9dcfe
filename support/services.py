"""The only writers of tickets, messages, attachments and ticket events.

Every door (REST API, web pages, console, mail gateway) calls these functions, so the rules of
spec section 3 are enforced once: who may do what, internal notes, text limits, timestamps,
unread flags and the audit log. Each function runs in one transaction, locks the ticket row
it changes, and announces what happened after commit (`support.events`). Their checks are in
`support.rules`, the files of messages in `support.message_files`, and the ticket's list
columns in `support.summaries`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import events
from .errors import InvalidInput, NotAllowed
from .message_files import find_chosen_uploads, link_attachments
from .models import (
    PRIORITY_RANK,
    Attachment,
    CannedReply,
    Category,
    Channel,
    EventKind,
    Message,
    Priority,
    Source,
    Status,
    Ticket,
    TicketEvent,
    TicketParticipant,
    User,
)
from .references import next_ticket_reference
from .rules import (
    clean_choice,
    clean_message_text,
    clean_tags,
    clean_title,
    public_staff_text,
    require_conversation,
    require_staff,
    require_view,
)
from .summaries import count_message

UNSET: Any = object()


def _locked(ticket: Ticket) -> Ticket:
    """The ticket's row, locked for this transaction, so concurrent changes do not overwrite."""
    fresh = Ticket.objects.select_for_update().get(pk=ticket.pk)
    ticket.__dict__.update({f.attname: getattr(fresh, f.attname) for f in Ticket._meta.concrete_fields})
    return ticket


def _record(
    ticket: Ticket, actor: User | None, kind: str, old: Any, new: Any, channel: str, note: str = ""
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket, actor=actor, kind=kind, from_value=old, to_value=new, note=note, channel=channel
    )


def _apply_status(ticket: Ticket, new_status: str, now: Any) -> None:
    ticket.status = new_status
    if new_status == Status.RESOLVED:
        ticket.resolved_at = now
        ticket.closed_at = None
    elif new_status == Status.CLOSED:
        ticket.closed_at = now
    else:  # reopened: the previous resolution no longer stands
        ticket.resolved_at = None
        ticket.closed_at = None


# -- opening and replying ------------------------------------------------------------------


def open_ticket(
    *,
    customer: User,
    title: str,
    message_text: str,
    category: str = Category.GENERAL,
    priority: str = Priority.MEDIUM,
    source: str = Source.WEB,
    channel: str = Channel.WEB,
    opened_by: User | None = None,
    html: str = "",
    email_message_id: str = "",
    attachments: Sequence[Attachment] = (),
    follow_up_of: Ticket | None = None,
    routed_by: str = "",
) -> Ticket:
    """A new ticket with its first message, written by the customer (or by staff for them)."""
    author = opened_by or customer
    if author.pk != customer.pk:
        require_staff(author, "open a ticket for someone else")
    title = clean_title(title)
    text = clean_message_text(message_text, channel=channel)
    if author.is_staff:
        text = public_staff_text(text, author)
    category = clean_choice(category, Category, "category")
    priority = clean_choice(priority, Priority, "priority")
    source = clean_choice(source, Source, "source")
    now = timezone.now()
    # No savepoint: nothing in here raises but the database, and then the caller's transaction
    # (or its own savepoint, as the mail gateway's) must roll back anyway.
    with transaction.atomic(savepoint=False):
        ticket = Ticket(
            reference=next_ticket_reference(),
            title=title,
            customer=customer,
            category=category,
            priority=priority,
            source=source,
            follow_up_of=follow_up_of,
            created_at=now,
            updated_at=now,
        )
        message = _new_message(
            ticket=ticket,
            author=author,
            text=text,
            html=html,
            channel=channel,
            is_internal=False,
            email_message_id=email_message_id,
            routed_by=routed_by,
            now=now,
        )
        count_message(ticket, message)  # before the INSERT, so the new ticket is written once
        ticket.save(force_insert=True)
        message.save(force_insert=True)
        link_attachments(message, attachments)
        _record(ticket, author, EventKind.CREATED, None, Status.OPEN, channel)
        events.announce(events.ticket_opened, ticket=ticket, message=message, actor=author, channel=channel)
    return ticket


def add_message(
    *,
    ticket: Ticket,
    author: User,
    message_text: str,
    channel: str,
    is_internal: bool = False,
    html: str = "",
    attachment_ids: Sequence[Any] = (),
    attachments: Sequence[Attachment] = (),
    email_message_id: str = "",
    routed_by: str = "",
) -> Message:
    """A reply or an internal note, with the ticket's status and timestamps kept right.

    A customer's reply reopens a resolved ticket; a closed ticket takes no customer message
    (mail replies to it open a follow-up ticket instead, in the gateway). The first public
    staff reply stamps `first_response_at` and moves an open ticket to in progress.
    Participants (people in Cc) may reply too.
    """
    require_conversation(author, ticket)
    if is_internal:
        require_staff(author, "write internal notes")
    text = clean_message_text(message_text, channel=channel)
    if author.is_staff and not is_internal:
        text = public_staff_text(text, author)
    with transaction.atomic():
        ticket = _locked(ticket)
        # Stamped under the ticket's lock, so that the messages' order is the order in which
        # `count_message()` counts them (the latest snippet, who wrote last).
        now = timezone.now()
        if ticket.status == Status.CLOSED and not author.is_staff:
            raise InvalidInput(
                "This ticket is closed; open a new ticket to follow up.",
                {"ticket": ["A closed ticket takes no new messages."]},
            )
        chosen = list(attachments) + find_chosen_uploads(ticket, author, attachment_ids)
        message = _new_message(
            ticket=ticket,
            author=author,
            text=text,
            html=html,
            channel=channel,
            is_internal=is_internal,
            email_message_id=email_message_id,
            routed_by=routed_by,
            now=now,
        )
        message.save(force_insert=True)
        link_attachments(message, chosen)
        _after_message(ticket, message, author, channel, now)
        events.announce(events.message_added, ticket=ticket, message=message, actor=author, channel=channel)
    return message


def _new_message(
    *,
    ticket: Ticket,
    author: User,
    text: str,
    html: str,
    channel: str,
    is_internal: bool,
    email_message_id: str,
    now: Any,
    routed_by: str = "",
) -> Message:
    """The message, not yet saved."""
    from_customer = not is_internal and (author.pk == ticket.customer_id or not author.is_staff)
    return Message(
        ticket=ticket,
        sender=author,
        message_text=text,
        html=html,
        is_from_customer=from_customer,
        is_internal=is_internal,
        # The writer's side has read its own message; a note is never for the customer.
        read_by_customer=from_customer or is_internal,
        read_by_staff=not from_customer,
        channel=channel,
        email_message_id=email_message_id,
        routed_by=routed_by,
        created_at=now,
    )


def _after_message(ticket: Ticket, message: Message, author: User, channel: str, now: Any) -> None:
    changed = count_message(ticket, message)
    if message.is_internal:
        # A note does not move `updated_at`: the customer sees that field, and a note must
        # leave no trace on their side.
        ticket.save(update_fields=changed)
        return
    changed.append("updated_at")
    ticket.updated_at = now
    if message.is_from_customer:
        if ticket.status == Status.RESOLVED:
            _record(ticket, author, EventKind.STATUS, ticket.status, Status.OPEN, channel, note="reopened by reply")
            _apply_status(ticket, Status.OPEN, now)
            changed += ["status", "resolved_at", "closed_at"]
    else:
        if ticket.first_response_at is None:
            ticket.first_response_at = now
            changed.append("first_response_at")
        if ticket.status == Status.OPEN:
            _record(ticket, author, EventKind.STATUS, ticket.status, Status.IN_PROGRESS, channel)
            ticket.status = Status.IN_PROGRESS
            changed.append("status")
    ticket.save(update_fields=changed)


# -- participants --------------------------------------------------------------------------


def add_participants(*, ticket: Ticket, people: Iterable[User], actor: User, channel: str) -> list[User]:
    """Add people to the conversation (the customer's Cc); returns those who were new."""
    require_conversation(actor, ticket)
    wanted = {p.pk: p for p in people if p.is_active and p.pk != ticket.customer_id and not p.is_staff}
    if not wanted:
        return []
    with transaction.atomic():
        present = TicketParticipant.objects.filter(ticket=ticket, person_id__in=wanted)
        known = set(present.values_list("person_id", flat=True))
        added = [p for pk, p in wanted.items() if pk not in known]
        TicketParticipant.objects.bulk_create(
            [TicketParticipant(ticket=ticket, person=p, added_by=actor) for p in added], ignore_conflicts=True
        )
        if added:
            _record(ticket, actor, EventKind.PARTICIPANTS, None, sorted(p.email for p in added), channel, note="added")
    return added


def remove_participant(*, ticket: Ticket, person: User, actor: User, channel: str) -> bool:
    """Staff take someone out of the conversation: no more replies by mail, no more posting."""
    require_staff(actor, "remove participants")
    with transaction.atomic():
        deleted, _ = TicketParticipant.objects.filter(ticket=ticket, person=person).delete()
        if deleted:
            _record(ticket, actor, EventKind.PARTICIPANTS, [person.email], None, channel, note="removed")
    return bool(deleted)


# -- changing a ticket ---------------------------------------------------------------------


def change_ticket(
    *,
    ticket: Ticket,
    actor: User,
    channel: str,
    status: Any = UNSET,
    priority: Any = UNSET,
    category: Any = UNSET,
    tags: Any = UNSET,
    assigned_agent: Any = UNSET,
) -> list[TicketEvent]:
    """Change any of a ticket's fields; a customer may only close their own ticket."""
    require_view(actor, ticket)
    wanted: dict[str, Any] = {}
    if status is not UNSET:
        wanted["status"] = clean_choice(status, Status, "status")
    if priority is not UNSET:
        wanted["priority"] = clean_choice(priority, Priority, "priority")
    if category is not UNSET:
        wanted["category"] = clean_choice(category, Category, "category")
    if tags is not UNSET:
        wanted["tags"] = clean_tags(tags)
    with transaction.atomic():
        ticket = _locked(ticket)
        changes = {k: v for k, v in wanted.items() if getattr(ticket, k) != v}
        agent_changes = assigned_agent is not UNSET and _agent_id(assigned_agent) != ticket.assigned_agent_id
        if not actor.is_staff and _customer_may_not(changes, agent_changes=agent_changes):
            raise NotAllowed("Customers may only close their own ticket.")
        now = timezone.now()
        recorded: list[TicketEvent] = []
        for field, new in changes.items():
            old = getattr(ticket, field)
            recorded.append(_record(ticket, actor, field, old, new, channel))
            if field == "status":
                _apply_status(ticket, new, now)
            else:
                setattr(ticket, field, new)
        if changes:
            ticket.updated_at = now
            ticket.save()
            events.announce(events.ticket_changed, ticket=ticket, actor=actor, channel=channel, events=recorded)
        if agent_changes:
            recorded += assign(ticket=ticket, actor=actor, agent=assigned_agent, channel=channel)
    return recorded


def _customer_may_not(changes: dict[str, Any], *, agent_changes: bool) -> bool:
    return agent_changes or bool(set(changes) - {"status"}) or changes.get("status", Status.CLOSED) != Status.CLOSED


def _agent_id(agent: User | None) -> Any:
    return agent.pk if agent is not None else None


def assign(*, ticket: Ticket, actor: User, agent: User | None, channel: str) -> list[TicketEvent]:
    """Give the ticket to a staff user (or to nobody)."""
    require_staff(actor, "assign tickets")
    if agent is not None and not (agent.is_staff and agent.is_active):
        raise InvalidInput(
            "Tickets can only be assigned to active staff.", {"agent_id": ["This user is not an active agent."]}
        )
    with transaction.atomic():
        ticket = _locked(ticket)
        previous_id = ticket.assigned_agent_id
        if previous_id == _agent_id(agent):
            return []
        event = _record(
            ticket,
            actor,
            EventKind.ASSIGNMENT,
            str(previous_id) if previous_id else None,
            str(agent.pk) if agent else None,
            channel,
        )
        ticket.assigned_agent = agent
        ticket.updated_at = timezone.now()
        ticket.save(update_fields=["assigned_agent", "updated_at"])
        events.announce(
            events.ticket_assigned, ticket=ticket, actor=actor, channel=channel, agent=agent, previous_id=previous_id
        )
    return [event]


def escalate(
    *, ticket: Ticket, actor: User, reason: str, channel: str, priority: str = Priority.URGENT
) -> list[TicketEvent]:
    """Flag the ticket for supervisors, with a reason, and raise its priority to `priority`: never
    lower it (a high ticket escalated "to low" stays high)."""
    require_staff(actor, "escalate tickets")
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise InvalidInput("Say why the ticket is escalated.", {"reason": ["This field may not be blank."]})
    if len(reason) > 1000:
        raise InvalidInput(
            "The reason is too long.", {"reason": ["Ensure this field has no more than 1000 characters."]}
        )
    priority = clean_choice(priority, Priority, "priority")
    now = timezone.now()
    with transaction.atomic():
        ticket = _locked(ticket)
        priority = max(priority, ticket.priority, key=lambda p: PRIORITY_RANK.get(p, 0))
        recorded = [_record(ticket, actor, EventKind.ESCALATION, ticket.escalated, True, channel, note=reason)]
        if ticket.priority != priority:
            recorded.append(_record(ticket, actor, EventKind.PRIORITY, ticket.priority, priority, channel))
        ticket.escalated = True
        ticket.escalation_reason = reason
        ticket.escalated_at = now
        ticket.priority = priority
        ticket.updated_at = now
        ticket.save()
        events.announce(events.ticket_escalated, ticket=ticket, actor=actor, channel=channel, reason=reason)
    return recorded


def close_if_resolved_before(*, ticket: Ticket, resolved_before: Any, note: str) -> TicketEvent | None:
    """The helpdesk itself closes a ticket still resolved since before `resolved_before`.

    The change is recorded like any other (actor: none, channel: system); a ticket that was
    reopened or closed in the meantime is left alone and None returned.
    """
    with transaction.atomic():
        ticket = _locked(ticket)
        if ticket.status != Status.RESOLVED or ticket.resolved_at is None or ticket.resolved_at >= resolved_before:
            return None
        event = _record(ticket, None, EventKind.STATUS, ticket.status, Status.CLOSED, Channel.SYSTEM, note=note)
        now = timezone.now()
        _apply_status(ticket, Status.CLOSED, now)
        ticket.updated_at = now
        ticket.save()
        events.announce(events.ticket_changed, ticket=ticket, actor=None, channel=Channel.SYSTEM, events=[event])
    return event


def mark_read(*, ticket: Ticket, reader: User) -> int:
    """Mark the messages of the reader's side read; returns how many changed."""
    require_view(reader, ticket)
    staff_side = reader.is_staff and ticket.customer_id != reader.pk
    counter = "unread_by_staff" if staff_side else "unread_by_customer"
    if not getattr(ticket, counter):
        return 0  # nothing was unread when the ticket was read: a plain view writes nothing
    with transaction.atomic():
        ticket = _locked(ticket)
        messages = Message.objects.filter(ticket=ticket)
        if staff_side:
            changed = messages.filter(read_by_staff=False).update(read_by_staff=True)
        else:
            changed = messages.filter(is_internal=False, read_by_customer=False).update(read_by_customer=True)
        setattr(ticket, counter, 0)
        ticket.save(update_fields=[counter])
    return changed


# -- canned replies ------------------------------------------------------------------------


def save_canned_reply(*, actor: User, title: str, body: str, reply: CannedReply | None = None) -> CannedReply:
    """Create a canned reply, or change `reply`; staff only, titles unique, body like a message."""
    require_staff(actor, "manage canned replies")
    title = clean_title(title)[:120]
    body = clean_message_text(body, channel=Channel.WEB)
    clash = CannedReply.objects.filter(title__iexact=title)
    if reply is not None:
        clash = clash.exclude(pk=reply.pk)
    if clash.exists():
        raise InvalidInput("A canned reply with this title exists.", {"title": ["Choose another title."]})
    if reply is None:
        return CannedReply.objects.create(title=title, body=body, created_by=actor)
    reply.title, reply.body, reply.updated_at = title, body, timezone.now()
    reply.save(update_fields=["title", "body", "updated_at"])
    return reply


def delete_canned_reply(*, actor: User, reply: CannedReply) -> None:
    require_staff(actor, "manage canned replies")
    reply.delete()
