from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import (
    Attachment,
    CannedReply,
    Message,
    Notification,
    NotificationPreference,
    Ticket,
    TicketEvent,
    TicketParticipant,
    User,
)
from .summaries import refresh_ticket_summaries


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2", "is_staff")}),)
    filter_horizontal = ("groups", "user_permissions")


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = readonly_fields = ("created_at", "sender", "is_internal", "is_from_customer", "channel", "message_text")
    show_change_link = True
    can_delete = False


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    fields = readonly_fields = ("created_at", "actor", "kind", "from_value", "to_value", "channel", "note")
    can_delete = False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "title",
        "customer",
        "status",
        "priority",
        "category",
        "assigned_agent",
        "escalated",
        "source",
        "updated_at",
    ]
    list_filter = ["status", "priority", "category", "source", "escalated", "assigned_agent"]
    search_fields = ["reference", "title", "customer__email", "customer__name"]
    list_select_related = ["customer", "assigned_agent"]
    raw_id_fields = ["customer", "assigned_agent", "follow_up_of"]
    readonly_fields = [
        "reference",
        "created_at",
        "updated_at",
        "resolved_at",
        "closed_at",
        "first_response_at",
        "escalated_at",
    ]
    date_hierarchy = "created_at"
    inlines = [MessageInline, TicketEventInline]

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        """An edit writes only the fields the form changed: the list columns and the
        conversation's version are the services' to keep, and writing back the whole row as it
        was read would undo a reply committed while the page was open."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        columns = {field.name for field in Ticket._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in columns]
        if changed:
            obj.save(update_fields=changed)


class RecountsTickets(admin.ModelAdmin):
    """For the models whose edits here bypass the services (messages, files): the list columns
    and the conversation's version of every ticket an edit touched, the one a row was moved
    away from included, are recounted after it."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = type(obj).objects.filter(pk=obj.pk).values_list("ticket_id", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        refresh_ticket_summaries(Ticket.objects.filter(pk__in={obj.ticket_id, before} - {None}))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        refresh_ticket_summaries(Ticket.objects.filter(pk=obj.ticket_id))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        tickets = set(queryset.values_list("ticket_id", flat=True))
        super().delete_queryset(request, queryset)
        refresh_ticket_summaries(Ticket.objects.filter(pk__in=tickets))


@admin.register(Message)
class MessageAdmin(RecountsTickets):
    list_display = ["ticket", "sender", "is_internal", "is_from_customer", "channel", "routed_by", "created_at"]
    list_filter = ["is_internal", "is_from_customer", "channel", "routed_by", "read_by_staff", "read_by_customer"]
    search_fields = ["ticket__reference", "sender__email", "message_text", "email_message_id"]
    list_select_related = ["ticket", "sender"]
    raw_id_fields = ["ticket", "sender"]


@admin.register(Attachment)
class AttachmentAdmin(RecountsTickets):
    list_display = ["filename", "ticket", "content_type", "file_size", "uploaded_by", "created_at"]
    list_filter = ["content_type"]
    search_fields = ["filename", "ticket__reference", "uploaded_by__email"]
    list_select_related = ["ticket", "uploaded_by"]
    raw_id_fields = ["ticket", "message", "uploaded_by"]


@admin.register(TicketEvent)
class TicketEventAdmin(admin.ModelAdmin):
    list_display = ["ticket", "kind", "from_value", "to_value", "actor", "channel", "created_at"]
    list_filter = ["kind", "channel"]
    search_fields = ["ticket__reference", "actor__email", "note"]
    list_select_related = ["ticket", "actor"]
    raw_id_fields = ["ticket", "actor"]


@admin.register(TicketParticipant)
class TicketParticipantAdmin(admin.ModelAdmin):
    """People in Cc of a ticket; deleting a row takes the person out of the conversation."""

    list_display = ["ticket", "person", "added_by", "added_at"]
    search_fields = ["ticket__reference", "person__email"]
    list_select_related = ["ticket", "person", "added_by"]
    raw_id_fields = ["ticket", "person", "added_by"]


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "created_by", "updated_at"]
    search_fields = ["title", "body"]
    readonly_fields = ["created_by", "created_at", "updated_at"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "ticket", "event", "summary", "read_at"]
    list_filter = ["event"]
    search_fields = ["recipient__email", "ticket__reference", "summary"]
    list_select_related = ["recipient", "ticket"]
    raw_id_fields = ["recipient", "ticket", "message"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    """Who switched which mail off (no row: the mail is on)."""

    list_display = ["person", "event", "email"]
    list_filter = ["event", "email"]
    search_fields = ["person__email"]
    raw_id_fields = ["person"]
