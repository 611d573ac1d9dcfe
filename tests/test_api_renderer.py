"""The API's orjson renderer writes the JSON that DRF's own renderer writes, only faster."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from support.api.renderers import OrjsonRenderer

PAYLOADS = [
    {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "count": 3, "next": None},
    {"at": datetime(2026, 12, 2, 16, 30, 5, 123456, tzinfo=UTC), "day": date(2026, 12, 2)},
    {"at": datetime(2026, 12, 2, 16, 30, tzinfo=timezone(timedelta(hours=5, minutes=45)))},
    {"amount": Decimal("2500.50"), "lazy": gettext_lazy("Not found."), "detail": ErrorDetail("bad", code="x")},
    {"text": "नमस्ते — line\u2028separator\u2029paragraph </script>", "nested": [{"a": [1, 2.5, True]}]},
    [],
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_bytes_are_the_same_as_drfs_renderer(payload):
    assert OrjsonRenderer().render(payload) == JSONRenderer().render(payload)


def test_line_and_paragraph_separators_are_escaped_for_javascript():
    body = OrjsonRenderer().render({"text": "a\u2028b\u2029c"})
    assert b"\\u2028" in body and b"\\u2029" in body
    assert json.loads(body) == {"text": "a\u2028b\u2029c"}


def test_nothing_renders_as_an_empty_body():
    assert OrjsonRenderer().render(None) == b""


def test_an_indent_asked_for_is_honoured():
    body = OrjsonRenderer().render({"a": 1}, "application/json; indent=2")
    assert body == b'{\n  "a": 1\n}'


def test_api_answers_are_rendered_by_it(api, customer_a):
    response = api(customer_a).get("/api/support/tickets/")
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, OrjsonRenderer)
