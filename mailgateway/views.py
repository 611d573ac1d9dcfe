"""`POST /mailgateway/raw/`: one raw RFC 5322 message in the body, for an MTA or any script.

Authenticated with `Authorization: Bearer <INBOUND_RAW_TOKEN>`. The envelope may be given in
`X-Envelope-From` / `X-Envelope-To` headers. The answer comes after the mail is stored:
200 `{"id", "stored": "new" | "duplicate"}`; 400 for an empty body, 401 for a wrong token,
413 over `INBOUND_MAX_BYTES`, 503 when no token is configured (the door is closed).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Door
from .store import store_inbound


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": code, "message": message, "details": {}}, status=status)


@csrf_exempt
@require_POST
def receive_raw_mail(request: HttpRequest) -> JsonResponse:
    expected = settings.INBOUND_RAW_TOKEN
    if not expected:
        return _error("door_closed", "Set INBOUND_RAW_TOKEN to accept raw mail here.", 503)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _error("not_authenticated", "A valid bearer token is required.", 401)
    limit = settings.INBOUND_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _error("too_large", f"A message may be at most {limit} bytes.", 413)
    raw = request.read(limit + 1)  # the stream, not request.body: no in-memory upload limit applies
    if len(raw) > limit:
        return _error("too_large", f"A message may be at most {limit} bytes.", 413)
    if not raw.strip():
        return _error("validation_error", "The body must be one raw RFC 5322 message.", 400)
    stored = store_inbound(
        raw,
        door=Door.RAW,
        envelope_sender=request.headers.get("X-Envelope-From", ""),
        envelope_recipient=request.headers.get("X-Envelope-To", ""),
    )
    return JsonResponse({"id": str(stored.inbound.pk), "stored": "new" if stored.created else "duplicate"})
