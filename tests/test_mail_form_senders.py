"""Mail from the site's own forms (INBOUND_FORM_SENDERS): written by the person in its Reply-To."""

from __future__ import annotations

import pytest

from mailgateway.form_mail import as_written_by_form_user, is_form_mail
from mailgateway.models import OutboundEmail
from mailgateway.parsing import parse_email
from support.models import User
from tests.mailbuilder import build_mail, deliver

FORM = "noreply@sewabazaar.com"


def form_mail(reply_to: str = "Nima Sherpa <Nima@Example.org>", sender: str = f"SewaBazaar <{FORM}>") -> bytes:
    return build_mail(sender=sender, subject="Contact form: booking", headers={"Reply-To": reply_to})


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
