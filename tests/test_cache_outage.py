"""A Redis that went away: the pages and the API still answer, from the database.

The shared cache holds only what can be worked out again (counts, presence, failed sign-ins,
rate-limit windows); losing it must never take a page down with it. Writes are saved and
answered; the mail they queue waits, `queued`, for the sweeper once Redis is back.
"""

from __future__ import annotations

import pytest
from django.test import Client

from support.models import User
from tests.builders import make_ticket

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_console_queue_answers_without_the_cache(unreachable_cache, agent, customer_a) -> None:  # type: ignore[no-untyped-def]
    make_ticket(customer_a, title="Leaking tap")
    page = signed_in(agent).get("/console/")
    assert page.status_code == 200 and "Leaking tap" in page.content.decode()


def test_the_console_ticket_page_answers_without_the_cache(unreachable_cache, agent, customer_a) -> None:  # type: ignore[no-untyped-def]
    ticket = make_ticket(customer_a, title="Leaking tap")
    client = signed_in(agent)
    assert client.get(f"/console/tickets/{ticket.reference}/").status_code == 200
    assert client.post(f"/console/tickets/{ticket.reference}/presence/", {"typing": "1"}).status_code in (200, 204)


def test_the_customer_pages_answer_without_the_cache(unreachable_cache, customer_a) -> None:  # type: ignore[no-untyped-def]
    ticket = make_ticket(customer_a, title="Leaking tap")
    client = signed_in(customer_a)
    assert client.get("/tickets/").status_code == 200
    assert client.get(f"/tickets/{ticket.reference}/").status_code == 200


def test_signing_in_works_without_the_cache(unreachable_cache, customer_a) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    wrong = client.post("/login/", {"username": "asha@example.com", "password": "not-it"})
    assert wrong.status_code == 200
    right = client.post("/login/", {"username": "asha@example.com", "password": "pw-asha-123"})
    assert right.status_code == 302


def test_the_api_answers_without_the_cache(unreachable_cache, api, customer_a) -> None:  # type: ignore[no-untyped-def]
    ticket = make_ticket(customer_a, title="Leaking tap")
    client = api(customer_a)
    assert client.get("/api/support/tickets/").status_code == 200
    assert client.get(f"/api/support/tickets/{ticket.pk}/").status_code == 200


# -- writes while Redis (the broker) is down: saved, answered, their mail left to the sweeper --


@pytest.fixture
def broker_down():  # type: ignore[no-untyped-def]
    from tests.workerkit import producer_to

    with producer_to("redis://127.0.0.1:1/0"):
        yield


@pytest.mark.django_db(transaction=True)
def test_a_customer_opens_a_ticket_on_the_web_while_redis_is_down(unreachable_cache, broker_down, customer_a) -> None:  # type: ignore[no-untyped-def]
    from mailgateway.models import OutboundEmail
    from support.models import Ticket

    form = {"title": "Leaking tap", "category": "general", "priority": "medium", "message_text": "It drips."}
    response = signed_in(customer_a).post("/tickets/new/", form)
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert OutboundEmail.objects.get(ticket=ticket, template="ticket_opened").status == "queued"  # for the sweeper


@pytest.mark.django_db(transaction=True)
def test_the_api_takes_a_reply_while_redis_is_down(unreachable_cache, broker_down, api, customer_a) -> None:  # type: ignore[no-untyped-def]
    ticket = make_ticket(customer_a, title="Leaking tap")
    response = api(customer_a).post(
        f"/api/support/tickets/{ticket.pk}/messages/", {"message_text": "Still dripping."}, format="json"
    )
    assert response.status_code == 201
