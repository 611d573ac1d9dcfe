"""The staff console: the queue with views, filters, search, sorting and bulk actions; the
ticket page with reply / internal note, canned replies, controls, events and raw mail.

Reads come from `support.selectors` and `support.web.queue`; every change is one call to
`support.services` (or to `mailgateway.ingest` for quarantined mail, see `quarantine.py`).
"""

from __future__ import annotations

from functools import lru_cache, wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mailgateway.models import InboundEmail
from support import selectors, services
from support.errors import DomainError
from support.models import CannedReply, Channel, Ticket, User
from support.signed_in import SignedInRequest

from . import presence, queue
from .common import (
    add_domain_error,
    done,
    get_ticket_or_404,
    invalid,
    new_messages_response,
    poll_seconds,
    store_uploads,
    uuid_or_404,
    wants_json,
)
from .fieldhtml import Data, data_key, fields_html, query_of
from .forms import (
    AssignForm,
    BulkForm,
    CannedReplyForm,
    ChangeTicketForm,
    EscalateForm,
    QueueForm,
    StaffReplyForm,
    agent_choices,
)
from .present import render_conversation, render_queue_rows

PAGE_SIZE = 25


def staff_required(view: Any) -> Any:
    """Signed-out people go to the sign-in page; signed-in customers get a 403 page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("sign-in"))
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("The console is for staff.")
        return view(request, *args, **kwargs)

    return wrapper


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


# -- queue -------------------------------------------------------------------------------


QUEUE_FILTERS = ("q", "status", "priority", "category", "assignee", "escalated", "channel", "sort")
BULK_FIELDS = ("action", "agent", "status", "priority", "tag")
Agents = tuple[tuple[str, str], ...]


@lru_cache(maxsize=512)
def queue_filters(agents: Agents, data: Data) -> tuple[queue.QueueChoice, int, SafeString]:
    """The queue's filter form for these agents and this query: the choice, the page asked for,
    and the fields' HTML. Kept for the 512 latest distinct queries of the process, so the usual
    views and filters build and validate no form at all."""
    form = QueueForm(query_of(data), agents=list(agents))
    form.is_valid()  # an invalid value is shown as an error and that filter is not applied
    choice = queue.QueueChoice.from_cleaned(form.cleaned_data)
    return choice, form.cleaned_data.get("page") or 1, fields_html(form, QUEUE_FILTERS)


@lru_cache(maxsize=16)
def bulk_fields(agents: Agents) -> SafeString:
    return fields_html(BulkForm(agents=list(agents), ticket_ids=[]), BULK_FIELDS)


@staff_required
@require_GET
def queue_page(request: SignedInRequest) -> HttpResponse:
    state = queue.console_state(request.user)
    agents = tuple(state.agents)
    choice, asked, filters = queue_filters(agents, data_key(request.GET, QueueForm.base_fields))
    tickets = queue.queue_tickets(request.user, choice, reach=(asked + 1) * PAGE_SIZE, counts=state.counts)
    page = Paginator(tickets, PAGE_SIZE).get_page(asked)
    query = request.GET.copy()
    query.pop("page", None)
    views_query = query.copy()
    views_query.pop("view", None)
    return render(
        request,
        "support/console/queue.html",
        {
            "filters": filters,
            "page": page,
            "rows": render_queue_rows(list(page.object_list)),
            "choice": choice,
            "views": [(key, label, state.counts.get(key)) for key, label in queue.VIEW_LABELS.items()],
            "capped": page.paginator.count >= tickets.cap,
            "query": query.urlencode(),
            "views_query": views_query.urlencode(),
            "bulk": bulk_fields(agents),
            "next": request.get_full_path(),
        },
    )


@staff_required
@require_POST
def bulk(request: SignedInRequest) -> HttpResponse:
    ids = request.POST.getlist("tickets")
    form = BulkForm(request.POST, agents=agent_choices(), ticket_ids=ids)
    back = _back(request, reverse("console-queue"))
    if not ids:
        messages.error(request, "Select at least one ticket.")
        return redirect(back)
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[name].label if name in form.fields else 'Action'}: {' '.join(str(e) for e in errs)}"
            for name, errs in form.errors.items()
        )
        messages.error(request, f"Nothing changed. {problems}")
        return redirect(back)
    changed, refused = queue.apply_bulk(request.user, form.cleaned_data)
    if changed:
        messages.success(request, f"Changed {changed} ticket{'s' if changed != 1 else ''}.")
    for problem in refused:
        messages.error(request, problem)
    return redirect(back)


# -- ticket ------------------------------------------------------------------------------


def _ticket_context(request: SignedInRequest, ticket: Ticket) -> dict[str, Any]:
    agents = agent_choices()
    conversation = selectors.conversation_rows(request.user, ticket)
    raw_of = dict(
        InboundEmail.objects.filter(message_id__in=[row["id"] for row in conversation]).values_list("message_id", "id")
    )
    for row in conversation:
        row["raw_id"] = raw_of.get(row["id"])
    names = dict(agents)
    return {
        "ticket": ticket,
        "conversation": render_conversation(conversation, request.user, staff_view=True),
        "newest": conversation[-1]["created_at"].isoformat() if conversation else "",
        "events": queue.event_rows(ticket, names),
        "other_tickets": list(
            Ticket.objects.filter(customer_id=ticket.customer_id)
            .exclude(pk=ticket.pk)
            .order_by("-updated_at")
            .values("reference", "title", "status", "updated_at")[:10]
        ),
        "canned": list(CannedReply.objects.values("id", "title", "body")),
        "change": ChangeTicketForm(
            initial={
                "status": ticket.status,
                "priority": ticket.priority,
                "category": ticket.category,
                "tags": ", ".join(ticket.tags),
            }
        ),
        "assign": AssignForm(agents=agents, initial={"agent": str(ticket.assigned_agent_id or "")}),
        "escalate": EscalateForm(current=ticket.priority),
        "poll_seconds": poll_seconds(),
        "others": presence.others_on(ticket, request.user),
    }


def _render_ticket(request: SignedInRequest, ticket: Ticket, status: int = 200, **forms: Any) -> HttpResponse:
    context = _ticket_context(request, ticket)
    context["form"] = forms.pop("form", None) or StaffReplyForm()
    context.update(forms)
    return render(request, "support/console/ticket.html", context, status=status)


@staff_required
@require_GET
def ticket_page(request: SignedInRequest, reference: str) -> HttpResponse:
    ticket = get_ticket_or_404(request.user, reference)
    services.mark_read(ticket=ticket, reader=request.user)
    presence.note(ticket, request.user, typing=False)
    return _render_ticket(request, ticket)


@staff_required
@require_POST
def reply(request: SignedInRequest, reference: str) -> HttpResponse:
    ticket = get_ticket_or_404(request.user, reference)
    form = StaffReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            with transaction.atomic():
                files = store_uploads(ticket, request.user, form.cleaned_data["files"])
                services.add_message(
                    ticket=ticket,
                    author=request.user,
                    message_text=form.cleaned_data["message_text"],
                    channel=Channel.WEB,
                    is_internal=form.cleaned_data["kind"] == "note",
                    attachments=files,
                )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            presence.note(ticket, request.user, typing=False)
            return done(request, reverse("console-ticket", kwargs={"reference": ticket.reference}) + "#newest")
    if wants_json(request):
        return invalid(request, form, "", {})
    return _render_ticket(request, ticket, status=400, form=form)


@staff_required
@require_POST
def change(request: SignedInRequest, reference: str) -> HttpResponse:
    ticket = get_ticket_or_404(request.user, reference)
    form = ChangeTicketForm(request.POST)
    if form.is_valid():
        try:
            changed = services.change_ticket(
                ticket=ticket, actor=request.user, channel=Channel.WEB, **form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Saved." if changed else "Nothing changed.")
            return redirect("console-ticket", reference=ticket.reference)
    return _render_ticket(request, ticket, status=400, change=form)


@staff_required
@require_POST
def assign(request: SignedInRequest, reference: str) -> HttpResponse:
    ticket = get_ticket_or_404(request.user, reference)
    form = AssignForm(request.POST, agents=agent_choices())
    if form.is_valid():
        agent = User.objects.filter(pk=form.cleaned_data["agent"]).first() if form.cleaned_data["agent"] else None
        try:
            services.assign(ticket=ticket, actor=request.user, agent=agent, channel=Channel.WEB)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Assigned to {agent.display_name}." if agent else "Unassigned.")
            return redirect("console-ticket", reference=ticket.reference)
    return _render_ticket(request, ticket, status=400, assign=form)


@staff_required
@require_POST
def escalate(request: SignedInRequest, reference: str) -> HttpResponse:
    ticket = get_ticket_or_404(request.user, reference)
    form = EscalateForm(request.POST, current=ticket.priority)
    if form.is_valid():
        try:
            services.escalate(ticket=ticket, actor=request.user, channel=Channel.WEB, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Escalated.")
            return redirect("console-ticket", reference=ticket.reference)
    return _render_ticket(request, ticket, status=400, escalate=form)


@staff_required
@require_GET
def updates(request: SignedInRequest, reference: str) -> HttpResponse:
    ticket = get_ticket_or_404(request.user, reference)
    return new_messages_response(request, ticket, staff_view=True)


@staff_required
@require_POST
def presence_beat(request: SignedInRequest, reference: str) -> HttpResponse:
    """The open console page says every few seconds that this agent is here (and typing or not)."""
    ticket = get_ticket_or_404(request.user, reference)
    presence.note(ticket, request.user, typing=request.POST.get("typing") == "1")
    return JsonResponse({"others": presence.others_on(ticket, request.user)})


@staff_required
@require_GET
def raw_mail(request: HttpRequest, inbound_id: str) -> HttpResponse:
    """A mail as it arrived, as text, never rendered (a raw mail may hold anything)."""
    inbound = InboundEmail.objects.filter(pk=uuid_or_404(inbound_id)).only("raw").first()
    if inbound is None:
        raise Http404("No such mail.")
    response = HttpResponse(bytes(inbound.raw), content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# -- canned replies ------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def canned_list(request: SignedInRequest) -> HttpResponse:
    form = CannedReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_canned_reply(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Canned reply “{form.cleaned_data['title']}” saved.")
            return redirect("console-canned")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "support/console/canned.html", {"form": form, "replies": CannedReply.objects.all()}, status=status
    )


@staff_required
@require_http_methods(["GET", "POST"])
def canned_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    reply_ = CannedReply.objects.filter(pk=pk).first()
    if reply_ is None:
        raise Http404("No such canned reply.")
    if request.method == "POST" and request.POST.get("delete") == "yes":
        services.delete_canned_reply(actor=request.user, reply=reply_)
        messages.success(request, f"Canned reply “{reply_.title}” deleted.")
        return redirect("console-canned")
    form = CannedReplyForm(request.POST or None, initial={"title": reply_.title, "body": reply_.body})
    if request.method == "POST" and form.is_valid():
        try:
            services.save_canned_reply(actor=request.user, reply=reply_, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("console-canned")
    status = 400 if request.method == "POST" else 200
    return render(request, "support/console/canned_edit.html", {"form": form, "reply": reply_}, status=status)
