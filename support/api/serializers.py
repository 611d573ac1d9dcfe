"""Shapes of the API: serializers validate input and shape output; they change nothing."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from support.models import Attachment, Category, Message, Priority, Status, Ticket, User
from support.services import MAX_TYPED_TEXT


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
        path = reverse("api-attachment-download", kwargs={"attachment_id": attachment.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


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
        return MessageSerializer(messages, many=True, context=self.context).data  # type: ignore[return-value]


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
