"""Processing one stored mail: parse, classify, route, extract, apply. Exactly once.

`process_stored_mail()` locks the `InboundEmail` row and does everything in one transaction:
either the ticket or message and the row's new status are written together, or nothing is
(a crash leaves the row `received`, and the retry starts from scratch). A row that is no longer
`received` is not processed again, so a task delivered twice does nothing the second time.

The middle steps are pure functions in `parsing`, `classify`, `routing` (reads only) and
`extraction` (with `quoting`, `html_text` and `sanitize`); this module holds the side effects.
"""

from __future__ import annotations

import logging
import traceback
from io import BytesIO
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from helpdesk import metrics
from support import message_files, services
from support.errors import DomainError
from support.models import Attachment, Channel, Message, Source, Ticket, User

from .addresses import is_support_address
from .authentication import fails_dmarc, sender_verdicts
from .classify import Ignore, classify
from .extraction import Extracted, extract
from .form_mail import FORM, as_written_by_form_user, form_route, is_form_mail
from .inbound_queries import find_sender, lock_inbound
from .models import InboundEmail, InboundStatus, OutboundEmail, UndeliverableAddress
from .parsing import ParsedEmail, parse_email
from .routing import Envelope, NewTicket, Quarantine, Reply, route_email
from .sanitize import link_inline_images
from .store import SMALL_RAW_BYTES, read_raw_mail

logger = logging.getLogger("mailgateway")

FINAL_FAILURE = InboundStatus.FAILED.value
# What processing writes back to the row (what the door stored stays as it was).
_PROCESSED_FIELDS = (
    *("message_id_header", "from_address", "subject", "auth_results", "status", "reason", "detail", "error"),
    *("attempts", "routed_by", "ticket", "message", "processed_at"),
)
NO_SUBJECT = "(no subject)"


# -- the task's work ------------------------------------------------------------------------


class _Refused(Exception):
    """Applying the mail broke a rule or a constraint; its transaction is no longer usable."""


def process_stored_mail(inbound_id: str, *, again: bool = False) -> str:
    """Process one stored mail; returns its status. `again` re-runs a quarantined or failed one.

    The apply runs without a savepoint of its own: nearly every mail applies cleanly, and a
    savepoint costs two round trips. When one does not (a duplicate message, a refused reply),
    the whole transaction is rolled back and the mail processed again, this time with the apply
    under a savepoint so that the refusal can be recorded.
    """
    try:
        return _process_locked(inbound_id, again=again, careful=False)
    except _Refused:
        return _process_locked(inbound_id, again=again, careful=True)


def _process_locked(inbound_id: str, *, again: bool, careful: bool) -> str:
    with transaction.atomic():
        # The raw mail is not a field of the row we hold: it is read once and never written back
        # (a save of a row that holds it would send the whole mail to the database again). A small
        # mail comes with the locking read itself; a large one is read in the binary protocol.
        inbound = lock_inbound(inbound_id, small_raw_bytes=SMALL_RAW_BYTES)
        if inbound is None:
            return "missing"
        if inbound.status != InboundStatus.RECEIVED and not again:
            return inbound.status
        inbound.attempts += 1
        inbound.reason = inbound.detail = inbound.error = ""
        raw = inbound.small_raw  # type: ignore[attr-defined]
        _process(inbound, bytes(raw) if raw is not None else read_raw_mail(inbound.pk), careful=careful)
        inbound.processed_at = timezone.now()
        inbound.save(update_fields=_PROCESSED_FIELDS)
        metrics.count_outcome(inbound.status, inbound.reason)
    logger.info("inbound %s: %s %s", inbound.pk, inbound.status, inbound.reason)
    return inbound.status


def process_now(inbound_id: str) -> bool:
    """Process a stored mail before answering (a door that waits for the outcome); False when
    processing broke, and the mail, its error kept, stays queued for the workers' retries."""
    try:
        process_stored_mail(inbound_id)
    except Exception as exc:
        logger.exception("processing inbound mail %s failed; left to the workers", inbound_id)
        record_failure(inbound_id, exc, final=False)
        return False
    return True


def record_failure(inbound_id: str, exc: BaseException, *, final: bool) -> None:
    """Keep the error with the mail; after the last retry the mail is `failed`, for staff to see."""
    error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
    with transaction.atomic():
        inbound = InboundEmail.objects.select_for_update().filter(pk=inbound_id).first()
        if inbound is None or inbound.status != InboundStatus.RECEIVED:
            return
        inbound.attempts += 1
        inbound.error = error
        if final:
            inbound.status = InboundStatus.FAILED
            inbound.reason = "processing_error"
            inbound.processed_at = timezone.now()
        inbound.save(update_fields=["attempts", "error", "status", "reason", "processed_at"])
        if final:
            metrics.count_outcome(InboundStatus.FAILED)


def outcome_of(inbound: InboundEmail) -> dict[str, Any]:
    """The stored mail's result in the words of `ingest_email --json`."""
    said: dict[str, str] = {
        InboundStatus.RECEIVED: "queued",
        InboundStatus.IGNORED: "ignored",
        InboundStatus.QUARANTINED: "quarantined",
        InboundStatus.FAILED: "failed",
    }
    status = said.get(inbound.status)
    if status is None:  # processed
        status = "created" if inbound.routed_by in ("new", "follow_up") else "appended"
    result: dict[str, Any] = {"status": status}
    if inbound.ticket:
        result["ticket"] = inbound.ticket.reference
    if inbound.message_id:
        result["message"] = str(inbound.message_id)
    if inbound.reason:
        result["reason"] = inbound.reason
    return result


def parse_mail(raw: bytes) -> tuple[ParsedEmail, bool]:
    """The parsed mail, written by the person in its Reply-To when one of the site's forms sent it;
    and whether it was (the person is then only who the form was told they are)."""
    parsed = parse_email(raw)
    via_form = is_form_mail(parsed, settings.INBOUND_FORM_SENDERS)
    return (as_written_by_form_user(parsed, settings.INBOUND_FORM_SENDERS) if via_form else parsed), via_form


def _process(inbound: InboundEmail, raw: bytes, *, careful: bool = True) -> None:
    try:
        mail, via_form = parse_mail(raw)
    except Exception as exc:  # the bytes are not mail the parser can read: staff decide
        set_outcome(inbound, InboundStatus.QUARANTINED, "malformed", f"The mail could not be parsed: {exc}"[:2000])
        return
    verdicts = sender_verdicts(mail.headers, inbound.provider_verdicts)
    inbound.from_address = mail.from_address
    inbound.subject = mail.subject
    inbound.auth_results = verdicts
    if not inbound.message_id_header and mail.message_id:
        inbound.message_id_header = mail.message_id

    sender, recent = find_sender(inbound, mail.from_address) if mail.from_address else (None, 0)
    ignored = classify(
        mail,
        envelope_sender=inbound.envelope_sender or None,
        provider_verdicts=inbound.provider_verdicts,
        support_address=settings.SUPPORT_ADDRESS,
        ignored_senders=settings.INBOUND_IGNORE_SENDERS,
    ) or _flood(mail, sender, recent)
    if ignored is not None:
        set_outcome(inbound, InboundStatus.IGNORED, ignored.reason, ignored.detail)
        if ignored.reason == "bounce":
            _note_bounce(inbound, mail)
        return
    if not mail.from_address:
        set_outcome(inbound, InboundStatus.QUARANTINED, "no_sender", "The mail has no usable From address.")
        return

    route = (
        form_route(mail, sender, verdicts)
        if via_form
        else route_email(
            Envelope(
                sender_address=mail.from_address,
                recipients=(*mail.to, *(a for _, a in mail.cc), *mail.delivered_to, inbound.envelope_recipient),
                in_reply_to=mail.in_reply_to,
                references=mail.references,
                subject=mail.subject,
                dmarc_failed=fails_dmarc(verdicts),
                sender_unverified=mail.headers_repaired and verdicts.get("dmarc") != "pass",
            ),
            sender=sender,
        )
    )
    if isinstance(route, Quarantine):
        set_outcome(inbound, InboundStatus.QUARANTINED, route.reason, route.detail)
        inbound.ticket = route.ticket
        return
    extracted = extract(mail)
    if not careful:
        try:
            apply_route(inbound, mail, route, extracted, careful=False)
        except (IntegrityError, DomainError) as exc:
            raise _Refused from exc
        return
    try:
        with transaction.atomic():
            apply_route(inbound, mail, route, extracted)
    except IntegrityError:
        # The same mail is already a message on that ticket (it came in through another mailbox
        # or door): one mail, one message.
        existing = _existing_message(inbound, mail, route)
        if existing is None:
            raise
        set_outcome(inbound, InboundStatus.IGNORED, "duplicate", "This mail is already on the ticket.")
        inbound.ticket_id, inbound.message = existing.ticket_id, existing
    except DomainError as exc:
        set_outcome(inbound, InboundStatus.QUARANTINED, "rejected", str(exc))
        inbound.ticket = getattr(route, "ticket", None)


def set_outcome(inbound: InboundEmail, status: str, reason: str, detail: str) -> None:
    inbound.status, inbound.reason, inbound.detail = status, reason, detail[:2000]


# -- applying through the domain services ---------------------------------------------------


def apply_route(
    inbound: InboundEmail,
    mail: ParsedEmail,
    route: NewTicket | Reply,
    extracted: Extracted,
    *,
    staff_mail: bool = True,
    careful: bool = True,
) -> None:
    """`staff_mail=False` (staff vouched for a quarantined mail): a staff sender's mail is posted as
    written, without commands or the out-of-date hold. `careful=False`: a new sender is created
    without a savepoint (see `process_stored_mail()`)."""
    if isinstance(route, NewTicket):
        # No author: routing looked the sender up and found no account.
        customer = route.author or new_person(mail.from_address, mail.from_name, savepoint=careful)
        ticket = services.open_ticket(
            customer=customer,
            title=_title(mail.subject),
            message_text=extracted.text,
            source=Source.EMAIL,
            channel=Channel.EMAIL,
            html=extracted.html,
            email_message_id=mail.message_id,
            follow_up_of=route.follow_up_of,
            routed_by=route.routed_by,
        )
        message = ticket.messages.get()
        author = customer
        routed_by = "follow_up" if route.follow_up_of else "new"
    else:
        ticket, author, routed_by = route.ticket, route.author, route.routed_by
        if author.is_staff and staff_mail:  # an agent answering by mail: commands, notes, held replies
            from .agent_mail import apply_staff_mail

            outcome = apply_staff_mail(
                inbound=inbound,
                mail=mail,
                ticket=ticket,
                agent=author,
                routed_by=routed_by,
                text=extracted.text,
            )
            if outcome.message is None:  # only commands, refused commands, or a held reply
                set_outcome(inbound, InboundStatus.PROCESSED, outcome.reason, outcome.detail)
                inbound.routed_by, inbound.ticket = routed_by, ticket
                return
            message = outcome.message
        else:
            message = services.add_message(
                ticket=ticket,
                author=author,
                message_text=extracted.text,
                channel=Channel.EMAIL,
                html="" if author.is_staff else extracted.html,  # see apply_staff_mail: text only
                email_message_id=mail.message_id,
                routed_by=routed_by,
            )
    _keep_files(message, author, extracted)
    if not author.is_staff and route.routed_by != FORM:  # a form's Cc is whatever someone typed
        _add_cc_participants(ticket, author, mail)
    inbound.status = InboundStatus.PROCESSED
    inbound.routed_by = routed_by
    inbound.ticket = ticket
    inbound.message = message


def _keep_files(message: Message, author: User, extracted: Extracted) -> None:
    stored: dict[str, Attachment] = {}
    kept = []
    for item in extracted.files:
        attachment = message_files.store_attachment(
            ticket=message.ticket,
            uploader=author,
            content=BytesIO(item.data),
            filename=item.filename,
            size=len(item.data),
            content_id=item.content_id,
        )
        kept.append(attachment)
        if item.content_id:
            stored[item.content_id] = attachment
    if not kept:
        if message.html and "cid:" in message.html:
            message_files.set_message_html(message=message, html=link_inline_images(message.html, {}))
        return
    html = message.html
    if html and stored:
        html = link_inline_images(html, {cid: _download_url(a) for cid, a in stored.items()})
    message_files.attach_to_message(message=message, attachments=kept, html=html)


def _download_url(attachment: Attachment) -> str:
    return reverse("api-attachment-download", kwargs={"attachment_id": attachment.pk})


def person_for(address: str, name: str = "") -> User:
    """The user with this address; an unknown sender becomes a customer who has no password."""
    user = User.objects.with_email(address).first()
    return user if user is not None else new_person(address, name)


def new_person(address: str, name: str = "", *, savepoint: bool = True) -> User:
    """A customer with no password for a sender just looked up and not found. Without a
    savepoint, the same new sender in two mails at once is an IntegrityError for the caller."""
    if not savepoint:
        return User.objects.create_user(email=address, password=None, name=name[:150])
    try:
        with transaction.atomic():
            return User.objects.create_user(email=address, password=None, name=name[:150])
    except IntegrityError:  # the same new sender in two mails at once
        return User.objects.with_email(address).get()


def _add_cc_participants(ticket: Ticket, author: User, mail: ParsedEmail) -> None:
    people = [
        person_for(address, name)
        for name, address in mail.cc
        if not is_support_address(address, support_address=settings.SUPPORT_ADDRESS) and address != author.email.lower()
    ][:20]
    if people:
        services.add_participants(ticket=ticket, people=people, actor=author, channel=Channel.EMAIL)


def _title(subject: str) -> str:
    title = " ".join(subject.split())[:255]
    return title or NO_SUBJECT


def _existing_message(inbound: InboundEmail, mail: ParsedEmail, route: NewTicket | Reply) -> Message | None:
    if not mail.message_id:
        return None
    found = Message.objects.filter(
        email_message_id=mail.message_id, sender__in=User.objects.with_email(mail.from_address)
    )
    return found.order_by("created_at").first()


# -- floods and bounces ---------------------------------------------------------------------


def _flood(mail: ParsedEmail, sender: User | None, recent: int) -> Ignore | None:
    """`recent`: the sender's other mails processed within the hour."""
    limit = settings.INBOUND_FLOOD_PER_HOUR
    if not mail.from_address or limit <= 0:
        return None
    if sender is not None and sender.is_staff and sender.is_active:
        return None
    if recent >= limit:
        return Ignore("flood", f"{mail.from_address} sent more than {limit} mails within an hour.")
    return None


def _note_bounce(inbound: InboundEmail, mail: ParsedEmail) -> None:
    """A permanent bounce of a mail we sent: that address gets no more mail."""
    report = mail.report
    if report is None or not report.permanent or not report.original_message_id:
        return
    # Acknowledgements and notices carry ids of their own, kept on their OutboundEmail rows; those
    # rows also say to whom each went, so a bounce can mark only an address that mail went to.
    sent_to = {
        a.lower()
        for a in OutboundEmail.objects.filter(message_id_header=report.original_message_id).values_list(
            "to_address", flat=True
        )
    }
    if not sent_to and not Message.objects.filter(email_message_id=report.original_message_id).exists():
        return  # a bounce of something we never sent is not evidence about anyone
    for address in report.failed_recipients:
        if sent_to and address.lower() not in sent_to:
            continue
        UndeliverableAddress.objects.get_or_create(
            address=address,
            defaults={
                "reason": "bounce",
                "detail": f"Permanent failure for {report.original_message_id}"[:2000],
                "inbound": inbound,
            },
        )
