"""The list and the detail run a fixed number of queries, whatever the amount of data."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.builders import make_attachment, make_reply, make_ticket


def queries_for(client, path: str, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params)
    assert response.status_code == 200
    return len(captured)


def seed_tickets(customer, agent, count: int) -> None:
    for n in range(count):
        ticket = make_ticket(customer, title=f"Ticket {n}")
        make_reply(ticket, agent, f"Reply {n}")
        make_reply(ticket, agent, f"Note {n}", is_internal=True)
        if n % 3 == 0:
            ticket.assigned_agent = agent
            ticket.save()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["agent", "customer_a"])
def test_the_list_page_of_100_costs_the_same_queries_for_5_or_120_tickets(api, customer_a, agent, request, who):
    client = api(request.getfixturevalue(who))
    seed_tickets(customer_a, agent, 5)
    few = queries_for(client, "/api/support/tickets/", page_size=100, status="in_progress")
    seed_tickets(customer_a, agent, 115)
    many = queries_for(client, "/api/support/tickets/", page_size=100, status="in_progress")
    assert few == many
    assert many <= 3  # count, page (with snippet and unread count), and the session-less JWT user


def seed_conversation(ticket, customer, agent, count: int) -> None:
    for n in range(count):
        message = make_reply(ticket, agent if n % 2 else customer, f"Message {n}")
        for uploader in (customer, customer):
            attachment = make_attachment(ticket, uploader)
            attachment.message = message
            attachment.save()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["agent", "customer_a"])
def test_the_detail_costs_the_same_queries_for_5_or_50_messages(api, customer_a, agent, request, who):
    client = api(request.getfixturevalue(who))
    small, large = make_ticket(customer_a), make_ticket(customer_a)
    seed_conversation(small, customer_a, agent, 4)
    seed_conversation(large, customer_a, agent, 49)
    assert queries_for(client, f"/api/support/tickets/{small.pk}/") == queries_for(
        client, f"/api/support/tickets/{large.pk}/"
    )
