"""Request bodies sent in chunks (`Transfer-Encoding: chunked`, no Content-Length).

Django reads a body only as far as its Content-Length, so a chunked body reached the views empty
and an API client streaming its JSON or its upload was told "This field is required". A server
that takes the chunks apart itself (gunicorn, which says so with `wsgi.input_terminated`) lets the
body be read to its end here: kept in a spooled file (in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE,
on disk past it, closed with the response), at most one byte more than the largest body the
address takes, and handed to Django with its length, so that every limit downstream sees it as if
it had been declared. A body that breaks off before its last chunk is a 400 here.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

logger = logging.getLogger(__name__)

_COPY_BYTES = 64 * 1024


class ChunkedBodies:
    def __init__(
        self, app: Callable[..., Iterable[bytes]], *, largest_body: Callable[[str], int], in_memory: int
    ) -> None:
        self.app = app
        self.largest_body = largest_body  # by path: the mail doors take more than the API
        self.in_memory = in_memory

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not is_unread_chunked_body(environ):
            return self.app(environ, start_response)
        body = tempfile.SpooledTemporaryFile(max_size=self.in_memory)  # noqa: SIM115 (closed with the response)
        try:
            _copy(environ["wsgi.input"], body, self.largest_body(str(environ.get("PATH_INFO", ""))) + 1)
        except Exception as exc:  # the client's stream broke off (gunicorn's chunk errors, a reset)
            body.close()
            logger.info("a chunked request body could not be read: %s", exc)
            return _unreadable(start_response)
        environ["CONTENT_LENGTH"] = str(body.tell())
        body.seek(0)
        environ["wsgi.input"] = body
        return _Closing(self.app(environ, start_response), body)


def is_unread_chunked_body(environ: dict[str, Any]) -> bool:
    chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
    return chunked and not environ.get("CONTENT_LENGTH") and bool(environ.get("wsgi.input_terminated"))


def _copy(source: Any, target: IO[bytes], most: int) -> None:
    """At most `most` bytes: one over the limit is enough for the limit to refuse the request."""
    while most > 0:
        piece = source.read(min(_COPY_BYTES, most))
        if not piece:
            return
        target.write(piece)
        most -= len(piece)


def _unreadable(start_response: Callable[..., Any]) -> list[bytes]:
    error = {"error": "validation_error", "message": "The request body broke off before its end.", "details": {}}
    payload = json.dumps(error).encode()
    start_response("400 Bad Request", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


class _Closing:
    """The application's response, which closes the spooled body when the server closes it."""

    def __init__(self, response: Iterable[bytes], body: IO[bytes]) -> None:
        self.response = response
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.response)

    def close(self) -> None:
        try:
            close = getattr(self.response, "close", None)
            if close is not None:
                close()
        finally:
            self.body.close()
