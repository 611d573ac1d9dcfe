import pytest

from support import services
from support.models import Channel


@pytest.mark.django_db
def test_customer_opens_ticket_and_agent_replies_over_api(api, customer_a, agent):
    created = api(customer_a).post(
        "/api/support/tickets/",
        {"title": "Plumber did not come", "category": "booking", "message_text": "Booked for 10am."},
        format="json",
    )
    assert created.status_code == 201, created.json()
    ticket_id = created.json()["id"]
    assert created.json()["reference"].startswith("SB-")
    reply = api(agent).post(f"/api/support/tickets/{ticket_id}/messages/", {"message_text": "On it"}, format="json")
    assert reply.status_code == 201, reply.json()
    listing = api(customer_a).get("/api/support/tickets/")
    assert listing.status_code == 200
    assert listing.json()["results"][0]["unread_count"] == 1
    assert listing["X-RateLimit-Limit"] == "100"


@pytest.mark.django_db
def test_service_open_ticket(customer_a):
    ticket = services.open_ticket(customer=customer_a, title="x", message_text="y", channel=Channel.WEB)
    assert ticket.messages.count() == 1
