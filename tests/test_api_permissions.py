"""Who may call what: every endpoint and method against five callers.

Customer A owns the ticket; customer B is someone else and gets 404 (`ticket_not_found`), never
403, so the API does not reveal that A's ticket exists; `agent` and `admin` are staff. Every
refused call leaves the database as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from support.models import Attachment, Message, Ticket, TicketEvent, User
from tests.builders import PNG_1PX, assert_error, make_attachment, make_reply, make_sent_attachment, make_ticket

ROLES = ("anonymous", "customer_a", "customer_b", "agent", "admin")
PASSWORDS = {
    "customer_a": "pw-asha-123",
    "customer_b": "pw-bikash-123",
    "agent": "pw-agent-123",
    "admin": "pw-admin-123",
}

UNAUTH = (401, "not_authenticated")
DENIED = (403, "permission_denied")
HIDDEN = (404, "ticket_not_found")
NOT_FOUND = (404, "not_found")
NO_METHOD = (405, "method_not_allowed")
INVALID = (400, "validation_error")

TICKETS = "/api/support/tickets/"
TICKET = TICKETS + "{ticket}/"
NEW_TICKET = {"title": "Tap leaks", "category": "service", "message_text": "Since Monday."}

# Special bodies, filled in by `_call`: a multipart file, the caller's own credentials, the
# caller's own refresh token (anonymous callers send wrong ones), the agent's id.
FILE, CREDENTIALS, REFRESH = "<file>", "<credentials>", "<refresh>"
AGENT = "<agent id>"

REQUESTS: dict[str, tuple[str, str, Any]] = {
    "list": ("get", TICKETS, None),
    "create": ("post", TICKETS, NEW_TICKET),
    "retrieve": ("get", TICKET, None),
    "retrieve by reference": ("get", TICKETS + "{reference}/", None),
    "put close": ("put", TICKET, {"status": "closed"}),
    "put priority": ("put", TICKET, {"priority": "high"}),
    "patch close": ("patch", TICKET, {"status": "closed"}),
    "patch resolve": ("patch", TICKET, {"status": "resolved"}),
    "patch priority": ("patch", TICKET, {"priority": "urgent"}),
    "patch category": ("patch", TICKET, {"category": "billing"}),
    "patch tags": ("patch", TICKET, {"tags": ["vip"]}),
    "patch assignee": ("patch", TICKET, {"assigned_agent": AGENT}),
    "delete": ("delete", TICKET, None),
    "delete the list": ("delete", TICKETS, None),
    "reply": ("post", TICKET + "messages/", {"message_text": "Hello"}),
    "internal note": ("post", TICKET + "messages/", {"message_text": "Psst", "is_internal": True}),
    "get messages": ("get", TICKET + "messages/", None),
    "upload": ("post", TICKET + "attachments/", FILE),
    "download a sent file": ("get", "/api/support/attachments/{sent_file}/download/", None),
    "download staff upload": ("get", "/api/support/attachments/{staff_upload}/download/", None),
    "assign": ("post", TICKET + "assign/", {"agent_id": AGENT}),
    "assign, empty body": ("post", TICKET + "assign/", {}),
    "escalate": ("post", TICKET + "escalate/", {"reason": "Third complaint"}),
    "escalate, empty body": ("post", TICKET + "escalate/", {}),
    "obtain a token": ("post", "/api/auth/token/", CREDENTIALS),
    "refresh a token": ("post", "/api/auth/token/refresh/", REFRESH),
    "get the token url": ("get", "/api/auth/token/", None),
    "schema": ("get", "/api/schema/", None),
    "my notifications": ("get", "/api/support/notifications/", None),
    "mark notifications read": ("post", "/api/support/notifications/mark-read/", {"all": True}),
    "my mail preferences": ("get", "/api/support/notifications/preferences/", None),
    "switch a mail off": ("patch", "/api/support/notifications/preferences/", {"agent_reply": False}),
}

# The expected answer: a status, or (status, error code) for a refusal.
# fmt: off
MATRIX: list[tuple[str, tuple[Any, ...]]] = [
    # request                   anonymous   customer A  customer B  agent      admin
    ("list",                    (UNAUTH,    200,        200,        200,       200)),
    ("create",                  (UNAUTH,    201,        201,        201,       201)),
    ("retrieve",                (UNAUTH,    200,        HIDDEN,     200,       200)),
    ("retrieve by reference",   (UNAUTH,    200,        HIDDEN,     200,       200)),
    ("put close",               (UNAUTH,    200,        HIDDEN,     200,       200)),
    ("put priority",            (UNAUTH,    DENIED,     HIDDEN,     200,       200)),
    ("patch close",             (UNAUTH,    200,        HIDDEN,     200,       200)),
    ("patch resolve",           (UNAUTH,    DENIED,     HIDDEN,     200,       200)),
    ("patch priority",          (UNAUTH,    DENIED,     HIDDEN,     200,       200)),
    ("patch category",          (UNAUTH,    DENIED,     HIDDEN,     200,       200)),
    ("patch tags",              (UNAUTH,    DENIED,     HIDDEN,     200,       200)),
    ("patch assignee",          (UNAUTH,    DENIED,     HIDDEN,     200,       200)),
    ("delete",                  (UNAUTH,    NO_METHOD,  NO_METHOD,  NO_METHOD, NO_METHOD)),
    ("delete the list",         (UNAUTH,    NO_METHOD,  NO_METHOD,  NO_METHOD, NO_METHOD)),
    ("reply",                   (UNAUTH,    201,        HIDDEN,     201,       201)),
    ("internal note",           (UNAUTH,    DENIED,     HIDDEN,     201,       201)),
    ("get messages",            (UNAUTH,    NO_METHOD,  NO_METHOD,  NO_METHOD, NO_METHOD)),
    ("upload",                  (UNAUTH,    201,        HIDDEN,     201,       201)),
    ("download a sent file",    (UNAUTH,    200,        NOT_FOUND,  200,       200)),
    ("download staff upload",   (UNAUTH,    NOT_FOUND,  NOT_FOUND,  200,       200)),
    ("assign",                  (UNAUTH,    DENIED,     HIDDEN,     200,       200)),
    ("assign, empty body",      (UNAUTH,    DENIED,     HIDDEN,     INVALID,   INVALID)),
    ("escalate",                (UNAUTH,    DENIED,     HIDDEN,     200,       200)),
    ("escalate, empty body",    (UNAUTH,    DENIED,     HIDDEN,     INVALID,   INVALID)),
    ("obtain a token",          (UNAUTH,    200,        200,        200,       200)),
    ("refresh a token",         (UNAUTH,    200,        200,        200,       200)),
    ("get the token url",       (NO_METHOD, NO_METHOD,  NO_METHOD,  NO_METHOD, NO_METHOD)),
    ("schema",                  (200,       200,        200,        200,       200)),
    ("my notifications",        (UNAUTH,    200,        200,        200,       200)),
    ("mark notifications read", (UNAUTH,    200,        200,        200,       200)),
    ("my mail preferences",     (UNAUTH,    200,        200,        200,       200)),
    ("switch a mail off",       (UNAUTH,    200,        200,        200,       200)),
]
# fmt: on
CASES = [
    pytest.param(*REQUESTS[name], role, expected, id=f"{name} as {role}")
    for name, answers in MATRIX
    for role, expected in zip(ROLES, answers, strict=True)
]


@dataclass
class World:
    ticket: Ticket
    people: dict[str, User | None]
    urls: dict[str, str]


@pytest.fixture
def world(customer_a, customer_b, agent, admin_user) -> World:
    ticket = make_ticket(customer_a)
    sent_file = make_sent_attachment(make_reply(ticket, customer_a, "See the photo"), customer_a)
    staff_upload = make_attachment(ticket, agent, name="draft.png")  # uploaded, not yet sent
    people = {
        "anonymous": None,
        "customer_a": customer_a,
        "customer_b": customer_b,
        "agent": agent,
        "admin": admin_user,
    }
    urls = {
        "ticket": str(ticket.pk),
        "reference": ticket.reference,
        "sent_file": str(sent_file.pk),
        "staff_upload": str(staff_upload.pk),
    }
    return World(ticket=ticket, people=people, urls=urls)


def _body_for(body: Any, role: str, world: World) -> Any:
    if body == CREDENTIALS:
        person = world.people[role]
        if person is None:
            return {"email": "asha@example.com", "password": "guessed"}
        return {"email": person.email, "password": PASSWORDS[role]}
    if body == REFRESH:
        if role == "anonymous":
            return {"refresh": "not.a.token"}
        pair = APIClient().post("/api/auth/token/", _body_for(CREDENTIALS, role, world), format="json")
        return {"refresh": pair.json()["refresh"]}
    if isinstance(body, dict):
        return {key: str(world.people["agent"].pk) if value == AGENT else value for key, value in body.items()}
    return body


def _call(client: APIClient, world: World, role: str, method: str, path: str, body: Any) -> Any:
    url = path.format(**world.urls)
    if body == FILE:
        return client.post(url, {"file": SimpleUploadedFile("leak.png", PNG_1PX)}, format="multipart")
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, _body_for(body, role, world), format="json")


def _state(ticket: Ticket) -> tuple[Any, ...]:
    ticket.refresh_from_db()
    counts = tuple(model.objects.count() for model in (Ticket, Message, Attachment, TicketEvent))
    return (model_to_dict(ticket), counts)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "body", "role", "expected"), CASES)
def test_permission_matrix(api, world, method, path, body, role, expected):
    before = _state(world.ticket)
    response = _call(api(world.people[role]), world, role, method, path, body)
    if isinstance(expected, tuple):
        status, code = expected
        assert_error(response, status, code)
        assert _state(world.ticket) == before, "a refused call changed something"
    else:
        assert response.status_code == expected, getattr(response, "content", response)


@pytest.mark.django_db
def test_a_token_is_issued_for_any_capitalisation_of_the_email(api, customer_a):
    response = api(None).post("/api/auth/token/", {"email": "ASHA@Example.com", "password": "pw-asha-123"})
    assert response.status_code == 200 and {"access", "refresh"} <= set(response.json())


@pytest.mark.django_db
def test_a_refreshed_access_token_works(api, customer_a):
    pair = api(None).post("/api/auth/token/", {"email": "asha@example.com", "password": "pw-asha-123"}).json()
    access = api(None).post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}).json()["access"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert client.get(TICKETS).status_code == 200


@pytest.mark.django_db
def test_an_access_token_is_not_a_refresh_token(api, customer_a):
    access = str(AccessToken.for_user(customer_a))
    assert_error(api(None).post("/api/auth/token/refresh/", {"refresh": access}), 401, "not_authenticated")


@pytest.mark.django_db
def test_a_deactivated_users_token_stops_working(api, customer_a):
    client = api(customer_a)
    customer_a.is_active = False
    customer_a.save(update_fields=["is_active"])
    assert_error(client.get(TICKETS), 401, "not_authenticated")


@pytest.mark.django_db
def test_a_deactivated_user_gets_no_token(api, customer_a):
    customer_a.is_active = False
    customer_a.save(update_fields=["is_active"])
    response = api(None).post("/api/auth/token/", {"email": "asha@example.com", "password": "pw-asha-123"})
    assert_error(response, 401, "not_authenticated")


@pytest.mark.django_db
def test_a_session_signed_in_with_a_password_may_read(customer_a):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(email="asha@example.com", password="pw-asha-123")
    assert client.get(TICKETS).status_code == 200


@pytest.mark.django_db
def test_a_session_write_without_the_csrf_token_is_refused(customer_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer_a)
    body = assert_error(client.post(TICKETS, NEW_TICKET, format="json"), 403, "permission_denied")
    assert "CSRF" in body["message"]
    assert Ticket.objects.count() == 0


@pytest.mark.django_db
def test_a_session_write_with_the_csrf_token_is_accepted_as_a_web_ticket(customer_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer_a)
    client.get("/password-reset/")  # any page that renders a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(TICKETS, NEW_TICKET, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content
    assert response.json()["source"] == "web"
    assert response.json()["messages"][0]["channel"] == "web"


@pytest.mark.django_db
def test_a_bearer_token_needs_no_csrf_token(api, customer_a):
    client = api(customer_a)
    client.enforce_csrf_checks = True
    response = client.post(TICKETS, NEW_TICKET, format="json")
    assert response.status_code == 201 and response.json()["source"] == "api"


@pytest.mark.django_db
def test_customers_list_only_their_own_tickets(api, customer_a, customer_b, agent):
    mine = make_ticket(customer_a)
    theirs = make_ticket(customer_b)
    assert [row["id"] for row in api(customer_a).get(TICKETS).json()["results"]] == [str(mine.pk)]
    assert {row["id"] for row in api(agent).get(TICKETS).json()["results"]} == {str(mine.pk), str(theirs.pk)}


def test_the_matrix_covers_every_api_route():
    from django.urls import resolve

    from support.api.urls import urlpatterns

    placeholders = {"ticket": "x", "reference": "SB-1", "sent_file": "x", "staff_upload": "x"}
    covered = {resolve(path.format(**placeholders)).url_name for _, path, _ in REQUESTS.values()}
    assert {pattern.name for pattern in urlpatterns} <= covered
    assert {"token_obtain_pair", "token_refresh", "schema"} <= covered


@pytest.mark.django_db
def test_a_customer_does_not_see_the_escalation_reason(api, customer_a, agent):
    ticket = make_ticket(customer_a)
    api(agent).post(f"{TICKETS}{ticket.pk}/escalate/", {"reason": "Rude on the phone"}, format="json")
    seen = api(customer_a).get(f"{TICKETS}{ticket.pk}/").json()
    assert seen["escalated"] is True and seen["escalation_reason"] == ""
    assert api(agent).get(f"{TICKETS}{ticket.pk}/").json()["escalation_reason"] == "Rude on the phone"


@pytest.mark.django_db
def test_a_customer_does_not_see_the_tags(api, customer_a, agent):
    ticket = make_ticket(customer_a)
    api(agent).patch(f"{TICKETS}{ticket.pk}/", {"tags": ["difficult"]}, format="json")
    assert api(customer_a).get(f"{TICKETS}{ticket.pk}/").json()["tags"] == []
    assert api(customer_a).get(TICKETS).json()["results"][0]["tags"] == []
    assert api(agent).get(TICKETS).json()["results"][0]["tags"] == ["difficult"]
