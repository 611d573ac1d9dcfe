"""Ticket references: `SB-<n>`, unique and never reused, also when opened at the same moment."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from support import services
from support.models import Ticket
from tests.builders import make_ticket


@pytest.mark.django_db
def test_references_count_up_from_the_setting(customer_a, settings):
    first, second = make_ticket(customer_a), make_ticket(customer_a)
    number = int(first.reference.split("-")[1])
    assert first.reference == f"SB-{number}" and number > settings.TICKET_REFERENCE_START
    assert second.reference == f"SB-{number + 1}"


@pytest.mark.django_db
def test_a_deleted_tickets_reference_is_never_reused(customer_a):
    gone = make_ticket(customer_a)
    reference = gone.reference
    gone.delete()
    assert make_ticket(customer_a).reference != reference


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_forty_tickets_opened_at_once_from_eight_connections_get_forty_references(customer_a):
    barrier = threading.Barrier(8)
    references: list[str] = []
    errors: list[BaseException] = []

    def open_five() -> None:
        try:
            barrier.wait()
            for n in range(5):
                ticket = services.open_ticket(customer=customer_a, title=f"Rush {n}", message_text="now")
                references.append(ticket.reference)
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_five) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(references) == 40 and len(set(references)) == 40
    assert Ticket.objects.count() == 40
