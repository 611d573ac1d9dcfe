"""What the gateway keeps: every inbound mail as it arrived, before anything else happens.

An `InboundEmail` row is written in one short transaction by every door (provider webhook, raw
MIME endpoint, MTA pipe, IMAP) and only then does the door answer. Its `idempotency_key` is
unique in the database, so the same mail delivered twice, or ten times at once, is one row and
becomes one message.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Received, waiting to be processed"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    QUARANTINED = "quarantined", "Quarantined"
    FAILED = "failed", "Failed"


class Door(models.TextChoices):
    WEBHOOK = "webhook", "Provider webhook"
    RAW = "raw", "Raw MIME endpoint"
    PIPE = "pipe", "MTA pipe / command"
    IMAP = "imap", "IMAP mailbox"
    DEV_OUTBOX = "dev", "Reply typed in the dev outbox"


class InboundEmail(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    idempotency_key = models.CharField(max_length=128, unique=True)
    door = models.CharField(max_length=8, choices=Door.choices)
    provider = models.CharField(max_length=32, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    envelope_sender = models.CharField(max_length=998, blank=True)
    envelope_recipient = models.CharField(max_length=998, blank=True)
    provider_verdicts = models.JSONField(default=dict, blank=True)
    raw = models.BinaryField()
    raw_size = models.PositiveBigIntegerField(default=0)
    message_id_header = models.CharField(max_length=998, blank=True)
    # Filled in by processing, for staff to read without parsing the raw mail again.
    from_address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    auth_results = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=InboundStatus.choices, default=InboundStatus.RECEIVED)
    reason = models.CharField(max_length=64, blank=True)
    detail = models.TextField(blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    routed_by = models.CharField(max_length=16, blank=True)
    ticket = models.ForeignKey(
        "support.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_emails"
    )
    message = models.ForeignKey(
        "support.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_emails"
    )
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbound_status_received"),
            models.Index(fields=["from_address", "received_at"], name="inbound_from_received"),
            models.Index(fields=["message_id_header"], name="inbound_message_id"),
        ]

    def __str__(self) -> str:
        return f"{self.door} {self.message_id_header or self.id} ({self.status})"


class ReplyToken(models.Model):
    """A reply address's token: bound to one ticket and one person, and signed.

    The token is a random id plus an HMAC over (id, ticket, person) with `REPLY_TOKEN_KEY`, so a
    token that was guessed, altered or carried to another ticket or person does not verify, and
    rotating the key retires every token at once. It is short enough for the 64-octet local part
    of `support+<token>@domain` and lower-case, because some relays lower-case local parts.
    """

    token_id = models.CharField(max_length=16, unique=True)
    ticket = models.ForeignKey("support.Ticket", on_delete=models.CASCADE, related_name="reply_tokens")
    person = models.ForeignKey("support.User", on_delete=models.CASCADE, related_name="reply_tokens")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    use_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "person"], name="reply_token_one_per_person")]

    def __str__(self) -> str:
        return f"reply token {self.token_id[:4]}… for {self.person_id} on {self.ticket_id}"


class UndeliverableAddress(models.Model):
    """An address that hard-bounced or complained: the helpdesk sends it no more mail.

    Staff can see it and clear it (delete the row) once the person has fixed their mailbox.
    """

    address = models.CharField(max_length=320, unique=True)
    reason = models.CharField(max_length=32)  # bounce, complaint, rejected
    detail = models.TextField(blank=True)
    inbound = models.ForeignKey(InboundEmail, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        # Every mail sent asks whether its address bounced, comparing as `__iexact` does (UPPER()
        # on both sides on PostgreSQL), which the unique index on the address itself cannot serve.
        indexes = [models.Index(Upper("address"), name="undeliverable_address_upper")]

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"


class OutboundStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    DELIVERED = "delivered", "Delivered"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained (marked as spam)"
    REJECTED = "rejected", "Rejected by the provider"
    SKIPPED = "skipped", "Not sent (see error)"


class OutboundEmail(models.Model):
    """One mail the helpdesk sends to one person, from queued to what the provider reported.

    Written when a domain event decides the mail (`mailgateway.notifications`), sent by a run of
    the outbox or its own `mailgateway.send_outbound` task (`mailgateway.outbox`), updated by Anymail's tracking
    webhooks (`mailgateway.delivery`). `message_id_header` is the Message-ID the mail carries.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ticket = models.ForeignKey("support.Ticket", on_delete=models.CASCADE, related_name="outbound_emails")
    message = models.ForeignKey(
        "support.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="outbound_emails"
    )
    recipient = models.ForeignKey(
        "support.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="outbound_emails"
    )
    to_address = models.CharField(max_length=320)
    template = models.CharField(max_length=32)
    message_id_header = models.CharField(max_length=998)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=OutboundStatus.choices, default=OutboundStatus.QUEUED)
    provider = models.CharField(max_length=32, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Workers that died while sending it (`mailgateway.worker_deaths`): such a mail goes alone.
    worker_deaths = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The acknowledgements of the hour to one address, counted for every mail that opens a
            # ticket; the address compares as `__iexact` does (UPPER() on PostgreSQL).
            models.Index(Upper("to_address"), "template", "created_at", name="outbound_to_upper_template"),
            models.Index(fields=["status", "created_at"], name="outbound_status_created"),
            # Looked up by equality only (a reply's In-Reply-To, a tracking event): plain indexes,
            # not `db_index`, which on PostgreSQL adds a second, LIKE-only index to every text
            # column, written at every send (the batch's UPDATE changes provider_message_id).
            models.Index(fields=["message_id_header"], name="outbound_message_id_header"),
            models.Index(fields=["provider_message_id"], name="outbound_provider_message_id"),
        ]

    def __str__(self) -> str:
        return f"{self.template} to {self.to_address} ({self.status})"


class HeldStatus(models.TextChoices):
    HELD = "held", "Held"
    SENT = "sent", "Sent anyway"
    DROPPED = "dropped", "Dropped"


class HeldReply(models.Model):
    """An agent's mailed reply that answered an out-of-date notification, kept until they decide.

    The reply is posted only when the agent sends it anyway (console, or `#send` by mail) after
    seeing what changed; `#drop` or the console drops it. The mail itself stays in `inbound`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ticket = models.ForeignKey("support.Ticket", on_delete=models.CASCADE, related_name="held_replies")
    agent = models.ForeignKey("support.User", on_delete=models.CASCADE, related_name="held_replies")
    inbound = models.ForeignKey(InboundEmail, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    text = models.TextField()
    answered_message = models.ForeignKey(
        "support.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=8, choices=HeldStatus.choices, default=HeldStatus.HELD)
    posted_message = models.ForeignKey(
        "support.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "held replies"

    def __str__(self) -> str:
        return f"held reply of {self.agent_id} on {self.ticket_id} ({self.status})"
