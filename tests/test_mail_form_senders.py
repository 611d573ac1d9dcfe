"""Mail from the site's own forms (INBOUND_FORM_SENDERS): written by the person in its Reply-To."""

from __future__ import annotations

import pytest

from mailgateway.form_mail import as_written_by_form_user, is_form_mail
from mailgateway.models import OutboundEmail
from mailgateway.parsing import parse_email
from support.models import Message, TicketParticipant, User
from tests.builders import make_ticket
from tests.mailbuilder import build_mail, deliver

FORM = "noreply@sewabazaar.com"


def form_mail(
    reply_to: str = "Nima Sherpa <Nima@Example.org>",
    sender: str = f"SewaBazaar <{FORM}>",
    subject: str = "Contact form: booking",
    **headers: str,
) -> bytes:
    return build_mail(sender=sender, subject=subject, headers={"Reply-To": reply_to, **headers})


def test_mail_from_a_listed_form_is_written_by_its_reply_to_person() -> None:
    mail = as_written_by_form_user(parse_email(form_mail()), [FORM])
    assert (mail.from_name, mail.from_address) == ("Nima Sherpa", "nima@example.org")


def test_mail_from_an_unlisted_sender_keeps_its_from() -> None:
    mail = parse_email(form_mail(sender="Asha <asha@example.com>"))
    assert not is_form_mail(mail, [FORM]) and as_written_by_form_user(mail, [FORM]) == mail


def test_form_mail_naming_two_people_in_reply_to_keeps_its_from() -> None:
    mail = parse_email(form_mail(reply_to="a@example.org, b@example.org"))
    assert not is_form_mail(mail, [FORM])


@pytest.mark.django_db
def test_a_form_s_mail_opens_a_ticket_for_the_person_who_filled_it_in(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INBOUND_FORM_SENDERS = [FORM]
    inbound = deliver(form_mail())
    person = User.objects.get(email="nima@example.org")
    assert inbound.status == "processed" and inbound.ticket.customer == person and person.name == "Nima Sherpa"
    assert OutboundEmail.objects.get(template="ticket_opened").to_address == "nima@example.org"
    assert not User.objects.filter(email=FORM).exists()


@pytest.mark.django_db
def test_a_form_s_mail_naming_a_staff_address_is_not_taken_as_staff(settings, agent) -> None:  # type: ignore[no-untyped-def]
    settings.INBOUND_FORM_SENDERS = [FORM]
    inbound = deliver(form_mail(reply_to=agent.email))
    assert (inbound.status, inbound.reason) == ("quarantined", "sender_unverified")


@pytest.mark.django_db
def test_without_the_setting_the_form_s_address_is_the_sender() -> None:
    inbound = deliver(form_mail())
    assert inbound.ticket.customer.email == FORM


@pytest.mark.django_db
def test_a_form_s_mail_naming_someone_s_ticket_in_its_subject_opens_a_new_ticket(settings, customer_a) -> None:  # type: ignore[no-untyped-def]
    settings.INBOUND_FORM_SENDERS = [FORM]
    theirs = make_ticket(customer_a)
    inbound = deliver(form_mail(reply_to=customer_a.email, subject=f"Re: [{theirs.reference}] refund"))
    assert inbound.status == "processed" and inbound.ticket != theirs
    assert theirs.messages.count() == 1 and inbound.message.routed_by == "form"


@pytest.mark.django_db
def test_a_form_s_mail_answering_someone_s_mail_by_its_headers_opens_a_new_ticket(settings, customer_a) -> None:  # type: ignore[no-untyped-def]
    settings.INBOUND_FORM_SENDERS = [FORM]
    theirs = make_ticket(customer_a)
    first = Message.objects.get(ticket=theirs)
    Message.objects.filter(pk=first.pk).update(email_message_id="<first@mail.example.com>")
    inbound = deliver(form_mail(reply_to=customer_a.email, **{"In-Reply-To": "<first@mail.example.com>"}))
    assert inbound.ticket != theirs and theirs.messages.count() == 1


@pytest.mark.django_db
def test_the_cc_of_a_form_s_mail_adds_nobody_to_the_ticket(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INBOUND_FORM_SENDERS = [FORM]
    inbound = deliver(form_mail(Cc="attacker@evil.example"))
    assert not TicketParticipant.objects.filter(ticket=inbound.ticket).exists()


@pytest.mark.django_db
def test_a_mail_claiming_to_come_from_the_form_that_fails_dmarc_is_quarantined(settings) -> None:  # type: ignore[no-untyped-def]
    settings.INBOUND_FORM_SENDERS = [FORM]
    forged = form_mail(**{"Authentication-Results": "mx.ours; spf=fail; dmarc=fail header.from=sewabazaar.com"})
    inbound = deliver(forged)
    assert (inbound.status, inbound.reason) == ("quarantined", "sender_unverified")


def test_the_acknowledgement_of_a_form_s_ticket_does_not_quote_what_was_written(  # type: ignore[no-untyped-def]
    settings, anymail_outbox, committed, db
) -> None:
    from django.core import mail as django_mail

    settings.INBOUND_FORM_SENDERS = [FORM]
    with committed():
        deliver(
            build_mail(
                sender=FORM,
                subject="Contact form",
                text="Buy cheap watches at evil.example",
                headers={"Reply-To": "nima@example.org"},
            )
        )
    (ack,) = [m for m in django_mail.outbox if m.to == ["nima@example.org"]]
    assert "evil.example" not in ack.body and "evil.example" not in ack.alternatives[0][0]
    assert "opened ticket" in ack.body
