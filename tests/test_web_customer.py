"""The customer's web pages through Django's test client: who sees what, forms and their
errors, files, closing, polling, escaping, CSRF, the signed link and sign-in throttling."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from support import services
from support.links import ticket_link_token
from support.models import Attachment, Channel, Message, Status, Ticket, User
from tests.builders import LINUX_ELF, PNG_1PX, make_reply, make_ticket

pytestmark = pytest.mark.django_db
NEW = {"title": "T", "category": "general", "priority": "medium", "message_text": "x"}


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(name: str, data: bytes) -> object:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_signed_out_visitor_is_sent_to_sign_in(client: Client) -> None:
    response = client.get("/tickets/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/tickets/")


def test_sign_in_with_password_lands_on_my_tickets(client: Client, customer_a: User) -> None:
    response = client.post("/login/", {"username": "ASHA@example.com", "password": "pw-asha-123"})
    assert response.status_code == 302 and response["Location"] == "/tickets/"


def test_wrong_password_says_so_and_signs_nobody_in(client: Client, customer_a: User) -> None:
    response = client.post("/login/", {"username": "asha@example.com", "password": "wrong"})
    assert response.status_code == 200 and b"correct" in response.content
    assert "_auth_user_id" not in client.session


def test_sign_in_is_refused_after_five_failures_even_with_the_right_password(client: Client, customer_a: User) -> None:
    for _ in range(5):
        client.post("/login/", {"username": "asha@example.com", "password": "wrong"})
    response = client.post("/login/", {"username": "asha@example.com", "password": "pw-asha-123"})
    assert response.status_code == 429 and b"Too many failed attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_sign_out_is_a_post(customer_a: User) -> None:
    client = signed_in(customer_a)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_reset_mails_a_link_also_to_a_customer_without_a_password(client: Client) -> None:
    User.objects.create_user("mailonly@example.com")  # an email-only customer: no usable password
    response = client.post("/password-reset/", {"email": "mailonly@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and "/password-reset/" in mail.outbox[0].body


def test_the_page_choosing_a_new_password_shows_the_password_rules_as_a_list(client: Client, customer_a: User) -> None:
    client.post("/password-reset/", {"email": customer_a.email})
    link = re.search(r"https?://[^/\s]+(/password-reset/\S+)", mail.outbox[0].body).group(1)
    page = client.get(link, follow=True).content.decode()
    assert "<li>" in page and "&lt;li&gt;" not in page and "&lt;ul&gt;" not in page


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client: Client) -> None:
    response = client.post("/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302 and mail.outbox == []


def test_signed_link_opens_the_ticket_signed_in_as_its_customer(client: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    response = client.get(f"/t/{ticket_link_token(ticket_id=ticket.pk, person_id=customer_a.pk)}/")
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.reference}/"
    assert client.session["_auth_user_id"] == str(customer_a.pk)


def test_signed_link_replaces_another_signed_in_customer(customer_a: User, customer_b: User) -> None:
    ticket = make_ticket(customer_a)
    client = signed_in(customer_b)
    client.get(f"/t/{ticket_link_token(ticket_id=ticket.pk, person_id=customer_a.pk)}/")
    assert client.session["_auth_user_id"] == str(customer_a.pk)


def test_altered_link_is_refused(client: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    token = ticket_link_token(ticket_id=ticket.pk, person_id=customer_a.pk)
    response = client.get(f"/t/{token[:-2]}xx/")
    assert response.status_code == 400 and "_auth_user_id" not in client.session


def test_a_link_with_letters_no_link_holds_is_refused_not_an_error(client: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    token = ticket_link_token(ticket_id=ticket.pk, person_id=customer_a.pk)
    signed, _, _ = token.rpartition(".")
    for path in (f"/t/{signed}.%C3%A9%C3%A9/", "/t/a.b.c.%C3%A9/", "/t/%C3%A9/"):
        assert client.get(path).status_code == 400, path


def test_expired_link_is_refused(client: Client, customer_a: User, settings: object) -> None:
    ticket = make_ticket(customer_a)
    token = ticket_link_token(ticket_id=ticket.pk, person_id=customer_a.pk)
    settings.TICKET_LINK_MAX_AGE_DAYS = 0  # type: ignore[attr-defined]
    import time

    time.sleep(1.1)
    assert client.get(f"/t/{token}/").status_code == 400


def test_link_for_a_ticket_the_person_cannot_see_signs_nobody_in(
    client: Client, customer_a: User, customer_b: User
) -> None:
    ticket = make_ticket(customer_a)
    response = client.get(f"/t/{ticket_link_token(ticket_id=ticket.pk, person_id=customer_b.pk)}/")
    assert response.status_code == 400 and "_auth_user_id" not in client.session


def test_link_of_a_staff_member_does_not_sign_them_in(client: Client, customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    response = client.get(f"/t/{ticket_link_token(ticket_id=ticket.pk, person_id=agent.pk)}/")
    assert response["Location"] == f"/console/tickets/{ticket.reference}/"
    assert "_auth_user_id" not in client.session


def test_my_tickets_lists_only_my_own_with_status_snippet_and_unread(
    customer_a: User, customer_b: User, agent: User
) -> None:
    mine = make_ticket(customer_a, title="Leaking tap")
    make_reply(mine, agent, "We send a plumber tomorrow.")
    make_ticket(customer_b, title="Someone else's")
    page = signed_in(customer_a).get("/tickets/").content.decode()
    assert "Leaking tap" in page and "Someone else" not in page
    assert "We send a plumber tomorrow." in page and "1 new" in page and "In progress" in page


def test_my_tickets_never_shows_an_internal_note_as_snippet(customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    make_reply(ticket, agent, "Secret: customer is difficult", is_internal=True)
    page = signed_in(customer_a).get("/tickets/").content.decode()
    assert "Secret" not in page and "new" not in page.split("ticket-list")[1].split("</ul>")[0]


def test_my_tickets_filters_by_status_and_search(customer_a: User) -> None:
    make_ticket(customer_a, title="Broken fridge")
    closed = make_ticket(customer_a, title="Late cleaner")
    services.change_ticket(ticket=closed, actor=customer_a, channel=Channel.WEB, status=Status.CLOSED)
    client = signed_in(customer_a)
    assert "Late cleaner" not in client.get("/tickets/?status=open").content.decode()
    found = client.get("/tickets/?q=fridge").content.decode()
    assert "Broken fridge" in found and "Late cleaner" not in found


def test_my_tickets_search_matches_message_text_but_not_notes(customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a, title="Anything", message_text="The boiler hums")
    make_reply(ticket, agent, "zebra", is_internal=True)
    client = signed_in(customer_a)
    assert "Anything" in client.get("/tickets/?q=boiler").content.decode()
    assert "No ticket matches" in client.get("/tickets/?q=zebra").content.decode()


def test_my_tickets_search_finds_a_ticket_by_its_number(customer_a: User) -> None:
    wanted = make_ticket(customer_a, title="Broken fridge")
    make_ticket(customer_a, title="Late cleaner")
    found = signed_in(customer_a).get("/tickets/", {"q": "#" + wanted.reference.split("-")[1]}).content.decode()
    assert "Broken fridge" in found and "Late cleaner" not in found


def test_my_tickets_is_paginated(customer_a: User) -> None:
    for i in range(21):
        make_ticket(customer_a, title=f"Ticket number {i}")
    client = signed_in(customer_a)
    assert "Page 1 of 2" in client.get("/tickets/").content.decode()
    assert "Ticket number 0" in client.get("/tickets/?page=2").content.decode()


def test_my_tickets_empty_state(customer_a: User) -> None:
    assert "No tickets yet" in signed_in(customer_a).get("/tickets/").content.decode()


def test_new_ticket_with_attachments_opens_it_and_shows_its_page(customer_a: User) -> None:
    client = signed_in(customer_a)
    response = client.post(
        "/tickets/new/",
        {
            "title": "Photo of the damage",
            "category": "service",
            "priority": "high",
            "message_text": "See the photos.",
            "files": [upload("a.png", PNG_1PX), upload("b.txt", b"plain words")],
        },
    )
    ticket = Ticket.objects.get(customer=customer_a)
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.reference}/"
    assert (ticket.category, ticket.priority, ticket.source) == ("service", "high", "web")
    assert sorted(ticket.messages.get().attachments.values_list("filename", flat=True)) == ["a.png", "b.txt"]
    page = client.get(response["Location"]).content.decode()
    assert "a.png" in page and "Preview of a.png" in page and "See the photos." in page


def test_new_ticket_with_a_refused_file_writes_nothing_and_names_the_file(customer_a: User) -> None:
    response = signed_in(customer_a).post(
        "/tickets/new/",
        {**NEW, "files": [upload("x.png", LINUX_ELF)]},
    )
    assert response.status_code == 400 and "x.png: this type of file is not accepted" in response.content.decode()
    assert not Ticket.objects.exists() and not Attachment.objects.exists()


def test_new_ticket_with_a_too_large_file_is_refused(customer_a: User, settings: object) -> None:
    settings.ATTACHMENT_MAX_BYTES = 10  # type: ignore[attr-defined]
    response = signed_in(customer_a).post(
        "/tickets/new/",
        {**NEW, "files": [upload("a.png", PNG_1PX)]},
    )
    assert response.status_code == 400 and "larger than the limit" in response.content.decode()
    assert not Ticket.objects.exists()


def test_new_ticket_field_errors_keep_what_was_typed(customer_a: User) -> None:
    response = signed_in(customer_a).post(
        "/tickets/new/", {"title": "", "category": "nonsense", "priority": "medium", "message_text": "kept text"}
    )
    page = response.content.decode()
    assert response.status_code == 400 and "This field is required." in page and "kept text" in page
    assert "Select a valid choice" in page and not Ticket.objects.exists()


def test_new_ticket_answers_json_to_the_upload_script(customer_a: User) -> None:
    client = signed_in(customer_a)
    ok = client.post(
        "/tickets/new/",
        {"title": "T", "category": "general", "priority": "medium", "message_text": "x"},
        HTTP_ACCEPT="application/json",
    )
    assert ok.status_code == 200 and ok.json()["location"].startswith("/tickets/SB-")
    bad = client.post("/tickets/new/", {"title": "", "category": "general"}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"title", "priority", "message_text"}


def test_ticket_page_shows_the_conversation_in_order_with_you_and_the_agent_name(customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a, message_text="First words")
    make_reply(ticket, agent, "Second words")
    page = signed_in(customer_a).get(f"/tickets/{ticket.reference}/").content.decode()
    assert page.index("First words") < page.index("Second words")
    assert ">You<" in page and "Sita Agent (support)" in page


def test_ticket_page_never_shows_an_internal_note_or_its_files(customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    note = make_reply(ticket, agent, "Internal: refund is unlikely", is_internal=True)
    from tests.builders import make_sent_attachment

    make_sent_attachment(note, agent, name="secret.png")
    page = signed_in(customer_a).get(f"/tickets/{ticket.reference}/").content.decode()
    assert "refund is unlikely" not in page and "secret.png" not in page and "Internal note" not in page


def test_ticket_page_marks_the_agents_replies_read(customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    reply = make_reply(ticket, agent, "Hello")
    signed_in(customer_a).get(f"/tickets/{ticket.reference}/")
    reply.refresh_from_db()
    assert reply.read_by_customer


def test_another_customers_ticket_is_not_found(customer_a: User, customer_b: User) -> None:
    ticket = make_ticket(customer_a)
    client = signed_in(customer_b)
    for url in ("", "updates/"):
        assert client.get(f"/tickets/{ticket.reference}/{url}").status_code == 404
    assert client.post(f"/tickets/{ticket.reference}/reply/", {"message_text": "hi"}).status_code == 404
    assert client.post(f"/tickets/{ticket.reference}/close/", {"confirm": "yes"}).status_code == 404
    assert ticket.messages.count() == 1 and Ticket.objects.get().status == Status.OPEN


def test_text_people_wrote_is_escaped(customer_a: User) -> None:
    ticket = make_ticket(customer_a, title="<b>bold</b>", message_text="<script>alert(1)</script>")
    page = signed_in(customer_a).get(f"/tickets/{ticket.reference}/").content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page


def test_reply_with_a_file_is_added_to_the_ticket(customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    response = signed_in(customer_a).post(
        f"/tickets/{ticket.reference}/reply/", {"message_text": "More detail", "files": [upload("p.png", PNG_1PX)]}
    )
    assert response.status_code == 302 and response["Location"].endswith("#newest")
    message = ticket.messages.order_by("created_at").last()
    assert message.message_text == "More detail" and message.attachments.get().filename == "p.png"


def test_empty_reply_is_a_field_error_and_writes_nothing(customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    response = signed_in(customer_a).post(f"/tickets/{ticket.reference}/reply/", {"message_text": "  "})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    assert ticket.messages.count() == 1


def test_reply_to_a_resolved_ticket_reopens_it(customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status=Status.RESOLVED)
    signed_in(customer_a).post(f"/tickets/{ticket.reference}/reply/", {"message_text": "Still broken"})
    assert Ticket.objects.get().status == Status.OPEN


def test_closed_ticket_has_no_reply_box_and_says_how_to_follow_up(customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    services.change_ticket(ticket=ticket, actor=customer_a, channel=Channel.WEB, status=Status.CLOSED)
    client = signed_in(customer_a)
    page = client.get(f"/tickets/{ticket.reference}/").content.decode()
    assert "This ticket is closed" in page and "Send reply" not in page
    response = client.post(f"/tickets/{ticket.reference}/reply/", {"message_text": "hello?"})
    assert response.status_code == 400 and "closed" in response.content.decode()
    assert ticket.messages.count() == 1


def test_a_reply_to_a_ticket_closed_meanwhile_says_so_and_keeps_what_was_typed(customer_a: User) -> None:
    """Closed in another tab while the reply was being written: the text is the person's work."""
    ticket = make_ticket(customer_a)
    client = signed_in(customer_a)
    services.change_ticket(ticket=ticket, actor=customer_a, channel=Channel.WEB, status=Status.CLOSED)
    response = client.post(f"/tickets/{ticket.reference}/reply/", {"message_text": "The tap <drips> again."})
    page = response.content.decode()
    assert response.status_code == 400 and 'role="alert"' in page and "closed" in page.split('role="alert"')[1]
    assert "The tap &lt;drips&gt; again.</textarea>" in page


def test_close_asks_for_confirmation_first(customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    client = signed_in(customer_a)
    asked = client.post(f"/tickets/{ticket.reference}/close/")
    assert asked.status_code == 200 and "Yes, close the ticket" in asked.content.decode()
    assert Ticket.objects.get().status == Status.OPEN
    client.post(f"/tickets/{ticket.reference}/close/", {"confirm": "yes"})
    assert Ticket.objects.get().status == Status.CLOSED


def test_updates_return_only_messages_after_the_given_time(customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    first = ticket.messages.get()
    make_reply(ticket, agent, "New answer")
    make_reply(ticket, agent, "Hidden note", is_internal=True)
    data = signed_in(customer_a).get(f"/tickets/{ticket.reference}/updates/", {"after": first.created_at.isoformat()})
    body = data.json()
    assert body["count"] == 1 and "New answer" in body["html"] and "Hidden note" not in body["html"]
    assert body["status"] == "in_progress"


def test_a_reply_that_arrives_while_an_update_is_read_is_marked_read(customer_a: User, agent: User) -> None:
    from django.test import RequestFactory

    from support.web.common import new_messages_response

    ticket = make_ticket(customer_a)
    read_before_the_reply = Ticket.objects.get(pk=ticket.pk)
    make_reply(Ticket.objects.get(pk=ticket.pk), agent, "New answer")
    request = RequestFactory().get("/updates/")
    request.user = customer_a
    body = json.loads(new_messages_response(request, read_before_the_reply, staff_view=False).content)
    assert "New answer" in body["html"]
    assert Ticket.objects.get(pk=ticket.pk).unread_by_customer == 0
    assert not ticket.messages.filter(read_by_customer=False).exists()


def test_updates_reject_a_malformed_time(customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    assert signed_in(customer_a).get(f"/tickets/{ticket.reference}/updates/?after=yesterday").status_code == 400


def test_updates_reject_an_impossible_date(customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    response = signed_in(customer_a).get(f"/tickets/{ticket.reference}/updates/?after=2024-02-30T10:00:00")
    assert response.status_code == 400


def test_an_agent_without_a_name_is_support_on_the_customer_s_page_never_their_address(customer_a: User) -> None:
    nameless = User.objects.create_user("sita.private@corp.example", "pw-agent-123", is_staff=True)
    ticket = make_ticket(customer_a)
    make_reply(ticket, nameless, "We are on it.")
    page = signed_in(customer_a).get(f"/tickets/{ticket.reference}/").content.decode()
    assert "We are on it." in page and "sita.private" not in page and "Support" in page


def test_updates_with_nothing_new_are_empty(customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    later = (timezone.now() + timedelta(seconds=5)).isoformat()
    body = signed_in(customer_a).get(f"/tickets/{ticket.reference}/updates/", {"after": later}).json()
    assert body["count"] == 0 and body["newest"] is None


def test_forms_need_the_csrf_token(customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer_a)
    assert client.post(f"/tickets/{ticket.reference}/reply/", {"message_text": "x"}).status_code == 403
    assert client.post("/tickets/new/", {"title": "x"}).status_code == 403
    assert Message.objects.count() == 1


def test_staff_opening_a_customer_url_go_to_the_console(customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    response = signed_in(agent).get(f"/tickets/{ticket.reference}/")
    assert response["Location"] == f"/console/tickets/{ticket.reference}/"


def test_my_tickets_filters_by_category(customer_a: User) -> None:
    make_ticket(customer_a, title="Money back", category="billing")
    make_ticket(customer_a, title="Password lost", category="account")
    page = signed_in(customer_a).get("/tickets/?category=billing").content.decode()
    assert "Money back" in page and "Password lost" not in page
