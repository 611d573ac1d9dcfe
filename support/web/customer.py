"""The customer's pages: my tickets, a new ticket, the ticket page with its reply box, closing.

Each view translates HTTP into one service call (or one selector read); refusals of the
services become form errors. Staff who open a customer URL are sent to the console's page.
"""

from __future__ import annotations

from functools import lru_cache

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from support import message_files, selectors, services
from support.errors import DomainError
from support.models import Channel, Message, Source, Status
from support.references import reference_spellings
from support.signed_in import SignedInRequest

from .common import (
    add_domain_error,
    done,
    get_ticket_or_404,
    invalid,
    new_messages_response,
    poll_seconds,
    store_uploads,
    wants_json,
)
from .fieldhtml import fields_html
from .forms import MyTicketsForm, NewTicketForm, ReplyForm
from .present import render_conversation

PAGE_SIZE = 20
REPLY_FIELDS = ("message_text", "files")


def _staff_elsewhere(request: HttpRequest, reference: str | None = None) -> HttpResponse | None:
    if request.user.is_staff:
        return redirect("console-ticket", reference=reference) if reference else redirect("console-queue")
    return None


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("sign-in")
    return redirect("console-queue" if request.user.is_staff else "my-tickets")


@login_required
@require_GET
def my_tickets(request: SignedInRequest) -> HttpResponse:
    if (elsewhere := _staff_elsewhere(request)) is not None:
        return elsewhere
    form = MyTicketsForm(request.GET)
    tickets = selectors.ticket_list(request.user).order_by("-updated_at", "-id")
    if form.is_valid():
        if status := form.cleaned_data["status"]:
            tickets = tickets.filter(status=status)
        if category := form.cleaned_data["category"]:
            tickets = tickets.filter(category=category)
        if words := form.cleaned_data["q"].replace("\x00", "").strip():
            text = Message.objects.filter(ticket=OuterRef("pk"), is_internal=False, message_text__icontains=words)
            tickets = tickets.filter(
                Q(title__icontains=words)
                | Q(reference__in=reference_spellings(words, typed_loosely=True))
                | Exists(text)
            )
    page = Paginator(selectors.ticket_list_rows(tickets), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "support/customer/my_tickets.html",
        {"form": form, "page": page, "query": query.urlencode(), "filtered": bool(query)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def new_ticket(request: SignedInRequest) -> HttpResponse:
    template = "support/customer/new_ticket.html"
    if request.method == "GET":
        return render(request, template, {"form": NewTicketForm()})
    form = NewTicketForm(request.POST, request.FILES)
    if not form.is_valid():
        return invalid(request, form, template, {})
    data = form.cleaned_data
    try:
        with transaction.atomic():
            ticket = services.open_ticket(
                customer=request.user,
                title=data["title"],
                message_text=data["message_text"],
                category=data["category"],
                priority=data["priority"],
                source=Source.WEB,
                channel=Channel.WEB,
            )
            if data["files"]:
                first = ticket.messages.get()
                message_files.attach_to_message(
                    message=first, attachments=store_uploads(ticket, request.user, data["files"])
                )
    except DomainError as exc:
        add_domain_error(form, exc)
        return invalid(request, form, template, {})
    messages.success(request, f"Ticket {ticket.reference} is open. We answer here and by mail.")
    return done(request, reverse("customer-ticket", kwargs={"reference": ticket.reference}))


@lru_cache(maxsize=1)
def empty_reply_fields() -> SafeString:
    """The empty reply box is the same on every ticket: its HTML is built once per process."""
    return fields_html(ReplyForm(), REPLY_FIELDS)


def _ticket_page(
    request: SignedInRequest, reference: str, form: ReplyForm | None = None, status: int = 200
) -> HttpResponse:
    ticket = get_ticket_or_404(request.user, reference, with_people=False)
    conversation = selectors.conversation_rows(request.user, ticket)
    unread = services.mark_read(ticket=ticket, reader=request.user)
    context = {
        "ticket": ticket,
        "conversation": render_conversation(conversation, request.user, staff_view=False),
        "newest": conversation[-1]["created_at"].isoformat() if conversation else "",
        "form": form,
        "reply_fields": empty_reply_fields() if form is None else fields_html(form, REPLY_FIELDS),
        "unread_cleared": unread,
        "poll_seconds": poll_seconds(),
        "closed": ticket.status == Status.CLOSED,
    }
    return render(request, "support/customer/ticket.html", context, status=status)


@login_required
@require_GET
def ticket_page(request: SignedInRequest, reference: str) -> HttpResponse:
    if (elsewhere := _staff_elsewhere(request, reference)) is not None:
        return elsewhere
    return _ticket_page(request, reference)


@login_required
@require_POST
def reply(request: SignedInRequest, reference: str) -> HttpResponse:
    ticket = get_ticket_or_404(request.user, reference)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            with transaction.atomic():
                files = store_uploads(ticket, request.user, form.cleaned_data["files"])
                services.add_message(
                    ticket=ticket,
                    author=request.user,
                    message_text=form.cleaned_data["message_text"],
                    channel=Channel.WEB,
                    attachments=files,
                )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return done(request, reverse("customer-ticket", kwargs={"reference": ticket.reference}) + "#newest")
    if wants_json(request):
        return invalid(request, form, "", {})
    return _ticket_page(request, reference, form=form, status=400)


@login_required
@require_POST
def close(request: SignedInRequest, reference: str) -> HttpResponse:
    ticket = get_ticket_or_404(request.user, reference)
    if request.POST.get("confirm") != "yes":
        return render(request, "support/customer/close_confirm.html", {"ticket": ticket})
    try:
        services.change_ticket(ticket=ticket, actor=request.user, channel=Channel.WEB, status=Status.CLOSED)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Ticket {ticket.reference} is closed.")
    return redirect("customer-ticket", reference=ticket.reference)


@login_required
@require_GET
def updates(request: SignedInRequest, reference: str) -> HttpResponse:
    ticket = get_ticket_or_404(request.user, reference)
    return new_messages_response(request, ticket, staff_view=bool(request.user.is_staff))
