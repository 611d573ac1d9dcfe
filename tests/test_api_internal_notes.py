"""Internal notes never reach a customer: not in the detail, a snippet, a count, a search, a
response or a file download."""

from __future__ import annotations

import pytest

from tests.builders import make_attachment, make_reply, make_ticket

NOTE = "Refund approved by finance zebra-7781"


@pytest.fixture
def ticket_with_note(customer_a, agent):
    ticket = make_ticket(customer_a)
    make_reply(ticket, agent, "We are looking into it.")
    note = make_reply(ticket, agent, NOTE, is_internal=True)
    attachment = make_attachment(ticket, agent, name="ledger.png")
    attachment.message = note
    attachment.save()
    return ticket, note, attachment


@pytest.mark.django_db
def test_the_customer_detail_has_no_note(api, customer_a, ticket_with_note):
    ticket, _, _ = ticket_with_note
    body = api(customer_a).get(f"/api/support/tickets/{ticket.pk}/").json()
    assert [m["is_internal"] for m in body["messages"]] == [False, False]
    assert NOTE not in str(body)


@pytest.mark.django_db
def test_staff_see_the_note_in_the_detail(api, agent, ticket_with_note):
    ticket, _, _ = ticket_with_note
    body = api(agent).get(f"/api/support/tickets/{ticket.pk}/").json()
    assert [m["message_text"] for m in body["messages"] if m["is_internal"]] == [NOTE]


@pytest.mark.django_db
def test_the_customer_list_snippet_is_the_last_public_message(api, customer_a, agent, ticket_with_note):
    row = api(customer_a).get("/api/support/tickets/").json()["results"][0]
    assert row["last_message_snippet"] == "We are looking into it."
    assert api(agent).get("/api/support/tickets/").json()["results"][0]["last_message_snippet"] == NOTE


@pytest.mark.django_db
def test_a_note_does_not_count_as_unread_for_the_customer(api, customer_a, ticket_with_note):
    assert api(customer_a).get("/api/support/tickets/").json()["results"][0]["unread_count"] == 1


@pytest.mark.django_db
def test_a_note_does_not_move_the_updated_at_the_customer_sees(api, customer_a, agent, ticket_with_note):
    ticket, _, _ = ticket_with_note
    before = api(customer_a).get(f"/api/support/tickets/{ticket.pk}/").json()["updated_at"]
    make_reply(ticket, agent, "Another private thought", is_internal=True)
    assert api(customer_a).get(f"/api/support/tickets/{ticket.pk}/").json()["updated_at"] == before


@pytest.mark.django_db
def test_a_customer_search_does_not_find_words_only_a_note_has(api, customer_a, agent, ticket_with_note):
    assert api(customer_a).get("/api/support/tickets/", {"search": "zebra-7781"}).json()["count"] == 0
    assert api(agent).get("/api/support/tickets/", {"search": "zebra-7781"}).json()["count"] == 1


@pytest.mark.django_db
def test_a_customer_cannot_write_a_note(api, customer_a, ticket_with_note):
    ticket, _, _ = ticket_with_note
    response = api(customer_a).post(
        f"/api/support/tickets/{ticket.pk}/messages/", {"message_text": "x", "is_internal": True}, format="json"
    )
    assert response.status_code == 403 and response.json()["error"] == "permission_denied"
    assert ticket.messages.filter(message_text="x").count() == 0


@pytest.mark.django_db
def test_the_note_post_response_goes_to_staff_only(api, agent, ticket_with_note):
    ticket, _, _ = ticket_with_note
    response = api(agent).post(
        f"/api/support/tickets/{ticket.pk}/messages/", {"message_text": "secret", "is_internal": True}, format="json"
    )
    assert response.status_code == 201 and response.json()["is_internal"] is True


@pytest.mark.django_db
def test_a_file_on_a_note_is_not_downloadable_by_the_customer(api, customer_a, agent, ticket_with_note):
    _, _, attachment = ticket_with_note
    url = f"/api/support/attachments/{attachment.pk}/download/"
    refused = api(customer_a).get(url)
    assert refused.status_code == 404 and refused.json()["error"] == "not_found"
    assert api(agent).get(url).status_code == 200


@pytest.mark.django_db
def test_a_customer_cannot_attach_staff_files_to_their_message(api, customer_a, ticket_with_note, agent):
    ticket, _, _ = ticket_with_note
    staff_upload = make_attachment(ticket, agent, name="internal.png")
    response = api(customer_a).post(
        f"/api/support/tickets/{ticket.pk}/messages/",
        {"message_text": "mine", "attachment_ids": [str(staff_upload.pk)]},
        format="json",
    )
    assert response.status_code == 400 and "attachment_ids" in response.json()["details"]
