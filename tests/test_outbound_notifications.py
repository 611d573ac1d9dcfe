"""Who gets which mail for every domain event, with which subject and headers (spec section 5)."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.policy import compat32

import pytest
from django.core import mail as django_mail

from mailgateway.models import OutboundEmail, OutboundStatus, UndeliverableAddress
from mailgateway.outbound import build_references
from support import services
from support.models import Channel, Message, Notification, NotificationPreference, TicketParticipant, User
from tests.builders import make_reply, make_ticket
from tests.mailbuilder import build_mail, deliver
from tests.outbound_helpers import html_of, recipients, sent, sent_to, text_of, token_owner

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def everyone_notified(anymail_outbox, settings):  # type: ignore[no-untyped-def]
    settings.SUPERVISOR_ADDRESSES = []
    settings.STAFF_NOTIFY_ADDRESSES = []


@pytest.fixture
def ticket(customer_a, agent, committed):  # type: ignore[no-untyped-def]
    with committed():
        opened = make_ticket(customer_a, title="Cleaner did not come")
    django_mail.outbox = []
    return opened


# -- ticket opened -------------------------------------------------------------------------


def test_a_mailed_ticket_is_acknowledged_to_the_customer_with_reference_link_and_threading(customer_a, committed):
    with committed():
        inbound = deliver(build_mail(subject="Leaking tap", message_id="<first@mail.example.com>"))
    ack = sent_to("asha@example.com")
    assert len(ack) == 1
    reference = inbound.ticket.reference
    assert ack[0]["Subject"] == f"[{reference}] Leaking tap"
    assert ack[0]["In-Reply-To"] == "<first@mail.example.com>"
    assert ack[0]["References"] == "<first@mail.example.com>"
    assert ack[0]["Message-ID"] != "<first@mail.example.com>"  # a mail of its own, not a copy of theirs
    assert OutboundEmail.objects.get(template="ticket_opened").message_id_header == ack[0]["Message-ID"]
    assert "/t/" in text_of(ack[0]) and reference in text_of(ack[0])


def test_the_acknowledgement_is_marked_automatic(customer_a, committed):
    with committed():
        make_ticket(customer_a)
    (ack,) = sent_to("asha@example.com")
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "All"


def test_the_acknowledgement_s_reply_to_carries_the_customer_s_own_token(customer_a, committed):
    with committed():
        opened = make_ticket(customer_a)
    owner = token_owner(sent_to("asha@example.com")[0])
    assert owner is not None and owner.ticket_id == opened.pk and owner.person_id == customer_a.pk


def test_a_ticket_opened_on_the_web_gets_a_message_id_stored_on_its_first_message(customer_a, committed):
    with committed():
        opened = make_ticket(customer_a)
    first = opened.messages.get()
    assert first.email_message_id.startswith("<") and first.email_message_id.endswith("@example.com>")


def test_the_acknowledgement_of_a_web_ticket_is_the_mail_its_first_message_goes_by(customer_a, agent, committed):
    """The customer's mailbox holds no mail of a message typed on the web: the acknowledgement
    stands for it, so that the agent's reply names a mail the customer has (Gmail threads only so)."""
    with committed():
        opened = make_ticket(customer_a)
    first = opened.messages.get().email_message_id
    (ack,) = sent_to(customer_a.email)
    assert ack["Message-ID"] == first and ack["In-Reply-To"] is None
    with committed():
        make_reply(opened, agent, "We send someone tomorrow.")
    reply = sent_to(customer_a.email)[1]
    assert reply["In-Reply-To"] == first and first in reply["References"]


def test_a_ticket_opened_by_mail_is_acknowledged_under_a_new_id_even_if_the_sender_s_looks_like_ours(
    customer_a, committed
):
    """Another helpdesk like this one writes ids of the same shape: the sender holds that mail."""
    theirs = "<179660179663.9523.1047.sb@other-desk.example>"
    with committed():
        deliver(build_mail(sender="Asha Rai <asha@example.com>", message_id=theirs))
    (ack,) = sent_to(customer_a.email)
    assert ack["Message-ID"] != theirs and ack["In-Reply-To"] == theirs


def test_a_new_ticket_goes_to_every_agent_carrying_the_customer_s_message(customer_a, agent, other_agent, committed):
    with committed():
        opened = make_ticket(customer_a, message_text="Booked for 9am, nobody came.")
    for address in (agent.email, other_agent.email):
        (notice,) = sent_to(address)
        assert notice["Message-ID"] == opened.messages.get().email_message_id
        assert "Booked for 9am, nobody came." in text_of(notice)
        assert token_owner(notice).person_id == User.objects.get(email=address).pk


def test_a_customer_s_mailed_message_reaches_the_agents_under_an_id_of_ours(customer_a, agent, committed):
    """Not the customer's own Message-ID: an agent in Cc already holds that mail, and a mailbox
    may drop a second mail with the same id."""
    with committed():
        deliver(build_mail(sender="Asha Rai <asha@example.com>", cc=agent.email, message_id="<cc-1@mail.example.net>"))
    (notice,) = sent_to(agent.email)
    assert notice["Message-ID"] != "<cc-1@mail.example.net>" and notice["Message-ID"].endswith(".sb@example.com>")
    assert OutboundEmail.objects.get(recipient=agent).message_id_header == notice["Message-ID"]


@pytest.mark.parametrize("message_id", ["<1234567890.JavaMail>", f"<{'x' * 300}@mail.example.net>"])
def test_a_sender_s_unusable_message_id_is_left_out_of_the_threading_headers(message_id, customer_a, committed):
    with committed():
        deliver(build_mail(sender="Asha Rai <asha@example.com>", message_id=message_id))
    (ack,) = sent_to(customer_a.email)
    assert ack["In-Reply-To"] is None and ack["References"] is None


def test_mail_the_gateway_ignored_is_not_acknowledged(customer_a, committed):
    with committed():
        inbound = deliver(build_mail(headers={"Auto-Submitted": "auto-replied"}))
    assert inbound.status == "ignored"
    assert sent() == [] and OutboundEmail.objects.count() == 0


def test_one_sender_is_acknowledged_at_most_the_set_number_of_times_per_hour(customer_a, committed, settings):
    settings.OUTBOUND_ACK_PER_HOUR = 2
    with committed():
        for n in range(4):
            make_ticket(customer_a, title=f"Problem {n}")
    assert len(sent_to("asha@example.com")) == 2
    skipped = OutboundEmail.objects.filter(template="ticket_opened", status=OutboundStatus.SKIPPED)
    assert skipped.count() == 2 and "acknowledgements" in skipped.first().error


# -- replies and notes ---------------------------------------------------------------------


def test_an_agent_s_reply_goes_to_the_customer_and_each_participant_with_their_own_token(
    ticket, customer_a, customer_b, agent, committed
):
    TicketParticipant.objects.create(ticket=ticket, person=customer_b)
    with committed():
        reply = make_reply(ticket, agent, "We are sending another cleaner.")
    to_customer, to_participant = sent_to(customer_a.email), sent_to(customer_b.email)
    assert len(to_customer) == len(to_participant) == 1
    assert recipients(to_customer[0]) == [customer_a.email] and recipients(to_participant[0]) == [customer_b.email]
    assert token_owner(to_customer[0]).person_id == customer_a.pk
    assert token_owner(to_participant[0]).person_id == customer_b.pk
    reply.refresh_from_db()
    assert to_customer[0]["Message-ID"] == reply.email_message_id == to_participant[0]["Message-ID"]


def test_only_someone_the_web_page_serves_gets_the_ticket_link(ticket, customer_a, customer_b, agent, committed):
    TicketParticipant.objects.create(ticket=ticket, person=customer_b)
    with committed():
        make_reply(ticket, agent, "We are sending another cleaner.")
    (to_customer,), (to_participant,) = sent_to(customer_a.email), sent_to(customer_b.email)
    assert "/t/" in text_of(to_customer) and "/t/" not in text_of(to_participant)
    assert "Reply to this mail to answer." in text_of(to_participant)


def test_an_agent_s_reply_is_from_the_support_address_under_the_agent_s_name(ticket, customer_a, agent, committed):
    with committed():
        make_reply(ticket, agent, "On our way.")
    (message,) = sent_to(customer_a.email)
    assert message["From"].addresses[0].addr_spec == "support@example.com"
    assert message["From"].addresses[0].display_name == "Sita Agent (SewaBazaar Support)"


@pytest.mark.parametrize(
    "name",
    ["सीता शर्मा श्रेष्ठ", 'Zoë "ZO" Ørsted, Tier-2 (Kathmandu)', "Nguyễn Thị Minh Khai of the weekend support team"],
)
def test_an_agent_s_name_in_any_script_reaches_the_provider_in_its_letters_and_folds_on_the_wire(
    name, ticket, customer_a, agent, committed
):
    """The provider gets the name itself (Anymail and the provider encode it). A mail Django writes
    out (SMTP, the embedded default's files) carries it as several short encoded words: Django
    makes them up to 78 characters, a little over RFC 2047's 75, where the name used to arrive
    already encoded as one word of any length (80 characters for ten Devanagari letters)."""
    agent.name = name
    agent.save()
    with committed():
        make_reply(ticket, agent, "On our way.")
    (handed,) = [m for m in django_mail.outbox if customer_a.email in m.to]
    assert handed.anymail_test_params["from"].display_name == f"{name} (SewaBazaar Support)"
    head = email.message_from_bytes(handed.message().as_bytes(), policy=compat32)
    words = re.findall(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=", head["From"])
    assert len(words) > 1 and all(len(word) <= 78 for word in words)
    assert str(make_header(decode_header(head["From"]))) == f"{name} (SewaBazaar Support) <support@example.com>"


def test_a_direction_override_in_an_agent_s_name_is_not_passed_on(ticket, customer_a, agent, committed):
    agent.name = "Ram \u202eabc"
    agent.save()
    with committed():
        make_reply(ticket, agent, "On our way.")
    (message,) = sent_to(customer_a.email)
    assert message["From"].addresses[0].display_name == "Ram abc (SewaBazaar Support)"


def test_no_mail_to_a_customer_shows_the_agent_s_personal_address(ticket, customer_a, agent, committed):
    with committed():
        make_reply(ticket, agent, "On our way.")
        services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status="resolved")
        make_reply(ticket, customer_a, "Thanks!")
        make_reply(ticket, agent, "You are welcome.")
    for message in sent_to(customer_a.email):
        assert agent.email not in message.as_string()


def test_the_footer_is_a_signature_and_the_date_names_its_zone(ticket, customer_a, agent, committed, settings):
    """`-- ` (RFC 3676 4.3) lets mail clients grey the footer out and leave it out of replies;
    `+0000` says UTC where `-0000` says the zone is not known (RFC 5322 3.3)."""
    with committed():
        make_reply(ticket, agent, "On our way.")
    (message,) = sent_to(customer_a.email)
    assert "\n-- \nReply to this mail to answer" in text_of(message)
    assert message["Date"].datetime.utcoffset().total_seconds() == 0 and str(message["Date"]).endswith("+0000")


def test_a_message_in_a_right_to_left_script_keeps_its_direction_in_the_html(ticket, customer_a, agent, committed):
    with committed():
        make_reply(ticket, agent, "سنرسل عامل نظافة آخر غدًا.")
    (message,) = sent_to(customer_a.email)
    assert '<div dir="auto" style="white-space:pre-wrap;' in html_of(message)
    assert '">سنرسل عامل نظافة آخر غدًا.</div>' in html_of(message)


def test_an_agent_s_reply_is_not_marked_automatic(ticket, customer_a, agent, committed):
    with committed():
        make_reply(ticket, agent, "On our way.")
    (message,) = sent_to(customer_a.email)
    assert message["Auto-Submitted"] is None


def test_a_reply_threads_under_the_previous_message_and_quotes_it(ticket, customer_a, agent, committed):
    first = ticket.messages.get()
    with committed():
        make_reply(ticket, agent, "On our way.")
    (message,) = sent_to(customer_a.email)
    assert message["In-Reply-To"] == first.email_message_id
    assert message["References"] == first.email_message_id
    body = text_of(message)
    assert "On our way." in body and "> Booked for 9am." in body
    assert "Booked for 9am." in html_of(message) and "<blockquote" in html_of(message)


def test_the_thread_dates_its_messages_in_the_site_s_time_zone(ticket, customer_a, agent, committed, settings):
    settings.TIME_ZONE = "Asia/Kathmandu"  # UTC+05:45
    first = ticket.messages.get()
    Message.objects.filter(pk=first.pk).update(created_at=datetime(2026, 12, 2, 3, 30, tzinfo=UTC))
    with committed():
        make_reply(ticket, agent, "On our way.")
    (message,) = sent_to(customer_a.email)
    assert "On 2 Dec 2026, 09:15, Asha" in text_of(message)


def test_a_customer_s_reply_goes_to_the_assigned_agent_only(ticket, customer_a, agent, other_agent, committed):
    with committed():
        services.assign(ticket=ticket, actor=other_agent, agent=agent, channel=Channel.WEB)
    django_mail.outbox = []  # the assignment's own mail
    with committed():
        make_reply(ticket, customer_a, "Any news?")
    assert len(sent_to(agent.email)) == 1 and sent_to(other_agent.email) == []
    assert sent_to(customer_a.email) == []
    assert sent_to(agent.email)[0]["Subject"] == f"[{ticket.reference}] Cleaner did not come"


def test_the_agent_s_mail_of_a_customer_s_reply_names_the_ticket_s_status(ticket, customer_a, agent, committed):
    with committed():
        make_reply(ticket, customer_a, "Any news?")
    (mail,) = sent_to(agent.email)
    assert f"A new reply on {ticket.reference} (status: Open)." in text_of(mail)
    assert "(status: Open)" in html_of(mail)


def test_a_customer_s_reply_on_an_unassigned_ticket_goes_to_the_staff_list(
    ticket, customer_a, agent, other_agent, committed, settings
):
    with committed():
        make_reply(ticket, customer_a, "Any news?")
    assert len(sent_to(agent.email)) == len(sent_to(other_agent.email)) == 1
    settings.STAFF_NOTIFY_ADDRESSES = [other_agent.email]
    django_mail.outbox = []
    with committed():
        make_reply(ticket, customer_a, "Hello?")
    assert sent_to(agent.email) == [] and len(sent_to(other_agent.email)) == 1


def test_an_internal_note_goes_to_the_assigned_and_the_mentioned_agents_never_the_customer(
    ticket, customer_a, agent, other_agent, admin_user, committed
):
    services.assign(ticket=ticket, actor=admin_user, agent=agent, channel=Channel.WEB)
    with committed():
        make_reply(ticket, admin_user, "Refund approved, @ram please call her.", is_internal=True)
    assert len(sent_to(agent.email)) == 1 and len(sent_to(other_agent.email)) == 1
    assert sent_to(customer_a.email) == [] and sent_to(admin_user.email) == []
    note = sent_to(agent.email)[0]
    assert note["Subject"] == f"[{ticket.reference}] Cleaner did not come (internal note)"
    assert "Refund approved" in text_of(note)


def test_a_customer_s_mail_never_names_an_internal_note_in_its_references_or_text(ticket, customer_a, agent, committed):
    with committed():
        note = make_reply(ticket, agent, "She is a difficult customer.", is_internal=True)
        make_reply(ticket, agent, "We are on it.")
    note.refresh_from_db()
    (message,) = sent_to(customer_a.email)
    assert note.email_message_id not in message.as_string()
    assert "difficult" not in message.as_string()


def test_nobody_is_mailed_about_their_own_message(ticket, agent, committed):
    with committed():
        make_reply(ticket, agent, "Note to self.", is_internal=True)
    assert sent() == []


# -- changes -------------------------------------------------------------------------------


def test_resolving_tells_the_customer_that_a_reply_reopens_it(ticket, customer_a, agent, committed):
    with committed():
        services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status="resolved")
    (message,) = sent_to(customer_a.email)
    assert message["Subject"] == f"[{ticket.reference}] Cleaner did not come"
    assert "reply to this mail and the ticket opens again" in text_of(message)
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["In-Reply-To"] == ticket.messages.get().email_message_id


def test_other_changes_send_no_mail_to_the_customer(ticket, agent, committed):
    with committed():
        services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, priority="high", tags=["x"])
    assert sent() == []


def test_assigning_tells_the_new_agent(ticket, agent, other_agent, committed):
    with committed():
        services.assign(ticket=ticket, actor=agent, agent=other_agent, channel=Channel.WEB)
    (message,) = sent_to(other_agent.email)
    assert "Sita Agent assigned ticket" in text_of(message)
    assert token_owner(message).person_id == other_agent.pk
    assert sent_to(agent.email) == []


def test_taking_a_ticket_oneself_sends_no_mail(ticket, agent, committed):
    with committed():
        services.assign(ticket=ticket, actor=agent, agent=agent, channel=Channel.WEB)
    assert sent() == []


def test_an_escalation_goes_to_the_supervisors_of_the_setting(
    ticket, agent, other_agent, admin_user, committed, settings
):
    settings.SUPERVISOR_ADDRESSES = [other_agent.email]
    with committed():
        services.escalate(ticket=ticket, actor=agent, reason="Customer threatens to leave", channel=Channel.WEB)
    (message,) = sent_to(other_agent.email)
    assert "Customer threatens to leave" in text_of(message)
    assert sent_to(admin_user.email) == []


def test_without_the_setting_an_escalation_goes_to_the_superusers(ticket, agent, other_agent, admin_user, committed):
    with committed():
        services.escalate(ticket=ticket, actor=agent, reason="Third complaint", channel=Channel.WEB)
    assert len(sent_to(admin_user.email)) == 1 and sent_to(other_agent.email) == []


# -- long threads, undeliverable addresses, preferences -----------------------------------


def test_references_keep_the_first_and_the_latest_ids_under_a_thousand_characters():
    ids = [f"<{'x' * 60}.{n}@example.com>" for n in range(200)]
    kept = build_references(ids)
    assert kept[0] == ids[0] and kept[-1] == ids[-1]
    assert len(" ".join(kept)) < 1000 and kept == [ids[0], *ids[-len(kept) + 1 :]]


def test_on_a_long_thread_the_references_header_stays_short(ticket, customer_a, agent, committed):
    for n in range(30):
        make_reply(ticket, customer_a if n % 2 else agent, f"Message {n}")
    for index, message in enumerate(ticket.messages.order_by("created_at")):
        Message.objects.filter(pk=message.pk).update(email_message_id=f"<{'m' * 40}.{index}@mail.example.com>")
    with committed():  # the mails of the 30 replies go out with it (their tasks never ran: the drainer's backlog)
        make_reply(ticket, agent, "The last word.")
    (message,) = [m for m in sent_to(customer_a.email) if "The last word." in text_of(m)]
    references = message["References"].split()
    assert references[0] == f"<{'m' * 40}.0@mail.example.com>"
    assert references[-1] == f"<{'m' * 40}.30@mail.example.com>" == message["In-Reply-To"]
    assert len(message["References"]) < 1000


def test_an_undeliverable_address_gets_nothing(ticket, customer_a, agent, committed):
    UndeliverableAddress.objects.create(address="asha@example.com", reason="bounce")
    with committed():
        make_reply(ticket, agent, "On our way.")
    assert sent() == []
    row = OutboundEmail.objects.get(to_address="asha@example.com", template="agent_reply")
    assert row.status == OutboundStatus.SKIPPED and "undeliverable" in row.error


def test_an_undeliverable_address_is_matched_whatever_its_case(ticket, customer_a, agent, committed):
    UndeliverableAddress.objects.create(address="Asha@Example.COM", reason="bounce")
    with committed():
        make_reply(ticket, agent, "On our way.")
    assert OutboundEmail.objects.get(template="agent_reply").status == OutboundStatus.SKIPPED


def test_the_people_of_a_notice_are_read_in_one_query(ticket, customer_a, agent, django_assert_num_queries):
    from mailgateway.notifications import Notice, queue_notices

    notices = [Notice(customer_a, "agent_reply"), Notice(agent, "internal_note"), Notice(customer_a, "ticket_opened")]
    with django_assert_num_queries(3):  # the people's facts, the in-app rows, the mail rows
        rows = queue_notices(ticket=ticket, message=None, notices=notices)
    assert [r.status for r in rows] == [OutboundStatus.QUEUED] * 3


def test_a_person_who_switched_an_event_off_gets_no_mail_but_the_in_app_notification(
    ticket, customer_a, agent, committed
):
    services.assign(ticket=ticket, actor=agent, agent=agent, channel=Channel.WEB)
    NotificationPreference.objects.create(person=agent, event="customer_reply", email=False)
    with committed():
        make_reply(ticket, customer_a, "Any news?")
    assert sent() == []
    assert Notification.objects.filter(recipient=agent, event="customer_reply", ticket=ticket).count() == 1


def test_in_app_notifications_follow_the_same_people_and_never_tell_a_customer_of_a_note(
    ticket, customer_a, agent, other_agent, committed
):
    services.assign(ticket=ticket, actor=other_agent, agent=agent, channel=Channel.WEB)
    with committed():
        make_reply(ticket, other_agent, "Internal: check the booking.", is_internal=True)
        make_reply(ticket, other_agent, "We are checking.")
    # The setup's ticket and assignment are told of too (in their own transaction): not this test's.
    to_agent = Notification.objects.filter(recipient=agent).exclude(event__in=["new_ticket", "ticket_assigned"])
    assert list(to_agent.values_list("event", flat=True)) == ["internal_note"]
    assert list(Notification.objects.filter(recipient=customer_a).values_list("event", flat=True)) == ["agent_reply"]


def test_threads_read_for_a_batch_are_the_threads_read_one_by_one(ticket, customer_a, agent, other_agent):
    from mailgateway.notifications import Notice, queue_notices
    from mailgateway.outbound_reads import outbound_rows, read_thread, read_threads

    for n in range(12):
        make_reply(ticket, agent if n % 3 else customer_a, f"Message {n}", is_internal=n % 3 == 2)
    messages = list(ticket.messages.order_by("created_at"))
    notices = [Notice(customer_a, "agent_reply"), Notice(other_agent, "internal_note")]
    for message in (messages[3], messages[-1]):
        queue_notices(ticket=ticket, message=message, notices=notices)
    queue_notices(ticket=ticket, message=None, notices=[Notice(customer_a, "ticket_resolved")])
    rows = list(outbound_rows().filter(ticket=ticket))
    batch = read_threads(rows)
    for row in rows:
        expected = read_thread(row, staff_view=row.recipient.is_staff)
        assert batch.get(row.pk, expected) == expected
    assert len(batch) >= len(rows) - 2  # only rows carrying an old message may need their own query


def _act(event: str, ticket, customer, agent, other_agent):  # type: ignore[no-untyped-def]
    """Make `event` happen on `ticket` (assigned to `agent`); returns who must get the mail."""
    if event == "ticket_opened":
        return customer, lambda: make_ticket(customer, title="Second problem")
    if event == "new_ticket":
        return other_agent, lambda: make_ticket(customer, title="Second problem")
    actions = {
        "agent_reply": (customer, lambda: make_reply(ticket, other_agent, "We are on it.")),
        "customer_reply": (agent, lambda: make_reply(ticket, customer, "Any news?")),
        "internal_note": (agent, lambda: make_reply(ticket, other_agent, "Check the refund.", is_internal=True)),
        "ticket_resolved": (
            customer,
            lambda: services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status="resolved"),
        ),
        "ticket_assigned": (
            other_agent,
            lambda: services.assign(ticket=ticket, actor=agent, agent=other_agent, channel=Channel.WEB),
        ),
        "ticket_escalated": (
            other_agent,
            lambda: services.escalate(ticket=ticket, actor=agent, reason="Third complaint", channel=Channel.WEB),
        ),
    }
    return actions[event]


@pytest.mark.parametrize(
    "event",
    [
        "ticket_opened",
        "new_ticket",
        "agent_reply",
        "customer_reply",
        "internal_note",
        "ticket_resolved",
        "ticket_assigned",
        "ticket_escalated",
    ],
)
def test_every_event_s_mail_carries_the_reference_stored_message_id_thread_headers_and_own_token(
    event, ticket, customer_a, agent, other_agent, committed, settings
):
    settings.SUPERVISOR_ADDRESSES = [other_agent.email]
    settings.STAFF_NOTIFY_ADDRESSES = [other_agent.email]
    services.assign(ticket=ticket, actor=agent, agent=agent, channel=Channel.WEB)
    recipient, act = _act(event, ticket, customer_a, agent, other_agent)
    with committed():
        act()
    row = OutboundEmail.objects.filter(template=event, recipient=recipient).latest("created_at")
    (mail,) = [m for m in sent_to(recipient.email) if m["Message-ID"] == row.message_id_header]
    reference = row.ticket.reference
    assert mail["Subject"].startswith(f"[{reference}] ")
    known_ids = set(row.ticket.messages.values_list("email_message_id", flat=True))
    if event in ("new_ticket", "ticket_opened"):  # the mail is the web ticket's first message: a root
        assert mail["Message-ID"] in known_ids and mail["In-Reply-To"] is None
    else:
        assert mail["In-Reply-To"] in known_ids and mail["In-Reply-To"] in mail["References"].split()
        assert set(mail["References"].split()) <= known_ids and len(mail["References"]) < 1000
    owner = token_owner(mail)
    assert owner.person_id == recipient.pk and owner.ticket_id == row.ticket_id
    assert (mail["Auto-Submitted"] == "auto-replied") == (event != "agent_reply")
    assert "/t/" in text_of(mail)
    if not recipient.is_staff:
        assert agent.email not in mail.as_string() and other_agent.email not in mail.as_string()


# -- the outbox: queued in the transaction of the change ------------------------------------


def test_a_mail_is_queued_in_the_transaction_of_its_change_and_rolled_back_with_it(
    customer_a, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        ticket = make_ticket(customer_a)
        assert OutboundEmail.objects.filter(ticket=ticket, template="ticket_opened").count() == 1
        raise RuntimeError
    assert not OutboundEmail.objects.exists() and not Notification.objects.exists()
    assert callbacks == [] and sent() == []


def test_a_failure_to_notify_leaves_the_change_and_its_transaction_whole(customer_a, agent, committed, monkeypatch):
    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the staff list is unreadable")

    monkeypatch.setattr("mailgateway.notifications.plan_opened", broken)
    with committed():
        ticket = make_ticket(customer_a)
        make_reply(ticket, agent, "We are on it.")
    assert ticket.messages.count() == 2
    assert list(OutboundEmail.objects.values_list("template", flat=True)) == ["agent_reply"]
