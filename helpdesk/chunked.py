"""Request bodies sent in chunks (`Transfer-Encoding: chunked`, no Content-Length).

Django reads a body only as far as its Content-Length, so a chunked body reached the views empty
and an API client streaming its JSON or its upload was told "This field is required". A server
that takes the chunks apart itself (gunicorn, which says so with `wsgi.input_terminated`) lets the
body be read to its end here: kept in a spooled file (in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE,
on disk past it), at most one byte more than the largest body any door takes, and handed to
Django with its length, so that every limit downstream sees it as if it had been declared.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from typing import Any

_COPY_BYTES = 64 * 1024


class ChunkedBodies:
    def __init__(self, app: Callable[..., Iterable[bytes]], *, largest_body: int, in_memory: int) -> None:
        self.app = app
        self.largest_body = largest_body
        self.in_memory = in_memory

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if is_unread_chunked_body(environ):
            body = tempfile.SpooledTemporaryFile(max_size=self.in_memory)  # noqa: SIM115 (the request owns it)
            remaining = self.largest_body + 1  # one more: over the limit is seen as over it
            while remaining > 0:
                piece = environ["wsgi.input"].read(min(_COPY_BYTES, remaining))
                if not piece:
                    break
                body.write(piece)
                remaining -= len(piece)
            environ["CONTENT_LENGTH"] = str(body.tell())
            body.seek(0)
            environ["wsgi.input"] = body
        return self.app(environ, start_response)


def is_unread_chunked_body(environ: dict[str, Any]) -> bool:
    chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
    return chunked and not environ.get("CONTENT_LENGTH") and bool(environ.get("wsgi.input_terminated"))
