"""Every error comes in one body, `{"error", "message", "details"}`, with the documented code."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from support.models import Attachment
from tests.builders import LINUX_ELF, PDF_HEAD, PNG_1PX, WINDOWS_EXE, make_ticket

TICKETS = "/api/support/tickets/"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == code and body["message"]
    return body


@pytest.fixture
def one_window(monkeypatch):
    """Rate limits count in one-minute windows: keep the test inside one window."""
    monkeypatch.setattr("support.api.ratelimit.time.time", lambda: 1_800_000_010.0)


@pytest.fixture
def ticket(customer_a):
    return make_ticket(customer_a)


def upload(client, ticket, data: bytes, name: str):
    return client.post(
        f"{TICKETS}{ticket.pk}/attachments/", {"file": SimpleUploadedFile(name, data)}, format="multipart"
    )


@pytest.mark.django_db
def test_an_id_that_is_not_a_uuid_is_ticket_not_found(api, customer_a):
    assert_error(api(customer_a).get(f"{TICKETS}not-a-uuid/"), 404, "ticket_not_found")


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["%00", "SB-%001", "messages%00"])
def test_an_id_with_a_nul_in_it_is_ticket_not_found(api, agent, key):
    """PostgreSQL refuses a NUL in a query: the lookup must not send one (it was a 500)."""
    assert_error(api(agent).get(f"{TICKETS}{key}/"), 404, "ticket_not_found")
    assert_error(
        api(agent).post(f"{TICKETS}{key}/messages/", {"message_text": "x"}, format="json"), 404, "ticket_not_found"
    )


@pytest.mark.django_db
def test_an_unknown_ticket_is_ticket_not_found(api, agent):
    assert_error(api(agent).get(f"{TICKETS}00000000-0000-4000-8000-000000000000/"), 404, "ticket_not_found")


@pytest.mark.django_db
def test_an_unknown_api_url_is_a_json_404(api, customer_a):
    assert_error(api(customer_a).get("/api/support/nothing-here/"), 404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_api_address_without_its_slash_says_where_the_slash_goes(api, customer_a, method):
    body = assert_error(getattr(api(customer_a), method)("/api/support/tickets"), 404, "not_found")
    assert "/api/support/tickets/" in body["message"]
    assert "slash" not in assert_error(api(customer_a).get("/api/support/nothing"), 404, "not_found")["message"]


@pytest.mark.django_db
def test_validation_errors_name_each_field(api, customer_a):
    body = assert_error(
        api(customer_a).post(TICKETS, {"category": "pets", "message_text": "x" * 5001}, format="json"),
        400,
        "validation_error",
    )
    assert set(body["details"]) == {"title", "category", "message_text"}
    assert all(isinstance(problem, str) for problems in body["details"].values() for problem in problems)


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{"ordering": "title"}, {"status": "lost"}, {"priority": "meh"}, {"category": "x"}])
def test_bad_list_parameters_are_a_validation_error(api, agent, query):
    body = assert_error(api(agent).get(TICKETS, query), 400, "validation_error")
    assert set(body["details"]) == set(query)


@pytest.mark.django_db
def test_malformed_json_is_a_validation_error(api, customer_a):
    response = api(customer_a).generic("POST", TICKETS, "{not json", content_type="application/json")
    assert_error(response, 400, "validation_error")


@pytest.mark.django_db
def test_a_bad_token_is_not_authenticated(customer_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer abc.def.ghi")
    response = assert_error(client.get(TICKETS), 401, "not_authenticated")
    assert response  # body checked above


@pytest.mark.django_db
def test_a_wrong_method_is_method_not_allowed(api, customer_a):
    assert_error(api(customer_a).delete(TICKETS), 405, "method_not_allowed")


@pytest.mark.django_db
def test_an_unsupported_body_type_is_415(api, customer_a, ticket):
    response = api(customer_a).generic("POST", f"{TICKETS}{ticket.pk}/messages/", "hello", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_too_many_requests_is_429_with_the_headers(api, customer_a, settings, one_window):
    settings.RATE_LIMIT_DEFAULT = "3/min"
    client = api(customer_a)
    remaining = [client.get(TICKETS)["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = client.get(TICKETS)
    assert_error(refused, 429, "rate_limit_exceeded")
    assert refused["X-RateLimit-Limit"] == "3" and refused["X-RateLimit-Remaining"] == "0"
    assert refused["Retry-After"] == "50" and refused["X-RateLimit-Reset"] == "1800000060"


@pytest.mark.django_db
def test_ticket_creation_has_its_own_limit_of_30_a_minute(api, customer_a, one_window):
    client = api(customer_a)
    body = {"title": "T", "category": "billing", "message_text": "M"}
    statuses = [client.post(TICKETS, body, format="json").status_code for _ in range(31)]
    assert statuses == [201] * 30 + [429]
    listing = client.get(TICKETS)  # the other bucket is untouched
    assert listing.status_code == 200 and listing["X-RateLimit-Limit"] == "100"


@pytest.mark.django_db
def test_a_request_is_let_through_uncounted_when_the_cache_is_down(api, customer_a, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    def unreachable(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("django.core.cache.cache.add", unreachable)
    listing = api(customer_a).get(TICKETS)
    assert listing.status_code == 200
    assert listing["X-RateLimit-Limit"] == "100" and listing["X-RateLimit-Remaining"] == "100"


@pytest.mark.django_db
def test_limits_are_per_user(api, customer_a, customer_b, settings, one_window):
    settings.RATE_LIMIT_DEFAULT = "1/min"
    assert api(customer_a).get(TICKETS).status_code == 200
    assert api(customer_b).get(TICKETS).status_code == 200
    assert api(customer_a).get(TICKETS).status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize("path", [TICKETS, "/api/support/nothing/", "/api/schema/", "/api/auth/token/"])
def test_every_api_response_carries_the_rate_limit_headers(path):
    response = APIClient().get(path)
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response.has_header(header), (path, response.status_code)


@pytest.mark.django_db
def test_an_upload_larger_than_the_limit_is_refused_unread_as_file_too_large(api, customer_a, ticket, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    body = assert_error(upload(api(customer_a), ticket, b"a" * (1024 * 1024 + 4096), "big.txt"), 400, "file_too_large")
    assert "file" in body["details"]


@pytest.mark.django_db
def test_a_json_body_larger_than_the_limit_is_a_validation_error(api, customer_a, ticket, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    text = "a" * (1024 * 1024 + 4096)
    response = api(customer_a).post(f"{TICKETS}{ticket.pk}/messages/", {"message_text": text}, format="json")
    assert "body" in assert_error(response, 400, "validation_error")["details"]
    assert ticket.messages.count() == 1


@pytest.mark.django_db
def test_a_file_over_the_limit_is_file_too_large(api, customer_a, ticket, settings):
    settings.ATTACHMENT_MAX_BYTES = 100
    assert_error(upload(api(customer_a), ticket, b"a" * 101, "notes.txt"), 400, "file_too_large")
    assert ticket.attachments.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "name"), [(WINDOWS_EXE, "invoice.pdf"), (LINUX_ELF, "readme.txt"), (b"\x00\x01\x02" * 50, "x.png")]
)
def test_a_disguised_or_unknown_binary_is_invalid_file_type(api, customer_a, ticket, data, name):
    assert_error(upload(api(customer_a), ticket, data, name), 400, "invalid_file_type")
    assert ticket.attachments.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (PNG_1PX, "photo.jpg", "image/png"),
        (PDF_HEAD, "invoice", "application/pdf"),
        ("Namaste, मेरो बुकिङ\n".encode(), "note.txt", "text/plain"),
        (b"date,amount\n2026-11-01,2500\n", "charges.csv", "text/csv"),
    ],
)
def test_the_stored_type_comes_from_the_bytes(api, customer_a, ticket, data, name, content_type):
    response = upload(api(customer_a), ticket, data, name)
    assert response.status_code == 201, response.json()
    assert response.json()["content_type"] == content_type
    assert response.json()["file_size"] == len(data)


@pytest.mark.django_db
def test_a_path_in_the_file_name_is_dropped(api, customer_a, ticket):
    response = upload(api(customer_a), ticket, b"root:x:0:0\n", "../../etc/passwd")
    assert response.status_code == 201
    assert response.json()["filename"] == "passwd.txt"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "name", "stored"),
    [
        (b"@echo off\r\ndel /q C:\\*\r\n", "run.bat", "run.bat.txt"),
        (b"<script>alert(1)</script>", "page.html", "page.html.txt"),
        (b'<svg onload="alert(1)"/>', "logo.svg", "logo.svg.txt"),
        (b"just text", "report.pdf", "report.pdf.txt"),
        (b"text, not a program", "setup.EXE", "setup.EXE.txt"),
        (PNG_1PX, "photo.jpg", "photo.jpg.png"),
        (PDF_HEAD, "invoice", "invoice.pdf"),
        (PDF_HEAD, "Invoice.PDF", "Invoice.PDF"),
        (b"date,amount\n", "charges.csv", "charges.csv"),
        (b"BEGIN:VCALENDAR\n", "invite.ics", "invite.ics"),
    ],
)
def test_a_file_is_kept_under_a_name_that_ends_as_its_bytes_are(api, customer_a, ticket, data, name, stored):
    """The bytes decide the type, and the name must not say otherwise: nobody who downloads a
    customer's text file opens it as a script or a web page."""
    client = api(customer_a)
    response = upload(client, ticket, data, name)
    assert response.status_code == 201, response.json()
    assert response.json()["filename"] == stored
    assert f'filename="{stored}"' in client.get(response.json()["download_url"])["Content-Disposition"]


@pytest.mark.django_db
def test_a_download_has_a_safe_content_disposition(api, customer_a, ticket):
    client = api(customer_a)
    uploaded = upload(client, ticket, b"hello\n", 'bill "2026" ñ;x.txt').json()
    download = client.get(uploaded["download_url"])
    assert download.status_code == 200
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=utf-8''" in disposition
    assert '"2026"' not in disposition  # quotes in the name cannot end the parameter early
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == b"hello\n"


@pytest.mark.django_db
def test_an_unexpected_failure_is_a_json_500(api, customer_a, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("support.services.open_ticket", explode)
    client = api(customer_a)
    client.raise_request_exception = False
    body = assert_error(
        client.post(TICKETS, {"title": "T", "category": "billing", "message_text": "M"}), 500, "server_error"
    )
    assert "fire" not in body["message"]


@pytest.mark.parametrize(
    ("name", "content_type", "stored"),
    [
        ("attachment.bin", "image/png", "attachment.png"),  # made up for an unnamed part
        ("winmail-1.bin", "application/pdf", "winmail-1.pdf"),
        ("notes.dat", "text/plain", "notes.txt"),
        (".bashrc", "text/plain", "bashrc.txt"),
        (".pdf", "application/pdf", "pdf.pdf"),
        ("photo.heic", "image/x-unknown-to-anyone", "photo.heic.bin"),  # no known extension: nothing opens it
        ("evil.exe", "application/octet-stream", "evil.exe.bin"),  # not Python's .exe for these bytes
        ("archive.zip", "application/zip", "archive.zip"),  # a type an operator allowed, in Python's table
        ("x" * 300 + ".", "text/plain", "x" * 251 + ".txt"),
        ("invoice\u202egpj.exe", "text/plain", "invoice_gpj.exe.txt"),  # right-to-left: "invoiceexe.jpg"
        ("Rechnung März.PDF", "application/pdf", "Rechnung März.PDF"),
    ],
)
def test_a_stored_name_ends_in_an_extension_of_its_type(name, content_type, stored):
    from support.files import stored_filename

    assert stored_filename(name, content_type) == stored


@pytest.mark.django_db
def test_a_file_kept_under_an_old_name_is_downloaded_under_a_name_that_ends_as_its_bytes_are(api, customer_a, ticket):
    client = api(customer_a)
    uploaded = upload(client, ticket, b"@echo off\r\n", "run.bat").json()
    Attachment.objects.filter(pk=uploaded["id"]).update(filename="run.bat")  # as kept before the rule
    assert 'filename="run.bat.txt"' in client.get(uploaded["download_url"])["Content-Disposition"]


def test_control_characters_and_paths_never_reach_a_stored_name():
    from support.files import safe_filename

    assert safe_filename("a\r\nX-Evil: 1.txt") == "a_X-Evil_ 1.txt"
    assert safe_filename("C:\\Users\\me\\..\\report.pdf") == "report.pdf"
    assert safe_filename("../../") == "attachment"
    assert len(safe_filename("x" * 400 + ".pdf")) == 255 and safe_filename("x" * 400 + ".pdf").endswith(".pdf")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "", {"title": "T", "category": "billing", "message_text": "M", "priorty": "high"}),
        ("patch", "{id}/", {"status": "closed", "statuss": "open"}),
        ("post", "{id}/messages/", {"message_text": "M", "internal": True}),
    ],
)
def test_an_unknown_field_is_a_validation_error_naming_it(api, customer_a, ticket, method, path, body):
    response = getattr(api(customer_a), method)(f"{TICKETS}{path.format(id=ticket.pk)}", body, format="json")
    details = assert_error(response, 400, "validation_error")["details"]
    assert list(details) == [name for name in body if name in {"priorty", "statuss", "internal"}]
    assert ticket.messages.count() == 1 and ticket.customer.tickets.count() == 1  # nothing was written


@pytest.mark.django_db
def test_a_file_sent_with_a_new_ticket_is_refused_not_dropped(api, customer_a):
    body = {"title": "T", "category": "billing", "message_text": "M", "file": SimpleUploadedFile("a.txt", b"hi\n")}
    details = assert_error(api(customer_a).post(TICKETS, body, format="multipart"), 400, "validation_error")["details"]
    assert list(details) == ["file"]


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{"escalated": "maybe"}, {"unassigned": "sometimes"}])
def test_a_yes_no_filter_that_is_not_true_or_false_is_a_validation_error(api, agent, query):
    body = assert_error(api(agent).get(TICKETS, query), 400, "validation_error")
    assert set(body["details"]) == set(query)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["abc", "0", "-1", "1.5"])
def test_a_page_that_is_not_a_whole_number_is_a_validation_error(api, agent, page):
    body = assert_error(api(agent).get(TICKETS, {"page": page}), 400, "validation_error")
    assert set(body["details"]) == {"page"}


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", ["abc", "0", "-5"])
def test_a_page_size_that_is_not_a_whole_number_is_a_validation_error(api, agent, page_size):
    body = assert_error(api(agent).get(TICKETS, {"page_size": page_size}), 400, "validation_error")
    assert set(body["details"]) == {"page_size"}


@pytest.mark.django_db
def test_a_page_past_the_last_is_not_found(api, agent):
    assert_error(api(agent).get(TICKETS, {"page": 2}), 404, "not_found")


@pytest.mark.django_db
def test_a_post_to_an_unknown_api_url_is_a_json_404_even_without_a_csrf_token(customer_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer_a)
    assert_error(client.post("/api/support/tickets", {"title": "T"}, format="json"), 404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("", {"title": 123, "category": "billing", "message_text": "M"}, "title"),
        ("", {"title": "T", "category": "billing", "message_text": 5}, "message_text"),
        ("{id}/messages/", {"message_text": 5.5}, "message_text"),
        ("{id}/escalate/", {"reason": 7}, "reason"),
    ],
)
def test_a_number_where_text_is_expected_is_a_validation_error(api, agent, ticket, path, body, field):
    response = api(agent).post(f"{TICKETS}{path.format(id=ticket.pk)}", body, format="json")
    assert list(assert_error(response, 400, "validation_error")["details"]) == [field]
    assert ticket.messages.count() == 1 and not ticket.escalated


@pytest.mark.django_db
def test_a_number_in_the_tags_is_a_validation_error(api, agent, ticket):
    response = api(agent).patch(f"{TICKETS}{ticket.pk}/", {"tags": ["refund", 3]}, format="json")
    assert_error(response, 400, "validation_error")
    ticket.refresh_from_db()
    assert ticket.tags == []


@pytest.mark.django_db
def test_a_number_where_an_agent_id_is_expected_is_not_a_uuid(api, agent, ticket):
    response = api(agent).post(f"{TICKETS}{ticket.pk}/assign/", {"agent_id": 123}, format="json")
    assert assert_error(response, 400, "validation_error")["details"] == {"agent_id": ["Must be a valid UUID."]}


@pytest.mark.django_db
def test_an_accept_header_json_cannot_satisfy_is_not_acceptable(api, customer_a):
    response = api(customer_a).get(TICKETS, HTTP_ACCEPT="application/xml")
    assert response.status_code == 406 and response.json()["error"] == "not_acceptable"


@pytest.mark.django_db
def test_a_browser_gets_json_errors_not_the_browsable_api_in_production(api, customer_a, settings):
    settings.DEBUG = False
    client = api(customer_a)
    assert_error(client.get(TICKETS, HTTP_ACCEPT="text/html"), 406, "not_acceptable")
    assert_error(client.get(TICKETS + "?format=api"), 404, "not_found")
    browser = client.get(TICKETS, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert browser.status_code == 200 and browser["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_the_browsable_api_serves_developers_with_debug_on(api, customer_a, settings):
    settings.DEBUG = True
    response = api(customer_a).get(TICKETS, HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
