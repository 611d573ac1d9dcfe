"""The console's sent-mail page (DEV_OUTBOX): each mail the helpdesk sent, as its recipient got
it, and a form that answers it as that person through the inbound path (`mailgateway.dev_outbox`).
Without a mail provider this is how a new user sees the whole loop: open a ticket, read the
acknowledgement, answer it, see the answer land on the ticket."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from mailgateway import dev_outbox
from mailgateway.ingest import outcome_of
from mailgateway.models import OutboundEmail
from support.models import User
from support.signed_in import SignedInRequest

from .common import uuid_or_404
from .console import staff_required

PAGE_SIZE = 25
SHOWN_HEADERS: tuple[str, ...] = ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To")
SHOWN_HEADERS += ("References", "Auto-Submitted", "X-Auto-Response-Suppress")
MAX_REPLY_CHARS = 20_000
ANSWERABLE = ("sent", "delivered")
logger = logging.getLogger("support.web")


def _require_dev_outbox() -> None:
    if not dev_outbox.is_enabled():
        raise Http404("The sent-mail page is off (DEV_OUTBOX).")


@staff_required
@require_GET
def sent_mail_page(request: HttpRequest) -> HttpResponse:
    _require_dev_outbox()
    rows = OutboundEmail.objects.select_related("ticket").order_by("-created_at", "-id")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "support/console/sent_mail.html", {"page": page})


@staff_required
@require_http_methods(["GET", "POST"])
def sent_mail_detail(request: SignedInRequest, outbound_id: str) -> HttpResponse:
    _require_dev_outbox()
    outbound = OutboundEmail.objects.select_related("ticket", "recipient").filter(pk=uuid_or_404(outbound_id)).first()
    if outbound is None:
        raise Http404("No such mail.")
    refusal = why_not_answerable(outbound, request.user)
    text = request.POST.get("text", "").replace("\x00", "")
    error = ""
    if request.method == "POST":
        if refusal:
            error = refusal
        elif not text.strip():
            error = "Write the reply first."
        elif len(text) > MAX_REPLY_CHARS:
            error = f"A reply here is at most {MAX_REPLY_CHARS:,} characters."
        else:
            return _answer(request, outbound, text)
    sent = dev_outbox.sent_mail(outbound) if outbound.status in ANSWERABLE else None
    context: dict[str, object] = {"outbound": outbound, "mail": None, "refusal": refusal, "error": error}
    if sent is not None:
        context |= {
            "mail": sent.mail,
            "exact": sent.exact,
            "headers": [(name, str(sent.mail[name])) for name in SHOWN_HEADERS if sent.mail[name]],
            "text": dev_outbox.text_of(sent.mail),
            "reply_text": text,
        }
    return render(request, "support/console/sent_mail_detail.html", context, status=400 if error else 200)


def why_not_answerable(outbound: OutboundEmail, user: User) -> str:
    """Why this staff user may not answer this mail here, or "" when they may."""
    if outbound.status not in ANSWERABLE:
        why = f": {outbound.error[:300]}" if outbound.error else f" ({outbound.get_status_display().lower()})"
        return f"This mail was not sent{why.rstrip('.')}. There is nothing to answer."
    recipient = outbound.recipient
    if recipient is not None and recipient.is_staff and recipient.pk != user.pk:
        return "This mail went to another member of staff: answer only the mail sent to you, or a customer's."
    return ""


def _answer(request: SignedInRequest, outbound: OutboundEmail, text: str) -> HttpResponse:
    logger.info("dev outbox: %s answers outbound %s as %s", request.user.email, outbound.pk, outbound.to_address)
    inbound = dev_outbox.reply_as_recipient(outbound, text, now=timezone.now())
    outcome = outcome_of(inbound)
    summary = f"The reply as {outbound.to_address} was {outcome['status']}"
    if outcome.get("ticket"):
        summary += f" on {outcome['ticket']}"
    if outcome["status"] == "queued":
        summary += f": stored and left to the workers (processing failed: {inbound.error[:200]})"
    elif outcome.get("reason"):
        summary += f" ({outcome['reason']}: {inbound.detail})" if inbound.detail else f" ({outcome['reason']})"
    messages.info(request, summary + ".")
    if inbound.ticket:
        return redirect("console-ticket", reference=inbound.ticket.reference)
    return redirect("console-sent-mail-detail", outbound_id=outbound.pk)
