"""Helpers for the outbound tests: the mails the helpdesk sent, read back as a mail client would."""

from __future__ import annotations

import contextlib
import email
from email.message import EmailMessage
from email.policy import default
from email.utils import getaddresses
from typing import Any

from anymail.backends.test import EmailBackend
from anymail.exceptions import AnymailAPIError
from django.core import mail as django_mail

from mailgateway.addresses import find_reply_tokens
from mailgateway.tokens import verify_reply_token


def sent() -> list[EmailMessage]:
    """Every mail handed to Anymail's test backend so far, parsed from its bytes."""
    return [email.message_from_bytes(m.message().as_bytes(), policy=default) for m in django_mail.outbox]  # type: ignore[misc]


def sent_to(address: str) -> list[EmailMessage]:
    return [m for m in sent() if address.lower() in recipients(m)]


def recipients(message: EmailMessage) -> list[str]:
    return [a.lower() for _, a in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def token_owner(message: EmailMessage):  # type: ignore[no-untyped-def]
    """Whose reply token the mail's Reply-To carries (a TokenOwner), or None."""
    addresses = [a for _, a in getaddresses(message.get_all("Reply-To", []))]
    tokens = find_reply_tokens(addresses, support_address="support@example.com")
    return verify_reply_token(tokens[0]) if tokens else None


def reply_to(
    message: EmailMessage,
    *,
    sender: str,
    text: str = "Thanks, that works.",
    keep_reply_to: bool = True,
    keep_headers: bool = True,
    html: str | None = None,
) -> bytes:
    """The reply a mail client writes to `message`: To its Reply-To, with In-Reply-To/References."""
    from tests.mailbuilder import build_mail

    to = str(message["Reply-To"]) if keep_reply_to else "support@example.com"
    references = f"{message.get('References', '')} {message['Message-ID']}".strip()
    quoted = "\n".join(f"> {line}" for line in text_of(message).splitlines())
    return build_mail(
        sender=sender,
        to=to,
        subject=f"Re: {message['Subject']}",
        text=f"{text}\n\nOn Tue, someone wrote:\n{quoted}\n",
        html=html,
        in_reply_to=str(message["Message-ID"]) if keep_headers else None,
        references=references if keep_headers else None,
    )


def refuse_mail_to(monkeypatch, address: str, error: str = "the provider refused it") -> list[str]:  # type: ignore[no-untyped-def]
    """The provider (Anymail's test backend) refuses every mail to `address`; the tries it refused."""
    post = EmailBackend.post_to_esp
    tries: list[str] = []

    def refusing(self, payload, message):  # type: ignore[no-untyped-def]
        if message.to == [address]:
            tries.append(address)
            raise AnymailAPIError(error)
        return post(self, payload, message)

    monkeypatch.setattr(EmailBackend, "post_to_esp", refusing)
    return tries


def queue_lone_mails(count: int, *, guests: str = "guest", commit: Any = None) -> list[str]:
    """`count` queued mails, each the only mail of its event (a reply to one guest), oldest first;
    their ids. With `commit` (pytest-django's `django_capture_on_commit_callbacks`), each event is
    committed on its own and its on-commit work (the tasks it queues) runs."""
    from django.db import transaction

    from mailgateway.models import OutboundEmail, OutboundStatus
    from mailgateway.notifications import Notice, queue_notices
    from mailgateway.tokens import issue_reply_token
    from support.models import User
    from tests.builders import make_reply, make_ticket

    customer = User.objects.create_user(f"{guests}-customer@example.com", None, name="Asha Rai")
    ticket = make_ticket(customer)
    message = make_reply(ticket, customer, "The cleaner came at noon.")
    OutboundEmail.objects.filter(ticket=ticket).update(status=OutboundStatus.SKIPPED)  # not the backlog under test
    ids = []
    for n in range(count):
        guest = User.objects.create_user(f"{guests}{n}@example.com", None, name=f"Guest {n}")
        issue_reply_token(ticket_id=ticket.pk, person_id=guest.pk)  # mailed about it before (a first mail writes one)
        with commit(execute=True) if commit else contextlib.nullcontext(), transaction.atomic():
            (row,) = queue_notices(ticket=ticket, message=message, notices=[Notice(guest, "agent_reply", in_app=False)])
        ids.append(str(row.pk))
    return ids


def statuses(ids: list[str]) -> list[str]:
    """The status of each of these outbound mails, in their order."""
    from mailgateway.models import OutboundEmail

    found = {str(pk): status for pk, status in OutboundEmail.objects.filter(pk__in=ids).values_list("pk", "status")}
    return [found[i] for i in ids]
