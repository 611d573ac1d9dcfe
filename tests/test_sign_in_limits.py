"""Failed passwords are counted per address and per client, for the web sign-in and the API's
token alike: after five for one address, neither door signs that address in for a while."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from support.network import client_address, client_key
from support.sign_in_throttle import MAX_FAILURES_PER_CLIENT
from tests.builders import assert_error

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token/"
RIGHT = {"email": "asha@example.com", "password": "pw-asha-123"}
WRONG = {"email": "asha@example.com", "password": "wrong"}


def test_the_token_is_refused_once_the_web_sign_in_is_locked(customer_a):
    web = Client()
    for _ in range(5):
        web.post("/login/", {"username": "asha@example.com", "password": "wrong"})
    refused = APIClient().post(TOKEN, RIGHT, format="json")
    assert_error(refused, 429, "rate_limit_exceeded")
    assert "access" not in refused.json() and int(refused["Retry-After"]) > 0
    assert refused.json()["message"] == "Too many failed sign-ins. Wait 15 minutes, or reset your password by mail."


def test_failed_token_requests_lock_the_token_and_the_web_sign_in(customer_a):
    api = APIClient()
    for _ in range(5):
        assert_error(api.post(TOKEN, WRONG, format="json"), 401, "not_authenticated")
    assert_error(api.post(TOKEN, {**RIGHT, "email": "ASHA@example.com"}, format="json"), 429, "rate_limit_exceeded")
    web = Client().post("/login/", {"username": "asha@example.com", "password": "pw-asha-123"})
    assert web.status_code == 429


def test_the_admin_site_signs_in_through_the_limited_sign_in(agent):
    """The admin's own form counted no failure: a way round the lockout for staff passwords."""
    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": agent.email, "password": "wrong"})
    refused = client.post("/admin/login/", {"username": agent.email, "password": "pw-agent-123", "next": "/admin/"})
    assert refused.status_code == 302 and refused["Location"].startswith("/login/?next=")
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/", follow=True).redirect_chain[-1][0] == "/login/?next=%2Fadmin%2F"


def test_a_right_password_clears_the_address_s_failures(customer_a):
    api = APIClient()
    for _ in range(4):
        api.post(TOKEN, WRONG, format="json")
    assert api.post(TOKEN, RIGHT, format="json").status_code == 200
    for _ in range(4):
        api.post(TOKEN, WRONG, format="json")
    assert api.post(TOKEN, RIGHT, format="json").status_code == 200


def test_a_request_without_a_password_is_not_a_failed_sign_in(customer_a):
    api = APIClient()
    for _ in range(6):
        assert_error(api.post(TOKEN, {"email": "asha@example.com"}, format="json"), 400, "validation_error")
    assert api.post(TOKEN, RIGHT, format="json").status_code == 200


def test_one_client_s_failures_lock_that_client_out_behind_a_proxy_but_not_others(customer_a, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    api = APIClient(REMOTE_ADDR="10.0.0.2")  # the proxy
    for n in range(MAX_FAILURES_PER_CLIENT):
        guess = {"email": f"guess{n}@example.com", "password": "x"}
        api.post(TOKEN, guess, format="json", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert_error(api.post(TOKEN, RIGHT, format="json", HTTP_X_FORWARDED_FOR="203.0.113.9"), 429, "rate_limit_exceeded")
    assert api.post(TOKEN, RIGHT, format="json", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 200


def test_a_caller_that_reaches_the_server_directly_cannot_pose_as_another_client(customer_a, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    api = APIClient(REMOTE_ADDR="203.0.113.66")  # not through the proxy
    for n in range(MAX_FAILURES_PER_CLIENT):
        guess = {"email": f"guess{n}@example.com", "password": "x"}
        api.post(TOKEN, guess, format="json", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert_error(api.post(TOKEN, RIGHT, format="json", HTTP_X_FORWARDED_FOR="192.0.2.1"), 429, "rate_limit_exceeded")


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        ([], "10.0.0.2", "203.0.113.9", "10.0.0.2"),  # no proxy: anyone can write X-Forwarded-For
        (["10.0.0.2"], "10.0.0.2", "203.0.113.9", "203.0.113.9"),
        (["10.0.0.2"], "10.0.0.2", "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # the client wrote the left entry
        (["10.0.0.0/8"], "10.0.0.2", "1.2.3.4, 203.0.113.9, 10.0.0.7", "203.0.113.9"),  # two proxies
        (["10.0.0.2"], "203.0.113.5", "1.2.3.4", "203.0.113.5"),  # not through the proxy: header ignored
        (["10.0.0.2"], "10.0.0.2", "", "10.0.0.2"),
        (["10.0.0.2"], "10.0.0.2", "not-an-address", "not-an-address"),
        (["::1", "10.0.0.0/8"], "::1", "2001:db8::5", "2001:db8::5"),
        (["10.0.0.0/8"], "::ffff:10.0.0.2", "203.0.113.9", "203.0.113.9"),  # a server listening on [::]
        (["::ffff:10.0.0.2"], "::ffff:10.0.0.2", "203.0.113.9", "203.0.113.9"),  # named as REMOTE_ADDR shows it
        (["::ffff:10.0.0.0/104"], "10.0.0.2", "203.0.113.9", "203.0.113.9"),
    ],
)
def test_the_client_address_is_the_first_one_from_the_right_that_is_not_a_trusted_proxy(
    settings, proxies, remote, forwarded, expected
):
    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


def test_staff_signing_in_for_the_admin_land_on_the_admin(agent):
    agent.is_superuser = True
    agent.save(update_fields=["is_superuser"])
    client = Client()
    signed_in = client.post("/login/?next=/admin/", {"username": agent.email, "password": "pw-agent-123"})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # one home has a /64: one count for all of it
        ("2001:db8:1:2:bbbb::7", "2001:db8:1:2::/64"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_a_client_is_counted_by_its_address_or_its_ipv6_network(address, key):
    assert client_key(address) == key


def test_the_admin_sends_a_signed_in_customer_home_rather_than_round_in_circles(customer_a):
    client = Client()
    client.force_login(customer_a)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/tickets/" and len(response.redirect_chain) <= 3
    assert "The admin is for staff only." in response.content.decode()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_the_admin_s_sign_in_never_leads_off_the_site(agent, target):
    client = Client()
    sent = client.get(f"/admin/login/?next={target}", follow=True)
    signed_in = client.post(sent.redirect_chain[-1][0], {"username": agent.email, "password": "pw-agent-123"})
    assert signed_in.status_code == 302 and signed_in["Location"].startswith("/")
    assert not signed_in["Location"].startswith("//")


def test_trusted_proxies_that_are_not_addresses_stop_the_site_from_starting():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "TRUSTED_PROXIES": "1"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "TRUSTED_PROXIES: '1' is not an address or a range" in result.stderr
