"""Anymail's webhook URLs (`/anymail/<provider>/inbound/` and `/tracking/`), closed in production
until they are authenticated.

Anymail accepts a webhook without `WEBHOOK_SECRET` and only logs a warning. A webhook that
anyone can call lets anyone post mail as any customer onto their tickets, or mark their
addresses undeliverable with forged bounces; so with DEBUG off the doors answer 503 door_closed
until ANYMAIL_WEBHOOK_SECRET (the basic auth of the URLs, which every provider can send) is set
to something other than `.env.example`'s placeholder, as the raw door does without its token.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from anymail import urls as anymail_urls
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern

PLACEHOLDER = "change-me"


def closed_because() -> str:
    """Why the provider webhooks are closed, or "" when they are open."""
    if settings.DEBUG:
        return ""
    secret = getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET") or ""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not any(secrets):
        return "Set ANYMAIL_WEBHOOK_SECRET (user:password, the basic auth of the webhook URLs) to accept webhooks."
    if any(PLACEHOLDER in s for s in secrets):
        return "ANYMAIL_WEBHOOK_SECRET is still the example's placeholder: set a secret of your own."
    return ""


def _guarded(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def door(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        reason = closed_because()
        if reason:
            return JsonResponse({"error": "door_closed", "message": reason, "details": {}}, status=503)
        return view(request, *args, **kwargs)

    return door


def provider_webhook_urls() -> list[URLPattern]:
    """Anymail's own URL patterns, each behind the door. A pattern of another shape (an include)
    would be a door left open: the site refuses to start instead."""
    guarded = []
    for pattern in anymail_urls.urlpatterns:
        if not isinstance(pattern, URLPattern):
            raise ImproperlyConfigured(f"Anymail's URL {pattern!r} is not a plain pattern: it cannot be guarded.")
        guarded.append(URLPattern(pattern.pattern, _guarded(pattern.callback), pattern.default_args, pattern.name))
    return guarded
