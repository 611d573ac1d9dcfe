"""The conversation and queue rows are built as strings: everything a person wrote is escaped,
in text and in attributes, and paragraphs come out as Django's `linebreaks` makes them. The
queue's filters kept per query are what a fresh form validates and renders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.http import QueryDict
from django.template.defaultfilters import linebreaks_filter

from support.models import User
from support.web.console import QUEUE_FILTERS, queue_filters
from support.web.fieldhtml import data_key, fields_html
from support.web.forms import QueueForm
from support.web.present import paragraphs, render_conversation, render_queue_rows
from support.web.queue import QueueChoice

HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def row(**overrides: object) -> dict:
    base = {
        "id": uuid.uuid4(),
        "sender_id": uuid.uuid4(),
        "sender__name": "Asha",
        "sender__email": "asha@example.com",
        "sender__is_staff": False,
        "message_text": "Hello",
        "is_from_customer": True,
        "is_internal": False,
        "channel": "web",
        "created_at": datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        "attachments": [],
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize("text", ["one line", "two\nlines", "para one\n\npara two", "a\r\nb\r\n\r\n\r\nc", "  x  \n"])
def test_paragraphs_match_djangos_linebreaks(text: str) -> None:
    assert paragraphs(text) == linebreaks_filter(text, autoescape=True)


def test_hostile_text_name_and_filename_are_escaped_everywhere() -> None:
    viewer = User(pk=uuid.uuid4(), email="agent@example.com", is_staff=True)
    file = {"id": uuid.uuid4(), "filename": HOSTILE, "file_size": 10, "content_type": "image/png"}
    html = render_conversation(
        [row(message_text=HOSTILE, sender__name=HOSTILE, attachments=[file])], viewer, staff_view=True
    )
    assert "<script" not in html and "<img src=x" not in html and 'alt="Preview of &quot;&gt;&lt;script&gt;' in html


def test_queue_row_escapes_title_customer_tags_and_snippet() -> None:
    html = render_queue_rows(
        [
            {
                "id": uuid.uuid4(),
                "reference": "SB-1",
                "title": HOSTILE,
                "status": "open",
                "priority": "high",
                "escalated": True,
                "tags": [HOSTILE],
                "assigned_agent__name": "",
                "assigned_agent__email": None,
                "last_message_snippet": HOSTILE,
                "unread_count": 2,
                "updated_at": datetime(2026, 12, 1, tzinfo=UTC),
                "customer__name": HOSTILE,
                "customer__email": "c@example.com",
            }
        ]
    )
    assert "<script" not in html and "<img" not in html and "2 new" in html and "Escalated" in html


@pytest.mark.parametrize("value", ["plain", "Tom & Jerry", "it's", 'say "hi"', HOSTILE, 42, uuid.UUID(int=7)])
def test_escaping_matches_the_standard_library_for_every_value(value: object) -> None:
    from html import escape

    from support.web.present import _e

    assert _e(value) == escape(str(value), quote=True)


AGENTS = (("a1", "Agent One"),)


def _filters(query: str, agents: tuple[tuple[str, str], ...] = AGENTS) -> tuple[QueueChoice, int, str]:
    return queue_filters(agents, data_key(QueryDict(query), QueueForm.base_fields))


@pytest.mark.parametrize("query", ["", "q=" + HOSTILE, "priority=enormous&status=open", "q=a&q=b&page=3"])
def test_kept_queue_filters_are_the_form_validated_and_rendered_afresh(query: str) -> None:
    form = QueueForm(QueryDict(query), agents=list(AGENTS))
    form.is_valid()
    choice, page, html = _filters(query)
    assert html == fields_html(form, QUEUE_FILTERS) and "<script" not in html
    assert choice == QueueChoice.from_cleaned(form.cleaned_data) and page == (form.cleaned_data["page"] or 1)
    assert _filters(query)[2] is html  # kept, not built again


def test_kept_queue_filters_differ_by_query_and_by_agents() -> None:
    assert "geyser" in _filters("q=geyser")[2] and "geyser" not in _filters("")[2]
    assert "Select a valid choice" in _filters("priority=enormous")[2]
    assert "Agent Two" in _filters("", (("a2", "Agent Two"),))[2] and "Agent Two" not in _filters("")[2]
