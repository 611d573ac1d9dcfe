"""The rules of spec section 3, through the domain services every door calls."""

from __future__ import annotations

import io

import pytest
from django.db import IntegrityError, transaction

from support import events, message_files, rules, services
from support.errors import InvalidFileType, InvalidInput, NotAllowed
from support.models import Channel, EventKind, Message, Status, TicketEvent
from support.rules import replace_address
from tests.builders import WINDOWS_EXE, make_reply, make_ticket


@pytest.fixture
def ticket(customer_a):
    return make_ticket(customer_a)


def events_of(ticket, kind):
    return list(TicketEvent.objects.filter(ticket=ticket, kind=kind).values_list("from_value", "to_value"))


@pytest.mark.django_db
def test_opening_writes_the_first_message_and_a_created_event(ticket, customer_a):
    (message,) = ticket.messages.all()
    assert message.sender == customer_a and message.is_from_customer and not message.is_internal
    assert message.read_by_customer and not message.read_by_staff
    assert events_of(ticket, EventKind.CREATED) == [(None, "open")]


@pytest.mark.django_db
def test_staff_may_open_a_ticket_for_a_customer_but_a_customer_not_for_another(customer_a, customer_b, agent):
    ticket = services.open_ticket(customer=customer_a, title="By phone", message_text="Called in", opened_by=agent)
    assert ticket.customer == customer_a
    with pytest.raises(NotAllowed):
        services.open_ticket(customer=customer_a, title="x", message_text="y", opened_by=customer_b)


@pytest.mark.django_db
def test_only_staff_write_internal_notes(ticket, customer_a, agent):
    with pytest.raises(NotAllowed):
        make_reply(ticket, customer_a, "note?", is_internal=True)
    note = make_reply(ticket, agent, "note", is_internal=True)
    assert note.is_internal and not note.is_from_customer


@pytest.mark.django_db
def test_the_database_refuses_a_note_from_the_customer(ticket, customer_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            ticket=ticket, sender=customer_a, message_text="x", is_internal=True, is_from_customer=True
        )


@pytest.mark.django_db
def test_someone_else_cannot_write_on_a_ticket(ticket, customer_b):
    with pytest.raises(NotAllowed):
        make_reply(ticket, customer_b, "hi")


@pytest.mark.django_db
def test_the_first_public_staff_reply_stamps_first_response_and_moves_to_in_progress(ticket, customer_a, agent):
    make_reply(ticket, agent, "note", is_internal=True)
    make_reply(ticket, customer_a, "more")
    ticket.refresh_from_db()
    assert ticket.first_response_at is None and ticket.status == Status.OPEN
    reply = make_reply(ticket, agent, "on it")
    make_reply(ticket, agent, "still on it")
    ticket.refresh_from_db()
    assert ticket.first_response_at == reply.created_at and ticket.status == Status.IN_PROGRESS
    assert events_of(ticket, EventKind.STATUS) == [("open", "in_progress")]


@pytest.mark.django_db
def test_a_customer_reply_reopens_a_resolved_ticket(ticket, customer_a, agent):
    services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status=Status.RESOLVED)
    ticket.refresh_from_db()
    assert ticket.resolved_at is not None
    make_reply(ticket, customer_a, "not fixed")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.resolved_at is None
    assert events_of(ticket, EventKind.STATUS)[-1] == ("resolved", "open")


@pytest.mark.django_db
def test_a_closed_ticket_takes_no_customer_message_but_staff_may_write(ticket, customer_a, agent):
    services.change_ticket(ticket=ticket, actor=customer_a, channel=Channel.WEB, status=Status.CLOSED)
    ticket.refresh_from_db()
    assert ticket.closed_at is not None
    with pytest.raises(InvalidInput):
        make_reply(ticket, customer_a, "hello?")
    make_reply(ticket, agent, "For the record: refunded.")
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change", [{"priority": "high"}, {"category": "billing"}, {"tags": ["x"]}, {"status": "resolved"}]
)
def test_a_customer_may_only_close(ticket, customer_a, change):
    with pytest.raises(NotAllowed):
        services.change_ticket(ticket=ticket, actor=customer_a, channel=Channel.WEB, **change)


@pytest.mark.django_db
def test_customers_may_not_assign_or_escalate(ticket, customer_a, agent):
    with pytest.raises(NotAllowed):
        services.assign(ticket=ticket, actor=customer_a, agent=agent, channel=Channel.WEB)
    with pytest.raises(NotAllowed):
        services.escalate(ticket=ticket, actor=customer_a, reason="x", channel=Channel.WEB)


@pytest.mark.django_db
def test_tickets_are_assigned_to_active_staff_only(ticket, customer_b, agent):
    with pytest.raises(InvalidInput):
        services.assign(ticket=ticket, actor=agent, agent=customer_b, channel=Channel.WEB)
    agent.is_active = False
    agent.save()
    with pytest.raises(NotAllowed):  # an inactive agent cannot act either
        services.assign(ticket=ticket, actor=agent, agent=agent, channel=Channel.WEB)


@pytest.mark.django_db
def test_each_change_writes_one_event_with_who_from_to_and_channel(ticket, agent):
    services.change_ticket(
        ticket=ticket, actor=agent, channel=Channel.API, priority="urgent", tags=[" Refund ", "refund"]
    )
    services.change_ticket(ticket=ticket, actor=agent, channel=Channel.API, priority="urgent")  # no change, no event
    rows = TicketEvent.objects.filter(ticket=ticket).exclude(kind=EventKind.CREATED)
    assert sorted((e.kind, e.from_value, e.to_value, e.actor_id, e.channel) for e in rows) == [
        ("priority", "medium", "urgent", agent.pk, "api"),
        ("tags", [], ["refund"], agent.pk, "api"),
    ]


@pytest.mark.django_db
def test_reopening_by_staff_clears_resolved_and_closed(ticket, agent):
    services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status=Status.CLOSED)
    services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status=Status.OPEN)
    ticket.refresh_from_db()
    assert ticket.closed_at is None and ticket.resolved_at is None


@pytest.mark.django_db
def test_typed_text_is_limited_and_mail_text_is_cut_with_a_marker(ticket, agent):
    with pytest.raises(InvalidInput):
        make_reply(ticket, agent, "x" * 5001)
    with pytest.raises(InvalidInput):
        make_reply(ticket, agent, "   \x00  ")
    long_mail = make_reply(ticket, agent, "y" * 20000, channel=Channel.EMAIL)
    assert len(long_mail.message_text) <= 5000 and long_mail.message_text.endswith(rules.TRUNCATION_MARKER)


def test_a_long_mail_is_cut_at_the_last_space_before_the_limit():
    text = rules.clean_message_text("The leak, day by day: " + "plumber " * 1000, channel=Channel.EMAIL)
    kept = text.removesuffix(rules.TRUNCATION_MARKER)
    assert len(text) <= 5000 and text.endswith(rules.TRUNCATION_MARKER)
    assert kept.endswith(" plumber")


def test_a_long_mail_with_no_space_near_the_limit_is_cut_at_the_limit():
    text = rules.clean_message_text("Token: " + "x" * 9000, channel=Channel.EMAIL)
    assert len(text) == 5000 and text.endswith("x" + rules.TRUNCATION_MARKER)


@pytest.mark.django_db
def test_unread_flags_and_mark_read_per_side(ticket, customer_a, agent):
    make_reply(ticket, agent, "public")
    make_reply(ticket, agent, "note", is_internal=True)
    assert services.mark_read(ticket=ticket, reader=customer_a) == 1  # the note is not the customer's to read
    assert services.mark_read(ticket=ticket, reader=agent) == 1  # the customer's opening message
    assert not Message.objects.filter(ticket=ticket, is_internal=False, read_by_customer=False).exists()


@pytest.mark.django_db
def test_updated_at_moves_with_public_messages_not_with_notes(ticket, customer_a, agent):
    before = ticket.updated_at
    make_reply(ticket, agent, "note", is_internal=True)
    ticket.refresh_from_db()
    assert ticket.updated_at == before
    reply = make_reply(ticket, customer_a, "public")
    ticket.refresh_from_db()
    assert ticket.updated_at == reply.created_at


@pytest.mark.django_db
def test_events_are_announced_after_commit_only(customer_a, agent, django_capture_on_commit_callbacks):
    heard: list[str] = []

    def listener(signal_name):
        return lambda sender, **kwargs: heard.append(signal_name)

    receivers = {name: listener(name) for name in ("ticket_opened", "message_added", "ticket_changed")}
    for name, receiver in receivers.items():
        getattr(events, name).connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = make_ticket(customer_a)
            make_reply(ticket, agent, "hi")
            services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, priority="high")
        assert heard == ["ticket_opened", "message_added", "ticket_changed"]
        heard.clear()
        with (
            django_capture_on_commit_callbacks(execute=True) as callbacks,
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            make_reply(ticket, agent, "rolled back")
            raise RuntimeError
        assert heard == [] and callbacks == []
    finally:
        for name, receiver in receivers.items():
            getattr(events, name).disconnect(receiver)


@pytest.mark.django_db
def test_a_renamed_executable_is_not_stored(ticket, customer_a):
    with pytest.raises(InvalidFileType):
        message_files.store_attachment(
            ticket=ticket, uploader=customer_a, content=io.BytesIO(WINDOWS_EXE), filename="a.pdf", size=len(WINDOWS_EXE)
        )
    assert ticket.attachments.count() == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("E: Agent@SewaBazaar.test | T: 555", "E: support@example.com | T: 555"),
        ("<mailto:agent@sewabazaar.test>", "<mailto:support@example.com>"),
        ("agent@sewabazaar.test.", "support@example.com."),
        ("sita.agent@sewabazaar.test", "sita.agent@sewabazaar.test"),
        ("subagent@sewabazaar.test", "subagent@sewabazaar.test"),
        ("agent@sewabazaar.test.np", "agent@sewabazaar.test.np"),
        ("agent@sewabazaar.testing", "agent@sewabazaar.testing"),
    ],
)
def test_an_address_is_replaced_only_where_it_is_written_whole(text, expected):
    assert replace_address(text, "agent@sewabazaar.test", "support@example.com") == expected


@pytest.mark.parametrize(
    ("stored", "written"),
    [("sita@xn--mnchen-3ya.de", "sita@münchen.de"), ("sita@münchen.de", "sita@xn--mnchen-3ya.de")],
)
def test_an_address_is_replaced_whichever_form_its_domain_is_written_in(stored, written):
    assert replace_address(f"Write to {written} today", stored, "support@example.com") == (
        "Write to support@example.com today"
    )
