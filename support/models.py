"""Tickets, messages, attachments and the audit log of ticket events.

Models hold invariants (database constraints, the priority rank kept with the priority) and
never send mail or decide policy: every change goes through `support.services`.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower, Upper
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create(email, password, **extra)

    def with_email(self, address: str | None) -> models.QuerySet[User]:
        """The user with this address, whatever its case: served by the index on LOWER(email).

        (`email__iexact` compares UPPER() on PostgreSQL, which no index serves: a scan of every user.)
        """
        return self.alias(email_lower=Lower("email")).filter(email_lower=(address or "").strip().lower())

    def get_by_natural_key(self, username: str | None) -> User:
        return self.with_email(username).get()


class User(AbstractBaseUser, PermissionsMixin):
    """A person: email is the identity. Staff (`is_staff`) are agents; everyone else a customer."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", max_length=254, unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]
        # `email__iexact` (every mail looks its sender up that way) compares UPPER(email) on
        # PostgreSQL: without this index each lookup scans the whole table (bench/load.py).
        indexes = [models.Index(Upper("email"), name="user_email_upper")]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        """The name others see; a nameless agent is "Support" (not even part of their address)."""
        return self.name or ("Support" if self.is_staff else self.email.split("@")[0])

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.display_name


class Status(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


# How much of the latest message a ticket list shows.
SNIPPET_LENGTH = 140

PRIORITY_RANK: dict[str, int] = {Priority.LOW: 1, Priority.MEDIUM: 2, Priority.HIGH: 3, Priority.URGENT: 4}


class Category(models.TextChoices):
    BILLING = "billing", "Billing"
    TECHNICAL = "technical", "Technical"
    ACCOUNT = "account", "Account"
    SERVICE = "service", "Service"
    GENERAL = "general", "General"
    BOOKING = "booking", "Booking"
    PAYMENT = "payment", "Payment"


class Source(models.TextChoices):
    WEB = "web", "Web"
    MOBILE = "mobile", "Mobile"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    API = "api", "API"


class Channel(models.TextChoices):
    WEB = "web", "Web"
    EMAIL = "email", "Email"
    API = "api", "API"
    SYSTEM = "system", "System"


class TicketReferenceCounter(models.Model):
    """The last ticket number handed out, for databases without sequences (SQLite).

    PostgreSQL uses a real sequence instead (see `support.references`).
    """

    name = models.CharField(max_length=32, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"


class Ticket(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(max_length=32, unique=True, editable=False)
    title = models.CharField(max_length=255)
    customer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="tickets")
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.GENERAL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.MEDIUM)
    # Kept with `priority` on every save so that "order by severity" can use an index.
    priority_rank = models.PositiveSmallIntegerField(default=PRIORITY_RANK[Priority.MEDIUM], editable=False)
    assigned_agent = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        limit_choices_to={"is_staff": True},
    )
    escalated = models.BooleanField(default=False)
    escalation_reason = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    tags = models.JSONField(default=list, blank=True)
    follow_up_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="follow_ups"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    # What a ticket list shows of the conversation, for each side, kept by the domain services
    # with every message and every read (`support.services`), so that a page of tickets needs
    # no look into their messages. `refresh_ticket_summaries()` recounts them from the messages.
    staff_snippet = models.CharField(max_length=SNIPPET_LENGTH, null=True, blank=True, editable=False)
    customer_snippet = models.CharField(max_length=SNIPPET_LENGTH, null=True, blank=True, editable=False)
    unread_by_staff = models.PositiveIntegerField(default=0, editable=False)
    unread_by_customer = models.PositiveIntegerField(default=0, editable=False)
    # The latest message the customer can see is from staff: in progress, the ticket waits on
    # the customer (the console's "Waiting on customer" view and its count).
    last_public_from_staff = models.BooleanField(default=False, editable=False)
    # Moves with every change to the conversation (a message, its files or HTML), so that the
    # conversation kept in the cache is found under the version it was read at.
    conversation_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["customer", "-updated_at"], name="ticket_customer_updated"),
            # The list's default order within a status, to the tie-breaker: a page is read off
            # the index without a sort.
            models.Index(fields=["status", "-updated_at", "-id"], name="ticket_status_updated_id"),
            models.Index(fields=["priority"], name="ticket_priority"),
            models.Index(fields=["priority_rank", "-updated_at"], name="ticket_severity"),
            models.Index(fields=["category"], name="ticket_category"),
            models.Index(fields=["-updated_at"], name="ticket_updated"),
            models.Index(fields=["-created_at"], name="ticket_created"),
            models.Index(fields=["assigned_agent", "status"], name="ticket_agent_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=Status.values), name="ticket_status_valid"),
            models.CheckConstraint(condition=models.Q(priority__in=Priority.values), name="ticket_priority_valid"),
            models.CheckConstraint(condition=models.Q(category__in=Category.values), name="ticket_category_valid"),
            models.CheckConstraint(condition=models.Q(source__in=Source.values), name="ticket_source_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.priority_rank = PRIORITY_RANK.get(self.priority, 0)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "priority" in update_fields:
            kwargs["update_fields"] = {*update_fields, "priority_rank"}
        super().save(*args, **kwargs)


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(User, on_delete=models.PROTECT, related_name="messages")
    message_text = models.TextField()
    html = models.TextField(blank=True)
    is_from_customer = models.BooleanField(default=True)
    is_internal = models.BooleanField(default=False)
    read_by_customer = models.BooleanField(default=False)
    read_by_staff = models.BooleanField(default=False)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    email_message_id = models.CharField(max_length=998, blank=True, db_index=True)
    # Why a mailed message was threaded where it was (token, in_reply_to, references, subject,
    # new, follow_up); empty for messages written on the web or through the API.
    routed_by = models.CharField(max_length=24, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="message_ticket_created"),
            models.Index(fields=["created_at"], name="message_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(is_internal=True) & models.Q(is_from_customer=True)),
                name="message_internal_never_from_customer",
            ),
            # One mail is one message on a ticket, however often and through how many doors it
            # arrives: the database says so, not only a lookup.
            models.UniqueConstraint(
                fields=["sender", "email_message_id"],
                condition=~models.Q(email_message_id=""),
                name="message_one_per_mail",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket.reference}: {self.message_text[:40]}"


def attachment_upload_to(instance: Attachment, filename: str) -> str:
    # The stored name is random: the original name is kept in `filename` and only ever sent
    # back in a Content-Disposition header, never used as a path.
    return f"attachments/{instance.ticket_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="attachments")
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="attachments")
    file = models.FileField(upload_to=attachment_upload_to, max_length=255)
    filename = models.CharField(max_length=255)
    file_size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=127)
    content_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="attachment_ticket_created")]

    def __str__(self) -> str:
        return self.filename


class TicketParticipant(models.Model):
    """Someone besides the customer who is in the conversation (for example in Cc of a mail).

    Participants receive public replies by mail and may answer; staff can remove them.
    """

    id = models.BigAutoField(primary_key=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="participants")
    person = models.ForeignKey(User, on_delete=models.CASCADE, related_name="participations")
    added_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    added_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "person"], name="participant_once_per_ticket")]

    def __str__(self) -> str:
        return f"{self.person_id} on {self.ticket_id}"


class EventKind(models.TextChoices):
    CREATED = "created", "Ticket opened"
    STATUS = "status", "Status changed"
    PRIORITY = "priority", "Priority changed"
    CATEGORY = "category", "Category changed"
    ASSIGNMENT = "assignment", "Assignment changed"
    ESCALATION = "escalation", "Escalated"
    TAGS = "tags", "Tags changed"
    PARTICIPANTS = "participants", "Participants changed"


class TicketEvent(models.Model):
    """One change to a ticket: the audit log and the source of metrics."""

    id = models.BigAutoField(primary_key=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="ticket_events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    from_value = models.JSONField(null=True, blank=True)
    to_value = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="event_ticket_created"),
            models.Index(fields=["kind", "created_at"], name="event_kind_created"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind}: {self.from_value} -> {self.to_value}"


class CannedReply(models.Model):
    """A prepared answer agents insert into the reply box of the console (and then edit)."""

    id = models.BigAutoField(primary_key=True)
    title = models.CharField(max_length=120, unique=True)
    body = models.TextField()
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "canned replies"

    def __str__(self) -> str:
        return self.title


# -- notifications (written by mailgateway.notifications from the domain events) -------------


class NotificationEvent(models.TextChoices):
    NEW_TICKET = "new_ticket", "New ticket"
    AGENT_REPLY = "agent_reply", "Reply from support"
    CUSTOMER_REPLY = "customer_reply", "Reply from the customer"
    INTERNAL_NOTE = "internal_note", "Internal note"
    TICKET_RESOLVED = "ticket_resolved", "Ticket resolved"
    TICKET_ASSIGNED = "ticket_assigned", "Ticket assigned to you"
    TICKET_ESCALATED = "ticket_escalated", "Ticket escalated"


class Notification(models.Model):
    """Something a person should know about a ticket, shown in the app (always on, unlike mail).

    Written by the same domain events as the mails, for the same people: a customer is never
    notified of an internal note.
    """

    id = models.BigAutoField(primary_key=True)
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notifications")
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    event = models.CharField(max_length=24, choices=NotificationEvent.choices)
    summary = models.CharField(max_length=255, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at", "-created_at"], name="notification_inbox")]

    def __str__(self) -> str:
        return f"{self.event} on {self.ticket_id} for {self.recipient_id}"


class NotificationPreference(models.Model):
    """One person's choice to receive (or not) the mail of one event; no row means yes."""

    id = models.BigAutoField(primary_key=True)
    person = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_preferences")
    event = models.CharField(max_length=24, choices=NotificationEvent.choices)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "event"], name="preference_once_per_event")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.event}: {'mail' if self.email else 'no mail'}"
