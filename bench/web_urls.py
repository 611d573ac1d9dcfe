"""The real URLs plus `/bench/bare-web/`: a plain Django view behind the same middleware and
session sign-in as the web pages, doing one indexed query (bench/web.py compares against it)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from bench.urls import urlpatterns as bench_urlpatterns
from support.models import Ticket


@login_required
def bare_web(request: HttpRequest) -> HttpResponse:
    row = Ticket.objects.filter(reference=request.GET.get("ref", "SB-1001")).values("reference", "title").first()
    return HttpResponse(f"<p>{row['reference'] if row else ''}</p>")


urlpatterns = [path("bench/bare-web/", bare_web), *bench_urlpatterns]
