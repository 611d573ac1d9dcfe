"""The real URLs plus `/bench/bare/`: a DRF view with the same auth that does one indexed query."""

from typing import Any

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

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


# Under /api/ so that the same middleware (rate-limit counting in Redis) runs for it too.
urlpatterns = [path("api/bench/bare/", BareView.as_view()), *helpdesk_urlpatterns]
