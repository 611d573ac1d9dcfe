"""Reads shared by the API and the web pages: what each person may see, in few queries.

The list reads each ticket's last visible message and unread count from the ticket's own
columns (kept by the services), and the detail prefetches messages with their senders and
attachments, so the number of queries does not grow with the number of tickets, messages or
attachments.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import F, Q, QuerySet

from . import conversation_cache
from .models import Attachment, Message, Ticket, User
from .references import reference_spellings


def sees_as_staff(user: User) -> bool:
    return bool(user.is_staff)


def visible_tickets(user: User) -> QuerySet[Ticket]:
    tickets = Ticket.objects.all()
    if not sees_as_staff(user):
        tickets = tickets.filter(customer=user)
    return tickets


def visible_messages(user: User) -> QuerySet[Message]:
    messages = Message.objects.all()
    if not sees_as_staff(user):
        messages = messages.filter(is_internal=False)
    return messages


def ticket_list(user: User) -> QuerySet[Ticket]:
    """Tickets the user may see, with `last_message_snippet` and `unread_count` of their side
    (staff see internal notes, customers do not), read from the ticket's own list columns."""
    staff = sees_as_staff(user)
    return (
        visible_tickets(user)
        .select_related("assigned_agent")
        .annotate(
            last_message_snippet=F("staff_snippet" if staff else "customer_snippet"),
            unread_count=F("unread_by_staff" if staff else "unread_by_customer"),
        )
    )


LIST_ROW_FIELDS = (
    "id",
    "reference",
    "title",
    "status",
    "priority",
    "category",
    "source",
    "escalated",
    "tags",
    "assigned_agent_id",
    "assigned_agent__name",
    "assigned_agent__email",
    "last_message_snippet",
    "unread_count",
    "created_at",
    "updated_at",
)


def ticket_list_rows(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """The list as plain rows: a page of 100 without building 100 model instances."""
    return tickets.values(*LIST_ROW_FIELDS)


def ticket_detail(user: User) -> QuerySet[Ticket]:
    """Tickets with their people; the conversation comes from `conversation_rows()`."""
    return visible_tickets(user).select_related("customer", "assigned_agent", "follow_up_of")


MESSAGE_ROW_FIELDS = (
    "id",
    "sender_id",
    "sender__name",
    "sender__email",
    "sender__is_staff",
    "message_text",
    "html",
    "is_from_customer",
    "is_internal",
    "channel",
    "created_at",
)
ATTACHMENT_ROW_FIELDS = ("id", "message_id", "filename", "file_size", "content_type", "created_at")


def message_rows(messages: QuerySet[Message]) -> list[dict[str, Any]]:
    """Messages as plain rows, each with its `attachments` rows: two queries, no model instances.

    Pass messages already limited to what the reader may see (`visible_messages()`): files are
    only attached to the messages given, so a customer never gets a note's files.
    """
    rows = list(messages.order_by("created_at", "id").values(*MESSAGE_ROW_FIELDS))
    if not rows:
        return rows
    by_message: dict[Any, list[dict[str, Any]]] = {row["id"]: [] for row in rows}
    files = Attachment.objects.filter(message_id__in=list(by_message)).order_by("created_at", "id")
    for file in files.values(*ATTACHMENT_ROW_FIELDS):
        by_message[file["message_id"]].append(file)
    for row in rows:
        row["attachments"] = by_message[row["id"]]
    return rows


def conversation_rows(user: User, ticket: Ticket) -> list[dict[str, Any]]:
    """The messages of `ticket` that `user` may see, kept in the cache between changes."""
    return conversation_cache.conversation_rows(
        ticket,
        staff=sees_as_staff(user),
        read=lambda: message_rows(visible_messages(user).filter(ticket=ticket)),
    )


def find_ticket(queryset: QuerySet[Ticket], key: Any) -> Ticket | None:
    """A ticket by UUID or by its reference (`SB-1042`), or None when neither matches. A key that
    no reference can be (a NUL in it, which PostgreSQL refuses in a query) matches nothing."""
    key = str(key).strip()
    try:
        return queryset.filter(pk=uuid.UUID(key)).first()
    except ValueError:
        pass
    if len(key) <= 32 and "\x00" not in key:
        return queryset.filter(reference__in=reference_spellings(key)).first()
    return None


def visible_attachment(user: User, attachment_id: Any) -> Attachment | None:
    """An attachment the user may download: on a ticket they see, and never a note's file
    for a customer; an unsent upload only for the person who uploaded it (or staff)."""
    try:
        key = uuid.UUID(str(attachment_id))
    except ValueError:
        return None
    attachments = Attachment.objects.select_related("ticket", "message").filter(pk=key)
    if not sees_as_staff(user):
        attachments = attachments.filter(ticket__customer=user).filter(
            Q(message__isnull=False, message__is_internal=False) | Q(message__isnull=True, uploaded_by=user)
        )
    return attachments.first()
