"""GDPR: `export_customer` gives one customer their data; `erase_customer` makes them anonymous."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from mailgateway.models import InboundEmail, ReplyToken, UndeliverableAddress
from mailgateway.tokens import issue_reply_token
from support.models import Channel, Message, Status, Ticket, TicketParticipant, User
from support.privacy import ERASED_TEXT, ERASED_TITLE
from support.services import add_participants, change_ticket
from tests.builders import make_reply, make_sent_attachment, make_ticket
from tests.mailbuilder import build_mail, deliver

pytestmark = pytest.mark.django_db


def export(email: str, *flags: str) -> dict:
    out = io.StringIO()
    call_command("export_customer", email, *flags, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def conversation(customer_a, agent):  # type: ignore[no-untyped-def]
    """Asha's ticket: her message with a photo, a staff reply, an internal note; resolved."""
    ticket = make_ticket(customer_a, title="Leak under the sink at Jawalakhel")
    make_sent_attachment(ticket.messages.get(), customer_a, name="sink.png")
    make_reply(ticket, agent, "Hello Asha, a plumber comes at 10.")
    make_reply(ticket, agent, "She sounded upset, call her.", is_internal=True)
    change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status=Status.RESOLVED)
    return ticket


# -- export ----------------------------------------------------------------------------------


def test_the_export_holds_the_person_and_their_tickets_public_conversation(conversation, customer_a):
    data = export("asha@example.com")
    assert data["person"]["email"] == "asha@example.com" and data["person"]["name"] == "Asha Rai"
    (ticket,) = data["tickets"]
    assert ticket["reference"] == conversation.reference and ticket["title"] == "Leak under the sink at Jawalakhel"
    assert [m["text"] for m in ticket["messages"]] == ["Booked for 9am.", "Hello Asha, a plumber comes at 10."]
    assert ticket["messages"][0]["attachments"][0]["filename"] == "sink.png"
    assert {"kind": "status", "to_value": "resolved"}.items() <= ticket["history"][-1].items()


def test_the_export_leaves_internal_notes_out_unless_asked(conversation):
    assert "She sounded upset, call her." not in json.dumps(export("asha@example.com"))
    assert "She sounded upset, call her." in json.dumps(export("asha@example.com", "--include-internal"))


def test_the_export_holds_their_messages_on_tickets_where_they_were_in_cc(customer_a, customer_b, agent):
    bikash_ticket = make_ticket(customer_b, title="Bikash's ticket")
    add_participants(ticket=bikash_ticket, people=[customer_a], actor=customer_b, channel=Channel.EMAIL)
    make_reply(bikash_ticket, customer_a, "I am his neighbour.", channel=Channel.EMAIL)
    make_reply(bikash_ticket, customer_b, "Not for Asha's export.")
    (elsewhere,) = export("asha@example.com")["messages_on_other_tickets"]
    assert [m["text"] for m in elsewhere["messages"]] == ["I am his neighbour."]


def test_the_export_lists_the_mails_from_the_customer(customer_a):
    deliver(build_mail(sender="Asha <asha@example.com>", subject="By mail"), door="raw")
    (mail,) = export("asha@example.com")["mail"]["mails_received_from_you"]
    assert (mail["subject"], mail["status"], mail["door"]) == ("By mail", "processed", "raw")


def test_the_export_can_be_written_to_a_file(conversation, tmp_path):
    target = tmp_path / "asha.json"
    call_command("export_customer", "asha@example.com", "--output", str(target), stderr=io.StringIO())
    assert json.loads(target.read_text())["person"]["email"] == "asha@example.com"


def test_exporting_an_unknown_address_is_an_error():
    with pytest.raises(CommandError, match=r"nobody@example\.com"):
        export("nobody@example.com")


# -- erase -----------------------------------------------------------------------------------


def erase(email: str) -> str:
    out = io.StringIO()
    call_command("erase_customer", email, "--yes", stdout=out)
    return out.getvalue()


def test_erasing_needs_yes_and_changes_nothing_without_it(conversation, customer_a):
    with pytest.raises(CommandError, match="--yes"):
        call_command("erase_customer", "asha@example.com")
    customer_a.refresh_from_db()
    assert customer_a.email == "asha@example.com" and Ticket.objects.get().title.startswith("Leak")


def test_an_erased_customer_is_anonymous_and_cannot_sign_in(conversation, customer_a):
    erase("asha@example.com")
    customer_a.refresh_from_db()
    assert customer_a.email.startswith("erased-") and customer_a.email.endswith("@erased.invalid")
    assert customer_a.name == "" and not customer_a.is_active and not customer_a.has_usable_password()
    assert not User.objects.filter(email="asha@example.com").exists()


def test_erasing_removes_the_whole_conversation_of_their_tickets_and_keeps_the_ticket(conversation):
    erase("asha@example.com")
    ticket = Ticket.objects.get()
    assert ticket.title == ERASED_TITLE and ticket.reference == conversation.reference
    assert ticket.status == Status.RESOLVED and ticket.events.filter(kind="status").exists()
    assert set(ticket.messages.values_list("message_text", flat=True)) == {ERASED_TEXT}
    assert ticket.messages.count() == 3  # the counts of the metrics stay true


def test_erasing_deletes_their_files_from_storage(conversation, django_capture_on_commit_callbacks):
    stored = conversation.attachments.get().file.name
    assert default_storage.exists(stored)
    with django_capture_on_commit_callbacks(execute=True):
        erase("asha@example.com")
    assert not conversation.attachments.exists() and not default_storage.exists(stored)


def test_on_other_tickets_only_their_own_messages_are_erased(customer_a, customer_b):
    bikash_ticket = make_ticket(customer_b, title="Bikash's ticket")
    add_participants(ticket=bikash_ticket, people=[customer_a], actor=customer_b, channel=Channel.EMAIL)
    make_reply(bikash_ticket, customer_a, "I am his neighbour, call me on 98410.", channel=Channel.EMAIL)
    erase("asha@example.com")
    texts = list(Message.objects.filter(ticket=bikash_ticket).values_list("message_text", flat=True))
    assert texts == ["Booked for 9am.", ERASED_TEXT]
    assert Ticket.objects.get(pk=bikash_ticket.pk).title == "Bikash's ticket"
    assert not TicketParticipant.objects.filter(person=customer_a).exists()


def test_erasing_removes_the_raw_mail_and_the_addresses_from_the_mail_records(customer_a):
    inbound = deliver(build_mail(sender="Asha <asha@example.com>", subject="My address is Lalitpur 3"), door="raw")
    erase("asha@example.com")
    inbound.refresh_from_db()
    assert bytes(inbound.raw) == b"" and inbound.from_address == "" and inbound.subject == ""
    assert inbound.status == "processed"  # the record stays for the counts


def test_erasing_retires_their_reply_tokens_and_their_bounce_record(conversation, customer_a):
    issue_reply_token(ticket_id=conversation.pk, person_id=customer_a.pk)
    UndeliverableAddress.objects.create(address="asha@example.com", reason="bounce")
    erase("asha@example.com")
    assert not ReplyToken.objects.filter(person=customer_a).exists()
    assert not UndeliverableAddress.objects.exists()


def test_a_new_mail_from_the_erased_address_starts_afresh_as_a_new_person(conversation, customer_a):
    erase("asha@example.com")
    inbound = deliver(build_mail(sender="Asha <asha@example.com>"), door="raw")
    assert inbound.ticket.customer != customer_a and inbound.ticket.customer.email == "asha@example.com"


def test_staff_are_not_erased_this_way(agent):
    with pytest.raises(CommandError, match="Staff"):
        erase(agent.email)


def test_erasing_twice_is_refused(conversation, customer_a):
    erase("asha@example.com")
    customer_a.refresh_from_db()
    with pytest.raises(CommandError, match="erased already"):
        erase(customer_a.email)


def test_mail_records_of_other_people_are_left_alone(customer_a):
    other = deliver(build_mail(sender="Bikash <bikash@example.com>", subject="Mine"), door="raw")
    erase("asha@example.com")
    other.refresh_from_db()
    assert other.subject == "Mine" and InboundEmail.objects.filter(from_address="bikash@example.com").exists()
