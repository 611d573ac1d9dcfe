"""Agents answering from their mail client: replies, internal notes, #commands and receipts."""

from __future__ import annotations

import pytest
from django.core import mail as django_mail

from mailgateway.commands import parse_commands
from support import services
from support.models import Channel, Message, Ticket
from tests.builders import make_reply, make_ticket
from tests.mailbuilder import build_mail, deliver
from tests.outbound_helpers import reply_to, sent_to, text_of

SITA = "Sita Agent <agent@sewabazaar.test>"
pytestmark = pytest.mark.usefixtures("anymail_outbox")


# -- the parser (pure) -----------------------------------------------------------------------


def test_commands_on_the_first_lines_are_read_and_removed_from_the_text():
    found = parse_commands("#status resolved\n#priority high\n\nFixed: the cleaner comes at 9.")
    assert (found.status, found.priority, found.text) == ("resolved", "high", "Fixed: the cleaner comes at 9.")
    assert found.problems == ()


def test_note_makes_the_reply_internal():
    assert parse_commands("#note\nShe called twice.").internal is True


def test_status_words_are_forgiving_about_in_progress():
    assert parse_commands("#status In Progress").status == "in_progress"


def test_close_is_the_closed_status():
    assert parse_commands("#close").status == "closed"


def test_assign_takes_me_nobody_or_an_address():
    assert parse_commands("#assign me").assign == "me"
    assert parse_commands("#assign nobody").assign == "nobody"
    assert parse_commands("#assign Ram@SewaBazaar.test").assign == "ram@sewabazaar.test"


def test_tags_may_be_listed_with_commas():
    assert parse_commands("#tag refund, vip\n#tag late").tags == ("refund", "vip", "late")


def test_an_unknown_command_is_a_problem():
    assert "unknown command" in parse_commands("#stauts resolved\nDone.").problems[0]


def test_a_bad_value_is_a_problem_that_names_the_choices():
    assert "low, medium, high, urgent" in parse_commands("#priority extreme").problems[0]


def test_an_assignment_to_something_that_is_no_address_is_a_problem():
    assert parse_commands("#assign the night shift").problems


def test_two_different_statuses_are_a_problem():
    assert parse_commands("#status resolved\n#close").problems


def test_a_hash_with_a_number_or_a_space_is_text():
    found = parse_commands("#1042 is my order number.")
    assert not found.any and found.text == "#1042 is my order number."
    assert not parse_commands("# Heading").any


def test_a_command_after_the_first_text_line_is_text():
    found = parse_commands("Thanks!\n#status resolved")
    assert found.status is None and found.text == "Thanks!\n#status resolved"


# -- through the gateway ---------------------------------------------------------------------


@pytest.fixture
def notice(db, customer_a, agent, committed):  # type: ignore[no-untyped-def]
    """A ticket assigned to Sita; the mail she got about the customer's latest reply."""
    with committed():
        ticket = make_ticket(customer_a, title="Cleaner did not come")
        services.assign(ticket=ticket, actor=agent, agent=agent, channel=Channel.WEB)
        make_reply(ticket, customer_a, "Still nobody here.")
    mail = [m for m in sent_to(agent.email) if "Still nobody here." in text_of(m)][-1]
    django_mail.outbox = []
    return mail


def ticket_of(notice_mail) -> Ticket:  # type: ignore[no-untyped-def]
    return Ticket.objects.get(reference=notice_mail["Subject"].split("]")[0].strip("["))


def test_an_agent_s_commands_are_applied_and_the_reply_posted_without_them(notice, customer_a, agent, committed):
    with committed():
        inbound = deliver(reply_to(notice, sender=SITA, text="#status resolved\n#priority high\n#tag late\n\nSorted."))
    ticket = ticket_of(notice)
    assert (ticket.status, ticket.priority, ticket.tags) == ("resolved", "high", ["late"])
    assert inbound.message.message_text == "Sorted." and not inbound.message.is_internal
    assert any("Sorted." in text_of(m) for m in sent_to(customer_a.email))


def test_every_mail_with_commands_gets_a_receipt_listing_what_was_applied(notice, agent, committed):
    with committed():
        inbound = deliver(reply_to(notice, sender=SITA, text="#priority urgent\n#assign me\n\nOn it."))
    (receipt,) = [m for m in sent_to(agent.email) if "Done on" in text_of(m)]
    body = text_of(receipt)
    assert "Set the priority to urgent." in body and "Posted your reply." in body
    assert receipt["In-Reply-To"] == inbound.message_id_header
    assert receipt["Auto-Submitted"] == "auto-replied"


def test_a_mail_of_only_commands_posts_nothing_and_applies_them(notice, other_agent, committed):
    with committed():
        inbound = deliver(reply_to(notice, sender=SITA, text="#assign ram@sewabazaar.test"))
    ticket = ticket_of(notice)
    assert ticket.assigned_agent == other_agent
    assert inbound.status == "processed" and inbound.reason == "commands_only" and inbound.message is None
    assert ticket.messages.count() == 2


def test_a_bad_command_posts_nothing_changes_nothing_and_the_receipt_says_why(notice, customer_a, agent, committed):
    with committed():
        inbound = deliver(reply_to(notice, sender=SITA, text="#status resolved\n#priority extreme\n\nSorted."))
    ticket = ticket_of(notice)
    assert ticket.status != "resolved" and ticket.priority == "medium" and ticket.messages.count() == 2
    assert inbound.reason == "commands_refused"
    (receipt,) = sent_to(agent.email)
    assert "Nothing from your mail was applied" in text_of(receipt) and "extreme" in text_of(receipt)
    assert sent_to(customer_a.email) == []


def test_assigning_to_an_unknown_agent_is_refused_in_the_receipt(notice, agent, committed):
    with committed():
        deliver(reply_to(notice, sender=SITA, text="#assign nobody@elsewhere.example\n\nHe will call."))
    assert ticket_of(notice).messages.count() == 2
    assert "no active agent has this address" in text_of(sent_to(agent.email)[0])


def test_note_makes_an_agent_s_mailed_reply_an_internal_note_the_customer_never_gets(notice, customer_a, committed):
    with committed():
        inbound = deliver(reply_to(notice, sender=SITA, text="#note\nShe was rude on the phone."))
    assert inbound.message.is_internal and inbound.message.message_text == "She was rude on the phone."
    assert sent_to(customer_a.email) == []


def test_a_reply_to_an_internal_note_notification_is_an_internal_note(db, customer_a, agent, other_agent, committed):
    with committed():
        ticket = make_ticket(customer_a)
        services.assign(ticket=ticket, actor=other_agent, agent=agent, channel=Channel.WEB)
        make_reply(ticket, other_agent, "Check the refund first.", is_internal=True)
    (note_mail,) = [m for m in sent_to(agent.email) if "(internal note)" in m["Subject"]]
    django_mail.outbox = []
    with committed():
        inbound = deliver(reply_to(note_mail, sender=SITA, text="Refund is done."))
    assert inbound.message.is_internal and inbound.message.sender == agent
    assert sent_to(customer_a.email) == []


def test_a_reply_to_the_notice_of_a_note_that_came_by_mail_is_an_internal_note(
    db, customer_a, agent, other_agent, committed
):
    """The notice carries the mailed note under an id of its own; answering it (the subject
    changed, so only In-Reply-To tells) still answers a note."""
    with committed():
        ticket = make_ticket(customer_a)
        services.assign(ticket=ticket, actor=agent, agent=other_agent, channel=Channel.WEB)
        make_reply(ticket, customer_a, "Any news?")
    (to_colleague,) = [m for m in sent_to(other_agent.email) if "A new reply" in text_of(m)]
    with committed():
        deliver(
            reply_to(
                to_colleague,
                sender=f"Other Agent <{other_agent.email}>",
                text=f"#note\n@{agent.email} check the refund.",
            )
        )
    (note_mail,) = [m for m in sent_to(agent.email) if "check the refund" in text_of(m)]
    django_mail.outbox = []
    answer = build_mail(
        sender=SITA, to=str(note_mail["Reply-To"]), subject="refund", text="Refund is done.",
        in_reply_to=str(note_mail["Message-ID"]),
    )  # fmt: skip
    with committed():
        inbound = deliver(answer)
    assert inbound.message.is_internal and inbound.message.sender == agent
    assert sent_to(customer_a.email) == []


def test_an_agent_s_address_in_a_signature_without_its_dashes_never_reaches_the_customer(
    notice, customer_a, agent, committed
):
    signed = "Tomorrow at 9.\n\nBest regards,\nSita | Support\nE: Agent@SewaBazaar.test | T: 01-555 0100"
    with committed():
        inbound = deliver(reply_to(notice, sender=SITA, text=signed))
    assert "agent@sewabazaar.test" not in inbound.message.message_text.lower()
    assert "E: support@example.com | T: 01-555 0100" in inbound.message.message_text
    (to_customer,) = sent_to(customer_a.email)
    assert agent.email not in to_customer.as_string().lower()


def test_an_internal_note_keeps_the_agent_s_address_as_written(notice, agent, committed):
    with committed():
        inbound = deliver(reply_to(notice, sender=SITA, text=f"#note\nCall me back on {agent.email}."))
    assert inbound.message.is_internal and agent.email in inbound.message.message_text


def test_a_customer_s_hash_status_is_plain_text(db, customer_a, agent, committed):
    with committed():
        ticket = make_ticket(customer_a)
        make_reply(ticket, agent, "Is it fixed?")
    (mail,) = [m for m in sent_to(customer_a.email) if "Is it fixed?" in text_of(m)]
    with committed():
        inbound = deliver(reply_to(mail, sender="Asha Rai <asha@example.com>", text="#status resolved\nYes!"))
    ticket.refresh_from_db()
    assert ticket.status != "resolved"
    assert inbound.message.message_text == "#status resolved\nYes!"


def test_an_agent_s_mail_without_their_token_carries_no_commands(notice, committed):
    with committed():
        inbound = deliver(reply_to(notice, sender=SITA, text="#priority urgent\nLooking.", keep_reply_to=False))
    assert inbound.message.routed_by == "in_reply_to"
    assert ticket_of(notice).priority == "medium"
    assert inbound.message.message_text == "#priority urgent\nLooking."


def test_an_agent_s_mail_with_a_colleague_s_token_is_quarantined(notice, other_agent, committed):
    with committed():
        inbound = deliver(reply_to(notice, sender="Ram Agent <ram@sewabazaar.test>", text="#status closed\nClosing."))
    assert inbound.status == "quarantined" and inbound.reason == "sender_mismatch"
    assert ticket_of(notice).status != "closed"


def test_a_staff_from_that_fails_dmarc_carries_no_commands(notice, committed):
    raw = reply_to(notice, sender=SITA, text="#status closed\nClosing.")
    raw = b"Authentication-Results: mx.example.com; spf=fail; dkim=none; dmarc=fail\r\n" + raw
    with committed():
        inbound = deliver(raw)
    assert inbound.status == "quarantined" and inbound.reason == "sender_unverified"
    assert ticket_of(notice).status != "closed"


def test_an_agent_s_mailed_reply_with_commands_reaches_the_customer_from_the_support_address(
    notice, customer_a, agent, committed
):
    with committed():
        deliver(reply_to(notice, sender=SITA, text="#status in progress\n\nA new cleaner comes at 3pm."))
    (to_customer,) = sent_to(customer_a.email)
    assert "A new cleaner comes at 3pm." in text_of(to_customer)
    assert "#status" not in to_customer.as_string() and agent.email not in to_customer.as_string()
    assert Message.objects.filter(message_text__contains="#status").count() == 0


def test_an_agent_s_mail_reply_is_posted_as_text_so_its_quoted_notice_cannot_show_a_note(
    notice, customer_a, agent, committed, client
):
    ticket = ticket_of(notice)
    make_reply(ticket, agent, "Note: the cleaner was fired last week.", is_internal=True)
    quoting_html = (
        "<p>Sending a new cleaner.</p><blockquote>From: Sita &lt;sita.private@corp.example&gt;<br>"
        "Note: the cleaner was fired last week.</blockquote>"
    )
    with committed():
        inbound = deliver(reply_to(notice, sender=SITA, text="Sending a new cleaner.", html=quoting_html))
    assert inbound.message.html == "" and inbound.message.message_text == "Sending a new cleaner."
    client.force_login(customer_a)
    detail = client.get(f"/api/support/tickets/{ticket.pk}/").content.decode()
    assert "fired" not in detail and "sita.private" not in detail
