"""The dev outbox: read what the helpdesk sent, and answer it as its recipient through the inbound path."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest
from django.core.mail import EmailMessage, get_connection
from django.test import Client

from mailgateway.dev_outbox import build_reply, find_written_mail
from mailgateway.models import InboundEmail, OutboundEmail
from support.models import Message, User
from tests.builders import make_ticket

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def file_outbox(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "sent_mail")
    settings.DEV_OUTBOX = True
    return tmp_path / "sent_mail"


@pytest.fixture
def acknowledged(customer_a, agent, file_outbox, committed):  # type: ignore[no-untyped-def]
    """A ticket Asha opened, and the acknowledgement the helpdesk sent her."""
    with committed():
        ticket = make_ticket(customer_a, title="Leaking tap", message_text="The kitchen tap drips all night.")
    return ticket, OutboundEmail.objects.get(ticket=ticket, template="ticket_opened")


def original_mail() -> email.message.EmailMessage:
    raw = (
        b"From: SewaBazaar Support <support@example.com>\r\nTo: asha@example.com\r\n"
        b"Reply-To: support+tok123@example.com\r\nSubject: [SB-1001] Leaking tap\r\n"
        b"Date: Sun, 06 Dec 2026 09:00:00 +0000\r\nMessage-ID: <sent.1@example.com>\r\n"
        b"References: <first@example.com>\r\n\r\nWe have your ticket SB-1001.\r\n"
    )
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_a_reply_goes_to_the_reply_to_and_threads_under_the_mail_it_answers() -> None:
    raw = build_reply(original_mail(), sender="asha@example.com", sender_name="Asha Rai", text="Thanks!", now=NOW)
    reply = email.message_from_bytes(raw, policy=email.policy.default)
    assert reply["To"] == "support+tok123@example.com" and reply["From"] == "Asha Rai <asha@example.com>"
    assert reply["Subject"] == "Re: [SB-1001] Leaking tap"
    assert reply["In-Reply-To"] == "<sent.1@example.com>"
    assert reply["References"] == "<first@example.com> <sent.1@example.com>"


def test_a_reply_quotes_the_original_under_the_new_text() -> None:
    raw = build_reply(original_mail(), sender="asha@example.com", sender_name="", text="Thanks!", now=NOW)
    text = email.message_from_bytes(raw, policy=email.policy.default).get_content().replace("\r\n", "\n")
    assert text.startswith("Thanks!\n\nOn Sun, 06 Dec 2026 09:00:00 +0000, SewaBazaar Support")
    assert "> We have your ticket SB-1001." in text


def test_a_mail_the_file_backend_wrote_is_found_by_its_message_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    backend = get_connection("django.core.mail.backends.filebased.EmailBackend", file_path=str(tmp_path))
    mails = [
        EmailMessage(f"Mail {n}", f"Body {n}", "support@example.com", ["asha@example.com"], headers=headers)
        for n, headers in enumerate([{"Message-ID": "<one@example.com>"}, {"Message-ID": "<two@example.com>"}])
    ]
    backend.send_messages(mails)  # one file, the two mails separated by a line of dashes
    found = find_written_mail("<two@example.com>", tmp_path)
    assert found is not None and found["Subject"] == "Mail 1" and found.get_content().strip() == "Body 1"
    assert find_written_mail("<three@example.com>", tmp_path) is None


def test_of_mails_sharing_a_message_id_the_one_to_the_recipient_is_found(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A message written here lends its id to every mail that carries it, one per recipient."""
    backend = get_connection("django.core.mail.backends.filebased.EmailBackend", file_path=str(tmp_path))
    shared = {"Message-ID": "<shared@example.com>"}
    backend.send_messages(
        [
            EmailMessage("To the agent", "A", "support@example.com", ["sita@example.com"], headers=shared),
            EmailMessage("To the customer", "B", "support@example.com", ["Asha@Example.com"], headers=shared),
        ]
    )
    found = find_written_mail("<shared@example.com>", tmp_path, to="asha@example.com")
    assert found is not None and found["Subject"] == "To the customer"


def test_a_written_mail_to_an_internationalised_domain_is_found(tmp_path) -> None:  # type: ignore[no-untyped-def]
    backend = get_connection("django.core.mail.backends.filebased.EmailBackend", file_path=str(tmp_path))
    backend.send_messages(
        [
            EmailMessage(
                "Hi", "B", "support@example.com", ["asha@bücher.example"], headers={"Message-ID": "<idn@example.com>"}
            )
        ]
    )
    assert find_written_mail("<idn@example.com>", tmp_path, to="asha@bücher.example") is not None


def test_staff_see_every_sent_mail_with_its_recipient_and_ticket(acknowledged, agent) -> None:  # type: ignore[no-untyped-def]
    ticket, outbound = acknowledged
    page = signed_in(agent).get("/console/sent-mail/").content.decode()
    assert outbound.to_address in page and ticket.reference in page and "Ticket opened" in page


def test_a_sent_mail_is_shown_as_its_recipient_got_it(acknowledged, agent) -> None:  # type: ignore[no-untyped-def]
    ticket, outbound = acknowledged
    page = signed_in(agent).get(f"/console/sent-mail/{outbound.pk}/").content.decode()
    assert f"[{ticket.reference}] Leaking tap" in page
    assert outbound.message_id_header.replace("<", "&lt;").replace(">", "&gt;") in page
    assert "support+" in page  # the Reply-To with the recipient's token
    assert "composed again" not in page  # read from the file the backend wrote


def test_answering_a_sent_mail_as_its_recipient_lands_the_reply_on_the_ticket(acknowledged, agent) -> None:  # type: ignore[no-untyped-def]
    ticket, outbound = acknowledged
    response = signed_in(agent).post(f"/console/sent-mail/{outbound.pk}/", {"text": "A plumber on Tuesday is fine."})
    assert response.status_code == 302 and response["Location"] == f"/console/tickets/{ticket.reference}/"
    latest = Message.objects.filter(ticket=ticket).latest("created_at")
    assert latest.sender.email == "asha@example.com" and latest.is_from_customer
    assert latest.message_text == "A plumber on Tuesday is fine."  # the quoted acknowledgement is cut
    assert latest.routed_by == "token"
    assert InboundEmail.objects.get(message=latest).door == "dev"


def test_an_empty_answer_is_refused_and_nothing_is_stored(acknowledged, agent) -> None:  # type: ignore[no-untyped-def]
    _, outbound = acknowledged
    response = signed_in(agent).post(f"/console/sent-mail/{outbound.pk}/", {"text": "  "})
    assert response.status_code == 400 and "Write the reply first." in response.content.decode()
    assert not InboundEmail.objects.exists()


def test_a_line_of_79_dashes_in_a_mail_s_text_does_not_end_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    backend = get_connection("django.core.mail.backends.filebased.EmailBackend", file_path=str(tmp_path))
    body = "Line one\n" + "-" * 79 + "\nLine two"
    backend.send_messages(
        [EmailMessage("Ruled", body, "support@example.com", ["a@example.com"], headers={"Message-ID": "<r@x>"})]
    )
    found = find_written_mail("<r@x>", tmp_path)
    assert found is not None and found.get_content().rstrip().endswith("Line two")


def test_a_mail_sent_to_another_agent_cannot_be_answered_as_them(
    customer_a, agent, other_agent, file_outbox, committed
) -> None:  # type: ignore[no-untyped-def]
    with committed():
        ticket = make_ticket(customer_a, title="Leaking tap")
    to_other = OutboundEmail.objects.create(
        ticket=ticket, recipient=other_agent, to_address=other_agent.email, template="ticket_assigned",
        message_id_header="<assigned@x>", status="sent",
    )  # fmt: skip
    client = signed_in(agent)
    assert "<textarea" not in client.get(f"/console/sent-mail/{to_other.pk}/").content.decode()
    response = client.post(f"/console/sent-mail/{to_other.pk}/", {"text": "#status resolved"})
    assert response.status_code == 400 and "another member of staff" in response.content.decode()
    assert not InboundEmail.objects.exists()


def test_a_mail_that_was_not_sent_cannot_be_answered_by_posting_either(acknowledged, agent) -> None:  # type: ignore[no-untyped-def]
    _, outbound = acknowledged
    OutboundEmail.objects.filter(pk=outbound.pk).update(status="skipped")
    response = signed_in(agent).post(f"/console/sent-mail/{outbound.pk}/", {"text": "Hello"})
    assert response.status_code == 400 and not InboundEmail.objects.exists()


def test_a_mail_that_was_not_sent_has_nothing_to_answer(acknowledged, agent) -> None:  # type: ignore[no-untyped-def]
    _, outbound = acknowledged
    OutboundEmail.objects.filter(pk=outbound.pk).update(status="skipped", error="The address is marked undeliverable.")
    page = signed_in(agent).get(f"/console/sent-mail/{outbound.pk}/").content.decode()
    assert "nothing to answer" in page and "<textarea" not in page
    assert "This mail was not sent: The address is marked undeliverable. There is nothing to answer." in page


def test_the_sent_mail_pages_are_off_without_dev_outbox(acknowledged, agent, settings) -> None:  # type: ignore[no-untyped-def]
    _, outbound = acknowledged
    settings.DEV_OUTBOX = False
    client = signed_in(agent)
    assert client.get("/console/sent-mail/").status_code == 404
    assert client.post(f"/console/sent-mail/{outbound.pk}/", {"text": "Hi"}).status_code == 404
    assert "Sent mail" not in client.get("/console/").content.decode()


def test_customers_may_not_open_the_sent_mail_pages(acknowledged, customer_a) -> None:  # type: ignore[no-untyped-def]
    _, outbound = acknowledged
    client = signed_in(customer_a)
    assert client.get("/console/sent-mail/").status_code == 403
    assert client.post(f"/console/sent-mail/{outbound.pk}/", {"text": "Hi"}).status_code == 403


def test_an_answer_whose_processing_breaks_is_kept_for_the_workers(acknowledged, agent, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, outbound = acknowledged

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the parser fell over")

    monkeypatch.setattr("mailgateway.ingest.process_stored_mail", broken)
    client = signed_in(agent)
    response = client.post(f"/console/sent-mail/{outbound.pk}/", {"text": "Tuesday is fine."})
    assert response.status_code == 302
    inbound = InboundEmail.objects.get()
    assert (inbound.status, inbound.attempts) == ("received", 1) and "fell over" in inbound.error
    assert "stored and left to the workers" in client.get(response["Location"]).content.decode()
