"""A Redis that went away: every page and the API still answer, from the database.

The shared cache holds only what can be worked out again (counts, presence, failed sign-ins,
rate-limit windows); losing it must never take a page down with it.
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
