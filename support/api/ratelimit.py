"""Per-user rate limits on the API, with the three `X-RateLimit-*` headers on every response.

Two buckets: creating a ticket (30 a minute) and every other request (100 a minute), counted per
user (from the bearer token or the session) or, for anonymous callers, per client address, in
fixed one-minute windows in the cache (Redis in production, so all web processes share them).
It runs as middleware so that every answer under `/api/` carries the headers, 401s and 404s
included, and so that an oversized body is refused (400) before it is read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from helpdesk.cache import count_up
from support.generations import CACHE_ERRORS
from support.network import client_address, client_key

from .errors import API_PREFIX, json_error

logger = logging.getLogger(__name__)

_TICKET_CREATE_PATH = "/api/support/tickets/"
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        count, _, unit = text.partition("/")
        return cls(limit=int(count), period=_UNITS[unit.strip().lower()])


@dataclass(frozen=True)
class Verdict:
    limit: int
    remaining: int
    reset_at: int
    allowed: bool


def bucket_for(request: HttpRequest) -> tuple[str, Rate]:
    if request.method == "POST" and request.path == _TICKET_CREATE_PATH:
        return "create", Rate.parse(settings.RATE_LIMIT_TICKET_CREATE)
    return "default", Rate.parse(settings.RATE_LIMIT_DEFAULT)


def caller_of(request: HttpRequest) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.startswith("Bearer "):
        try:
            claims = AccessToken(header[7:].strip())
            return f"user:{claims['user_id']}"
        except (TokenError, KeyError):
            pass
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_key(client_address(request)) or 'unknown'}"


def count_request(bucket: str, caller: str, rate: Rate, now: float | None = None) -> Verdict:
    """This request counted in the caller's window. When the shared cache cannot be reached the
    request is let through uncounted (logged): a Redis outage must not take the API down with it."""
    now = time.time() if now is None else now
    window = int(now // rate.period) * rate.period
    key = f"ratelimit:{bucket}:{caller}:{window}"
    try:
        used = count_up(key, timeout=rate.period + 5)
    except CACHE_ERRORS:
        logger.warning("rate limit not counted: the cache cannot be reached", exc_info=True)
        used = 0
    return Verdict(
        limit=rate.limit,
        remaining=max(rate.limit - used, 0),
        reset_at=window + rate.period,
        allowed=used <= rate.limit,
    )


class ApiRateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        bucket, rate = bucket_for(request)
        verdict = count_request(bucket, caller_of(request), rate)
        if not verdict.allowed:
            response: HttpResponse = json_error(
                "rate_limit_exceeded",
                f"Too many requests: at most {rate.limit} per {rate.period} seconds. Try again later.",
                429,
            )
            response["Retry-After"] = str(max(verdict.reset_at - int(time.time()), 1))
        elif _declared_length(request) > largest_body():
            response = _body_too_large(request)
        else:
            response = self.get_response(request)
        response["X-RateLimit-Limit"] = str(verdict.limit)
        response["X-RateLimit-Remaining"] = str(verdict.remaining)
        response["X-RateLimit-Reset"] = str(verdict.reset_at)
        return response


def largest_body() -> int:
    """The largest body the API reads: its largest file and a form's worth around it."""
    return int(settings.ATTACHMENT_MAX_BYTES) + 1024 * 1024


def _body_too_large(request: HttpRequest) -> HttpResponse:
    """Refused before it is read: for an upload, the file is too large (the spec's 400); for any
    other body, the request is not valid (no field of the API takes that much)."""
    if request.content_type == "multipart/form-data":
        return json_error(
            "file_too_large",
            "The request body is larger than the largest allowed file.",
            400,
            {"file": [f"Files may be at most {settings.ATTACHMENT_MAX_BYTES} bytes."]},
        )
    return json_error(
        "validation_error",
        "The request body is too large.",
        400,
        {"body": [f"A request body may be at most {largest_body()} bytes."]},
    )


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
