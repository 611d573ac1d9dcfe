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


def test_a_link_signed_with_another_key_is_refused(settings):
    token = ticket_link_token(ticket_id="t-1", person_id="p-1")
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert read_ticket_link(token) is None


def test_a_link_signed_before_the_key_was_rotated_still_opens(settings):
    token = ticket_link_token(ticket_id="t-1", person_id="p-1")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-new-secret-key-" + "x" * 40
    link = read_ticket_link(token)
    assert link is not None and link.ticket_id == "t-1"


def test_a_link_signed_in_the_earlier_format_opens_until_it_expires(settings):
    from django.core import signing

    settings.TICKET_LINK_MAX_AGE_DAYS = 30
    token = signing.dumps({"t": "t-1", "p": "p-1"}, salt="support.ticket-link", compress=True)
    link = read_ticket_link(token)
    assert link is not None and (link.ticket_id, link.person_id) == ("t-1", "p-1")
    with mock.patch("django.core.signing.time.time", return_value=__import__("time").time() + 31 * 86400):
        assert read_ticket_link(token) is None


def test_a_link_with_a_changed_time_is_refused():
    ticket, person, signed_at, mac = ticket_link_token(ticket_id="t-1", person_id="p-1").split(".")
    later = f"{int(signed_at, 16) + 86400:x}"
    assert read_ticket_link(f"{ticket}.{person}.{later}.{mac}") is None
    assert read_ticket_link(f"{ticket}.{person}.zz.{mac}") is None
