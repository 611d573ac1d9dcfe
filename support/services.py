"""The only writers of tickets, messages, attachments and ticket events.

Every door (REST API, web pages, console, mail gateway) calls these functions, so the rules of
spec section 3 are enforced once: who may do what, internal notes, text limits, timestamps,
unread flags and the audit log. Each function runs in one transaction, locks the ticket row
it changes, and announces what happened after commit (`support.events`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.db.models import Case, Count, F, OuterRef, QuerySet, Subquery, When
from django.db.models.functions import Coalesce, Left
from django.db.models.lookups import Exact
from django.utils import timezone

from . import events, ticket_counts
from .errors import FileTooLarge, InvalidFileType, InvalidInput, NotAllowed
from .files import safe_filename, sniff_content_type
from .models import (
    SNIPPET_LENGTH,
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

MAX_TYPED_TEXT = 5000
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
TRUNCATION_MARKER = "\n\n[… message truncated; the full mail is kept with the original]"
UNSET: Any = object()


def can_view_ticket(user: User, ticket: Ticket) -> bool:
    return bool(user.is_active and (user.is_staff or ticket.customer_id == user.pk))


def _require_view(user: User, ticket: Ticket) -> None:
    if not can_view_ticket(user, ticket):
        raise NotAllowed("You cannot see this ticket.")


def is_participant(user: User, ticket: Ticket) -> bool:
    return bool(user.is_active and TicketParticipant.objects.filter(ticket=ticket, person=user).exists())


def _require_conversation(user: User, ticket: Ticket) -> None:
    """The customer, staff, and the ticket's participants (people in Cc) may write to it."""
    if not (can_view_ticket(user, ticket) or is_participant(user, ticket)):
        raise NotAllowed("You cannot write to this ticket.")


def _require_staff(user: User, action: str) -> None:
    if not (user.is_active and user.is_staff):
        raise NotAllowed(f"Only staff may {action}.")


def _locked(ticket: Ticket) -> Ticket:
    """The ticket's row, locked for this transaction, so concurrent changes do not overwrite."""
    fresh = Ticket.objects.select_for_update().get(pk=ticket.pk)
    ticket.__dict__.update({f.attname: getattr(fresh, f.attname) for f in Ticket._meta.concrete_fields})
    return ticket


def clean_message_text(text: str | None, *, channel: str) -> str:
    """Typed text is limited to 5,000 characters; mail bodies are cut with a marker instead."""
    text = (text or "").replace("\x00", "").strip()
    if not text:
        raise InvalidInput("Write a message.", {"message_text": ["This field may not be blank."]})
    if len(text) > MAX_TYPED_TEXT:
        if channel != Channel.EMAIL:
            raise InvalidInput(
                "The message is too long.",
                {"message_text": [f"Ensure this field has no more than {MAX_TYPED_TEXT} characters."]},
            )
        text = text[: MAX_TYPED_TEXT - len(TRUNCATION_MARKER)].rstrip() + TRUNCATION_MARKER
    return text


def clean_title(title: str | None) -> str:
    title = " ".join((title or "").replace("\x00", "").split())
    if not title:
        raise InvalidInput("Give the ticket a title.", {"title": ["This field may not be blank."]})
    if len(title) > 255:
        raise InvalidInput("The title is too long.", {"title": ["Ensure this field has no more than 255 characters."]})
    return title


def clean_tags(tags: Iterable[Any]) -> list[str]:
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        raise InvalidInput("Tags are a list of words.", {"tags": ["Expected a list of strings."]})
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise InvalidInput("Tags are a list of words.", {"tags": ["Every tag must be a string."]})
        tag = " ".join(tag.replace("\x00", "").split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput("A tag is too long.", {"tags": [f"A tag has at most {MAX_TAG_LENGTH} characters."]})
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput("Too many tags.", {"tags": [f"A ticket has at most {MAX_TAGS} tags."]})
    return cleaned


def _choice(value: Any, choices: type, field: str) -> str:
    if value not in choices.values:  # type: ignore[attr-defined]
        raise InvalidInput(
            f"{value!r} is not a valid {field}.",
            {field: [f'"{value}" is not a valid choice.']},
        )
    return str(value)


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
        _require_staff(author, "open a ticket for someone else")
    title = clean_title(title)
    text = clean_message_text(message_text, channel=channel)
    category = _choice(category, Category, "category")
    priority = _choice(priority, Priority, "priority")
    source = _choice(source, Source, "source")
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
        _summarize(ticket, message)  # before the INSERT, so the new ticket is written once
        ticket.save(force_insert=True)
        message.save(force_insert=True)
        _link_attachments(message, attachments)
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
    _require_conversation(author, ticket)
    if is_internal:
        _require_staff(author, "write internal notes")
    text = clean_message_text(message_text, channel=channel)
    with transaction.atomic():
        ticket = _locked(ticket)
        # Stamped under the ticket's lock, so that the messages' order is the order in which
        # `_summarize()` counts them (the latest snippet, who wrote last).
        now = timezone.now()
        if ticket.status == Status.CLOSED and not author.is_staff:
            raise InvalidInput(
                "This ticket is closed; open a new ticket to follow up.",
                {"ticket": ["A closed ticket takes no new messages."]},
            )
        chosen = list(attachments) + _attachments_for(ticket, author, attachment_ids)
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
        _link_attachments(message, chosen)
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
    changed = _summarize(ticket, message)
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


def _summarize(ticket: Ticket, message: Message) -> list[str]:
    """Count `message` into the ticket's list columns (snippets, unread counts, who wrote the
    last public message) of each side that may see it; returns the fields changed. The caller
    holds the ticket's row lock."""
    snippet = message.message_text[:SNIPPET_LENGTH]
    ticket.staff_snippet = snippet
    ticket.conversation_version += 1
    changed = ["staff_snippet", "conversation_version"]
    if not message.read_by_staff:
        ticket.unread_by_staff += 1
        changed.append("unread_by_staff")
    if not message.is_internal:
        ticket.customer_snippet = snippet
        ticket.last_public_from_staff = not message.is_from_customer
        changed += ["customer_snippet", "last_public_from_staff"]
        if not message.read_by_customer:
            ticket.unread_by_customer += 1
            changed.append("unread_by_customer")
    return changed


def refresh_ticket_summaries(tickets: QuerySet[Ticket]) -> int:
    """Recount the list columns of `tickets` from their messages, for the rare writes that
    change messages without `add_message()` (erasure, the admin). Returns the tickets updated."""
    shown = Message.objects.filter(ticket=OuterRef("pk"))
    public = shown.filter(is_internal=False)

    def latest(messages: QuerySet[Message]) -> Any:
        return Left(Subquery(messages.order_by("-created_at").values("message_text")[:1]), SNIPPET_LENGTH)

    def how_many(messages: QuerySet[Message]) -> Any:
        counted = messages.order_by().values("ticket").annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(counted), 0)

    last_public_from_customer = Subquery(public.order_by("-created_at").values("is_from_customer")[:1])

    with transaction.atomic():
        # Locked first, in one order: a message being added meanwhile then commits before the
        # recount's UPDATE starts, and that statement's snapshot counts it.
        ids = list(tickets.order_by("pk").select_for_update().values_list("pk", flat=True))
        ticket_counts.tickets_changed()  # an UPDATE sends no signal
        return Ticket.objects.filter(pk__in=ids).update(
            conversation_version=F("conversation_version") + 1,
            staff_snippet=latest(shown),
            customer_snippet=latest(public),
            unread_by_staff=how_many(shown.filter(read_by_staff=False)),
            unread_by_customer=how_many(public.filter(read_by_customer=False)),
            last_public_from_staff=Case(When(Exact(last_public_from_customer, False), then=True), default=False),
        )


def _attachments_for(ticket: Ticket, author: User, attachment_ids: Sequence[Any]) -> list[Attachment]:
    if not attachment_ids:
        return []
    ids = list(dict.fromkeys(str(i) for i in attachment_ids))
    found = list(Attachment.objects.filter(pk__in=ids, ticket=ticket, message__isnull=True, uploaded_by=author))
    if len(found) != len(ids):
        raise InvalidInput(
            "Some attachments cannot be used.",
            {"attachment_ids": ["Each attachment must be your own earlier upload to this ticket, not yet sent."]},
        )
    return found


def _link_attachments(message: Message, attachments: Sequence[Attachment]) -> None:
    ids = [a.pk for a in attachments]
    if ids:
        Attachment.objects.filter(pk__in=ids).update(message=message)


def store_attachment(
    *, ticket: Ticket, uploader: User, content: IO[bytes], filename: str, size: int, content_id: str = ""
) -> Attachment:
    """Keep an uploaded or mailed file after checking its size and its real type."""
    _require_conversation(uploader, ticket)
    limit = settings.ATTACHMENT_MAX_BYTES
    if size > limit:
        raise FileTooLarge(
            f"The file is larger than the limit of {limit // (1024 * 1024)} MB.",
            {"file": [f"Files may be at most {limit} bytes; this one is {size}."]},
        )
    name = safe_filename(filename)
    head = content.read(8192)
    content.seek(0)
    sniffed = sniff_content_type(head, name)
    if sniffed is None or sniffed.content_type not in settings.ATTACHMENT_ALLOWED_TYPES:
        found = sniffed.content_type if sniffed else "unknown binary data"
        raise InvalidFileType(
            "This type of file is not accepted.",
            {"file": [f"The file's contents are {found}, which is not an allowed type."]},
        )
    attachment = Attachment(
        ticket=ticket,
        uploaded_by=uploader,
        filename=name,
        file_size=size,
        content_type=sniffed.content_type,
        content_id=content_id[:255],
    )
    attachment.file.save(name, File(content), save=False)
    attachment.save()
    return attachment


def attach_to_message(*, message: Message, attachments: Sequence[Attachment], html: str | None = None) -> None:
    """Files kept after their message was written (a mail's attachments and inline images)."""
    html_changed = html is not None and html != message.html
    if not (attachments or html_changed):
        return
    with transaction.atomic():
        _link_attachments(message, attachments)
        if html is not None and html_changed:
            message.html = html
            Message.objects.filter(pk=message.pk).update(html=html)
        _conversation_changed(message.ticket_id)


def set_message_html(*, message: Message, html: str) -> None:
    """The display HTML of a mailed message, once its inline images point at stored files."""
    message.html = html
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(html=html)
        _conversation_changed(message.ticket_id)


def _conversation_changed(ticket_id: Any) -> None:
    """A message's files or HTML changed after the message was counted: a conversation kept in
    the cache under the ticket's current version is no longer the conversation."""
    Ticket.objects.filter(pk=ticket_id).update(conversation_version=F("conversation_version") + 1)


# -- participants --------------------------------------------------------------------------


def add_participants(*, ticket: Ticket, people: Iterable[User], actor: User, channel: str) -> list[User]:
    """Add people to the conversation (the customer's Cc); returns those who were new."""
    _require_conversation(actor, ticket)
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
    _require_staff(actor, "remove participants")
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
    _require_view(actor, ticket)
    wanted: dict[str, Any] = {}
    if status is not UNSET:
        wanted["status"] = _choice(status, Status, "status")
    if priority is not UNSET:
        wanted["priority"] = _choice(priority, Priority, "priority")
    if category is not UNSET:
        wanted["category"] = _choice(category, Category, "category")
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
    _require_staff(actor, "assign tickets")
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
    """Flag the ticket for supervisors, with a reason, and raise its priority."""
    _require_staff(actor, "escalate tickets")
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise InvalidInput("Say why the ticket is escalated.", {"reason": ["This field may not be blank."]})
    if len(reason) > 1000:
        raise InvalidInput(
            "The reason is too long.", {"reason": ["Ensure this field has no more than 1000 characters."]}
        )
    priority = _choice(priority, Priority, "priority")
    now = timezone.now()
    with transaction.atomic():
        ticket = _locked(ticket)
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
    _require_view(reader, ticket)
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
    _require_staff(actor, "manage canned replies")
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
    _require_staff(actor, "manage canned replies")
    reply.delete()
