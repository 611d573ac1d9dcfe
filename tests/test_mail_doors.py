"""Every door in stores the mail first and answers only then: webhooks, raw MIME, the pipe command."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import mailbox
import threading
import time
from base64 import b64encode

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from mailgateway.ingest import process_stored_mail
from mailgateway.models import InboundEmail
from mailgateway.store import store_inbound
from support.models import Message, Ticket, User
from support.services import add_participants
from tests.mailbuilder import build_mail

# The doors commit for real and processing starts on commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)
RAW_URL = "/mailgateway/raw/"
MAILGUN_URL = "/anymail/mailgun/inbound_mime/"
SIGNING_KEY = "key-test-signing"


@pytest.fixture
def raw_door(settings):
    settings.INBOUND_RAW_TOKEN = "door-token-123"
    return {"HTTP_AUTHORIZATION": "Bearer door-token-123"}


@pytest.fixture
def mailgun(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret", "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    return {"HTTP_AUTHORIZATION": "Basic " + b64encode(b"hook:s3cret").decode()}


def mailgun_post(raw: bytes, *, key: str = SIGNING_KEY) -> dict:
    timestamp, token = str(int(time.time())), "tok-" + hashlib.sha1(raw).hexdigest()[:20]
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "body-mime": raw.decode("utf-8"),
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        "recipient": "support@example.com",
        "sender": "asha@example.com",
    }


# -- provider webhooks (Anymail) -------------------------------------------------------------


def test_a_signed_provider_webhook_becomes_a_ticket(client, mailgun):
    response = client.post(MAILGUN_URL, mailgun_post(build_mail(subject="Leaking tap")), **mailgun)
    assert response.status_code == 200
    inbound = InboundEmail.objects.get()
    assert (inbound.door, inbound.provider, inbound.envelope_recipient) == ("webhook", "Mailgun", "support@example.com")
    assert inbound.status == "processed" and inbound.ticket.title == "Leaking tap"


def test_a_webhook_with_a_wrong_signature_is_refused_and_stores_nothing(client, mailgun):
    response = client.post(MAILGUN_URL, mailgun_post(build_mail(), key="wrong-key"), **mailgun)
    assert response.status_code == 400 and not InboundEmail.objects.exists()


def test_a_webhook_without_the_basic_auth_secret_is_refused(client, mailgun):
    response = client.post(MAILGUN_URL, mailgun_post(build_mail()))
    assert response.status_code == 400 and not InboundEmail.objects.exists()  # Anymail's answer to bad auth


def test_the_provider_s_spam_verdict_is_kept_and_the_mail_ignored(client, mailgun):
    raw = build_mail(headers={"X-Mailgun-Sflag": "Yes", "X-Mailgun-Sscore": "12.5"})
    client.post(MAILGUN_URL, mailgun_post(raw), **mailgun)
    inbound = InboundEmail.objects.get()
    assert inbound.provider_verdicts == {"spam_detected": True, "spam_score": 12.5}
    assert (inbound.status, inbound.reason) == ("ignored", "spam")


def test_a_provider_retrying_the_same_mail_makes_one_message(client, mailgun):
    raw = build_mail(message_id="<retry@example.com>")
    for _ in range(3):
        assert client.post(MAILGUN_URL, mailgun_post(raw), **mailgun).status_code == 200
    assert InboundEmail.objects.count() == 1 and Message.objects.count() == 1


def test_every_anymail_inbound_url_is_served():
    from django.urls import resolve

    for provider in ("amazon_ses", "brevo", "mailersend", "mailgun", "mailjet", "mailtrap", "postal", "postmark"):
        assert resolve(f"/anymail/{provider}/inbound/").url_name == f"{provider}_inbound_webhook"
    for provider in ("resend", "sendgrid", "sparkpost"):
        assert resolve(f"/anymail/{provider}/inbound/").url_name == f"{provider}_inbound_webhook"


# -- the raw MIME endpoint -------------------------------------------------------------------


def test_the_raw_door_stores_and_processes_a_mail(client, raw_door):
    response = client.post(RAW_URL, build_mail(), content_type="message/rfc822", **raw_door)
    assert response.status_code == 200 and response.json()["stored"] == "new"
    assert InboundEmail.objects.get(pk=response.json()["id"]).status == "processed"


def test_the_raw_door_says_when_a_mail_was_already_stored(client, raw_door):
    raw = build_mail()
    client.post(RAW_URL, raw, content_type="message/rfc822", **raw_door)
    response = client.post(RAW_URL, raw, content_type="message/rfc822", **raw_door)
    assert response.json()["stored"] == "duplicate" and Message.objects.count() == 1


def test_the_raw_door_takes_the_envelope_from_headers(client, raw_door):
    client.post(
        RAW_URL,
        build_mail(),
        content_type="message/rfc822",
        HTTP_X_ENVELOPE_FROM="<>",
        HTTP_X_ENVELOPE_TO="support@example.com",
        **raw_door,
    )
    inbound = InboundEmail.objects.get()
    assert (inbound.envelope_sender, inbound.reason) == ("<>", "bounce")


def test_the_raw_door_refuses_a_wrong_token(client, raw_door):
    response = client.post(RAW_URL, build_mail(), content_type="message/rfc822", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401 and response.json()["error"] == "not_authenticated"
    assert not InboundEmail.objects.exists()


def test_the_raw_door_is_closed_until_a_token_is_set(client, settings):
    settings.INBOUND_RAW_TOKEN = ""
    response = client.post(RAW_URL, build_mail(), content_type="message/rfc822")
    assert response.status_code == 503 and response.json()["error"] == "door_closed"


def test_the_raw_door_refuses_an_empty_body(client, raw_door):
    response = client.post(RAW_URL, b"  \r\n", content_type="message/rfc822", **raw_door)
    assert response.status_code == 400 and response.json()["error"] == "validation_error"


def test_the_raw_door_refuses_a_mail_over_the_limit(client, raw_door, settings):
    settings.INBOUND_MAX_BYTES = 1000
    response = client.post(RAW_URL, build_mail(text="x" * 5000), content_type="message/rfc822", **raw_door)
    assert response.status_code == 413 and response.json()["error"] == "too_large"


def test_the_raw_door_only_takes_post(client, raw_door):
    assert client.get(RAW_URL, **raw_door).status_code == 405


def test_when_the_database_fails_the_door_answers_an_error_so_the_sender_retries(client, raw_door, monkeypatch):
    def down(*args, **kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr("mailgateway.views.store_inbound", down)
    client.raise_request_exception = False
    response = client.post(RAW_URL, build_mail(), content_type="message/rfc822", **raw_door)
    assert response.status_code == 500


# -- the pipe command ------------------------------------------------------------------------


def run_ingest(*args: str, stdin: bytes | None = None, monkeypatch=None) -> list[dict]:
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    call_command("ingest_email", *args, "--json", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_ingest_email_reads_a_file_and_reports_the_new_ticket(tmp_path):
    path = tmp_path / "one.eml"
    path.write_bytes(build_mail())
    (result,) = run_ingest(str(path))
    ticket = Ticket.objects.get()
    assert result == {
        "source": str(path),
        "status": "created",
        "ticket": ticket.reference,
        "message": str(ticket.messages.get().pk),
    }


def test_ingest_email_reads_standard_input_like_an_mta_pipe(monkeypatch):
    (result,) = run_ingest("-", stdin=build_mail(), monkeypatch=monkeypatch)
    assert (result["source"], result["status"]) == ("stdin", "created")


def test_ingest_email_reads_a_folder_of_eml_files_and_an_mbox(tmp_path, customer_a):
    folder = tmp_path / "mails"
    folder.mkdir()
    (folder / "a.eml").write_bytes(build_mail(subject="first"))
    (folder / "b.eml").write_bytes(build_mail(subject="second", headers={"Auto-Submitted": "auto-replied"}))
    box = mailbox.mbox(str(tmp_path / "box.mbox"))
    box.add(build_mail(subject="third"))
    box.add(build_mail(sender="eve@evil.example", subject="[SB-1000] hi"))
    box.flush()
    results = run_ingest(str(folder), str(tmp_path / "box.mbox"))
    assert [r["status"] for r in results] == ["created", "ignored", "created", "created"]
    assert results[1]["reason"] == "auto_reply" and results[2]["source"].endswith("box.mbox#1")


def test_ingest_email_reports_quarantine_with_its_reason(tmp_path, customer_a):
    first = tmp_path / "first.eml"
    first.write_bytes(build_mail())
    (created,) = run_ingest(str(first))
    stranger = tmp_path / "stranger.eml"
    stranger.write_bytes(build_mail(sender="eve@evil.example", subject=f"Re: [{created['ticket']}] x"))
    (result,) = run_ingest(str(stranger))
    assert (result["status"], result["reason"], result["ticket"]) == (
        "quarantined",
        "sender_mismatch",
        created["ticket"],
    )


def test_ingest_email_reports_a_duplicate_and_an_appended_reply(tmp_path):
    path = tmp_path / "one.eml"
    path.write_bytes(build_mail(message_id="<pipe-1@example.com>"))
    (created,) = run_ingest(str(path))
    (again,) = run_ingest(str(path))
    reply = tmp_path / "reply.eml"
    reply.write_bytes(build_mail(in_reply_to="<pipe-1@example.com>", subject="Re: x"))
    (appended,) = run_ingest(str(reply))
    assert (again["status"], again["ticket"]) == ("duplicate", created["ticket"])
    assert (appended["status"], appended["ticket"]) == ("appended", created["ticket"])


def test_ingest_email_fails_for_a_missing_path():
    with pytest.raises(CommandError, match="no such file"):
        call_command("ingest_email", "/nonexistent/mail.eml", stdout=io.StringIO())


def test_ingest_email_with_queue_only_stores(tmp_path, settings, monkeypatch):
    queued = []
    monkeypatch.setattr("mailgateway.store._enqueue", queued.append)  # the broker is the edge here
    path = tmp_path / "one.eml"
    path.write_bytes(build_mail())
    (result,) = run_ingest("--queue", str(path))
    assert result["status"] == "queued" and len(queued) == 1 and not Ticket.objects.exists()


def test_ingest_email_leaves_a_mail_it_could_not_process_to_the_workers(tmp_path, monkeypatch):
    queued = []
    monkeypatch.setattr("mailgateway.store._enqueue", queued.append)  # the broker is the edge here

    def crash(*args, **kwargs):
        raise RuntimeError("the database went away mid-mail")

    monkeypatch.setattr("mailgateway.ingest.route_email", crash)
    path = tmp_path / "one.eml"
    path.write_bytes(build_mail())
    (result,) = run_ingest(str(path))  # no CommandError: the mail is stored, an MTA must not bounce it
    inbound = InboundEmail.objects.get()
    assert (result["status"], result["reason"]) == ("queued", "processing_error")
    assert inbound.status == "received" and "went away" in inbound.error and len(queued) == 1


def test_ingest_email_exits_with_a_temporary_failure_when_a_mail_cannot_be_stored(tmp_path, monkeypatch):
    def down(*args, **kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr("mailgateway.management.commands.ingest_email.store_inbound", down)
    path = tmp_path / "one.eml"
    path.write_bytes(build_mail())
    with pytest.raises(CommandError) as failed:
        call_command("ingest_email", str(path), stdout=io.StringIO())
    assert failed.value.returncode == 75  # EX_TEMPFAIL: the MTA keeps the mail and delivers it again


def test_reprocess_inbound_routes_a_quarantined_mail_again(customer_a, agent):
    ticket = Ticket.objects.create(reference="SB-7", title="t", customer=customer_a)
    inbound = store_inbound(build_mail(sender="bikash@example.com", subject="[SB-7] me too"), door="raw").inbound
    process_stored_mail(str(inbound.pk))
    inbound.refresh_from_db()
    assert inbound.reason == "sender_mismatch"
    bikash = User.objects.create_user("bikash@example.com")
    add_participants(ticket=ticket, people=[bikash], actor=agent, channel="web")
    out = io.StringIO()
    call_command("reprocess_inbound", "--quarantined", stdout=out)
    inbound.refresh_from_db()
    assert inbound.status == "processed" and inbound.ticket == ticket and "appended" in out.getvalue()


# -- at the same moment, on PostgreSQL ---------------------------------------------------------


@pytest.mark.postgres
def test_ten_concurrent_deliveries_of_one_mail_make_one_message():
    raw = build_mail(message_id="<ten-at-once@example.com>")
    barrier = threading.Barrier(10)
    errors: list[BaseException] = []

    def deliver_once() -> None:
        try:
            barrier.wait()
            stored = store_inbound(raw, door="webhook", provider="test", envelope_recipient="support@example.com")
            process_stored_mail(str(stored.inbound.pk))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_once) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (InboundEmail.objects.count(), Ticket.objects.count(), Message.objects.count()) == (1, 1, 1)
