"""Mail that the site's own forms send: the person who wrote it is in its Reply-To. Pure.

A contact form or an app's feedback screen mails the helpdesk From the site's own address
(`noreply@sewabazaar.com`) with the person who filled it in as Reply-To. Read as it stands, every
such mail would be one customer's, the form's. For the senders the operator lists in
`INBOUND_FORM_SENDERS`, the mail is taken as written by its single Reply-To address instead.
Nothing proves that address (the form took it as typed), so such mail only ever opens a new
ticket (`form_route()`): it never threads into that person's tickets by subject or headers, never
counts as staff's, and its Cc adds nobody. A mail that claims to come from the form but fails
DMARC is a forgery and is quarantined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from .addresses import normalize_address
from .authentication import fails_dmarc
from .parsing import ParsedEmail
from .routing import NewTicket, Quarantine

# `routed_by` of the message a form's mail opens a ticket with.
FORM = "form"


def is_form_mail(mail: ParsedEmail, form_senders: Iterable[str]) -> bool:
    """From one of the listed form senders, with exactly one other person in Reply-To."""
    listed = {normalize_address(a) for a in form_senders} - {""}
    if not mail.from_address or mail.from_address not in listed or len(mail.reply_to) != 1:
        return False
    return mail.reply_to[0][1] not in ("", mail.from_address)


def as_written_by_form_user(mail: ParsedEmail, form_senders: Iterable[str]) -> ParsedEmail:
    """The mail with its Reply-To person as the sender when a listed form sent it; else as it is."""
    if not is_form_mail(mail, form_senders):
        return mail
    name, address = mail.reply_to[0]
    return replace(mail, from_name=name, from_address=address)


def form_route(mail: ParsedEmail, sender: Any, verdicts: Mapping[str, str]) -> NewTicket | Quarantine:
    """Where a form's mail goes: a new ticket of the person in its Reply-To (`sender`, their
    account when they have one), unless it is forged or names staff."""
    if fails_dmarc(verdicts):
        return Quarantine("sender_unverified", "The mail claims to come from the site's form but failed DMARC.")
    if sender is not None and sender.is_staff:
        return Quarantine(
            "sender_unverified",
            f"{mail.from_address} is staff, but a form sent this mail: nothing proves it is theirs.",
        )
    return NewTicket(author=sender, routed_by=FORM)
