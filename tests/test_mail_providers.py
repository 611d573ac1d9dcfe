"""Each provider's inbound webhook, posted its real payload shape: one receiver stores them all.

Anymail checks the webhook's basic auth and the provider's own signature; past the receiver only
the raw mail and its envelope remain. Providers that make us fetch the mail from their API
(Resend, Mailtrap) are the network edge we cannot reach: only their HTTP answer is faked.
Mailgun has its own tests in test_mail_doors.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from anymail import urls as anymail_urls
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.urls import reverse

from mailgateway.models import InboundEmail
from mailgateway.provider_doors import provider_webhook_urls
from tests.mailbuilder import build_mail

pytestmark = pytest.mark.django_db(transaction=True)
BASIC = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"hook:s3cret").decode()}
SENDER = "asha@example.com"
SUPPORT = "support@example.com"


@dataclass
class Delivery:
    url: str
    body: Any  # bytes for JSON and raw bodies, a dict for form posts
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def as_json(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def postmark(raw: bytes) -> Delivery:
    payload = {
        "FromFull": {"Email": SENDER, "Name": "Asha"},
        "OriginalRecipient": SUPPORT,
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "Headers": [{"Name": "Return-Path", "Value": f"<{SENDER}>"}],
        "RawEmail": raw.decode(),
    }
    return Delivery("/anymail/postmark/inbound/", as_json(payload), headers=BASIC)


def sendgrid(raw: bytes) -> Delivery:  # "Send Raw" on: the mail arrives whole in the form field `email`
    form = {"email": raw.decode(), "envelope": json.dumps({"from": SENDER, "to": [SUPPORT]}), "spam_score": "0.1"}
    return Delivery("/anymail/sendgrid/inbound/", form, content_type="", headers=BASIC)


def mailjet(raw: bytes) -> Delivery:  # Mailjet's Parse API sends the mail already taken apart
    payload = {
        "Sender": SENDER,
        "Recipient": SUPPORT,
        "Headers": {"From": f"Asha <{SENDER}>", "To": SUPPORT, "Subject": "Leaking tap", "Message-ID": "<mj-1@ex>"},
        "Text-part": "The tap in the kitchen leaks.",
        "Html-part": "<p>The tap in the kitchen leaks.</p>",
        "SpamAssassinScore": "0.3",
        "Parts": [],
    }
    return Delivery("/anymail/mailjet/inbound/", as_json(payload), headers=BASIC)


def sparkpost(raw: bytes) -> Delivery:
    relay = {"protocol": "smtp", "msg_from": SENDER, "rcpt_to": SUPPORT, "friendly_from": SENDER}
    relay["content"] = {"email_rfc822": base64.b64encode(raw).decode(), "email_rfc822_is_base64": True}
    return Delivery("/anymail/sparkpost/inbound/", as_json([{"msys": {"relay_message": relay}}]), headers=BASIC)


def amazon_ses(raw: bytes, *, dmarc: str = "PASS") -> Delivery:
    ses_event = {
        "notificationType": "Received",
        "mail": {"source": SENDER, "messageId": "ses-0001", "timestamp": "2026-12-01T10:00:00.000Z"},
        "receipt": {
            "recipients": [SUPPORT],
            "spamVerdict": {"status": "PASS"},
            "spfVerdict": {"status": "PASS"},
            "dkimVerdict": {"status": "PASS"},
            "dmarcVerdict": {"status": dmarc},
            "action": {"type": "SNS", "encoding": "BASE64"},
        },
        "content": base64.b64encode(raw).decode(),
    }
    sns = {
        "Type": "Notification",
        "MessageId": "sns-0001",
        "TopicArn": "arn:aws:sns:x",
        "Message": json.dumps(ses_event),
    }
    headers = {**BASIC, "HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification", "HTTP_X_AMZ_SNS_MESSAGE_ID": "sns-0001"}
    return Delivery("/anymail/amazon_ses/inbound/", as_json(sns), content_type="text/plain", headers=headers)


def brevo(raw: bytes) -> Delivery:
    item = {
        "Uuid": ["b7c1d8a2-0001"],
        "Headers": {"From": f"Asha <{SENDER}>", "To": SUPPORT, "Subject": "Leaking tap", "Message-ID": "<br-1@ex>"},
        "RawTextBody": "The tap in the kitchen leaks.",
        "RawHtmlBody": "",
        "Attachments": [],
    }
    return Delivery("/anymail/brevo/inbound/", as_json({"items": [item]}), headers=BASIC)


MAILERSEND_SECRET = "ms-inbound-secret"


def mailersend(raw: bytes, *, secret: str = MAILERSEND_SECRET) -> Delivery:
    payload = {
        "type": "inbound.message",
        "data": {
            "id": "ms-0001",
            "created_at": "2026-12-01T10:00:00.000000Z",
            "raw": raw.decode(),
            "sender": {"email": SENDER},
            "recipients": {"rcptTo": [{"email": SUPPORT}]},
        },
    }
    body = as_json(payload)
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return Delivery("/anymail/mailersend/inbound/", body, headers={**BASIC, "HTTP_SIGNATURE": signature})


_POSTAL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
POSTAL_PUBLIC_KEY = base64.b64encode(
    _POSTAL_KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()


def postal(raw: bytes, *, key: rsa.RSAPrivateKey = _POSTAL_KEY) -> Delivery:
    payload = {"id": 4711, "rcpt_to": SUPPORT, "mail_from": SENDER, "message": base64.b64encode(raw).decode()}
    payload["base64"] = True
    body = as_json(payload)
    signature = base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA1())).decode()
    return Delivery("/anymail/postal/inbound/", body, headers={**BASIC, "HTTP_X_POSTAL_SIGNATURE": signature})


@pytest.fixture(autouse=True)
def provider_settings(settings):
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": "hook:s3cret",
        "MAILERSEND_INBOUND_SECRET": MAILERSEND_SECRET,
        "POSTAL_WEBHOOK_KEY": POSTAL_PUBLIC_KEY,
        "MAILTRAP_API_TOKEN": "mt-token",
        "RESEND_API_KEY": "re-key",
        "BREVO_API_KEY": "brevo-key",
    }


def post(client, delivery: Delivery):
    if delivery.content_type:
        return client.post(delivery.url, delivery.body, content_type=delivery.content_type, **delivery.headers)
    return client.post(delivery.url, delivery.body, **delivery.headers)


PROVIDERS = {
    "Postmark": postmark,
    "SendGrid": sendgrid,
    "Mailjet": mailjet,
    "SparkPost": sparkpost,
    "Amazon SES": amazon_ses,
    "Brevo": brevo,
    "MailerSend": mailersend,
    "Postal": postal,
}


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_each_provider_s_inbound_mail_is_stored_and_becomes_a_ticket(client, provider):
    raw = build_mail(sender=f"Asha <{SENDER}>", subject="Leaking tap", text="The tap in the kitchen leaks.")
    response = post(client, PROVIDERS[provider](raw))
    assert response.status_code == 200, response.content
    inbound = InboundEmail.objects.get()
    assert (inbound.door, inbound.provider) == ("webhook", provider)
    assert inbound.status == "processed" and inbound.ticket.title == "Leaking tap"
    assert inbound.message.message_text == "The tap in the kitchen leaks."


@pytest.mark.parametrize("provider", ["Postmark", "SendGrid", "SparkPost", "Amazon SES", "MailerSend", "Postal"])
def test_the_envelope_the_provider_saw_is_kept(client, provider):
    post(client, PROVIDERS[provider](build_mail(sender=f"Asha <{SENDER}>")))
    inbound = InboundEmail.objects.get()
    assert (inbound.envelope_sender, inbound.envelope_recipient) == (SENDER, SUPPORT)


def test_a_provider_s_event_id_makes_its_retries_one_mail(client):
    raw = build_mail(sender=f"Asha <{SENDER}>")
    for _ in range(3):
        assert post(client, postal(raw)).status_code == 200
    assert InboundEmail.objects.count() == 1


def test_amazon_ses_sender_verdicts_are_kept_with_the_mail(client):
    post(client, amazon_ses(build_mail(sender=f"Asha <{SENDER}>"), dmarc="FAIL"))
    verdicts = InboundEmail.objects.get().auth_results
    assert (verdicts["spf"], verdicts["dkim"], verdicts["dmarc"]) == ("pass", "pass", "fail")


def test_a_mailersend_post_with_a_wrong_signature_is_refused_and_stores_nothing(client):
    response = post(client, mailersend(build_mail(), secret="not-the-secret"))
    assert response.status_code == 400 and not InboundEmail.objects.exists()


def test_a_postal_post_signed_by_another_key_is_refused_and_stores_nothing(client):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = post(client, postal(build_mail(), key=stranger))
    assert response.status_code == 400 and not InboundEmail.objects.exists()


def test_a_post_without_the_webhook_secret_is_refused_and_stores_nothing(client):
    delivery = postmark(build_mail())
    delivery.headers = {}
    response = post(client, delivery)
    assert response.status_code == 400 and not InboundEmail.objects.exists()


@pytest.mark.parametrize("secret", ["", "change-me:change-me-too"])
def test_in_production_the_webhooks_are_closed_until_a_secret_of_your_own_is_set(client, settings, secret):
    """Anymail alone would take an unauthenticated post (with a warning): anyone could post mail as
    any customer."""
    settings.DEBUG = False
    settings.ANYMAIL = {"WEBHOOK_SECRET": secret} if secret else {}
    for url in ("/anymail/postmark/inbound/", "/anymail/postmark/tracking/"):
        response = post(client, Delivery(url, postmark(build_mail()).body))
        assert response.status_code == 503 and response.json()["error"] == "door_closed", url
        assert "ANYMAIL_WEBHOOK_SECRET" in response.json()["message"]
    assert not InboundEmail.objects.exists()


@pytest.mark.parametrize("name", [p.name for p in anymail_urls.urlpatterns])
def test_in_production_every_provider_webhook_is_behind_the_door(client, settings, name):
    settings.DEBUG = False
    settings.ANYMAIL = {}
    url = reverse(f"anymail:{name}", args=[""] if "mailgun_inbound" in name else [])
    response = client.post(url, b"{}", content_type="application/json")
    assert response.status_code == 503 and response.json()["error"] == "door_closed", url


def test_the_door_keeps_every_one_of_anymail_s_webhook_urls():
    assert [p.name for p in provider_webhook_urls()] == [p.name for p in anymail_urls.urlpatterns]


def test_the_embedded_default_takes_webhooks_without_a_secret(client, settings):
    """With DEBUG on (a developer's machine, the demo) Anymail's own rule holds: a warning."""
    settings.DEBUG = True
    settings.ANYMAIL = {}
    delivery = postmark(build_mail())
    assert post(client, Delivery(delivery.url, delivery.body)).status_code == 200
    assert InboundEmail.objects.count() == 1


def test_an_amazon_sns_post_whose_headers_do_not_match_its_body_is_refused(client):
    delivery = amazon_ses(build_mail())
    delivery.headers["HTTP_X_AMZ_SNS_MESSAGE_ID"] = "another-id"
    assert post(client, delivery).status_code == 400 and not InboundEmail.objects.exists()


# -- providers whose webhook only says "a mail arrived": the mail is fetched from their API ----


class FakeResponse:
    """What `requests.get` answers, for the provider API that this sandbox cannot reach."""

    def __init__(self, *, json_body: Any = None, content: bytes = b"") -> None:
        self._json, self._content = json_body, content

    def raise_for_status(self) -> None:
        return None

    def json(self) -> Any:
        return self._json

    def iter_content(self, chunk_size: int = 1024):
        stream = io.BytesIO(self._content)
        while chunk := stream.read(chunk_size):
            yield chunk

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_mailtrap_inbound_mail_is_fetched_stored_and_becomes_a_ticket(client, monkeypatch):
    raw = build_mail(sender=f"Asha <{SENDER}>", subject="Leaking tap")
    answers = {
        "https://mailtrap.io/api/inbound/inboxes/42/messages/mt-1": FakeResponse(
            json_body={"id": "mt-1", "raw_message_url": "https://files.example/raw/mt-1"}
        ),
        "https://files.example/raw/mt-1": FakeResponse(content=raw),
    }
    monkeypatch.setattr("anymail.webhooks.mailtrap.requests.get", lambda url, **kwargs: answers[url])
    event = {"event": "inbound.message_received", "event_id": "ev-1", "timestamp": int(time.time())}
    event.update({"inbox_id": 42, "message_id": "mt-1"})
    response = client.post("/anymail/mailtrap/inbound/", as_json({"events": [event]}), "application/json", **BASIC)
    assert response.status_code == 200
    inbound = InboundEmail.objects.get()
    assert (inbound.provider, inbound.status, inbound.ticket.title) == ("Mailtrap", "processed", "Leaking tap")


def test_resend_inbound_mail_is_fetched_stored_and_becomes_a_ticket(client, monkeypatch):
    raw = build_mail(sender=f"Asha <{SENDER}>", subject="Leaking tap")
    answers = {
        "https://api.resend.com/emails/receiving/re-1": FakeResponse(
            json_body={"id": "re-1", "raw": {"download_url": "https://files.example/raw/re-1"}}
        ),
        "https://files.example/raw/re-1": FakeResponse(content=raw),
    }
    monkeypatch.setattr("anymail.webhooks.resend.requests.get", lambda url, **kwargs: answers[url])
    event = {"type": "email.received", "created_at": "2026-12-01T10:00:00Z", "data": {"email_id": "re-1"}}
    response = client.post("/anymail/resend/inbound/", as_json(event), "application/json", **BASIC)
    assert response.status_code == 200
    inbound = InboundEmail.objects.get()
    assert (inbound.provider, inbound.status, inbound.ticket.title) == ("Resend", "processed", "Leaking tap")
