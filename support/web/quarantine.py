"""The console's quarantine: quarantined mail with reason, sender and subject, its raw text, and
the staff decisions of `mailgateway.quarantine` (the same functions the Django admin's actions call)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mailgateway import quarantine as decisions
from mailgateway.models import InboundEmail, InboundStatus
from support import selectors
from support.errors import DomainError
from support.signed_in import SignedInRequest

from .common import uuid_or_404
from .console import staff_required

PAGE_SIZE = 25
LIST_FIELDS = ("id", "received_at", "from_address", "subject", "reason", "detail", "door", "ticket__reference")


@staff_required
@require_GET
def quarantine_page(request: HttpRequest) -> HttpResponse:
    rows = InboundEmail.objects.filter(status=InboundStatus.QUARANTINED).order_by("-received_at", "id")
    page = Paginator(rows.values(*LIST_FIELDS), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "support/console/quarantine.html", {"page": page})


@staff_required
@require_POST
def decide(request: SignedInRequest, inbound_id: str) -> HttpResponse:
    """accept (into the ticket it names, or the reference typed), new, reprocess or discard."""
    inbound = InboundEmail.objects.defer("raw").select_related("ticket").filter(pk=uuid_or_404(inbound_id)).first()
    if inbound is None:
        raise Http404("No such mail.")
    action = request.POST.get("action", "")
    label = inbound.subject or "(no subject)"
    try:
        if action == "accept":
            ticket = inbound.ticket
            if typed := request.POST.get("reference", "").strip():
                ticket = selectors.find_ticket(selectors.visible_tickets(request.user), typed)
                if ticket is None:
                    messages.error(request, f"“{label}”: there is no ticket {typed[:40]}.")
                    return redirect("console-quarantine")
            if ticket is None:
                messages.error(request, f"“{label}”: name the ticket to accept it into (for example SB-1042).")
                return redirect("console-quarantine")
            message = decisions.accept_into_ticket(inbound, ticket=ticket, actor=request.user)
            added = f"“{label}” was added to {message.ticket.reference}."
            sender = message.sender
            if (
                sender is not None
                and sender.is_active
                and not sender.is_staff
                and sender.pk != message.ticket.customer_id
            ):
                added += (
                    f" {sender.email} takes part in it: they get its public replies, and their mail to it"
                    " is added without quarantine."
                )
            messages.success(request, added)
        elif action == "new":
            message = decisions.open_as_new_ticket(inbound, actor=request.user)
            messages.success(request, f"“{label}” is now ticket {message.ticket.reference}.")
        elif action == "reprocess":
            outcome = decisions.reprocess(inbound)
            inbound.refresh_from_db(fields=["status", "reason"])
            messages.info(request, f"“{label}” processed again: {outcome} {inbound.reason}".strip())
        elif action == "discard":
            decisions.discard(inbound, actor=request.user)
            messages.success(request, f"“{label}” was discarded (kept as ignored).")
        else:
            messages.error(request, "Choose accept, new, reprocess or discard.")
    except DomainError as exc:
        messages.error(request, f"“{label}”: {exc.message}")
    return redirect("console-quarantine")
