"""The real URLs plus the bare views the benchmarks compare against.

`/api/bench/bare/`: a DRF view with the same auth that does one indexed query (bench/api.py).
`/bench/bare-inbound/`: the least a store-and-queue mail door can do, for `POST /mailgateway/raw/`
(bench/inbound.py, which creates the `bench_raw` table): check the token, INSERT the bytes, send
one Celery task to the broker.
"""

import hmac
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.celery import app as celery_app
from helpdesk.urls import urlpatterns as helpdesk_urlpatterns
from support.models import Ticket


class BareView(APIView):
    def get(self, request: Request) -> Response:
        row: dict[str, Any] | None = (
            Ticket.objects.filter(reference=request.query_params.get("ref", "SB-1001"))
            .values("id", "reference", "title", "status")
            .first()
        )
        return Response(row)


@csrf_exempt
@require_POST
def bare_inbound(request: HttpRequest) -> JsonResponse:
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), settings.INBOUND_RAW_TOKEN.encode()):
        return JsonResponse({"error": "not_authenticated"}, status=401)
    raw = request.read(settings.INBOUND_MAX_BYTES + 1)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_raw (raw) VALUES (%s) RETURNING id", [raw])
        (row_id,) = cursor.fetchone()
    celery_app.send_task("bench.bare_inbound", args=[row_id])  # no worker knows it: it only queues
    return JsonResponse({"id": row_id})


urlpatterns = [
    # Under /api/ so that the same middleware (rate-limit counting in Redis) runs for it too.
    path("api/bench/bare/", BareView.as_view()),
    path("bench/bare-inbound/", bare_inbound),
    *helpdesk_urlpatterns,
]
