"""The embedded default's outbox: read the mail the helpdesk sent, and answer it as its recipient.

Without a mail provider the whole loop is still there to try: the file backend writes each mail
under `EMAIL_FILE_PATH`, the console shows it (`/console/sent-mail/`), and a reply typed there is
built the way a mail client builds one (to the mail's Reply-To, with In-Reply-To, References and
the quoted original) and goes in through the same store-then-process path as every door.

On only where `DEV_OUTBOX` is set (by default when `DEBUG` is): a staff user writing as a
customer is a test tool, never a production feature.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

from django.conf import settings

from .models import InboundEmail, OutboundEmail
from .outbound_reads import quote

# The file backend ends every mail it writes with a line of 79 dashes; a line of 79 dashes inside
# a mail's text is not the end of it unless the next mail's first header (or the file's end) follows.
_FILE_SEPARATOR = re.compile(rb"\n-{79}\n(?=Content-Type: |MIME-Version: |\Z)")
# How many of the newest files are searched for a mail.
SEARCHED_FILES = 500


def is_enabled() -> bool:
    return bool(settings.DEV_OUTBOX)


@dataclass(frozen=True)
class SentMail:
    mail: EmailMessage
    exact: bool  # as the backend wrote it; else composed again from the ticket as it is now


def sent_mail(outbound: OutboundEmail) -> SentMail | None:
    """The mail as the file backend wrote it; composed again when no file holds it (another
    backend, or the files were removed); None when it can be neither (its recipient is gone)."""
    written = find_written_mail(outbound.message_id_header, Path(settings.EMAIL_FILE_PATH), to=outbound.to_address)
    if written is not None:
        return SentMail(written, exact=True)
    if outbound.recipient_id is None:
        return None
    from .outbound import compose
    from .outbound_reads import outbound_rows

    row = outbound_rows().get(pk=outbound.pk)
    composed = compose(row).message()
    return SentMail(email.message_from_bytes(composed.as_bytes(), policy=email.policy.default), exact=False)


def find_written_mail(
    message_id: str, folder: Path, *, to: str = "", searched: int = SEARCHED_FILES
) -> EmailMessage | None:
    """The mail with this Message-ID (and, given `to`, to that address) among the newest files the
    file backend wrote, or None. One Message-ID goes to several people: a message written here
    lends its id to every mail that carries it, each with the recipient's own Reply-To."""
    if not message_id or not folder.is_dir():
        return None
    needle = message_id.encode("ascii", "replace")
    files = sorted(folder.glob("*.log"), key=lambda path: path.stat().st_mtime, reverse=True)[:searched]
    for path in files:
        data = path.read_bytes()
        if needle not in data:
            continue
        for part in _FILE_SEPARATOR.split(data):
            if needle in part:
                mail = email.message_from_bytes(part.strip(b"\n") + b"\n", policy=email.policy.default)
                if str(mail.get("Message-ID", "")).strip() == message_id and _is_to(mail, to):
                    return mail
    return None


def _is_to(mail: EmailMessage, address: str) -> bool:
    if not address:
        return True
    return _ascii(address) in {_ascii(a.addr_spec) for a in getattr(mail.get("To"), "addresses", ())}


def _ascii(address: str) -> str:
    """An address as the backend writes it: an internationalised domain in its punycode."""
    local, _, domain = address.strip().lower().rpartition("@")
    with contextlib.suppress(UnicodeError):  # not a domain IDNA can write: compared as it is
        domain = domain.encode("idna").decode("ascii")
    return f"{local}@{domain}"


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""


def build_reply(original: EmailMessage, *, sender: str, sender_name: str, text: str, now: datetime) -> bytes:
    """The raw reply a mail client writes to `original`: to its Reply-To (else its From), Re: and
    the subject, In-Reply-To and References, the text over the quoted original. Pure."""
    reply = EmailMessage(policy=email.policy.SMTP)
    reply["From"] = formataddr((sender_name, sender))
    reply["To"] = answer_address(original)
    subject = str(original.get("Subject", ""))
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply["Date"] = format_datetime(now)
    reply["Message-ID"] = make_msgid(domain="dev-outbox.invalid")
    answered = str(original.get("Message-ID", "")).strip()
    if answered:
        reply["In-Reply-To"] = answered
        reply["References"] = " ".join([*str(original.get("References", "")).split(), answered])
    written = format_datetime(original["Date"].datetime) if original.get("Date") else "earlier"
    reply.set_content(
        f"{text.strip()}\n\nOn {written}, {original.get('From', '')} wrote:\n{quote(text_of(original))}\n"
    )
    return reply.as_bytes()


def answer_address(original: EmailMessage) -> str:
    """Where a reply to this mail goes: its Reply-To, else its From."""
    return str(original.get("Reply-To") or original.get("From") or "")


def reply_as_recipient(outbound: OutboundEmail, text: str, *, now: datetime) -> InboundEmail:
    """Answer a sent mail as the person it went to, through the inbound path; the stored mail,
    processed (its status says where it went). A processing error leaves it stored and queued
    for the workers' retries, as every door does."""
    from .ingest import process_now
    from .models import Door
    from .store import store_inbound

    found = sent_mail(outbound)
    if found is None:
        raise ValueError(f"outbound mail {outbound.pk} cannot be shown: no file holds it and its recipient is gone")
    original = found.mail
    name = outbound.recipient.name if outbound.recipient is not None else ""
    raw = build_reply(original, sender=outbound.to_address, sender_name=name, text=text, now=now)
    recipient = email.utils.parseaddr(answer_address(original))[1]
    stored = store_inbound(raw, door=Door.DEV_OUTBOX, envelope_sender=outbound.to_address, envelope_recipient=recipient)
    process_now(str(stored.inbound.pk))
    stored.inbound.refresh_from_db()
    return stored.inbound
