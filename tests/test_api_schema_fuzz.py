"""Property-based calls against the served OpenAPI schema: no 500, and every answer as documented.

Schemathesis generates valid and invalid requests for every operation of `/api/schema/` and
sends them to the app in-process (WSGI). Each case runs twice when its path has a ticket or
attachment id: once with the generated id (usually unknown: 404) and once with a real one, so
the success paths are fuzzed too. Runs are derandomized and bounded so the suite stays fast.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from helpdesk.wsgi import application
from support.models import User
from tests.builders import make_attachment, make_reply, make_ticket

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def _keep_test_connection() -> Any:
    """Like Django's test client: the WSGI handler must not close the test's transaction's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(db: None, settings: Any, _keep_test_connection: None) -> dict[str, Any]:
    settings.RATE_LIMIT_DEFAULT = "1000000/min"
    settings.RATE_LIMIT_TICKET_CREATE = "1000000/min"
    customer = User.objects.create_user("fuzz-customer@example.com", "pw-fuzz-123", name="Fuzz Customer")
    agent = User.objects.create_user("fuzz-agent@example.com", "pw-fuzz-123", name="Fuzz Agent", is_staff=True)
    ticket = make_ticket(customer)
    message = make_reply(ticket, agent, "Reply with a file")
    attachment = make_attachment(ticket, agent)
    attachment.message = message
    attachment.save()
    return {"customer": customer, "agent": agent, "ticket": ticket, "attachment": attachment}


def _with_real_ids(case: schemathesis.Case, world: dict[str, Any]) -> bool:
    params = case.path_parameters or {}
    replaced = False
    for name in list(params):
        if name in {"id", "pk"}:
            params[name] = str(world["ticket"].pk)
            replaced = True
        elif name == "attachment_id":
            params[name] = str(world["attachment"].pk)
            replaced = True
    return replaced


def _run(case: schemathesis.Case, world: dict[str, Any], who: str) -> None:
    headers = {"Authorization": f"Bearer {AccessToken.for_user(world[who])}"}
    case.call_and_validate(headers=headers, checks=CHECKS)
    if _with_real_ids(case, world):
        case.call_and_validate(headers=headers, checks=CHECKS)


FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@schema.parametrize()
@FUZZ
def test_the_api_answers_staff_as_its_schema_says(case: schemathesis.Case, fuzz_world: dict[str, Any]) -> None:
    _run(case, fuzz_world, "agent")


@schema.parametrize()
@FUZZ
def test_the_api_answers_customers_as_its_schema_says(case: schemathesis.Case, fuzz_world: dict[str, Any]) -> None:
    _run(case, fuzz_world, "customer")


@pytest.mark.django_db
def test_the_schema_types_every_ticket_list_parameter(api: Any, customer_a: User) -> None:
    served = api(customer_a).get("/api/schema/", {"format": "json"}).json()
    parameters = served["paths"]["/api/support/tickets/"]["get"]["parameters"]
    untyped = [p["name"] for p in parameters if "type" not in p["schema"] and "oneOf" not in p["schema"]]
    assert untyped == []
    types = {p["name"]: p["schema"] for p in parameters}
    assert types["assigned_agent"] == {"type": "string", "format": "uuid"} and types["unassigned"]["type"] == "boolean"


def _served_schema(api: Any, user: User) -> dict[str, Any]:
    schema: dict[str, Any] = api(user).get("/api/schema/", {"format": "json"}).json()
    return schema


@pytest.mark.django_db
def test_the_schema_says_a_request_body_takes_no_other_field(api: Any, customer_a: User) -> None:
    components = _served_schema(api, customer_a)["components"]["schemas"]
    for name in ("TicketCreateRequest", "PatchedTicketUpdateRequest", "MessageCreateRequest", "AssignRequest"):
        assert components[name]["additionalProperties"] is False, name


@pytest.mark.django_db
def test_the_schema_says_pages_and_page_sizes_start_at_one_and_last_is_a_page(api: Any, customer_a: User) -> None:
    parameters = _served_schema(api, customer_a)["paths"]["/api/support/tickets/"]["get"]["parameters"]
    paging = {p["name"]: p["schema"] for p in parameters if p["name"] in {"page", "page_size"}}
    page = {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["last"]}]}
    assert paging == {"page": page, "page_size": {"type": "integer", "minimum": 1}}


@pytest.mark.django_db
def test_the_schema_types_tags_as_a_list_of_words(api: Any, customer_a: User) -> None:
    components = _served_schema(api, customer_a)["components"]["schemas"]
    for name in ("TicketList", "TicketDetail"):
        tags = components[name]["properties"]["tags"]
        assert (tags["type"], tags["items"]) == ("array", {"type": "string"}), name


@pytest.mark.django_db
def test_the_schema_lists_not_acceptable_for_every_operation(api: Any, customer_a: User) -> None:
    paths = _served_schema(api, customer_a)["paths"]
    missing = [
        f"{method} {path}" for path, ops in paths.items() for method, op in ops.items() if "406" not in op["responses"]
    ]
    assert missing == []
