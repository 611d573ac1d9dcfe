"""In-app notifications through the API: own only, paginated, unread filter, mark read, preferences."""

from __future__ import annotations

import pytest

from support.models import Notification, NotificationPreference
from tests.builders import assert_error, make_reply, make_ticket

pytestmark = pytest.mark.django_db

URL = "/api/support/notifications/"


@pytest.fixture
def inbox(customer_a, customer_b, agent, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Sita has three notifications about Asha's ticket; Bikash has one about his."""
    with django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(customer_a, title="Leaking tap")
        make_reply(ticket, customer_a, "Still leaking.")
        make_reply(ticket, customer_a, "Worse now.")
        other = make_ticket(customer_b, title="Broken door")
        make_reply(other, agent, "We will come.")
    return ticket


def test_a_person_lists_only_their_own_notifications_newest_first(api, agent, inbox):
    response = api(agent).get(URL)
    assert response.status_code == 200
    body = response.json()
    events = [row["event"] for row in body["results"]]
    assert body["count"] == 4 and events[:3] == ["new_ticket", "customer_reply", "customer_reply"]
    assert body["results"][1]["ticket"]["reference"] == inbox.reference
    assert body["results"][1]["read"] is False


def test_the_list_is_paginated(api, agent, inbox):
    body = api(agent).get(URL, {"page_size": 2}).json()
    assert body["count"] == 4 and len(body["results"]) == 2 and body["next"]


def test_the_unread_filter(api, agent, inbox):
    client = api(agent)
    first = client.get(URL).json()["results"][0]["id"]
    client.post(f"{URL}mark-read/", {"ids": [first]}, format="json")
    assert client.get(URL, {"unread": "true"}).json()["count"] == 3
    assert [r["id"] for r in client.get(URL, {"unread": "false"}).json()["results"]] == [first]


def test_a_bad_unread_value_is_a_validation_error(api, agent, inbox):
    body = assert_error(api(agent).get(URL, {"unread": "maybe"}), 400, "validation_error")
    assert "unread" in body["details"]


def test_marking_read_touches_only_one_s_own_notifications(api, agent, customer_b, inbox):
    theirs = Notification.objects.get(recipient=customer_b)
    mine = Notification.objects.filter(recipient=agent).first()
    response = api(agent).post(f"{URL}mark-read/", {"ids": [theirs.pk, mine.pk]}, format="json")
    assert response.json() == {"marked": 1}
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_all_read(api, agent, inbox):
    assert api(agent).post(f"{URL}mark-read/", {"all": True}, format="json").json() == {"marked": 4}
    assert not Notification.objects.filter(recipient=agent, read_at__isnull=True).exists()


def test_marking_read_without_ids_is_a_validation_error(api, agent, inbox):
    assert_error(api(agent).post(f"{URL}mark-read/", {}, format="json"), 400, "validation_error")


def test_an_id_beyond_64_bits_is_a_validation_error_not_a_server_error(api, agent, inbox):
    response = api(agent).post(f"{URL}mark-read/", {"ids": [2**63]}, format="json")
    assert list(assert_error(response, 400, "validation_error")["details"]) == ["ids.0"]


def test_notifications_need_a_signed_in_person_and_carry_the_rate_limit_headers(api, inbox):
    response = api(None).get(URL)
    assert_error(response, 401, "not_authenticated")
    assert "X-RateLimit-Remaining" in response


def test_a_customer_is_never_notified_of_an_internal_note(
    api, customer_a, agent, inbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_reply(inbox, agent, "Customer is lying.", is_internal=True)
        make_reply(inbox, agent, "We will fix it today.")
    events = [row["event"] for row in api(customer_a).get(URL).json()["results"]]
    assert events == ["agent_reply"]


def test_preferences_are_on_until_switched_off(api, agent):
    client = api(agent)
    assert set(client.get(f"{URL}preferences/").json().values()) == {True}
    body = client.patch(f"{URL}preferences/", {"customer_reply": False}, format="json").json()
    assert body["customer_reply"] is False and body["internal_note"] is True
    assert NotificationPreference.objects.get(person=agent, event="customer_reply").email is False


def test_an_unknown_preference_is_a_validation_error_and_changes_nothing(api, agent):
    body = assert_error(api(agent).patch(f"{URL}preferences/", {"fax": False}, format="json"), 400, "validation_error")
    assert "fax" in body["details"] and not NotificationPreference.objects.exists()
