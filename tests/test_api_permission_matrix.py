"""Who may call what: every endpoint and method against five callers.

Customer A owns the ticket; customer B is someone else (and gets 404, never 403, so the API
does not reveal that A's ticket exists); `agent` and `admin` are staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from support.models import Ticket
from tests.builders import PNG_1PX, make_attachment, make_reply, make_ticket

ROLES = ["anonymous", "customer_a", "customer_b", "agent", "admin"]


@dataclass
class World:
    ticket: Ticket
    people: dict[str, Any]
    attachment_id: str


@pytest.fixture
def world(customer_a, customer_b, agent, admin_user) -> World:
    ticket = make_ticket(customer_a)
    message = make_reply(ticket, customer_a, "See the photo")
    attachment = make_attachment(ticket, customer_a)
    attachment.message = message
    attachment.save()
    people = {
        "anonymous": None,
        "customer_a": customer_a,
        "customer_b": customer_b,
        "agent": agent,
        "admin": admin_user,
    }
    return World(ticket=ticket, people=people, attachment_id=str(attachment.pk))


def _call(client, world: World, method: str, path: str, body: Any) -> Any:
    path = path.format(ticket=world.ticket.pk, attachment=world.attachment_id, agent=world.people["agent"].pk)
    if isinstance(body, dict):
        body = {k: (str(world.people["agent"].pk) if v == "{agent}" else v) for k, v in body.items()}
    if body == "file":
        from django.core.files.uploadedfile import SimpleUploadedFile

        return client.post(path, {"file": SimpleUploadedFile("p.png", PNG_1PX)}, format="multipart")
    return getattr(client, method)(path, body, format="json") if body is not None else getattr(client, method)(path)


T = "/api/support/tickets/{ticket}/"
# (name, method, path, body, expected per role: status or (status, error code))
MATRIX: list[tuple[str, str, str, Any, dict[str, Any]]] = [
    (
        "list",
        "get",
        "/api/support/tickets/",
        None,
        {"anonymous": (401, "not_authenticated"), "customer_a": 200, "customer_b": 200, "agent": 200, "admin": 200},
    ),
    (
        "create",
        "post",
        "/api/support/tickets/",
        {"title": "T", "category": "billing", "message_text": "M"},
        {"anonymous": (401, "not_authenticated"), "customer_a": 201, "customer_b": 201, "agent": 201, "admin": 201},
    ),
    (
        "retrieve",
        "get",
        T,
        None,
        {
            "anonymous": (401, "not_authenticated"),
            "customer_a": 200,
            "customer_b": (404, "ticket_not_found"),
            "agent": 200,
            "admin": 200,
        },
    ),
    (
        "put priority",
        "put",
        T,
        {"priority": "high"},
        {
            "anonymous": (401, "not_authenticated"),
            "customer_a": (403, "permission_denied"),
            "customer_b": (404, "ticket_not_found"),
            "agent": 200,
            "admin": 200,
        },
    ),
    (
        "patch close",
        "patch",
        T,
        {"status": "closed"},
        {
            "anonymous": (401, "not_authenticated"),
            "customer_a": 200,
            "customer_b": (404, "ticket_not_found"),
            "agent": 200,
            "admin": 200,
        },
    ),
    (
        "patch tags",
        "patch",
        T,
        {"tags": ["vip"]},
        {
            "anonymous": (401, "not_authenticated"),
            "customer_a": (403, "permission_denied"),
            "customer_b": (404, "ticket_not_found"),
            "agent": 200,
            "admin": 200,
        },
    ),
    (
        "delete",
        "delete",
        T,
        None,
        {
            "anonymous": (401, "not_authenticated"),
            "customer_a": (405, "method_not_allowed"),
            "customer_b": (405, "method_not_allowed"),
            "agent": (405, "method_not_allowed"),
            "admin": (405, "method_not_allowed"),
        },
    ),
    (
        "reply",
        "post",
        T + "messages/",
        {"message_text": "Hello"},
        {
            "anonymous": (401, "not_authenticated"),
            "customer_a": 201,
            "customer_b": (404, "ticket_not_found"),
            "agent": 201,
            "admin": 201,
        },
    ),
    (
        "internal note",
        "post",
        T + "messages/",
        {"message_text": "Psst", "is_internal": True},
        {
            "anonymous": (401, "not_authenticated"),
            "customer_a": (403, "permission_denied"),
            "customer_b": (404, "ticket_not_found"),
            "agent": 201,
            "admin": 201,
        },
    ),
    (
        "upload",
        "post",
        T + "attachments/",
        "file",
        {
            "anonymous": (401, "not_authenticated"),
            "customer_a": 201,
            "customer_b": (404, "ticket_not_found"),
            "agent": 201,
            "admin": 201,
        },
    ),
    (
        "download",
        "get",
        "/api/support/attachments/{attachment}/download/",
        None,
        {
            "anonymous": (401, "not_authenticated"),
            "customer_a": 200,
            "customer_b": (404, "not_found"),
            "agent": 200,
            "admin": 200,
        },
    ),
    (
        "assign",
        "post",
        T + "assign/",
        {"agent_id": "{agent}"},
        {
            "anonymous": (401, "not_authenticated"),
            "customer_a": (403, "permission_denied"),
            "customer_b": (404, "ticket_not_found"),
            "agent": 200,
            "admin": 200,
        },
    ),
    (
        "escalate",
        "post",
        T + "escalate/",
        {"reason": "Angry customer"},
        {
            "anonymous": (401, "not_authenticated"),
            "customer_a": (403, "permission_denied"),
            "customer_b": (404, "ticket_not_found"),
            "agent": 200,
            "admin": 200,
        },
    ),
    (
        "schema",
        "get",
        "/api/schema/",
        None,
        {"anonymous": 200, "customer_a": 200, "customer_b": 200, "agent": 200, "admin": 200},
    ),
]
CASES = [
    pytest.param(name, method, path, body, role, expected[role], id=f"{name}-{role}")
    for name, method, path, body, expected in MATRIX
    for role in ROLES
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "path", "body", "role", "expected"), CASES)
def test_permission_matrix(api, world, name, method, path, body, role, expected):
    response = _call(api(world.people[role]), world, method, path, body)
    status, code = expected if isinstance(expected, tuple) else (expected, None)
    assert response.status_code == status, getattr(response, "data", response)
    if code is not None:
        assert response.json()["error"] == code
        assert set(response.json()) == {"error", "message", "details"}


@pytest.mark.django_db
def test_jwt_token_pair_is_issued_for_the_right_password_only(api, customer_a):
    good = api(None).post("/api/auth/token/", {"email": "ASHA@example.com", "password": "pw-asha-123"}, format="json")
    assert good.status_code == 200 and {"access", "refresh"} <= set(good.json())
    bad = api(None).post("/api/auth/token/", {"email": "asha@example.com", "password": "wrong"}, format="json")
    assert bad.status_code == 401 and bad.json()["error"] == "not_authenticated"


@pytest.mark.django_db
def test_a_refresh_token_gives_a_new_access_token_that_works(api, customer_a):
    pair = api(None).post("/api/auth/token/", {"email": "asha@example.com", "password": "pw-asha-123"}, format="json")
    refreshed = api(None).post("/api/auth/token/refresh/", {"refresh": pair.json()["refresh"]}, format="json")
    assert refreshed.status_code == 200
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert client.get("/api/support/tickets/").status_code == 200
    garbage = api(None).post("/api/auth/token/refresh/", {"refresh": "not.a.token"}, format="json")
    assert garbage.status_code == 401 and garbage.json()["error"] == "not_authenticated"


@pytest.mark.django_db
def test_session_login_works_and_unsafe_requests_need_the_csrf_token(customer_a):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer_a)
    assert client.get("/api/support/tickets/").status_code == 200
    refused = client.post(
        "/api/support/tickets/", {"title": "T", "category": "billing", "message_text": "M"}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["error"] == "permission_denied"
