"""Shapes of the API: serializers validate input and shape output; they change nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from support.models import Attachment, Category, Message, Priority, Status, Ticket, User
from support.services import MAX_TYPED_TEXT


def _iso(value: datetime | None) -> str | None:
    """A datetime as DRF writes it (ISO 8601, `Z` for UTC), without DRF's per-field overhead."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _agent(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": str(user.pk), "name": user.display_name}


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
        return download_url(attachment, self.context)

    def to_representation(self, attachment: Attachment) -> dict[str, Any]:
        # Hand-written for speed (the detail shows up to hundreds of files); same shape as the fields.
        return {
            "id": str(attachment.pk),
            "filename": attachment.filename,
            "file_size": attachment.file_size,
            "content_type": attachment.content_type,
            "message": str(attachment.message_id) if attachment.message_id else None,
            "created_at": _iso(attachment.created_at),
            "download_url": download_url(attachment, self.context),
        }


def download_url(attachment: Attachment, context: dict[str, Any]) -> str:
    """The download URL, reversing the route once per request rather than once per file."""
    template = context.get("_download_url_template")
    if template is None:
        path = reverse("api-attachment-download", kwargs={"attachment_id": "00000000-0000-0000-0000-000000000000"})
        request = context.get("request")
        template = (request.build_absolute_uri(path) if request is not None else path).replace(
            "00000000-0000-0000-0000-000000000000", "{}"
        )
        context["_download_url_template"] = template
    return str(template).format(attachment.pk)


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

    def to_representation(self, message: Message) -> dict[str, Any]:
        files = AttachmentSerializer(context=self.context)
        sender = message.sender
        return {
            "id": str(message.pk),
            "sender": {"id": str(sender.pk), "name": sender.display_name, "is_staff": sender.is_staff},
            "message_text": message.message_text,
            "html": message.html,
            "is_from_customer": message.is_from_customer,
            "is_internal": message.is_internal,
            "channel": message.channel,
            "created_at": _iso(message.created_at),
            "attachments": [files.to_representation(a) for a in message.attachments.all()],
        }


class TicketListSerializer(serializers.ModelSerializer):
    last_message_snippet = serializers.CharField(read_only=True, allow_null=True)
    unread_count = serializers.SerializerMethodField()
    assigned_agent = AgentSerializer(read_only=True, allow_null=True)

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

    def get_unread_count(self, ticket: Ticket) -> int:
        return int(getattr(ticket, "unread_count", 0) or 0)

    def to_representation(self, ticket: Ticket) -> dict[str, Any]:
        # Hand-written for speed: a page has up to 100 rows. Same shape as the declared fields.
        return {
            "id": str(ticket.pk),
            "reference": ticket.reference,
            "title": ticket.title,
            "status": ticket.status,
            "priority": ticket.priority,
            "category": ticket.category,
            "source": ticket.source,
            "escalated": ticket.escalated,
            "tags": ticket.tags,
            "assigned_agent": _agent(ticket.assigned_agent),
            "last_message_snippet": getattr(ticket, "last_message_snippet", None),
            "unread_count": self.get_unread_count(ticket),
            "created_at": _iso(ticket.created_at),
            "updated_at": _iso(ticket.updated_at),
        }


class TicketDetailSerializer(serializers.ModelSerializer):
    customer = PersonSerializer(read_only=True)
    assigned_agent = AgentSerializer(read_only=True, allow_null=True)
    messages = serializers.SerializerMethodField()
    follow_up_of = serializers.SlugRelatedField(slug_field="reference", read_only=True, allow_null=True)

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
        messages = getattr(ticket, "visible_messages", None)
        if messages is None:
            messages = list(ticket.messages.all())
        one = MessageSerializer(context=self.context)
        return [one.to_representation(message) for message in messages]

    def to_representation(self, ticket: Ticket) -> dict[str, Any]:
        customer = ticket.customer
        return {
            "id": str(ticket.pk),
            "reference": ticket.reference,
            "title": ticket.title,
            "status": ticket.status,
            "priority": ticket.priority,
            "category": ticket.category,
            "source": ticket.source,
            "tags": ticket.tags,
            "customer": {"id": str(customer.pk), "email": customer.email, "name": customer.name},
            "assigned_agent": _agent(ticket.assigned_agent),
            "escalated": ticket.escalated,
            "escalation_reason": ticket.escalation_reason,
            "escalated_at": _iso(ticket.escalated_at),
            "follow_up_of": ticket.follow_up_of.reference if ticket.follow_up_of_id else None,
            "created_at": _iso(ticket.created_at),
            "updated_at": _iso(ticket.updated_at),
            "first_response_at": _iso(ticket.first_response_at),
            "resolved_at": _iso(ticket.resolved_at),
            "closed_at": _iso(ticket.closed_at),
            "messages": self.get_messages(ticket),
        }


class TicketCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=255)
    category = serializers.ChoiceField(choices=Category.choices)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.MEDIUM)
    message_text = serializers.CharField(max_length=MAX_TYPED_TEXT)


class TicketUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50, allow_blank=False), max_length=20, required=False
    )
    assigned_agent = serializers.UUIDField(required=False, allow_null=True, help_text="A staff user's id, or null.")


class MessageCreateSerializer(serializers.Serializer):
    message_text = serializers.CharField(max_length=MAX_TYPED_TEXT)
    is_internal = serializers.BooleanField(default=False)
    attachment_ids = serializers.ListField(child=serializers.UUIDField(), max_length=20, required=False, default=list)


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False, max_length=None)


class AssignSerializer(serializers.Serializer):
    agent_id = serializers.UUIDField(allow_null=True, help_text="A staff user's id; null unassigns.")


class EscalateSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.URGENT)
