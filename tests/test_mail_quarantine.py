"""Quarantined mail waits for staff: accept it into its ticket, open it as a new one, or discard it."""

from __future__ import annotations

import pytest

from mailgateway.models import InboundEmail
from mailgateway.quarantine import accept_into_ticket, discard, open_as_new_ticket
from support.errors import InvalidInput, NotAllowed
from support.models import TicketParticipant
from tests.builders import make_ticket
from tests.mailbuilder import build_mail, deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def quarantined(customer_a):
    ticket = make_ticket(customer_a)
    inbound = deliver(build_mail(sender="Hari <hari@example.org>", subject=f"Re: [{ticket.reference}] my flat too"))
    assert inbound.reason == "sender_mismatch"
    return inbound


def test_accepting_posts_the_mail_as_its_sender_who_joins_the_ticket(quarantined, agent):
    message = accept_into_ticket(quarantined, ticket=quarantined.ticket, actor=agent)
    quarantined.refresh_from_db()
    assert (quarantined.status, quarantined.routed_by, message.ticket) == ("processed", "staff", quarantined.ticket)
    assert message.sender.email == "hari@example.org" and message.routed_by == "staff"
    assert TicketParticipant.objects.filter(ticket=quarantined.ticket, person=message.sender).exists()
    assert f"Accepted by {agent.email}" in quarantined.detail


def test_opening_as_a_new_ticket_gives_the_sender_a_ticket_of_their_own(quarantined, agent):
    message = open_as_new_ticket(quarantined, actor=agent)
    assert message.ticket != quarantined.ticket and message.ticket.customer.email == "hari@example.org"
    quarantined.refresh_from_db()
    assert (quarantined.status, quarantined.ticket) == ("processed", message.ticket)


def test_discarding_keeps_the_mail_as_ignored_with_who_decided(quarantined, agent):
    discard(quarantined, actor=agent)
    quarantined.refresh_from_db()
    assert (quarantined.status, quarantined.reason) == ("ignored", "discarded") and agent.email in quarantined.detail


def test_a_customer_cannot_decide_on_quarantined_mail(quarantined, customer_a):
    with pytest.raises(NotAllowed):
        accept_into_ticket(quarantined, ticket=quarantined.ticket, actor=customer_a)


def test_mail_that_is_not_quarantined_cannot_be_accepted_twice(quarantined, agent):
    accept_into_ticket(quarantined, ticket=quarantined.ticket, actor=agent)
    with pytest.raises(InvalidInput):
        accept_into_ticket(quarantined, ticket=quarantined.ticket, actor=agent)
    assert quarantined.ticket.messages.count() == 2


@pytest.mark.parametrize("model", ["inboundemail", "replytoken", "undeliverableaddress"])
def test_the_gateway_admin_pages_render(client, admin_user, quarantined, model):
    client.force_login(admin_user)
    base = f"/admin/mailgateway/{model}/"
    assert client.get(base).status_code == 200 and client.get(base, {"q": "hari"}).status_code == 200


def test_staff_read_the_raw_mail_as_plain_text(client, admin_user, quarantined):
    client.force_login(admin_user)
    response = client.get(f"/admin/mailgateway/inboundemail/{quarantined.pk}/raw/")
    assert response["Content-Type"] == "text/plain; charset=utf-8" and b"my flat too" in response.content
    assert client.get(f"/admin/mailgateway/inboundemail/{quarantined.pk}/change/").status_code == 200


def test_the_admin_accept_action_posts_the_mail(client, admin_user, quarantined):
    client.force_login(admin_user)
    client.post(
        "/admin/mailgateway/inboundemail/",
        {"action": "accept_into_ticket", "_selected_action": [str(quarantined.pk)]},
    )
    assert InboundEmail.objects.get(pk=quarantined.pk).status == "processed"


def staff_mail_failing_dmarc(ticket, **parts) -> bytes:  # type: ignore[no-untyped-def]
    """The agent's reply on the ticket, from a server that failed DMARC for the staff domain."""
    dmarc_failed = {"Authentication-Results": "mx.ours; spf=fail; dmarc=fail header.from=sewabazaar.test"}
    return build_mail(
        sender="agent@sewabazaar.test", subject=f"Re: [{ticket.reference}] x", headers=dmarc_failed, **parts
    )


def test_accepting_a_staff_mail_that_failed_dmarc_posts_it_as_written_without_its_commands(customer_a, agent):
    ticket = make_ticket(customer_a)
    raw = staff_mail_failing_dmarc(
        ticket,
        text="#status resolved\nThe cleaner comes at 9.",
        html="<p>The cleaner comes at 9.</p><blockquote>an internal note quoted</blockquote>",
    )
    inbound = deliver(raw)
    assert inbound.reason == "sender_unverified"
    message = accept_into_ticket(inbound, ticket=ticket, actor=agent)
    ticket.refresh_from_db()
    assert message.sender == agent and message.message_text.endswith("The cleaner comes at 9.")
    assert ticket.status != "resolved" and message.html == ""  # staff vouched for the text, not for commands


def test_accepting_a_staff_mail_does_not_show_the_agent_s_address_to_the_customer(customer_a, agent):
    ticket = make_ticket(customer_a)
    raw = staff_mail_failing_dmarc(ticket, text="The cleaner comes at 9.\n\nSita | Support\nE: agent@sewabazaar.test")
    message = accept_into_ticket(deliver(raw), ticket=ticket, actor=agent)
    assert message.message_text.endswith("E: support@example.com")


def test_a_mail_the_parser_cannot_read_is_refused_with_the_reason_not_a_traceback(customer_a, agent, monkeypatch):
    def unreadable(raw):
        raise UnicodeDecodeError("utf-8", b"\xe4", 0, 1, "invalid continuation byte")

    monkeypatch.setattr("mailgateway.ingest.parse_email", unreadable)
    inbound = deliver(build_mail())
    assert (inbound.status, inbound.reason) == ("quarantined", "malformed")
    with pytest.raises(InvalidInput) as refused:
        accept_into_ticket(inbound, ticket=make_ticket(customer_a), actor=agent)
    assert "cannot be read" in refused.value.message and "UnicodeDecodeError" in str(refused.value.details)
    inbound.refresh_from_db()
    assert inbound.status == "quarantined"
    discard(inbound, actor=agent)  # what staff can still do with it
    inbound.refresh_from_db()
    assert inbound.status == "ignored"
