"""Console metrics, read from tickets and their timestamps: open tickets by priority and status,
median first response and resolution times over a period, resolution rate, tickets per agent,
and opened vs resolved per day over the last 30 days, drawn as an inline SVG (no script, no
external service). A handful of aggregate queries whatever the number of tickets."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q
from django.db.models.functions import TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from support.models import Priority, Status, Ticket

from .console import staff_required
from .forms import MetricsForm

CHART_DAYS = 30
CHART_W, CHART_H, PAD = 640, 220, 32


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    opened_points: str
    resolved_points: str
    days: list[dict[str, Any]]
    y_max: int
    y_ticks: list[dict[str, Any]]
    x_labels: list[dict[str, Any]]


def _median_hours(since: datetime, start: str, end: str) -> float | None:
    took = ExpressionWrapper(F(end) - F(start), output_field=DurationField())
    spans = Ticket.objects.filter(**{"created_at__gte": since, f"{end}__isnull": False}).annotate(took=took)
    values = [d.total_seconds() / 3600 for d in spans.values_list("took", flat=True) if d is not None]
    return round(statistics.median(values), 1) if values else None


def per_day(field: str, first: date) -> dict[date, int]:
    rows = (
        Ticket.objects.filter(**{f"{field}__date__gte": first})
        .annotate(day=TruncDate(field))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    return dict(rows)


def build_chart(opened: dict[date, int], resolved: dict[date, int], today: date) -> Chart:
    """Pure: the points of two lines, one per series, over the last CHART_DAYS days."""
    days = [today - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]
    y_max = max([1, *(opened.get(d, 0) for d in days), *(resolved.get(d, 0) for d in days)])
    inner_w, inner_h = CHART_W - 2 * PAD, CHART_H - 2 * PAD

    def point(i: int, n: int) -> str:
        return f"{PAD + inner_w * i / (CHART_DAYS - 1):.1f},{PAD + inner_h * (1 - n / y_max):.1f}"

    rows = [{"day": d, "opened": opened.get(d, 0), "resolved": resolved.get(d, 0)} for d in days]
    ticks = sorted({0, y_max // 2, y_max})
    return Chart(
        width=CHART_W,
        height=CHART_H,
        opened_points=" ".join(point(i, opened.get(d, 0)) for i, d in enumerate(days)),
        resolved_points=" ".join(point(i, resolved.get(d, 0)) for i, d in enumerate(days)),
        days=rows,
        y_max=y_max,
        y_ticks=[{"value": t, "y": PAD + inner_h * (1 - t / y_max)} for t in ticks],
        x_labels=[
            {"x": PAD + inner_w * i / (CHART_DAYS - 1), "label": days[i].strftime("%d %b")}
            for i in range(0, CHART_DAYS, 7)
        ],
    )


def summary(days: int) -> dict[str, Any]:
    now = timezone.now()
    since = now - timedelta(days=days)
    active = Ticket.objects.filter(status__in=[Status.OPEN, Status.IN_PROGRESS])
    by_priority = dict(active.values_list("priority").annotate(n=Count("pk")).order_by())
    by_status = dict(Ticket.objects.values_list("status").annotate(n=Count("pk")).order_by())
    period = Ticket.objects.filter(created_at__gte=since).aggregate(
        opened=Count("pk"), resolved=Count("pk", filter=Q(status__in=[Status.RESOLVED, Status.CLOSED]))
    )
    agents = (
        Ticket.objects.filter(created_at__gte=since, assigned_agent__isnull=False)
        .values("assigned_agent__name", "assigned_agent__email")
        .annotate(n=Count("pk"), open=Count("pk", filter=Q(status__in=[Status.OPEN, Status.IN_PROGRESS])))
        .order_by("-n", "assigned_agent__email")
    )
    today = timezone.localdate()
    first = today - timedelta(days=CHART_DAYS - 1)
    return {
        "days": days,
        "by_priority": [(label, by_priority.get(value, 0)) for value, label in Priority.choices],
        "by_status": [(label, by_status.get(value, 0)) for value, label in Status.choices],
        "opened": period["opened"],
        "resolved": period["resolved"],
        "resolution_rate": round(100 * period["resolved"] / period["opened"]) if period["opened"] else None,
        "first_response_hours": _median_hours(since, "created_at", "first_response_at"),
        "resolution_hours": _median_hours(since, "created_at", "resolved_at"),
        "agents": list(agents),
        "chart": build_chart(per_day("created_at", first), per_day("resolved_at", first), today),
    }


@staff_required
@require_GET
def metrics_page(request: HttpRequest) -> HttpResponse:
    form = MetricsForm({"days": request.GET.get("days") or "30"})
    days = int(form.cleaned_data.get("days") or 30) if form.is_valid() else 30
    return render(request, "support/console/metrics.html", {"form": form, **summary(days)})
