"""Upgrading a helpdesk that already holds tickets: the migrations that add the ticket list
columns fill them from the messages already there, as the services would have kept them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("support", "0006_user_email_upper")]


def migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_an_upgrade_fills_the_list_columns_from_the_existing_messages() -> None:
    after = latest()
    apps = migrate(BEFORE)
    try:
        User = apps.get_model("support", "User")
        Ticket = apps.get_model("support", "Ticket")
        Message = apps.get_model("support", "Message")
        customer = User.objects.create(email="old@customer.test", name="Old Customer")
        agent = User.objects.create(email="old@agent.test", name="Old Agent", is_staff=True)
        answered = Ticket.objects.create(reference="SB-1", title="Answered", customer=customer, status="in_progress")
        asked = Ticket.objects.create(reference="SB-2", title="Asked", customer=customer)
        start = timezone.now() - timedelta(hours=1)

        def say(ticket, author, text, minutes, **flags):
            Message.objects.create(
                ticket=ticket,
                sender=author,
                message_text=text,
                created_at=start + timedelta(minutes=minutes),
                is_from_customer=author == customer,
                read_by_staff=author != customer,
                read_by_customer=author == customer or flags.get("is_internal", False),
                **flags,
            )

        say(answered, customer, "The tap leaks.", 1)
        say(answered, agent, "Can you send a photo?", 2)
        say(answered, agent, "Plumber booked for Friday", 3, is_internal=True)
        say(asked, customer, "Where is my refund?", 1)
    finally:
        apps = migrate(after)

    Ticket = apps.get_model("support", "Ticket")
    fields = ("staff_snippet", "customer_snippet", "unread_by_staff", "unread_by_customer", "last_public_from_staff")
    assert Ticket.objects.filter(reference="SB-1").values(*fields).get() == {
        "staff_snippet": "Plumber booked for Friday",
        "customer_snippet": "Can you send a photo?",
        "unread_by_staff": 1,
        "unread_by_customer": 1,
        "last_public_from_staff": True,
    }
    assert Ticket.objects.filter(reference="SB-2").values(*fields).get() == {
        "staff_snippet": "Where is my refund?",
        "customer_snippet": "Where is my refund?",
        "unread_by_staff": 1,
        "unread_by_customer": 0,
        "last_public_from_staff": False,
    }
