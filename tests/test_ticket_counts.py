"""A ticket list's `count` is kept in the cache and is never served after a ticket change
committed. Writes run inside `committed()`, whose on-commit work runs as a real commit's would."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from support import services
from support.models import Channel, Status, Ticket
from support.privacy import erase_customer
from support.ticket_counts import GENERATION_KEY, count_tickets
from tests.builders import make_reply, make_ticket

TICKETS = "/api/support/tickets/"


@pytest.fixture(autouse=True)
def _kept_counts(settings):
    settings.TICKET_COUNT_CACHE_SECONDS = 60


def counts_run(captured: CaptureQueriesContext) -> int:
    return sum("COUNT(" in query["sql"] for query in captured.captured_queries)


@pytest.mark.django_db
def test_a_second_page_of_the_same_list_does_not_count_again(api, agent, customer_a, committed):
    with committed():
        make_ticket(customer_a)
    client = api(agent)
    assert client.get(TICKETS, {"status": "open"}).json()["count"] == 1
    with CaptureQueriesContext(connection) as captured:
        assert client.get(TICKETS, {"status": "open"}).json()["count"] == 1
    assert counts_run(captured) == 0


@pytest.mark.django_db
def test_a_new_ticket_is_counted_at_once(api, agent, customer_a, committed):
    client = api(agent)
    assert client.get(TICKETS).json()["count"] == 0
    with committed():
        make_ticket(customer_a)
    assert client.get(TICKETS).json()["count"] == 1


@pytest.mark.django_db
def test_a_status_change_moves_the_ticket_between_the_counts_at_once(api, agent, customer_a, committed):
    with committed():
        ticket = make_ticket(customer_a)
    client = api(agent)
    assert client.get(TICKETS, {"status": "open"}).json()["count"] == 1
    with committed():
        services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status=Status.RESOLVED)
    assert client.get(TICKETS, {"status": "open"}).json()["count"] == 0
    assert client.get(TICKETS, {"status": "resolved"}).json()["count"] == 1


@pytest.mark.django_db
def test_a_new_message_is_found_by_a_search_count_at_once(api, agent, customer_a, committed):
    with committed():
        ticket = make_ticket(customer_a)
    client = api(agent)
    assert client.get(TICKETS, {"search": "zebra"}).json()["count"] == 0
    with committed():
        make_reply(ticket, agent, "The zebra crossing is blocked")
    assert client.get(TICKETS, {"search": "zebra"}).json()["count"] == 1


@pytest.mark.django_db
def test_an_erased_customers_titles_are_no_longer_found(api, agent, customer_a, committed):
    with committed():
        make_ticket(customer_a, title="Leak at Lazimpat flat")
    client = api(agent)
    assert client.get(TICKETS, {"search": "Lazimpat"}).json()["count"] == 1
    with committed():
        erase_customer(customer_a)
    assert client.get(TICKETS, {"search": "Lazimpat"}).json()["count"] == 0


@pytest.mark.django_db
def test_each_person_gets_the_count_of_what_they_may_see(api, customer_a, customer_b, committed):
    with committed():
        make_ticket(customer_a)
        make_ticket(customer_a)
        make_ticket(customer_b)
    assert api(customer_a).get(TICKETS).json()["count"] == 2
    assert api(customer_b).get(TICKETS).json()["count"] == 1


@pytest.mark.django_db
def test_a_lost_generation_never_serves_an_old_count(customer_a, committed):
    from django.core.cache import cache

    with committed():
        make_ticket(customer_a)
    assert count_tickets(Ticket.objects.all()) == 1
    cache.delete(GENERATION_KEY)  # evicted by Redis, say
    # A row written without the models' signals: only the lost generation can make it counted.
    Ticket.objects.bulk_create([Ticket(reference="SB-990001", title="Imported", customer=customer_a)])
    assert count_tickets(Ticket.objects.all()) == 2


@pytest.mark.django_db
def test_without_a_shared_cache_every_list_counts(api, agent, customer_a, settings):
    settings.TICKET_COUNT_CACHE_SECONDS = 0
    make_ticket(customer_a)
    client = api(agent)
    client.get(TICKETS)
    with CaptureQueriesContext(connection) as captured:
        client.get(TICKETS)
    assert counts_run(captured) == 1


@pytest.mark.django_db
def test_a_writing_transaction_counts_its_own_uncommitted_change(agent, customer_a, committed):
    with committed():
        ticket = make_ticket(customer_a)
    assert count_tickets(Ticket.objects.filter(status=Status.OPEN)) == 1
    with committed():
        services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status=Status.RESOLVED)
        assert count_tickets(Ticket.objects.filter(status=Status.OPEN)) == 0


@pytest.mark.django_db
def test_the_generation_moves_once_per_committed_transaction_and_not_on_a_rollback(agent, customer_a, committed):
    from django.core.cache import cache
    from django.db import transaction

    with committed():
        ticket = make_ticket(customer_a)
    before = cache.get(GENERATION_KEY)
    with committed() as callbacks:
        services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status=Status.RESOLVED)
        make_reply(ticket, agent, "Done")
        assert cache.get(GENERATION_KEY) == before  # other processes do not see the change yet
    assert sum(getattr(c, "__name__", "") == "_replace" for c in callbacks) == 1
    moved = cache.get(GENERATION_KEY)
    assert moved != before
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        make_reply(ticket, agent, "Never sent")
        raise RuntimeError("rolled back")
    assert cache.get(GENERATION_KEY) == moved
