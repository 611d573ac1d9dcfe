"""Round trips: the mail the helpdesk sent, answered as a mail client would, comes back to its ticket.

The sent mail is taken from Anymail's test backend (or, once, from a real SMTP server), the reply
is built from its Reply-To, Message-ID and subject, and fed to the inbound path (store, then
process) exactly as a door would.
"""

from __future__ import annotations

import email
import socket
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError
from django.core import mail as django_mail

from mailgateway.models import OutboundEmail, OutboundStatus
from support.models import Message
from tests.builders import make_reply, make_ticket
from tests.mailbuilder import build_mail, deliver
from tests.outbound_helpers import reply_to, sent_to, text_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("anymail_outbox")]

CUSTOMER = "Asha Rai <asha@example.com>"


@pytest.fixture
def answered(customer_a, agent, committed):  # type: ignore[no-untyped-def]
    """A ticket the agent answered on the web; returns (ticket, the mail the customer got)."""
    with committed():
        ticket = make_ticket(customer_a, title="Cleaner did not come")
        make_reply(ticket, agent, "We are sending another cleaner tomorrow.")
    (mail,) = [m for m in sent_to(customer_a.email) if "another cleaner" in text_of(m)]
    django_mail.outbox = []
    return ticket, mail


def test_a_customer_s_reply_to_the_reply_to_address_lands_on_the_same_ticket(answered, committed):
    ticket, mail = answered
    with committed():
        inbound = deliver(reply_to(mail, sender=CUSTOMER, text="Tomorrow at 9 is fine."))
    assert inbound.status == "processed" and inbound.ticket_id == ticket.pk
    assert inbound.message.routed_by == "token"
    assert inbound.message.message_text == "Tomorrow at 9 is fine."


def test_a_reply_that_lost_its_reply_to_is_threaded_by_its_headers(answered, committed):
    ticket, mail = answered
    with committed():
        inbound = deliver(reply_to(mail, sender=CUSTOMER, keep_reply_to=False))
    assert inbound.ticket_id == ticket.pk and inbound.message.routed_by == "in_reply_to"


def test_a_reply_that_kept_only_the_subject_is_threaded_by_the_reference(answered, committed):
    ticket, mail = answered
    with committed():
        inbound = deliver(reply_to(mail, sender=CUSTOMER, keep_reply_to=False, keep_headers=False))
    assert inbound.ticket_id == ticket.pk and inbound.message.routed_by == "subject"


def test_a_header_only_reply_to_the_acknowledgement_finds_the_ticket_by_the_acknowledgement_s_id(customer_a, committed):
    with committed():
        first = deliver(build_mail(sender=CUSTOMER, subject="Leaking tap", message_id="<tap@mail.example.com>"))
    (ack,) = sent_to(customer_a.email)
    with committed():
        inbound = deliver(reply_to(ack, sender=CUSTOMER, text="It is getting worse.", keep_reply_to=False))
    assert inbound.ticket_id == first.ticket_id and inbound.message.routed_by == "in_reply_to"


def test_a_reply_that_kept_only_the_id_of_a_mail_we_sent_finds_its_ticket(customer_a, committed):
    """No token, no subject, no References: only In-Reply-To, naming a mail of ours (its own id)."""
    with committed():
        first = deliver(build_mail(sender=CUSTOMER, subject="Leaking tap", message_id="<tap@mail.example.com>"))
    (ack,) = sent_to(customer_a.email)
    reply = build_mail(
        sender=CUSTOMER, subject="no subject", text="Still leaking.", in_reply_to=ack["Message-ID"], references=""
    )
    with committed():
        inbound = deliver(reply)
    assert inbound.ticket_id == first.ticket_id and inbound.message.routed_by == "in_reply_to"


def answered_by_mail_both_ways(mail, agent, committed, *, asked: str, answer: str):  # type: ignore[no-untyped-def]
    """The customer answers `mail` by mail; the agent answers the notice of it by mail: (that
    notice, the agent's stored inbound mail). The outbox is left with what the agent's answer sent."""
    with committed():
        deliver(reply_to(mail, sender=CUSTOMER, text=asked))
    (notice,) = sent_to(agent.email)
    django_mail.outbox = []
    with committed():
        inbound = deliver(reply_to(notice, sender="Sita Agent <agent@sewabazaar.test>", text=answer))
    return notice, inbound


def test_the_customer_s_mailed_reply_reaches_the_agent_and_the_agent_s_mailed_answer_reaches_the_customer(
    answered, customer_a, agent, committed
):
    ticket, mail = answered
    notice, inbound = answered_by_mail_both_ways(
        mail, agent, committed, asked="Can it be 10am instead?", answer="Yes, 10am it is."
    )
    assert "Can it be 10am instead?" in text_of(notice)
    staff_reply = inbound.message
    assert inbound.ticket_id == ticket.pk and staff_reply.sender == agent
    assert not staff_reply.is_internal and not staff_reply.is_from_customer
    (to_customer,) = sent_to(customer_a.email)
    assert "Yes, 10am it is." in text_of(to_customer)
    assert agent.email not in to_customer.as_string()
    # Under an id of ours, never the one the agent's mail client made (it names their mail server).
    sent_id = to_customer["Message-ID"]
    assert sent_id != staff_reply.email_message_id and staff_reply.email_message_id not in to_customer.as_string()
    assert OutboundEmail.objects.get(message=staff_reply, recipient=customer_a).message_id_header == sent_id
    django_mail.outbox = []
    with committed():
        answer = deliver(reply_to(to_customer, sender=CUSTOMER, text="See you at 10.", keep_reply_to=False))
    assert answer.ticket_id == ticket.pk and answer.message.routed_by == "in_reply_to"
    (later,) = sent_to(agent.email)
    assert staff_reply.email_message_id in later["References"]  # staff may see their own ids


def test_the_mail_sent_through_a_real_smtp_server_comes_back_to_its_ticket(
    answered, customer_a, agent, settings, committed
):
    received: list[bytes] = []

    class Keep:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            received.append(envelope.original_content)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    ticket, _ = answered
    try:
        with committed():
            message = make_reply(ticket, agent, "The new cleaner is booked.")
    finally:
        controller.stop()
    (raw,) = received
    mail = email.message_from_bytes(raw, policy=default)
    assert mail["Message-ID"] == Message.objects.get(pk=message.pk).email_message_id
    assert OutboundEmail.objects.get(message=message).status == OutboundStatus.SENT
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    inbound = deliver(reply_to(mail, sender=CUSTOMER, text="Thank you!"))
    assert inbound.ticket_id == ticket.pk and inbound.message.routed_by == "token"
    assert inbound.message.message_text == "Thank you!"


# -- retries ---------------------------------------------------------------------------------


class FlakyBackend(AnymailTestBackend):
    """Anymail's test backend, but the provider fails the first `failures` calls."""

    failures = 0

    def post_to_esp(self, payload, message):  # type: ignore[no-untyped-def]
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise AnymailAPIError("503 Service Unavailable from the provider")
        return super().post_to_esp(payload, message)


def test_a_provider_error_on_the_first_try_sends_the_mail_once_on_a_later_try(customer_a, settings, committed):
    settings.EMAIL_BACKEND = "tests.test_outbound_round_trips.FlakyBackend"
    FlakyBackend.failures = 1
    with committed():
        make_ticket(customer_a, title="Leaking tap")
    row = OutboundEmail.objects.get(template="ticket_opened")
    assert row.status == OutboundStatus.SENT and row.attempts == 2 and row.error == ""
    assert len([m for m in django_mail.outbox if customer_a.email in m.to]) == 1


def test_a_mail_the_provider_keeps_refusing_is_failed_with_the_error_after_the_last_try(
    customer_a, settings, committed
):
    settings.EMAIL_BACKEND = "tests.test_outbound_round_trips.FlakyBackend"
    settings.OUTBOUND_MAX_RETRIES = 2
    FlakyBackend.failures = 100
    with committed():
        make_ticket(customer_a, title="Leaking tap")
    row = OutboundEmail.objects.get(template="ticket_opened")
    assert row.status == OutboundStatus.FAILED and row.attempts == 3
    assert "503 Service Unavailable" in row.error
    assert django_mail.outbox == []
    FlakyBackend.failures = 0


def test_when_one_mail_of_an_event_is_refused_the_others_go_out_and_it_goes_once_later(
    customer_a, customer_b, agent, settings, committed
):
    from support.models import TicketParticipant

    with committed():
        ticket = make_ticket(customer_a, title="Leaking tap")
    TicketParticipant.objects.create(ticket=ticket, person=customer_b)
    django_mail.outbox = []  # the acknowledgement
    settings.EMAIL_BACKEND = "tests.test_outbound_round_trips.FlakyBackend"
    FlakyBackend.failures = 1
    with committed():
        make_reply(ticket, agent, "The plumber comes at 3pm.")
    rows = OutboundEmail.objects.filter(template="agent_reply")
    assert sorted(rows.values_list("status", flat=True)) == ["sent", "sent"]
    assert sorted(rows.values_list("attempts", flat=True)) == [1, 2]
    delivered = sorted(address for m in django_mail.outbox for address in m.to)
    assert delivered == [customer_a.email, customer_b.email]


def test_in_the_embedded_default_each_sent_mail_is_a_readable_file(customer_a, settings, tmp_path, committed):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "sent_mail")
    with committed():
        ticket = make_ticket(customer_a, title="Leaking tap")
    (written,) = list((tmp_path / "sent_mail").iterdir())
    mail = email.message_from_bytes(written.read_bytes(), policy=default)
    assert mail["Subject"] == f"[{ticket.reference}] Leaking tap" and mail["To"] == customer_a.email
    assert OutboundEmail.objects.get(template="ticket_opened").status == OutboundStatus.SENT


def test_each_notice_of_a_mailed_thread_answers_the_notice_before_it(customer_a, agent, committed, settings):
    """Mail clients that thread by References (Thunderbird, mutt) keep one conversation: each
    notice names the ids of the notices the agent got before, not the customer's own ids."""
    settings.STAFF_NOTIFY_ADDRESSES = [agent.email]
    with committed():
        first = deliver(build_mail(sender=CUSTOMER, subject="Leaking tap", message_id="<c1@mail.example.com>"))
    (n1,) = sent_to(agent.email)
    django_mail.outbox = []
    with committed():
        deliver(build_mail(sender=CUSTOMER, subject=f"Re: [{first.ticket.reference}] Leaking tap", text="Worse now."))
    (n2,) = sent_to(agent.email)
    assert n2["In-Reply-To"] == n1["Message-ID"] and n1["Message-ID"] in n2["References"].split()


def test_the_customer_s_next_mail_answers_the_mail_that_carried_the_agent_s_mailed_reply(
    answered, customer_a, agent, committed
):
    ticket, mail = answered
    answered_by_mail_both_ways(mail, agent, committed, asked="Can it be 10am?", answer="Yes, 10am.")
    (m1,) = sent_to(customer_a.email)
    django_mail.outbox = []
    with committed():
        make_reply(ticket, agent, "The cleaner is on the way.")
    (m2,) = sent_to(customer_a.email)
    assert m2["In-Reply-To"] == m1["Message-ID"] and m1["Message-ID"] in m2["References"].split()


def test_two_senders_reusing_one_message_id_give_two_tickets_notices_of_their_own(
    customer_a, customer_b, agent, committed, settings
):
    """A Message-ID is unique only with its sender: the notices (and a reply to them) tell the two
    tickets apart."""
    settings.STAFF_NOTIFY_ADDRESSES = [agent.email]
    with committed():
        first = deliver(build_mail(sender=CUSTOMER, subject="Leaking tap", message_id="<same@x.example>"))
    (to_first,) = sent_to(agent.email)
    django_mail.outbox = []
    other = build_mail(sender=f"Bikash <{customer_b.email}>", subject="Refund", message_id="<same@x.example>")
    with committed():
        second = deliver(other, recipient="billing@example.com")
    (to_second,) = sent_to(agent.email)
    assert first.ticket_id != second.ticket_id and to_first["Message-ID"] != to_second["Message-ID"]
    with committed():
        answer = deliver(reply_to(to_first, sender="Sita Agent <agent@sewabazaar.test>", keep_reply_to=False))
    assert answer.ticket_id == first.ticket_id


def test_a_participant_s_mail_names_the_customer_s_mail_by_the_id_they_both_hold(
    customer_a, agent, committed, settings
):
    """People in the customer's Cc had the customer's own mail; the helpdesk never relayed it to
    them under another id, so References name it by its own."""
    settings.STAFF_NOTIFY_ADDRESSES = [agent.email]
    with committed():
        first = deliver(build_mail(sender=CUSTOMER, cc="Ram <ram@example.net>", message_id="<c1@mail.example.com>"))
    django_mail.outbox = []
    with committed():
        make_reply(first.ticket, agent, "We are on it.")
    (to_ram,) = sent_to("ram@example.net")
    assert "<c1@mail.example.com>" in to_ram["References"].split()
    assert all(i == "<c1@mail.example.com>" or i.endswith(".sb@example.com>") for i in to_ram["References"].split())
