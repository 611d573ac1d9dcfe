"""Held replies: an agent's mailed answer to an out-of-date notification waits until they decide."""

from __future__ import annotations

import pytest
from django.core import mail as django_mail

from mailgateway.held import send_held_reply
from mailgateway.models import HeldReply, HeldStatus
from support import services
from support.errors import InvalidInput
from support.models import Channel, Ticket
from tests.builders import make_reply, make_ticket
from tests.mailbuilder import deliver
from tests.outbound_helpers import reply_to, sent_to, text_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("anymail_outbox")]

SITA = "Sita Agent <agent@sewabazaar.test>"


@pytest.fixture
def ticket(customer_a, agent, committed) -> Ticket:  # type: ignore[no-untyped-def]
    with committed():
        opened = make_ticket(customer_a, title="Cleaner did not come", message_text="Nobody came at 9.")
        services.assign(ticket=opened, actor=agent, agent=agent, channel=Channel.WEB)
    return opened


@pytest.fixture
def old_notice(ticket, agent):  # type: ignore[no-untyped-def]
    """The mail Sita got about the customer's first message."""
    (mail,) = [m for m in sent_to(agent.email) if "Nobody came at 9." in text_of(m)]
    django_mail.outbox = []
    return mail


def test_a_reply_to_a_notification_older_than_the_latest_public_message_is_held(
    ticket, old_notice, customer_a, other_agent, committed
):
    with committed():
        make_reply(ticket, other_agent, "Ram here: a cleaner is on the way.")
    django_mail.outbox = []
    with committed():
        inbound = deliver(reply_to(old_notice, sender=SITA, text="I will send someone tomorrow."))
    assert inbound.status == "processed" and inbound.reason == "held" and inbound.message is None
    assert ticket.messages.filter(message_text__contains="tomorrow").count() == 0
    assert sent_to(customer_a.email) == []
    assert HeldReply.objects.get().text == "I will send someone tomorrow."


def test_the_agent_gets_the_messages_they_had_not_seen(ticket, old_notice, agent, customer_a, committed):
    with committed():
        make_reply(ticket, customer_a, "Actually he just arrived.")
    django_mail.outbox = []
    with committed():
        deliver(reply_to(old_notice, sender=SITA, text="I will send someone tomorrow."))
    (held_mail,) = sent_to(agent.email)
    body = text_of(held_mail)
    assert "was NOT sent" in body and "Actually he just arrived." in body and "#send" in body
    assert "I will send someone tomorrow." in body


def test_a_reply_to_the_latest_notification_is_posted_at_once(ticket, old_notice, customer_a, committed):
    with committed():
        inbound = deliver(reply_to(old_notice, sender=SITA, text="A cleaner comes at 3pm."))
    assert inbound.message is not None and inbound.message.message_text == "A cleaner comes at 3pm."
    assert len(sent_to(customer_a.email)) == 1
    assert not HeldReply.objects.exists()


def test_the_agent_s_own_later_message_does_not_hold_their_reply(ticket, old_notice, agent, committed):
    make_reply(ticket, agent, "Looking into it.")
    with committed():
        inbound = deliver(reply_to(old_notice, sender=SITA, text="Found it: 3pm."))
    assert inbound.message is not None


def test_answering_the_held_notice_with_send_posts_the_held_reply(
    ticket, old_notice, customer_a, agent, other_agent, committed
):
    with committed():
        make_reply(ticket, other_agent, "Ram here: on the way.")
        deliver(reply_to(old_notice, sender=SITA, text="I will send someone tomorrow."))
    (held_mail,) = [m for m in sent_to(agent.email) if "was NOT sent" in text_of(m)]
    django_mail.outbox = []
    with committed():
        deliver(reply_to(held_mail, sender=SITA, text="#send"))
    held = HeldReply.objects.get()
    assert held.status == HeldStatus.SENT and held.posted_message.message_text == "I will send someone tomorrow."
    assert any("I will send someone tomorrow." in text_of(m) for m in sent_to(customer_a.email))
    assert any("Sent your held reply." in text_of(m) for m in sent_to(agent.email))


def test_answering_the_held_notice_with_drop_posts_nothing(ticket, old_notice, customer_a, other_agent, committed):
    with committed():
        make_reply(ticket, other_agent, "Ram here: on the way.")
        deliver(reply_to(old_notice, sender=SITA, text="I will send someone tomorrow."))
    held_mail = next(m for m in sent_to("agent@sewabazaar.test") if "was NOT sent" in text_of(m))
    with committed():
        deliver(reply_to(held_mail, sender=SITA, text="#drop"))
    assert HeldReply.objects.get().status == HeldStatus.DROPPED
    assert not ticket.messages.filter(message_text__contains="tomorrow").exists()


def test_staff_send_a_held_reply_from_the_console_once(ticket, old_notice, customer_a, agent, other_agent, committed):
    with committed():
        make_reply(ticket, other_agent, "Ram here: on the way.")
        deliver(reply_to(old_notice, sender=SITA, text="I will send someone tomorrow."))
    held = HeldReply.objects.get()
    message = send_held_reply(held, actor=agent)
    assert message.sender == agent and not message.is_internal
    with pytest.raises(InvalidInput):
        send_held_reply(held, actor=agent)


def test_send_without_a_held_reply_is_refused_in_the_receipt(ticket, old_notice, agent, committed):
    with committed():
        inbound = deliver(reply_to(old_notice, sender=SITA, text="#send"))
    assert inbound.reason == "commands_refused"
    assert "no held reply" in text_of(sent_to(agent.email)[0])
