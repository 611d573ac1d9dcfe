"""Addresses compare case-insensitively; on PostgreSQL an index serves each such comparison that
runs for every mail, so that they stay cheap however many mails were sent."""

from __future__ import annotations

import pytest
from django.db import connection

from mailgateway.notifications import _facts_sql

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def plan(sql: str, params: list[object]) -> str:
    """The plan PostgreSQL chooses when a table scan is as dear as it is on a big table."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_acknowledgements_of_the_hour_to_an_address_are_counted_from_an_index(customer_a):
    sql = _facts_sql(1, 1, True)
    found = plan(sql, ["ticket_opened", "2026-01-01T00:00:00+00:00", "skipped", "ticket_opened", customer_a.pk])
    assert "outbound_to_upper_template" in found, found


def test_whether_an_address_bounced_is_read_from_an_index(customer_a):
    sql = _facts_sql(1, 1, False)
    found = plan(sql, ["ticket_opened", customer_a.pk])
    assert "undeliverable_address_upper" in found, found
