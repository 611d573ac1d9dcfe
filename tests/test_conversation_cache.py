"""A ticket's conversation is kept in the cache between changes and never shown out of date.

These tests commit for real (`transaction=True`): the cache is only used outside transactions.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.signals import user_logged_in
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from support import message_files, selectors
from support.models import Ticket
from tests.builders import make_attachment, make_reply, make_ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _kept_conversations(settings):
    settings.CONVERSATION_CACHE_SECONDS = 600


def detail(client, ticket: Ticket) -> dict:
    response = client.get(f"/api/support/tickets/{ticket.pk}/")
    assert response.status_code == 200
    return response.json()


def texts(body: dict) -> list[str]:
    return [m["message_text"] for m in body["messages"]]


def message_queries(captured: CaptureQueriesContext) -> int:
    return sum('FROM "support_message"' in q["sql"] for q in captured.captured_queries)


def test_a_second_read_does_not_query_the_messages(api, agent, customer_a):
    ticket = make_ticket(customer_a, message_text="The plumber never came.")
    client = api(agent)
    first = detail(client, ticket)
    with CaptureQueriesContext(connection) as captured:
        again = detail(client, ticket)
    assert again == first
    assert message_queries(captured) == 0


def test_a_new_message_is_shown_on_the_next_read(api, agent, customer_a):
    ticket = make_ticket(customer_a, message_text="The plumber never came.")
    client = api(customer_a)
    detail(client, ticket)
    make_reply(Ticket.objects.get(pk=ticket.pk), agent, "Someone is on the way.")
    assert texts(detail(client, ticket)) == ["The plumber never came.", "Someone is on the way."]


def test_the_customer_never_gets_the_staff_conversation(api, agent, customer_a):
    ticket = make_ticket(customer_a, message_text="Hello")
    make_reply(Ticket.objects.get(pk=ticket.pk), agent, "Refund approved by finance", is_internal=True)
    assert texts(detail(api(agent), ticket)) == ["Hello", "Refund approved by finance"]
    assert texts(detail(api(customer_a), ticket)) == ["Hello"]


def test_a_file_attached_after_its_message_is_shown(api, agent, customer_a):
    ticket = make_ticket(customer_a, message_text="See the photo")
    client = api(agent)
    detail(client, ticket)
    message = ticket.messages.get()
    message_files.attach_to_message(message=message, attachments=[make_attachment(ticket, customer_a)])
    assert [a["filename"] for a in detail(client, ticket)["messages"][0]["attachments"]] == ["photo.png"]


def test_a_senders_new_name_is_shown_on_the_next_read(api, agent, customer_a):
    ticket = make_ticket(customer_a)
    client = api(agent)
    detail(client, ticket)
    customer_a.name = "Asha S."
    customer_a.save()
    assert detail(client, ticket)["messages"][0]["sender"]["name"] == "Asha S."


def test_a_sign_in_keeps_the_kept_conversations(api, agent, customer_a, rf):
    ticket = make_ticket(customer_a)
    client = api(agent)
    detail(client, ticket)
    user_logged_in.send(sender=type(customer_a), request=rf.get("/"), user=customer_a)  # saves last_login
    with CaptureQueriesContext(connection) as captured:
        detail(client, ticket)
    assert message_queries(captured) == 0


def test_a_message_changed_in_the_admin_is_shown_on_the_next_read(api, agent, customer_a, admin_user, rf):
    from django.contrib.admin.sites import site

    from support.models import Message

    ticket = make_ticket(customer_a, message_text="My card number is 4111")
    client = api(agent)
    detail(client, ticket)
    message = Message.objects.get(ticket=ticket)
    message.message_text = "[removed by staff]"
    request = rf.post("/admin/")
    request.user = admin_user
    site._registry[Message].save_model(request, message, form=None, change=True)
    assert texts(detail(client, ticket)) == ["[removed by staff]"]


def test_inside_a_transaction_the_cache_is_neither_read_nor_kept(agent, customer_a):
    ticket = make_ticket(customer_a, message_text="Hello")
    with transaction.atomic():
        make_reply(Ticket.objects.get(pk=ticket.pk), agent, "Never sent")
        rows = selectors.conversation_rows(agent, Ticket.objects.get(pk=ticket.pk))
        assert [r["message_text"] for r in rows] == ["Hello", "Never sent"]
        transaction.set_rollback(True)
    after = selectors.conversation_rows(agent, Ticket.objects.get(pk=ticket.pk))
    assert [r["message_text"] for r in after] == ["Hello"]


def test_without_the_shared_cache_the_conversation_is_read_from_the_database(unreachable_cache, agent, customer_a):
    ticket = make_ticket(customer_a, message_text="The plumber never came.")
    rows = selectors.conversation_rows(agent, Ticket.objects.get(pk=ticket.pk))
    assert [row["message_text"] for row in rows] == ["The plumber never came."]


def test_without_the_shared_cache_tickets_are_counted_in_the_database(unreachable_cache, customer_a):
    from support import ticket_counts

    make_ticket(customer_a)
    assert ticket_counts.count_tickets(Ticket.objects.all()) == 1


def test_without_the_shared_cache_a_change_commits_and_its_other_on_commit_work_runs(
    unreachable_cache, agent, customer_a
):
    ticket = make_ticket(customer_a)
    ran = []
    with transaction.atomic():
        make_reply(Ticket.objects.get(pk=ticket.pk), agent, "On our way.")
        transaction.on_commit(lambda: ran.append("the mail is queued"))
    assert ran == ["the mail is queued"]
    assert Ticket.objects.get(pk=ticket.pk).customer_snippet == "On our way."
