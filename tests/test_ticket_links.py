"""The signed link in every mail: opens one ticket for one person, cannot be altered, expires."""

from __future__ import annotations

from unittest import mock

from support.links import read_ticket_link, ticket_link_token, ticket_link_url


def test_a_link_names_its_ticket_and_person():
    link = read_ticket_link(ticket_link_token(ticket_id="t-1", person_id="p-1"))
    assert link is not None and (link.ticket_id, link.person_id) == ("t-1", "p-1")


def test_an_altered_link_is_refused():
    token = ticket_link_token(ticket_id="t-1", person_id="p-1")
    assert read_ticket_link(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    assert read_ticket_link("not-a-token") is None


def test_a_link_expires(settings):
    settings.TICKET_LINK_MAX_AGE_DAYS = 30
    token = ticket_link_token(ticket_id="t-1", person_id="p-1")
    with mock.patch("django.core.signing.time.time", return_value=__import__("time").time() + 31 * 86400):
        assert read_ticket_link(token) is None


def test_the_url_is_under_the_site(settings):
    settings.SITE_URL = "https://help.sewabazaar.test/"
    assert ticket_link_url(ticket_id="t", person_id="p").startswith("https://help.sewabazaar.test/t/")
