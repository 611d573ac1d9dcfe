"""A customer's data on request (GDPR articles 15 and 17): export it, or erase it.

Export: the person, their tickets with the public conversation (every side's public messages,
as the customer sees them on the web page), the files' names and sizes, the tickets' history,
and their own messages on tickets where they were in Cc. Staff's internal notes are working notes
about the case; they are left out unless `include_internal` (an operator decides case by case).

Erase: the person stays as a row, so that tickets, counts and the audit log still add up, but
nobody can tell who they were: the address becomes `erased-<random>@erased.invalid`, the name is
removed, the password made unusable and the account inactive. On the customer's own tickets the
whole conversation is about them, so the title, every message's text and HTML (staff replies and
internal notes included), the escalation reason, event notes and every file are removed. On other
tickets (where they were in Cc) only their own messages and files are removed, and they stop being
a participant. Ticket numbers, statuses, timestamps and the events' from/to values stay: they
hold no personal data and keep the metrics true. Files are deleted from storage after the
transaction commits. Mail records are erased by `mailgateway.privacy` in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .errors import InvalidInput
from .models import (
    Attachment,
    EventKind,
    Message,
    Notification,
    NotificationPreference,
    Ticket,
    TicketEvent,
    TicketParticipant,
    User,
)
from .summaries import refresh_ticket_summaries
from .ticket_counts import tickets_changed

ERASED_TEXT = "[erased at the customer's request]"
ERASED_TITLE = "[erased]"
ERASED_DOMAIN = "erased.invalid"


@dataclass(frozen=True)
class Erasure:
    person_id: str
    old_email: str
    tickets: int
    messages: int
    files: int


def find_customer(email: str) -> User:
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise InvalidInput(f"No person has the address {email}.", {"email": ["unknown"]})
    return user


# -- export ----------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _attachment(a: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "filename": a["filename"],
        "file_size": a["file_size"],
        "content_type": a["content_type"],
        "created_at": _iso(a["created_at"]),
    }


def _messages(messages: Any, files: dict[Any, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        {
            "from": m["sender__email"],
            "from_customer": m["is_from_customer"],
            "internal_note": m["is_internal"],
            "channel": m["channel"],
            "text": m["message_text"],
            "created_at": _iso(m["created_at"]),
            "attachments": files.get(m["id"], []),
        }
        for m in messages
    ]


def _files_by_message(tickets: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    files: dict[Any, list[dict[str, Any]]] = {}
    rows = Attachment.objects.filter(ticket_id__in=tickets, message__isnull=False).values(
        "message_id", "filename", "file_size", "content_type", "created_at"
    )
    for row in rows.order_by("created_at"):
        files.setdefault(row["message_id"], []).append(_attachment(row))
    return files


_MESSAGE_FIELDS = ("id", "ticket_id", "sender__email", "is_from_customer", "is_internal", "channel", "message_text")


def export_customer(user: User, *, include_internal: bool = False) -> dict[str, Any]:
    """Everything the helpdesk keeps about one customer, as plain JSON-ready data."""
    own = list(Ticket.objects.filter(customer=user).order_by("created_at"))
    cc_ids = list(TicketParticipant.objects.filter(person=user).values_list("ticket_id", flat=True))
    messages = Message.objects.filter(Q(ticket__in=own) | Q(ticket_id__in=cc_ids, sender=user))
    if not include_internal:
        messages = messages.filter(is_internal=False)
    rows = list(messages.order_by("created_at").values(*_MESSAGE_FIELDS, "created_at"))
    files = _files_by_message([t.pk for t in own] + cc_ids)
    by_ticket: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        by_ticket.setdefault(row["ticket_id"], []).append(row)
    history = TicketEvent.objects.filter(ticket__in=own).exclude(kind=EventKind.ESCALATION).order_by("created_at")
    events: dict[Any, list[dict[str, Any]]] = {}
    for event in history.values("ticket_id", "kind", "from_value", "to_value", "channel", "created_at"):
        shown = {key: value for key, value in event.items() if key != "ticket_id"}
        events.setdefault(event["ticket_id"], []).append({**shown, "created_at": _iso(event["created_at"])})
    return {
        "exported_at": _iso(timezone.now()),
        "person": {
            "id": str(user.pk),
            "email": user.email,
            "name": user.name,
            "date_joined": _iso(user.date_joined),
            "is_active": user.is_active,
        },
        "tickets": [_ticket(t, by_ticket.get(t.pk, []), files, events.get(t.pk, [])) for t in own],
        "messages_on_other_tickets": [
            {"ticket": ref, "messages": _messages(by_ticket.get(tid, []), files)}
            for tid, ref in Ticket.objects.filter(pk__in=cc_ids).values_list("pk", "reference")
        ],
    }


def _ticket(ticket: Ticket, messages: list[dict[str, Any]], files: dict[Any, Any], events: list[Any]) -> dict[str, Any]:
    return {
        "reference": ticket.reference,
        "title": ticket.title,
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category,
        "source": ticket.source,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "resolved_at": _iso(ticket.resolved_at),
        "closed_at": _iso(ticket.closed_at),
        "messages": _messages(messages, files),
        "history": events,
    }


# -- erase -----------------------------------------------------------------------------------


def erase_customer(user: User) -> Erasure:
    """Make the customer anonymous and remove what they and others wrote about them (see above)."""
    if user.is_staff or user.is_superuser:
        raise InvalidInput("Staff accounts are not erased this way; deactivate them.", {"email": ["staff"]})
    if user.email.endswith("@" + ERASED_DOMAIN):
        raise InvalidInput("This person was erased already.", {"email": ["erased"]})
    with transaction.atomic():
        own = Ticket.objects.select_for_update().filter(customer=user)
        own_ids = list(own.values_list("pk", flat=True))
        old_email = user.email
        conversation = Message.objects.filter(Q(ticket_id__in=own_ids) | Q(sender=user))
        touched = set(own_ids) | set(conversation.values_list("ticket_id", flat=True).distinct())
        messages = conversation.update(message_text=ERASED_TEXT, html="", email_message_id="")
        refresh_ticket_summaries(Ticket.objects.filter(pk__in=touched))  # the lists' snippets
        attachments = Attachment.objects.filter(Q(ticket_id__in=own_ids) | Q(uploaded_by=user))
        names = [a.file.name for a in attachments.only("file") if a.file and a.file.name]
        files, _ = attachments.delete()
        tickets = own.update(title=ERASED_TITLE, escalation_reason="", tags=[])
        tickets_changed()  # an UPDATE sends no signal; titles are searched
        TicketEvent.objects.filter(ticket_id__in=own_ids).update(note="")
        cc_ids = list(TicketParticipant.objects.filter(person=user).values_list("ticket_id", flat=True))
        _forget_in_events(old_email, ticket_ids=own_ids + cc_ids)
        TicketParticipant.objects.filter(person=user).delete()
        Notification.objects.filter(ticket_id__in=own_ids).update(summary="")
        Notification.objects.filter(recipient=user).delete()
        NotificationPreference.objects.filter(person=user).delete()
        user.email = f"erased-{uuid.uuid4().hex[:16]}@{ERASED_DOMAIN}"
        user.name = ""
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["email", "name", "is_active", "password"])
        transaction.on_commit(lambda: _delete_files(names))
    return Erasure(person_id=str(user.pk), old_email=old_email, tickets=tickets, messages=messages, files=files)


def _forget_in_events(email: str, *, ticket_ids: list[Any]) -> None:
    """Participant events name people by address: the erased one is named no more."""
    for event in TicketEvent.objects.filter(kind=EventKind.PARTICIPANTS, ticket_id__in=ticket_ids):
        values = [event.from_value, event.to_value]
        cleaned = [[ERASED_TEXT if v == email else v for v in x] if isinstance(x, list) else x for x in values]
        if cleaned != values:
            event.from_value, event.to_value = cleaned
            event.save(update_fields=["from_value", "to_value"])


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)
