"""Internal notes never reach a customer: not in the detail, a snippet, a count, a search, a
response, a timestamp or a file download. Staff see them everywhere."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from support.models import Message, User
from tests.builders import PNG_1PX, assert_error, make_attachment, make_reply, make_sent_attachment, make_ticket

TICKETS = "/api/support/tickets/"
NOTE = "Refund approved by finance zebra-7781"
PUBLIC_REPLY = "We are looking into it."


@pytest.fixture
def ticket(customer_a):
    return make_ticket(customer_a)


@pytest.fixture
def note(ticket, agent):
    """A public staff reply, then a note with a file: the note is the latest message."""
    make_reply(ticket, agent, PUBLIC_REPLY)
    note = make_reply(ticket, agent, NOTE, is_internal=True)
    make_sent_attachment(note, agent, name="ledger.png")
    return note


def download_url(attachment_id) -> str:
    return f"/api/support/attachments/{attachment_id}/download/"


def post_note(client, ticket, text: str = "private") -> dict:
    body = {"message_text": text, "is_internal": True}
    response = client.post(f"{TICKETS}{ticket.pk}/messages/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
def test_the_customer_detail_has_no_note_and_no_note_file(api, customer_a, ticket, note):
    body = api(customer_a).get(f"{TICKETS}{ticket.pk}/").json()
    assert [m["message_text"] for m in body["messages"]] == ["Booked for 9am.", PUBLIC_REPLY]
    assert "zebra-7781" not in str(body) and "ledger.png" not in str(body)


@pytest.mark.django_db
def test_staff_see_the_note_and_its_file_in_the_detail(api, agent, ticket, note):
    body = api(agent).get(f"{TICKETS}{ticket.pk}/").json()
    (shown,) = [m for m in body["messages"] if m["is_internal"]]
    assert shown["message_text"] == NOTE and [a["filename"] for a in shown["attachments"]] == ["ledger.png"]


@pytest.mark.django_db
def test_the_customer_snippet_is_the_last_public_message(api, customer_a, agent, note):
    assert api(customer_a).get(TICKETS).json()["results"][0]["last_message_snippet"] == PUBLIC_REPLY
    assert api(agent).get(TICKETS).json()["results"][0]["last_message_snippet"] == NOTE


@pytest.mark.django_db
def test_a_note_is_not_counted_unread_for_the_customer(api, customer_a, note):
    assert api(customer_a).get(TICKETS).json()["results"][0]["unread_count"] == 1  # the public reply only


@pytest.mark.django_db
def test_a_note_after_the_customer_read_everything_leaves_nothing_unread(api, customer_a, agent, ticket, note):
    client = api(customer_a)
    client.get(f"{TICKETS}{ticket.pk}/")
    make_reply(ticket, agent, "Second thought", is_internal=True)
    assert client.get(TICKETS).json()["results"][0]["unread_count"] == 0


@pytest.mark.django_db
def test_a_note_does_not_move_the_updated_at_the_customer_sees(api, customer_a, agent, ticket):
    before = api(customer_a).get(TICKETS).json()["results"][0]["updated_at"]
    post_note(api(agent), ticket)
    assert api(customer_a).get(TICKETS).json()["results"][0]["updated_at"] == before


@pytest.mark.django_db
def test_a_note_is_not_a_first_response_and_does_not_move_the_status(api, customer_a, agent, ticket):
    post_note(api(agent), ticket)
    body = api(customer_a).get(f"{TICKETS}{ticket.pk}/").json()
    assert (body["status"], body["first_response_at"]) == ("open", None)


@pytest.mark.django_db
def test_a_customer_search_does_not_find_words_only_a_note_has(api, customer_a, agent, note):
    assert api(customer_a).get(TICKETS, {"search": "zebra-7781"}).json()["count"] == 0
    assert api(agent).get(TICKETS, {"search": "zebra-7781"}).json()["count"] == 1


@pytest.mark.django_db
def test_a_customer_search_still_finds_words_of_public_messages(api, customer_a, note):
    assert api(customer_a).get(TICKETS, {"search": "looking into"}).json()["count"] == 1


@pytest.mark.django_db
def test_a_customer_cannot_write_a_note(api, customer_a, ticket):
    response = api(customer_a).post(
        f"{TICKETS}{ticket.pk}/messages/", {"message_text": "x", "is_internal": True}, format="json"
    )
    assert_error(response, 403, "permission_denied")
    assert not Message.objects.filter(message_text="x").exists()


@pytest.mark.django_db
def test_the_note_post_response_is_the_note_for_staff(api, agent, ticket):
    body = post_note(api(agent), ticket, "secret")
    assert (body["message_text"], body["is_internal"], body["is_from_customer"]) == ("secret", True, False)


@pytest.mark.django_db
def test_the_customer_reply_response_carries_only_their_message(api, customer_a, ticket, note):
    response = api(customer_a).post(f"{TICKETS}{ticket.pk}/messages/", {"message_text": "Any news?"}, format="json")
    assert response.status_code == 201
    assert response.json()["message_text"] == "Any news?" and "zebra-7781" not in response.content.decode()


@pytest.mark.django_db
def test_a_file_on_a_note_is_downloadable_by_staff_only(api, customer_a, agent, other_agent, note):
    url = download_url(note.attachments.get().pk)
    assert_error(api(customer_a).get(url), 404, "not_found")
    assert api(agent).get(url).status_code == 200
    assert api(other_agent).get(url).status_code == 200


@pytest.mark.django_db
def test_a_file_sent_with_a_note_through_the_api_stays_with_staff(api, customer_a, agent, ticket):
    staff = api(agent)
    upload = staff.post(
        f"{TICKETS}{ticket.pk}/attachments/", {"file": SimpleUploadedFile("scan.png", PNG_1PX)}, format="multipart"
    ).json()
    staff.post(
        f"{TICKETS}{ticket.pk}/messages/",
        {"message_text": "scan of the receipt", "is_internal": True, "attachment_ids": [upload["id"]]},
        format="json",
    )
    detail = api(customer_a).get(f"{TICKETS}{ticket.pk}/").json()
    assert upload["id"] not in str(detail)
    assert_error(api(customer_a).get(download_url(upload["id"])), 404, "not_found")


@pytest.mark.django_db
def test_a_staff_upload_not_yet_sent_is_not_downloadable_by_the_customer(api, customer_a, agent, ticket):
    draft = make_attachment(ticket, agent, name="draft.png")
    assert_error(api(customer_a).get(download_url(draft.pk)), 404, "not_found")
    assert api(agent).get(download_url(draft.pk)).status_code == 200


@pytest.mark.django_db
def test_a_customer_cannot_send_a_staff_upload_with_their_message(api, customer_a, agent, ticket):
    staff_upload = make_attachment(ticket, agent, name="internal.png")
    response = api(customer_a).post(
        f"{TICKETS}{ticket.pk}/messages/",
        {"message_text": "mine", "attachment_ids": [str(staff_upload.pk)]},
        format="json",
    )
    body = assert_error(response, 400, "validation_error")
    assert "attachment_ids" in body["details"]
    staff_upload.refresh_from_db()
    assert staff_upload.message_id is None


def test_a_nameless_agent_is_support_to_the_customer_not_part_of_their_address(customer_a, client):
    nameless = User.objects.create_user("sita.private@corp.example", "pw-agent-123", is_staff=True)
    ticket = make_ticket(customer_a)
    make_reply(ticket, nameless, "We are on it.")
    client.force_login(customer_a)
    detail = client.get(f"/api/support/tickets/{ticket.pk}/").json()
    assert detail["messages"][-1]["sender"]["name"] == "Support"
    assert "sita.private" not in str(detail)
