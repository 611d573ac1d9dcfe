"""Shapes of the API: serializers validate input and shape output; they change nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from support import selectors
from support.models import Attachment, Category, Message, Priority, Source, Status, Ticket, User
from support.rules import MAX_TYPED_TEXT


def _iso(value: datetime | None) -> str | None:
    """A datetime as DRF writes it (ISO 8601, `Z` for UTC), without DRF's per-field overhead."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _memo(context: Mapping[str, Any]) -> dict[str, Any]:
    """A serializer's context, to keep what one request works out once (DRF's context is a dict;
    its stubs type it read-only)."""
    return cast(dict[str, Any], context)


def _staff_view(context: Mapping[str, Any]) -> bool:
    """Tags and the escalation reason are staff's own labels and words for supervisors: a customer
    gets `[]` and `""`, as their web page shows neither."""
    staff = context.get("_staff_view")
    if staff is None:  # once per request: a list asks for every row
        request = context.get("request")
        staff = _memo(context)["_staff_view"] = bool(request is not None and request.user.is_staff)
    return bool(staff)


def _agent(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": str(user.pk), "name": user.display_name}


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, each named in the error, as the notification preferences do.

    DRF drops unknown keys silently: a misspelt `priorty` would open a medium ticket and a file
    sent along with a new ticket would be lost without a word. The CSRF token of a form posted
    with the session cookie is not a field of the request.
    """

    IGNORED = frozenset({"csrfmiddlewaretoken"})

    def to_internal_value(self, data: Any) -> Any:
        unknown = sorted(set(data) - set(self.fields) - self.IGNORED) if isinstance(data, Mapping) else []
        problems = {str(name): ["Not a field of this request."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if problems and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **problems}) from exc
            raise
        if problems:
            raise serializers.ValidationError(problems)
        return value


_TAGS_HELP = "Staff's labels; empty for a customer."


class TextField(serializers.CharField):
    """Text as JSON writes it. DRF's CharField also takes a number (`"title": 123` was stored as
    "123"); from a typed client that is a mistake to report, not a title to keep."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdField(serializers.UUIDField):
    """An id as text. DRF's UUIDField also reads a JSON number, as the UUID of that integer."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="A stable machine-readable code, e.g. `ticket_not_found`.")
    message = serializers.CharField(help_text="A sentence for people.")
    details = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name to the problems with that field; empty when not about fields.",
    )


class PersonSerializer(serializers.ModelSerializer):
    """A customer as staff and the customer see them."""

    class Meta:
        model = User
        fields = ["id", "email", "name"]


class AgentSerializer(serializers.ModelSerializer):
    """An agent as anyone sees them: no personal address."""

    name = serializers.CharField(source="display_name")

    class Meta:
        model = User
        fields = ["id", "name"]


class SenderSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name")

    class Meta:
        model = User
        fields = ["id", "name", "is_staff"]


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()
    message = serializers.UUIDField(source="message_id", allow_null=True, read_only=True)

    class Meta:
        model = Attachment
        fields = ["id", "filename", "file_size", "content_type", "message", "created_at", "download_url"]

    def get_download_url(self, attachment: Attachment) -> str:
        return attachment_json(_attachment_row(attachment), self.context)["download_url"]

    def to_representation(self, attachment: Attachment) -> dict[str, Any]:
        return attachment_json(_attachment_row(attachment), self.context)


def _attachment_row(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "message_id": attachment.message_id,
        "filename": attachment.filename,
        "file_size": attachment.file_size,
        "content_type": attachment.content_type,
        "created_at": attachment.created_at,
    }


def attachment_json(row: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """One attachment row (`selectors.ATTACHMENT_ROW_FIELDS`) as the API shows it.

    Hand-written rather than through DRF fields because a conversation can hold hundreds of
    files; the shape is the one `AttachmentSerializer` declares for the schema.
    """
    return {
        "id": str(row["id"]),
        "filename": row["filename"],
        "file_size": row["file_size"],
        "content_type": row["content_type"],
        "message": str(row["message_id"]) if row["message_id"] else None,
        "created_at": _iso(row["created_at"]),
        "download_url": _download_url_template(context).format(row["id"]),
    }


def _download_url_template(context: Mapping[str, Any]) -> str:
    """The download URL with a slot for the id: the route is reversed once per request."""
    template = context.get("_download_url_template")
    if template is None:
        placeholder = "00000000-0000-0000-0000-000000000000"
        path = reverse("api-attachment-download", kwargs={"attachment_id": placeholder})
        request = context.get("request")
        template = (request.build_absolute_uri(path) if request is not None else path).replace(placeholder, "{}")
        _memo(context)["_download_url_template"] = template
    return str(template)


class MessageSerializer(serializers.ModelSerializer):
    sender = SenderSerializer(read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "sender",
            "message_text",
            "html",
            "is_from_customer",
            "is_internal",
            "channel",
            "created_at",
            "attachments",
        ]

    def to_representation(self, row: dict[str, Any]) -> dict[str, Any]:
        """One row of `selectors.message_rows()`; hand-written for speed, same shape as the fields."""
        return {
            "id": str(row["id"]),
            "sender": {
                "id": str(row["sender_id"]),
                "name": row["sender__name"]
                or ("Support" if row["sender__is_staff"] else row["sender__email"].split("@")[0]),
                "is_staff": row["sender__is_staff"],
            },
            "message_text": row["message_text"],
            "html": row["html"],
            "is_from_customer": row["is_from_customer"],
            "is_internal": row["is_internal"],
            "channel": row["channel"],
            "created_at": _iso(row["created_at"]),
            "attachments": [attachment_json(file, self.context) for file in row["attachments"]],
        }


class TicketListSerializer(serializers.ModelSerializer):
    last_message_snippet = serializers.CharField(read_only=True, allow_null=True)
    unread_count = serializers.IntegerField(read_only=True)
    assigned_agent = AgentSerializer(read_only=True, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=_TAGS_HELP)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "reference",
            "title",
            "status",
            "priority",
            "category",
            "source",
            "escalated",
            "tags",
            "assigned_agent",
            "last_message_snippet",
            "unread_count",
            "created_at",
            "updated_at",
        ]

    def to_representation(self, row: dict[str, Any]) -> dict[str, Any]:
        """One row of `selectors.ticket_list_rows()`; hand-written for speed, same shape as the fields."""
        agent_id = row["assigned_agent_id"]
        agent = None
        if agent_id is not None:
            agent = {
                "id": str(agent_id),
                "name": row["assigned_agent__name"] or row["assigned_agent__email"].split("@")[0],
            }
        return {
            "id": str(row["id"]),
            "reference": row["reference"],
            "title": row["title"],
            "status": row["status"],
            "priority": row["priority"],
            "category": row["category"],
            "source": row["source"],
            "escalated": row["escalated"],
            "tags": row["tags"] if _staff_view(self.context) else [],
            "assigned_agent": agent,
            "last_message_snippet": row["last_message_snippet"],
            "unread_count": int(row["unread_count"] or 0),
            "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"]),
        }


class TicketDetailSerializer(serializers.ModelSerializer):
    customer = PersonSerializer(read_only=True)
    assigned_agent = AgentSerializer(read_only=True, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True, help_text=_TAGS_HELP)
    messages = serializers.SerializerMethodField()
    follow_up_of: serializers.SlugRelatedField[Ticket] = serializers.SlugRelatedField(
        slug_field="reference", read_only=True, allow_null=True
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "reference",
            "title",
            "status",
            "priority",
            "category",
            "source",
            "tags",
            "customer",
            "assigned_agent",
            "escalated",
            "escalation_reason",
            "escalated_at",
            "follow_up_of",
            "created_at",
            "updated_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "messages",
        ]

    @extend_schema_field(MessageSerializer(many=True))
    def get_messages(self, ticket: Ticket) -> list[dict[str, Any]]:
        one = MessageSerializer(context=self.context)
        rows = selectors.conversation_rows(self.context["request"].user, ticket)
        return [one.to_representation(row) for row in rows]

    def to_representation(self, ticket: Ticket) -> dict[str, Any]:
        customer = ticket.customer
        staff = _staff_view(self.context)
        return {
            "id": str(ticket.pk),
            "reference": ticket.reference,
            "title": ticket.title,
            "status": ticket.status,
            "priority": ticket.priority,
            "category": ticket.category,
            "source": ticket.source,
            "tags": ticket.tags if staff else [],
            "customer": {"id": str(customer.pk), "email": customer.email, "name": customer.name},
            "assigned_agent": _agent(ticket.assigned_agent),
            "escalated": ticket.escalated,
            "escalation_reason": ticket.escalation_reason if staff else "",
            "escalated_at": _iso(ticket.escalated_at),
            "follow_up_of": ticket.follow_up_of.reference if ticket.follow_up_of else None,
            "created_at": _iso(ticket.created_at),
            "updated_at": _iso(ticket.updated_at),
            "first_response_at": _iso(ticket.first_response_at),
            "resolved_at": _iso(ticket.resolved_at),
            "closed_at": _iso(ticket.closed_at),
            "messages": self.get_messages(ticket),
        }


class TicketCreateSerializer(StrictSerializer):
    title = TextField(max_length=255)
    category = serializers.ChoiceField(choices=Category.choices)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.MEDIUM)
    message_text = TextField(max_length=MAX_TYPED_TEXT)
    # A marketplace app says `mobile`, a call logged by a client's phone integration `phone`;
    # `email` is only for tickets that really came in by mail (the gateway's).
    source = serializers.ChoiceField(  # type: ignore[assignment]  # a field named like Field.source
        choices=[c for c in Source.choices if c[0] != Source.EMAIL],
        required=False,
        help_text="Where the customer wrote from; by default `api` (`web` with the session cookie).",
    )


class TicketUpdateSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    tags = serializers.ListField(child=TextField(max_length=50, allow_blank=False), max_length=20, required=False)
    assigned_agent = IdField(required=False, allow_null=True, help_text="A staff user's id, or null.")


class MessageCreateSerializer(StrictSerializer):
    message_text = TextField(max_length=MAX_TYPED_TEXT)
    is_internal = serializers.BooleanField(default=False)
    attachment_ids = serializers.ListField(child=IdField(), max_length=20, required=False, default=list)


class AttachmentUploadSerializer(StrictSerializer):
    file = serializers.FileField(allow_empty_file=False, max_length=None)


class AssignSerializer(StrictSerializer):
    agent_id = IdField(allow_null=True, help_text="A staff user's id; null unassigns.")


class EscalateSerializer(StrictSerializer):
    reason = TextField(max_length=1000)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.URGENT)
