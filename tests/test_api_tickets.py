"""What the ticket endpoints do for the people who call them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from support.models import EventKind, Priority, TicketEvent
from tests.builders import PNG_1PX, make_reply, make_ticket

TICKETS = "/api/support/tickets/"


@pytest.mark.django_db
def test_opening_a_ticket_returns_it_with_its_first_message(api, customer_a):
    response = api(customer_a).post(
        TICKETS, {"title": "AC repair", "category": "service", "message_text": "It still leaks."}, format="json"
    )
    body = response.json()
    assert response.status_code == 201
    assert body["priority"] == "medium" and body["status"] == "open" and body["source"] == "api"
    assert body["customer"] == {"id": str(customer_a.pk), "email": customer_a.email, "name": customer_a.name}
    (message,) = body["messages"]
    assert message["message_text"] == "It still leaks." and message["is_from_customer"] is True
    assert message["is_internal"] is False and message["attachments"] == []
    assert message["sender"]["id"] == str(customer_a.pk)


@pytest.mark.django_db
def test_an_app_may_say_that_its_tickets_come_from_mobile(api, customer_a):
    body = {"title": "AC repair", "category": "service", "message_text": "It leaks.", "source": "mobile"}
    response = api(customer_a).post(TICKETS, body, format="json")
    assert response.status_code == 201
    assert response.json()["source"] == "mobile"


@pytest.mark.django_db
def test_a_ticket_opened_through_the_api_cannot_claim_to_have_come_by_mail(api, customer_a):
    body = {"title": "AC repair", "category": "service", "message_text": "It leaks.", "source": "email"}
    response = api(customer_a).post(TICKETS, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error" and "source" in response.json()["details"]


@pytest.mark.django_db
def test_a_new_ticket_is_answered_with_its_location(api, customer_a):
    response = api(customer_a).post(TICKETS, {"title": "T", "category": "service", "message_text": "M"}, format="json")
    assert response.status_code == 201
    assert response["Location"] == f"http://testserver{TICKETS}{response.json()['id']}/"
    assert api(customer_a).get(response["Location"]).json()["id"] == response.json()["id"]


@pytest.mark.django_db
def test_an_upload_is_answered_with_its_download_location(api, customer_a):
    ticket = make_ticket(customer_a)
    response = api(customer_a).post(
        f"{TICKETS}{ticket.pk}/attachments/", {"file": SimpleUploadedFile("leak.png", PNG_1PX)}, format="multipart"
    )
    assert response.status_code == 201 and response["Location"] == response.json()["download_url"]


@pytest.mark.django_db
def test_options_describes_the_body_of_a_new_ticket(api, customer_a):
    fields = api(customer_a).options(TICKETS).json()["actions"]["POST"]
    assert set(fields) == {"title", "category", "priority", "message_text", "source"}


@pytest.mark.django_db
def test_options_describes_the_body_of_a_ticket_change(api, customer_a, agent):
    ticket = make_ticket(customer_a)
    fields = api(agent).options(f"{TICKETS}{ticket.pk}/").json()["actions"]["PUT"]
    assert set(fields) == {"status", "priority", "category", "tags", "assigned_agent"}


@pytest.mark.django_db
def test_a_ticket_is_found_by_its_reference_too(api, customer_a):
    ticket = make_ticket(customer_a)
    response = api(customer_a).get(f"{TICKETS}{ticket.reference.lower()}/")
    assert response.status_code == 200 and response.json()["id"] == str(ticket.pk)


@pytest.mark.django_db
def test_opening_a_ticket_marks_it_read_for_that_side_only(api, customer_a, agent):
    ticket = make_ticket(customer_a)
    make_reply(ticket, agent, "Hello")
    assert api(customer_a).get(TICKETS).json()["results"][0]["unread_count"] == 1
    api(customer_a).get(f"{TICKETS}{ticket.pk}/")
    assert api(customer_a).get(TICKETS).json()["results"][0]["unread_count"] == 0
    make_reply(ticket, customer_a, "Thanks")
    assert api(agent).get(TICKETS).json()["results"][0]["unread_count"] == 2  # the opening message and "Thanks"


@pytest.mark.django_db
def test_customers_list_only_their_own_tickets(api, customer_a, customer_b):
    mine = make_ticket(customer_a)
    make_ticket(customer_b)
    results = api(customer_a).get(TICKETS).json()["results"]
    assert [row["id"] for row in results] == [str(mine.pk)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "resolved"}, ["Resolved one"]),
        ({"priority": "urgent"}, ["Urgent one"]),
        ({"category": "payment"}, ["Payment one"]),
        ({"search": "leaking"}, ["Urgent one"]),
        ({"search": "payment ONE"}, ["Payment one"]),
    ],
)
def test_the_list_filters(api, customer_a, agent, query, expected):
    make_ticket(customer_a, title="Urgent one", priority="urgent", message_text="The tap is leaking")
    make_ticket(customer_a, title="Payment one", category="payment")
    resolved = make_ticket(customer_a, title="Resolved one")
    from support import services

    services.change_ticket(ticket=resolved, actor=agent, channel="web", status="resolved")
    titles = [row["title"] for row in api(agent).get(TICKETS, query).json()["results"]]
    assert titles == expected


@pytest.mark.django_db
def test_search_finds_a_reference(api, customer_a, agent):
    ticket = make_ticket(customer_a)
    make_ticket(customer_a)
    assert [r["id"] for r in api(agent).get(TICKETS, {"search": ticket.reference}).json()["results"]] == [
        str(ticket.pk)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["{number}", "#{number}", "sb{number}", "SB {number}", "sb-{number}"])
def test_search_finds_a_reference_typed_as_people_type_it(api, customer_a, agent, typed):
    ticket = make_ticket(customer_a)
    make_ticket(customer_a)
    number = ticket.reference.rsplit("-", 1)[1]
    found = api(agent).get(TICKETS, {"search": typed.format(number=number)}).json()["results"]
    assert [r["id"] for r in found] == [str(ticket.pk)]


@pytest.mark.django_db
def test_the_agent_filter_is_for_staff_and_ignored_for_customers(api, customer_a, agent, other_agent):
    mine = make_ticket(customer_a, title="Mine")
    make_ticket(customer_a, title="Other")
    from support import services

    services.assign(ticket=mine, actor=agent, agent=agent, channel="web")
    assert [r["title"] for r in api(agent).get(TICKETS, {"assigned_agent": agent.pk}).json()["results"]] == ["Mine"]
    assert api(customer_a).get(TICKETS, {"assigned_agent": agent.pk}).json()["count"] == 2
    assert [r["title"] for r in api(agent).get(TICKETS, {"unassigned": "true"}).json()["results"]] == ["Other"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("priority", ["low", "medium", "high", "urgent"]),
        ("-priority", ["urgent", "high", "medium", "low"]),
    ],
)
def test_priority_orders_by_severity_not_alphabet(api, customer_a, agent, ordering, expected):
    for priority in ("high", "low", "urgent", "medium"):
        make_ticket(customer_a, priority=priority)
    rows = api(agent).get(TICKETS, {"ordering": ordering}).json()["results"]
    assert [row["priority"] for row in rows] == expected


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["created_at", "updated_at"])
def test_time_orderings_go_both_ways(api, customer_a, agent, field):
    tickets = [make_ticket(customer_a, title=f"T{n}") for n in range(3)]
    make_reply(tickets[0], customer_a, "bump")  # the oldest ticket is now the latest updated
    ascending = [r["title"] for r in api(agent).get(TICKETS, {"ordering": field}).json()["results"]]
    descending = [r["title"] for r in api(agent).get(TICKETS, {"ordering": f"-{field}"}).json()["results"]]
    assert ascending == list(reversed(descending))
    assert ascending == (["T0", "T1", "T2"] if field == "created_at" else ["T1", "T2", "T0"])


@pytest.mark.django_db
def test_the_default_order_is_most_recently_updated_first(api, customer_a, agent):
    first, second = make_ticket(customer_a, title="First"), make_ticket(customer_a, title="Second")
    make_reply(first, customer_a, "bump")
    assert [r["title"] for r in api(agent).get(TICKETS).json()["results"]] == ["First", "Second"]
    assert second


@pytest.mark.django_db
def test_pages_are_10_by_default_and_at_most_100(api, customer_a, agent, settings):
    settings.RATE_LIMIT_TICKET_CREATE = "1000/min"
    for n in range(105):
        make_ticket(customer_a, title=f"T{n}")
    client = api(agent)
    first = client.get(TICKETS).json()
    assert first["count"] == 105 and len(first["results"]) == 10 and first["previous"] is None
    assert "page=2" in first["next"]
    assert len(client.get(TICKETS, {"page_size": 500}).json()["results"]) == 100
    last = client.get(TICKETS, {"page_size": 100, "page": 2}).json()
    assert len(last["results"]) == 5 and last["next"] is None


@pytest.mark.django_db
def test_a_customer_may_close_their_ticket(api, customer_a):
    ticket = make_ticket(customer_a)
    response = api(customer_a).patch(f"{TICKETS}{ticket.pk}/", {"status": "closed"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "closed"
    assert response.json()["closed_at"] is not None


@pytest.mark.django_db
def test_a_customer_may_not_reopen_or_reprioritise(api, customer_a, agent):
    ticket = make_ticket(customer_a)
    for body in ({"status": "in_progress"}, {"priority": "urgent"}, {"category": "billing"}):
        response = api(customer_a).patch(f"{TICKETS}{ticket.pk}/", body, format="json")
        assert response.status_code == 403, body


@pytest.mark.django_db
def test_each_staff_change_is_recorded_as_an_event(api, customer_a, agent):
    ticket = make_ticket(customer_a)
    response = api(agent).patch(
        f"{TICKETS}{ticket.pk}/",
        {
            "status": "in_progress",
            "priority": "high",
            "category": "billing",
            "tags": ["VIP", "vip", "refund"],
            "assigned_agent": str(agent.pk),
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["priority"], body["category"], body["tags"]) == ("high", "billing", ["vip", "refund"])
    assert body["assigned_agent"] == {"id": str(agent.pk), "name": agent.name}
    kinds = set(TicketEvent.objects.filter(ticket=ticket, actor=agent).values_list("kind", flat=True))
    assert kinds == {"status", "priority", "category", "tags", "assignment"}
    assert TicketEvent.objects.get(ticket=ticket, kind="priority").from_value == "medium"


@pytest.mark.django_db
def test_assigning_to_a_customer_is_refused(api, customer_a, customer_b, agent):
    ticket = make_ticket(customer_a)
    response = api(agent).post(f"{TICKETS}{ticket.pk}/assign/", {"agent_id": str(customer_b.pk)}, format="json")
    assert response.status_code == 400 and "agent_id" in response.json()["details"]


@pytest.mark.django_db
def test_assign_and_unassign(api, customer_a, agent, other_agent):
    ticket = make_ticket(customer_a)
    client = api(agent)
    assigned = client.post(f"{TICKETS}{ticket.pk}/assign/", {"agent_id": str(other_agent.pk)}, format="json").json()
    assert assigned["assigned_agent"]["id"] == str(other_agent.pk)
    assert (
        client.post(f"{TICKETS}{ticket.pk}/assign/", {"agent_id": None}, format="json").json()["assigned_agent"] is None
    )
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.ASSIGNMENT).count() == 2


@pytest.mark.django_db
def test_escalating_raises_priority_to_urgent_by_default(api, customer_a, agent):
    ticket = make_ticket(customer_a)
    body = api(agent).post(f"{TICKETS}{ticket.pk}/escalate/", {"reason": "Third complaint"}, format="json").json()
    assert body["escalated"] is True and body["escalation_reason"] == "Third complaint"
    assert body["priority"] == Priority.URGENT and body["escalated_at"] is not None


@pytest.mark.django_db
def test_escalating_never_lowers_the_priority(api, customer_a, agent):
    ticket = make_ticket(customer_a, priority="high")
    body = (
        api(agent).post(f"{TICKETS}{ticket.pk}/escalate/", {"reason": "VIP", "priority": "low"}, format="json").json()
    )
    assert body["priority"] == Priority.HIGH and body["escalated"] is True
    assert not TicketEvent.objects.filter(ticket=ticket, kind=EventKind.PRIORITY).exists()


@pytest.mark.django_db
def test_an_upload_is_attached_by_the_next_message(api, customer_a):
    ticket = make_ticket(customer_a)
    client = api(customer_a)
    uploaded = client.post(
        f"{TICKETS}{ticket.pk}/attachments/", {"file": SimpleUploadedFile("leak.png", PNG_1PX)}, format="multipart"
    ).json()
    assert uploaded["message"] is None
    message = client.post(
        f"{TICKETS}{ticket.pk}/messages/",
        {"message_text": "Photo attached", "attachment_ids": [uploaded["id"]]},
        format="json",
    ).json()
    assert [a["id"] for a in message["attachments"]] == [uploaded["id"]]
    again = client.post(
        f"{TICKETS}{ticket.pk}/messages/", {"message_text": "Again", "attachment_ids": [uploaded["id"]]}, format="json"
    )
    assert again.status_code == 400  # an upload goes with one message only


@pytest.mark.django_db
def test_a_reply_to_a_resolved_ticket_reopens_it(api, customer_a, agent):
    ticket = make_ticket(customer_a)
    api(agent).patch(f"{TICKETS}{ticket.pk}/", {"status": "resolved"}, format="json")
    api(customer_a).post(f"{TICKETS}{ticket.pk}/messages/", {"message_text": "Still broken"}, format="json")
    body = api(customer_a).get(f"{TICKETS}{ticket.pk}/").json()
    assert body["status"] == "open" and body["resolved_at"] is None


@pytest.mark.django_db
def test_a_closed_ticket_takes_no_customer_message(api, customer_a):
    ticket = make_ticket(customer_a)
    api(customer_a).patch(f"{TICKETS}{ticket.pk}/", {"status": "closed"}, format="json")
    response = api(customer_a).post(f"{TICKETS}{ticket.pk}/messages/", {"message_text": "Hello?"}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "validation_error"
