"""Small helpers shared by the customer pages and the console."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime

from support import message_files, selectors, services
from support.errors import DomainError
from support.models import Attachment, Ticket, User
from support.signed_in import SignedInRequest

from .present import render_conversation

POLL_SECONDS_DEFAULT = 15


def poll_seconds() -> int:
    """How often an open ticket page asks for new messages (WEB_POLL_SECONDS, default 15)."""
    return int(getattr(settings, "WEB_POLL_SECONDS", POLL_SECONDS_DEFAULT))


def uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Http404("No such item.") from exc


def get_ticket_or_404(user: User, reference: str, *, with_people: bool = True) -> Ticket:
    """The ticket if this person may see it; anyone else's ticket is a plain 404 (never a 403).

    `with_people=False` skips joining the customer, the agent and the followed-up ticket, for a
    page that shows none of them (three joins cost more to build than the query takes to run)."""
    tickets = selectors.ticket_detail(user) if with_people else selectors.visible_tickets(user)
    ticket = selectors.find_ticket(tickets, reference)
    if ticket is None:
        raise Http404("No such ticket.")
    return ticket


def store_uploads(ticket: Ticket, uploader: User, uploads: Sequence[UploadedFile]) -> list[Attachment]:
    return [
        message_files.store_attachment(
            ticket=ticket, uploader=uploader, content=upload, filename=upload.name or "", size=upload.size or 0
        )
        for upload in uploads
    ]


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Put the service's refusal next to the field it names (or on top of the form)."""
    placed = False
    for field, problems in exc.details.items():
        name = {"attachment_ids": "files", "file": "files"}.get(field, field)
        if name in form.fields:
            for problem in problems:
                form.add_error(name, problem)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def wants_json(request: HttpRequest) -> bool:
    """The page's script sends uploads itself (to show progress) and asks for JSON back."""
    return "application/json" in request.headers.get("Accept", "")


def done(request: HttpRequest, location: str) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"location": location})
    return HttpResponseRedirect(location)


def invalid(request: HttpRequest, form: forms.Form, template: str, context: dict[str, Any]) -> HttpResponse:
    if wants_json(request):
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        return JsonResponse({"errors": errors}, status=400)
    return render(request, template, {**context, "form": form}, status=400)


def new_messages_response(request: SignedInRequest, ticket: Ticket, *, staff_view: bool) -> JsonResponse:
    """Messages after `?after=<ISO time of the newest message on the page>`, rendered as HTML."""
    try:
        after = parse_datetime(request.GET.get("after", "")) if request.GET.get("after") else None
    except ValueError:  # well formed but impossible, such as 30 February
        after = None
    if request.GET.get("after") and after is None:
        return JsonResponse({"error": "after must be an ISO 8601 time"}, status=400)
    messages = selectors.visible_messages(request.user).filter(ticket=ticket)
    if isinstance(after, datetime):
        messages = messages.filter(created_at__gt=after)
    rows = selectors.message_rows(messages)
    # The status and the unread counters as they are now, in one read: the ticket was read
    # before these messages, and one that came in between would otherwise stay unread although
    # it is on the page.
    ticket.refresh_from_db(fields=["status", "unread_by_staff", "unread_by_customer"])
    if rows:
        services.mark_read(ticket=ticket, reader=request.user)
    html = render_conversation(rows, request.user, staff_view=staff_view)
    return JsonResponse(
        {
            "count": len(rows),
            "html": html,
            "newest": rows[-1]["created_at"].isoformat() if rows else None,
            "status": ticket.status,
            "status_label": ticket.get_status_display(),
        }
    )
