"""A body sent in chunks (`Transfer-Encoding: chunked`, no Content-Length) reaches the views whole,
through a real gunicorn: Django alone read it as empty, and a client streaming its JSON was told
that every field was missing."""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpdesk.chunked import ChunkedBodies
from tests.mailbuilder import build_mail
from tests.workerkit import ROOT, free_port, wait_for

RAW_TOKEN = "raw-door-token-for-the-chunked-tests"
LARGEST_MAIL = 4000  # INBOUND_MAX_BYTES of the server under test
ATTACHMENT_MAX = 1024  # its ATTACHMENT_MAX_BYTES: the API takes bodies of up to 1 MiB more


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("chunked")
    port = free_port()
    env = {
        # Not PROMETHEUS_MULTIPROC_DIR, even empty: prometheus_client would write counter_<pid>.db
        # files into the working folder.
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"}},
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "DEBUG": "false",
        "SECRET_KEY": "chunked-" + "k" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "INBOUND_RAW_TOKEN": RAW_TOKEN,
        "INBOUND_MAX_BYTES": str(LARGEST_MAIL),
        "ATTACHMENT_MAX_BYTES": str(ATTACHMENT_MAX),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    log = Path(folder / "gunicorn.log").open("w+")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [python, "-m", "gunicorn", "helpdesk.wsgi", "-c", "python:helpdesk.gunicorn_config"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for(lambda: _answers(port), timeout=30, what="gunicorn", log=lambda: Path(log.name).read_text())
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _answers(port: int) -> bool:
    try:
        return post_chunked(port, "/healthz", [], method="GET")[0] == 200
    except OSError:
        return False


def post_chunked(port: int, path: str, pieces: list[bytes], *, headers: dict[str, str] | None = None,
                 method: str = "POST") -> tuple[int, dict]:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        if method == "GET":
            conn.request("GET", path)
        else:
            conn.request(method, path, body=iter(pieces), headers=headers or {}, encode_chunked=True)
        response = conn.getresponse()
        body = response.read()
        return response.status, (json.loads(body) if body.startswith(b"{") else {})
    finally:
        conn.close()


def in_pieces(data: bytes, size: int = 100) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


RAW = {"Authorization": f"Bearer {RAW_TOKEN}", "Content-Type": "message/rfc822"}


def test_a_mail_posted_in_chunks_to_the_raw_door_is_stored_whole(gunicorn):
    mail = build_mail(subject="Sent in chunks", text="The plumber did not come." * 20)
    status, body = post_chunked(gunicorn, "/mailgateway/raw/", in_pieces(mail), headers=RAW)
    assert (status, body.get("stored")) == (200, "new"), body
    again = post_chunked(gunicorn, "/mailgateway/raw/", [mail], headers={**RAW, "Content-Length": str(len(mail))})
    assert again[1].get("stored") == "duplicate"  # the same bytes as when they were sent in one piece


def test_json_sent_in_chunks_is_read_whole(gunicorn):
    credentials = json.dumps({"email": "nobody@example.com", "password": "not-this"}).encode()
    status, body = post_chunked(
        gunicorn, "/api/auth/token/", in_pieces(credentials, 7), headers={"Content-Type": "application/json"}
    )
    # Read whole: the credentials are checked and refused; read empty, both fields were "missing" (400).
    assert (status, body["error"]) == (401, "not_authenticated"), body


def test_a_chunked_body_over_the_largest_a_door_takes_is_refused_as_too_large(gunicorn):
    mail = build_mail(text="x" * (2 * LARGEST_MAIL))
    status, body = post_chunked(gunicorn, "/mailgateway/raw/", in_pieces(mail, 1000), headers=RAW)
    assert (status, body["error"]) == (413, "too_large")


def test_a_chunked_api_body_over_the_api_s_limit_is_refused_unread(gunicorn):
    """The API's limit, not the mail doors' larger one."""
    big = json.dumps({"email": "a@example.com", "password": "x" * (1024 * 1024 + ATTACHMENT_MAX + 10)}).encode()
    status, body = post_chunked(gunicorn, "/api/auth/token/", in_pieces(big, 64 * 1024), headers=JSON)
    assert (status, body["error"]) == (400, "validation_error") and "body" in body["details"]


JSON = {"Content-Type": "application/json"}


# The wrapper alone, around an application that reports what it was given.


def echo(environ, start_response):
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{environ.get('CONTENT_LENGTH', '')}|{len(body)}".encode()]


def gunicorn_environ(stream, *, path="/api/x/", terminated=True):
    environ = {"PATH_INFO": path, "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": stream}
    if terminated:
        environ["wsgi.input_terminated"] = True
    return environ


def call(app, environ):
    answer = {}
    body = b"".join(app(environ, lambda status, headers: answer.update(status=status, headers=dict(headers))))
    return answer["status"], body


def test_a_chunked_body_is_read_to_one_byte_over_the_address_s_limit():
    app = ChunkedBodies(echo, largest_body=lambda path: 10 if path.startswith("/api/") else 100, in_memory=16)
    assert call(app, gunicorn_environ(io.BytesIO(b"x" * 50))) == ("200 OK", b"11|11")
    assert call(app, gunicorn_environ(io.BytesIO(b"x" * 50), path="/mailgateway/raw/")) == ("200 OK", b"50|50")


def test_a_body_that_breaks_off_is_a_400_and_never_reaches_the_application():
    class BrokenOff(io.RawIOBase):
        def read(self, size=-1):
            raise OSError("the client went away in the middle of a chunk")

    reached = []
    app = ChunkedBodies(lambda *a: reached.append(a) or [], largest_body=lambda path: 100, in_memory=16)
    status, body = call(app, gunicorn_environ(BrokenOff()))
    assert status.startswith("400") and json.loads(body)["error"] == "validation_error" and not reached


def test_a_server_that_did_not_take_the_chunks_apart_is_left_alone():
    app = ChunkedBodies(echo, largest_body=lambda path: 100, in_memory=16)
    assert call(app, gunicorn_environ(io.BytesIO(b""), terminated=False)) == ("200 OK", b"|0")


def test_the_kept_body_is_closed_with_the_response():
    app = ChunkedBodies(echo, largest_body=lambda path: 100, in_memory=16)
    environ = gunicorn_environ(io.BytesIO(b"x" * 50))
    response = app(environ, lambda *a: None)
    kept = environ["wsgi.input"]
    assert not kept.closed
    response.close()
    assert kept.closed
