"""Delivery tracking: the providers' real webhook payloads, posted to Anymail's tracking URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.core import mail as django_mail

from mailgateway.models import OutboundEmail, OutboundStatus, UndeliverableAddress
from support.models import User
from tests.builders import make_reply, make_ticket

pytestmark = pytest.mark.django_db

SIGNING_KEY = "key-mailgun-signing-0123456789"
POSTMARK_URL = "/anymail/postmark/tracking/"
MAILGUN_URL = "/anymail/mailgun/tracking/"
POSTMARK_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


@pytest.fixture(autouse=True)
def providers(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret", "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    django_mail.outbox = []


@pytest.fixture
def auth() -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"hook:s3cret").decode()}


@pytest.fixture
def sent_reply(customer_a, agent, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """The agent's reply, sent to the customer; the provider's id as Postmark would return it."""
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(customer_a)
        make_reply(ticket, agent, "On our way.")
    row = OutboundEmail.objects.get(template="agent_reply")
    row.provider_message_id = POSTMARK_ID
    row.save(update_fields=["provider_message_id"])
    return row


def postmark(record_type: str, **fields: object) -> str:
    event = {
        "RecordType": record_type,
        "MessageID": POSTMARK_ID,
        "Email": "asha@example.com",
        "Recipient": "asha@example.com",
        "Tag": "agent_reply",
        "Metadata": {},
        "ServerID": 23,
        "MessageStream": "outbound",
    }
    event.update(fields)
    return json.dumps(event)


def hard_bounce() -> str:
    return postmark(
        "Bounce",
        ID=4323372036854775807,
        Type="HardBounce",
        TypeCode=1,
        Name="Hard bounce",
        Description="The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        Details="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        BouncedAt="2026-12-01T10:00:00Z",
        Inactive=True,
        CanActivate=True,
        Subject="[SB-1000] Cleaner did not come",
    )


def mailgun(event: str, *, outbound_id: str, **data: object) -> str:
    timestamp, token = str(int(time.time())), "a" * 50
    signature = hmac.new(SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    event_data = {
        "event": event,
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": time.time(),
        "recipient": "asha@example.com",
        "message": {"headers": {"message-id": "20261201100000.1.ABC@mg.example.com"}},
        "user-variables": {"outbound_id": outbound_id, "ticket": "SB-1000"},
    }
    event_data.update(data)
    return json.dumps(
        {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event_data}
    )


def test_a_hard_bounce_marks_the_mail_bounced_and_the_address_undeliverable(client, auth, sent_reply):
    response = client.post(POSTMARK_URL, hard_bounce(), content_type="application/json", **auth)
    assert response.status_code == 200
    sent_reply.refresh_from_db()
    assert sent_reply.status == OutboundStatus.BOUNCED and "550 5.1.1" not in sent_reply.error
    assert "unable to deliver" in sent_reply.error
    assert UndeliverableAddress.objects.get(address="asha@example.com").reason == "bounce"


def test_after_a_hard_bounce_no_further_mail_goes_to_the_address(
    client, auth, sent_reply, agent, django_capture_on_commit_callbacks
):
    client.post(POSTMARK_URL, hard_bounce(), content_type="application/json", **auth)
    django_mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        make_reply(sent_reply.ticket, agent, "Did you get this?")
    assert django_mail.outbox == []
    latest = OutboundEmail.objects.filter(template="agent_reply").order_by("-created_at").first()
    assert latest.status == OutboundStatus.SKIPPED


def test_a_complaint_marks_the_address_undeliverable(client, auth, sent_reply):
    body = postmark("SpamComplaint", Type="SpamComplaint", TypeCode=512, BouncedAt="2026-12-01T10:00:00Z")
    assert client.post(POSTMARK_URL, body, content_type="application/json", **auth).status_code == 200
    sent_reply.refresh_from_db()
    assert sent_reply.status == OutboundStatus.COMPLAINED
    assert UndeliverableAddress.objects.get(address="asha@example.com").reason == "complaint"


def test_a_delivery_report_marks_the_mail_delivered_and_nothing_else(client, auth, sent_reply):
    body = postmark("Delivery", DeliveredAt="2026-12-01T10:00:00Z", Details="Test delivery webhook details")
    client.post(POSTMARK_URL, body, content_type="application/json", **auth)
    sent_reply.refresh_from_db()
    assert sent_reply.status == OutboundStatus.DELIVERED and not UndeliverableAddress.objects.exists()


def test_a_delivery_report_after_a_complaint_does_not_undo_it(client, auth, sent_reply):
    client.post(POSTMARK_URL, postmark("SpamComplaint", Type="SpamComplaint"), content_type="application/json", **auth)
    client.post(POSTMARK_URL, postmark("Delivery"), content_type="application/json", **auth)
    sent_reply.refresh_from_db()
    assert sent_reply.status == OutboundStatus.COMPLAINED


def test_a_soft_bounce_does_not_mark_the_address(client, auth, sent_reply):
    body = postmark("Bounce", Type="SoftBounce", TypeCode=4096, Description="Mailbox full")
    client.post(POSTMARK_URL, body, content_type="application/json", **auth)
    assert not UndeliverableAddress.objects.exists()


def test_a_report_about_a_mail_we_never_sent_changes_nothing(client, auth, sent_reply):
    body = postmark("Bounce", Type="HardBounce", MessageID="00000000-0000-0000-0000-000000000000")
    assert client.post(POSTMARK_URL, body, content_type="application/json", **auth).status_code == 200
    sent_reply.refresh_from_db()
    assert sent_reply.status == OutboundStatus.SENT and not UndeliverableAddress.objects.exists()


def test_a_signed_mailgun_permanent_failure_is_matched_by_our_metadata(client, auth, sent_reply):
    body = mailgun(
        "failed",
        outbound_id=str(sent_reply.pk),
        severity="permanent",
        reason="bounce",
        **{"delivery-status": {"code": 550, "message": "No such user", "description": "No such user"}},
    )
    assert client.post(MAILGUN_URL, body, content_type="application/json", **auth).status_code == 200
    sent_reply.refresh_from_db()
    assert sent_reply.status == OutboundStatus.BOUNCED
    assert UndeliverableAddress.objects.filter(address="asha@example.com").exists()


def test_a_mailgun_temporary_failure_changes_nothing(client, auth, sent_reply):
    body = mailgun("failed", outbound_id=str(sent_reply.pk), severity="temporary", reason="generic")
    client.post(MAILGUN_URL, body, content_type="application/json", **auth)
    sent_reply.refresh_from_db()
    assert sent_reply.status == OutboundStatus.SENT and not UndeliverableAddress.objects.exists()


def test_a_tracking_webhook_with_a_wrong_signature_is_refused_and_changes_nothing(client, auth, sent_reply):
    body = json.loads(mailgun("complained", outbound_id=str(sent_reply.pk)))
    body["signature"]["signature"] = "0" * 64
    response = client.post(MAILGUN_URL, json.dumps(body), content_type="application/json", **auth)
    assert response.status_code == 400
    sent_reply.refresh_from_db()
    assert sent_reply.status == OutboundStatus.SENT and not UndeliverableAddress.objects.exists()


def test_a_tracking_webhook_without_the_basic_auth_secret_is_refused(client, sent_reply):
    response = client.post(POSTMARK_URL, hard_bounce(), content_type="application/json")
    assert response.status_code in (400, 401, 403)
    assert not UndeliverableAddress.objects.exists()


def test_staff_clear_an_undeliverable_address_and_mail_goes_there_again(
    client, auth, sent_reply, agent, django_capture_on_commit_callbacks
):
    client.post(POSTMARK_URL, hard_bounce(), content_type="application/json", **auth)
    UndeliverableAddress.objects.filter(address="asha@example.com").delete()
    django_mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        make_reply(sent_reply.ticket, agent, "Your mailbox works again.")
    assert len(django_mail.outbox) == 1


def test_a_report_that_names_nobody_about_an_id_several_people_got_marks_nobody():
    """A web ticket's first message lends its id to the customer's acknowledgement and to every
    agent's notice: a report with neither our metadata nor a recipient cannot say whose mail it was."""
    from mailgateway.delivery import DeliveryReport, apply_delivery_report

    ticket = make_ticket(User.objects.create_user("web@example.com", None))
    shared = ticket.messages.get().email_message_id
    for address in ("web@example.com", "sita@example.com"):
        OutboundEmail.objects.create(
            ticket=ticket, to_address=address, template="ticket_opened", message_id_header=shared, status="sent"
        )
    assert apply_delivery_report(DeliveryReport(kind="bounced", provider="x", provider_message_id=shared)) is None
    assert not UndeliverableAddress.objects.exists()
    named = DeliveryReport(kind="bounced", provider="x", provider_message_id=shared, recipient="web@example.com")
    assert apply_delivery_report(named).to_address == "web@example.com"
    assert list(UndeliverableAddress.objects.values_list("address", flat=True)) == ["web@example.com"]
