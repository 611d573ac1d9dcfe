"""Real client formats end to end: each raw mail under tests/mail/ through store and processing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgateway.models import UndeliverableAddress
from support.models import Ticket, TicketParticipant, User
from support.services import add_message
from tests.mailbuilder import deliver

pytestmark = pytest.mark.django_db
MAIL = Path(__file__).parent / "mail"

FIRST_WORDS = {
    "gmail_reply.eml": "Tuesday at 9 works for me. Please ask him to ring twice",
    "outlook_reply.eml": "Tuesday at 9 works for me. The gate code is 4471.",
    "outlook_original_message.eml": "Tuesday at 9 works for me. I will be at home from 8.",
    "apple_mail_reply.eml": "Tuesday at 9 works for me. I\u2019ll leave the side gate open.",
    "thunderbird_reply.eml": "Tuesday at 9 works for me. The plumber should use the side entrance",
    "german_reply.eml": "Dienstag um 9 Uhr passt mir.",
    "french_reply.eml": "Mardi à 9 h me convient.",
    "spanish_reply.eml": "El martes a las 9 me viene bien.",
    "hindi_reply.eml": "मंगलवार सुबह 9 बजे ठीक है।",
    "nepali_reply.eml": "मंगलबार बिहान ९ बजे ठीक छ।",
    "non_utf8_gb2312.eml": "星期二上午九点可以。我叫王镕\uff0c我会在家。",
    "non_utf8_iso2022jp.eml": "火曜日の9時で大丈夫です。",
    "ks_c_5601.eml": "화요일 오전 9시 괜찮습니다. 똠얌꿍",
    "latin1_no_charset.eml": "Dienstag um 9 Uhr passt. Bitte zweimal läuten.",
}


@pytest.fixture
def ticket(customer_a, customer_b, agent):
    """SB-1001, Asha's ticket with Bikash in Cc, which every real reply answers."""
    ticket = Ticket.objects.create(reference="SB-1001", title="Plumber did not arrive", customer=customer_a)
    TicketParticipant.objects.create(ticket=ticket, person=customer_b)
    add_message(ticket=ticket, author=agent, message_text="Does Tuesday 9am suit you?", channel="email")
    return ticket


@pytest.mark.parametrize("name", sorted(FIRST_WORDS))
def test_a_real_reply_lands_on_its_ticket_with_only_the_new_text(name, ticket):
    inbound = deliver((MAIL / name).read_bytes())
    assert (inbound.status, inbound.ticket) == ("processed", ticket), inbound.detail
    text = inbound.message.message_text
    assert text.startswith(FIRST_WORDS[name])
    assert "wrote:" not in text and "schrieb" not in text and "a écrit" not in text and "escribió" not in text
    assert "Original Message" not in text and "From:" not in text and "> " not in text


def test_a_real_html_only_mail_opens_a_ticket_with_text_and_safe_html():
    inbound = deliver((MAIL / "html_only.eml").read_bytes())
    message = inbound.message
    assert inbound.routed_by == "new" and message.message_text.startswith("Hello,")
    assert "<script" not in message.html and "onclick" not in message.html


def test_a_real_inline_image_is_stored_and_shown_from_its_download_url(ticket):
    message = deliver((MAIL / "inline_image.eml").read_bytes()).message
    (image,) = message.attachments.all()
    assert image.content_type == "image/png" and f"/attachments/{image.pk}/download/" in message.html


def test_a_real_winmail_dat_arrives_as_its_pdf(ticket):
    message = deliver((MAIL / "winmail_dat.eml").read_bytes()).message
    assert [(a.filename, a.content_type) for a in message.attachments.all()] == [("invoice.pdf", "application/pdf")]


def test_a_real_exchange_out_of_office_is_ignored(ticket):
    inbound = deliver((MAIL / "exchange_auto_reply.eml").read_bytes())
    assert (inbound.status, inbound.reason) == ("ignored", "auto_reply") and ticket.messages.count() == 1


def test_a_real_bounce_of_our_mail_marks_the_address(ticket, agent):
    # Our reply went to each of the ticket's people (its outbound rows say so), one of them gone.
    gone = User.objects.create_user(email="gone@example.net", password=None)
    TicketParticipant.objects.create(ticket=ticket, person=gone)
    add_message(
        ticket=ticket,
        author=agent,
        message_text="x",
        channel="email",
        email_message_id="<sb-SB-1001-2@support.example.com>",
    )
    inbound = deliver((MAIL / "dsn_bounce.eml").read_bytes())
    assert (inbound.status, inbound.reason) == ("ignored", "bounce")
    assert list(UndeliverableAddress.objects.values_list("address", flat=True)) == ["gone@example.net"]
