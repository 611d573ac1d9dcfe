"""A ticket's list columns (each side's latest snippet and unread count, and whether staff
wrote the latest public message) are kept by the services as messages are written and read,
and always equal a recount from the messages."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import services, summaries
from support.models import Attachment, Message, Ticket
from support.privacy import ERASED_TEXT, erase_customer
from tests.builders import make_reply, make_sent_attachment, make_ticket

COLUMNS = ("staff_snippet", "customer_snippet", "unread_by_staff", "unread_by_customer", "last_public_from_staff")


def columns(ticket: Ticket) -> dict[str, object]:
    return dict(Ticket.objects.filter(pk=ticket.pk).values(*COLUMNS).get())


def recounted(ticket: Ticket) -> dict[str, object]:
    summaries.refresh_ticket_summaries(Ticket.objects.filter(pk=ticket.pk))
    return columns(ticket)


@pytest.mark.django_db
def test_a_new_ticket_shows_its_first_message_unread_by_staff_only(customer_a):
    ticket = make_ticket(customer_a, message_text="The plumber never came.")
    assert columns(ticket) == {
        "staff_snippet": "The plumber never came.",
        "customer_snippet": "The plumber never came.",
        "unread_by_staff": 1,
        "unread_by_customer": 0,
        "last_public_from_staff": False,
    }


@pytest.mark.django_db
def test_an_internal_note_is_the_staff_snippet_and_never_the_customers(customer_a, agent):
    ticket = make_ticket(customer_a)
    make_reply(ticket, agent, "We are on it.")
    make_reply(ticket, agent, "Refund approved by finance", is_internal=True)
    assert columns(ticket) == {
        "staff_snippet": "Refund approved by finance",
        "customer_snippet": "We are on it.",
        "unread_by_staff": 1,  # the customer's opening message
        "unread_by_customer": 1,  # the public reply, not the note
        "last_public_from_staff": True,  # the note does not count
    }


@pytest.mark.django_db
def test_the_customers_answer_ends_the_wait_on_the_customer(customer_a, agent):
    ticket = make_ticket(customer_a)
    make_reply(ticket, agent, "Can you send a photo?")
    assert columns(ticket)["last_public_from_staff"] is True
    make_reply(Ticket.objects.get(pk=ticket.pk), customer_a, "Here it is.")
    assert columns(ticket)["last_public_from_staff"] is False


@pytest.mark.django_db
def test_a_long_message_is_cut_to_the_snippet_length(customer_a):
    ticket = make_ticket(customer_a, message_text="x" * 500)
    assert columns(ticket)["staff_snippet"] == "x" * 140


@pytest.mark.django_db
def test_reading_a_ticket_clears_only_the_readers_side(customer_a, agent):
    ticket = make_ticket(customer_a)
    make_reply(ticket, agent, "Tomorrow at 9?")
    services.mark_read(ticket=Ticket.objects.get(pk=ticket.pk), reader=agent)
    assert columns(ticket)["unread_by_staff"] == 0 and columns(ticket)["unread_by_customer"] == 1
    assert services.mark_read(ticket=Ticket.objects.get(pk=ticket.pk), reader=customer_a) == 1
    assert columns(ticket)["unread_by_customer"] == 0
    assert not Message.objects.filter(ticket=ticket, read_by_customer=False).exists()


@pytest.mark.django_db
def test_reading_a_ticket_with_nothing_unread_writes_nothing(customer_a, agent, django_assert_num_queries):
    ticket = make_ticket(customer_a)
    services.mark_read(ticket=Ticket.objects.get(pk=ticket.pk), reader=customer_a)
    fresh = Ticket.objects.get(pk=ticket.pk)
    with django_assert_num_queries(0):
        assert services.mark_read(ticket=fresh, reader=customer_a) == 0


@pytest.mark.django_db
def test_erasing_a_customer_recounts_the_snippets_of_their_tickets(customer_a, agent):
    ticket = make_ticket(customer_a, message_text="My address is 12 Lazimpat")
    erase_customer(customer_a)
    assert columns(ticket)["staff_snippet"] == ERASED_TEXT
    assert columns(ticket)["customer_snippet"] == ERASED_TEXT


@pytest.mark.django_db
def test_deleting_a_message_in_the_admin_recounts_its_ticket(customer_a, agent, admin_user):
    ticket = make_ticket(customer_a, message_text="first")
    reply = make_reply(ticket, agent, "second")
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    site._registry[Message].delete_model(request, reply)
    assert columns(ticket)["staff_snippet"] == "first"
    assert columns(ticket)["unread_by_customer"] == 0


def admin_request(admin_user):
    request = RequestFactory().post("/admin/")
    request.user = admin_user
    return request


@pytest.mark.django_db
def test_moving_a_message_to_another_ticket_in_the_admin_recounts_both(customer_a, agent, admin_user):
    first = make_ticket(customer_a, message_text="first ticket")
    second = make_ticket(customer_a, message_text="second ticket")
    reply = make_reply(first, agent, "meant for the second ticket")
    reply.ticket = second
    site._registry[Message].save_model(admin_request(admin_user), reply, form=None, change=True)
    assert columns(first)["customer_snippet"] == "first ticket"
    assert columns(first)["unread_by_customer"] == 0
    assert columns(second)["customer_snippet"] == "meant for the second ticket"


@pytest.mark.django_db
def test_deleting_a_file_in_the_admin_moves_the_conversation_on(customer_a, agent, admin_user):
    ticket = make_ticket(customer_a)
    file = make_sent_attachment(make_reply(ticket, agent, "See the photo"), agent)
    before = Ticket.objects.get(pk=ticket.pk).conversation_version
    site._registry[Attachment].delete_model(admin_request(admin_user), file)
    assert Ticket.objects.get(pk=ticket.pk).conversation_version > before


@pytest.mark.django_db
def test_an_admin_edit_of_a_ticket_keeps_a_reply_written_while_the_page_was_open(customer_a, agent, admin_user):
    ticket = make_ticket(customer_a)
    on_the_page = Ticket.objects.get(pk=ticket.pk)
    make_reply(Ticket.objects.get(pk=ticket.pk), agent, "We are on it.")
    form_class = site._registry[Ticket].get_form(admin_request(admin_user), on_the_page, change=True)
    data = {**form_class(instance=on_the_page).initial, "title": "Renamed by the admin"}
    data = {name: value for name, value in data.items() if value is not None}
    form = form_class(data, instance=on_the_page)
    assert form.is_valid(), form.errors
    site._registry[Ticket].save_model(admin_request(admin_user), form.save(commit=False), form, change=True)
    assert Ticket.objects.get(pk=ticket.pk).title == "Renamed by the admin"
    assert columns(ticket)["customer_snippet"] == "We are on it."
    assert columns(ticket)["unread_by_customer"] == 1


@pytest.mark.django_db
def test_the_recount_command_repairs_columns_written_around_the_services(customer_a, agent):
    from io import StringIO

    from django.core.management import call_command

    tickets = [make_ticket(customer_a, message_text=f"ticket {n}") for n in range(3)]
    Ticket.objects.update(staff_snippet="stale", unread_by_staff=7)
    out = StringIO()
    call_command("recount_tickets", "--batch", "2", stdout=out)
    assert "recounted 3 tickets" in out.getvalue()
    assert [columns(t)["staff_snippet"] for t in tickets] == ["ticket 0", "ticket 1", "ticket 2"]
    assert {columns(t)["unread_by_staff"] for t in tickets} == {1}


@st.composite
def conversations(draw: st.DrawFn) -> list[tuple[str, str]]:
    steps = st.sampled_from(["customer", "agent", "note", "staff reads", "customer reads"])
    texts = st.text(alphabet="abc xyz\n", min_size=1, max_size=200).filter(str.strip)
    return draw(st.lists(st.tuples(steps, texts), max_size=12))


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=conversations())
def test_the_kept_columns_always_equal_a_recount(customer_a, agent, steps):
    ticket = make_ticket(customer_a)
    for step, text in steps:
        current = Ticket.objects.get(pk=ticket.pk)
        if step == "customer":
            make_reply(current, customer_a, text)
        elif step == "agent":
            make_reply(current, agent, text)
        elif step == "note":
            make_reply(current, agent, text, is_internal=True)
        else:
            services.mark_read(ticket=current, reader=agent if step == "staff reads" else customer_a)
    kept = columns(ticket)
    assert kept == recounted(ticket)
