"""Outbound mail composed: one `OutboundEmail` row in, one `AnymailMessage` out.

`compose()` builds the mail of a row read by `outbound_reads` (with the thread its recipient
may see, the reply token, the ticket's first Message-ID): renders
`templates/emails/<template>/{subject.txt,body.txt,body.html}` (one `Renderer` serves a batch)
and sets the headers that make mail clients thread the conversation. It is three steps, which a
batch takes for all its mails one step at a time: `draft()` (the templates' context and the
headers), `Renderer.render()`, `finish()` (the `AnymailMessage`). Sending, and what each row
then records, is `outbox.py`'s. No writes here, except a reply token issued for a recipient's
first mail about a ticket.

Headers (RFC 5322 section 3.6.4, RFC 3834):
- `Message-ID`: the one chosen when the mail was queued. A mail that carries a message written in
  the helpdesk uses that message's own id (ours, stored on the `Message`); any other mail gets an
  id of its own, kept on its row (a reply's In-Reply-To finds the ticket by either): a mailbox
  that already holds a mail with the same id (the customer's own sent mail, or an agent in its
  Cc) may silently drop the second one, and an agent's mail client names their server in its ids.
- `In-Reply-To` and `References`: the thread as the recipient can see it (no internal note ids
  for customers, nor the ids agents' mail clients made; only plain `<left@right>` ids), trimmed
  to the first and the latest few ids and under 900 characters, since some relays refuse header
  lines longer than 998 and threading needs only the ends.
- `Reply-To`: `support+<token>@domain` with the recipient's own signed reply token.
- `Auto-Submitted: auto-replied` and `X-Auto-Response-Suppress: All` on every automatic mail
  (everything except a person's reply relayed to the customer and participants), so that
  auto-responders stay quiet; `X-SewaBazaar-Helpdesk` marks our own mail, which the inbound
  classifier ignores if it ever comes back (a loop).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import make_msgid, parseaddr
from typing import Any, cast

from anymail.message import AnymailMessage
from django.conf import settings
from django.template import Context
from django.template.backends.django import Template as DjangoBackendTemplate
from django.template.loader import get_template

from support import rules
from support.links import ticket_link_url
from support.models import User

from .addresses import normalize_address, split_address
from .models import OutboundEmail
from .outbound_reads import Entry, Thread, read_thread, safe_display_name
from .outbound_reads import author_label as author_label
from .outbound_reads import lock_rows as lock_rows
from .outbound_reads import outbound_rows as outbound_rows
from .quoted_thread import thread_html, thread_text
from .tokens import issue_reply_token, reply_token_of

REFERENCES_LATEST = 6
REFERENCES_MAX_CHARS = 900
# Mails that relay what a person wrote to the other side; everything else is automatic.
PERSONAL_TEMPLATES = frozenset({"agent_reply"})
# Mails that carry a message in full (the others tell of a change, or acknowledge).
CARRIES_MESSAGE = frozenset({"new_ticket", "agent_reply", "customer_reply", "internal_note"})
# The shape of `new_message_id()`'s ids (`email.utils.make_msgid`: time, process, random number).
_MADE_ID = re.compile(r"<\d+\.\d+\.\d+\.sb@[^<>@\s]+>")
# A Message-ID fit for In-Reply-To and References: `<left@right>` in printable ASCII, one `@`, of
# a sane length. A sender's id that is not (8-bit, no `@`, 900 characters) would be written as an
# RFC 2047 word or an endless line, which no client threads on.
_USABLE_ID = re.compile(r"<[!-;=?A-~]{1,200}@[!-;=?A-~]{1,200}>")
LOOP_HEADER = "X-SewaBazaar-Helpdesk"


# -- pure helpers ------------------------------------------------------------------------------


def new_message_id() -> str:
    return make_msgid(idstring="sb", domain=_id_domain())


def is_own_message_id(value: str) -> bool:
    """Whether the helpdesk made this Message-ID (`new_message_id()`, under any support domain),
    rather than a sender's mail client."""
    return bool(_MADE_ID.fullmatch(value))


def usable_message_id(value: str) -> bool:
    return bool(_USABLE_ID.fullmatch(value))


def carried_message_id(message_id: str, sender_pk: str, recipient_pk: str) -> str:
    """The Message-ID of the mail that carries a message which came by mail (its sender's id) to
    one recipient.

    Its mails do not use the sender's id: a mailbox that already holds the sender's mail (an agent
    in Cc of the customer's) may drop a second mail with the same id, and an agent's mail client
    names their own mail server in its ids. Worked out from the message's id and sender (unique
    together, as `Message` keeps them) and the recipient, the same each time, so that later mails
    name it in References without a lookup. The keys as text."""
    return _carried_message_id(message_id, sender_pk, recipient_pk, _id_domain())


@functools.lru_cache(maxsize=4096)
def _carried_message_id(message_id: str, sender_pk: str, recipient_pk: str, domain: str) -> str:
    digest = hashlib.blake2b(f"{message_id} {sender_pk} {recipient_pk}".encode(), digest_size=12).hexdigest()
    return f"<{digest}.m.sb@{domain}>"


def id_known_to(recipient_pk: str, to_staff: bool, message_id: str, sender_pk: str, by_staff: bool) -> str:
    """The Message-ID under which this recipient got (or wrote) a message; the keys as text.

    Ours when the helpdesk wrote it; the sender's own when the recipient wrote it, and when a
    customer or participant wrote it and the recipient is one too (they had it in To or Cc: the
    helpdesk relays only staff's words to them); else the id of the mail that carried it to them."""
    if not message_id or is_own_message_id(message_id) or sender_pk == recipient_pk:
        return message_id
    if not to_staff and not by_staff:
        return message_id
    return carried_message_id(message_id, sender_pk, recipient_pk)


def _id_domain() -> str:
    return _support_parts(settings.SUPPORT_ADDRESS)[2] or "localhost"


def reply_address(token: str) -> str:
    """`support+<token>@domain` for the support address `support@domain`."""
    base, _, domain = _support_parts(settings.SUPPORT_ADDRESS)
    return f"{base}+{token}@{domain}"


def support_name() -> str:
    return _display_name(settings.DEFAULT_FROM_EMAIL)


def from_header(display: str = "") -> str:
    """Always the support address, so replies come back to us; a person's name when one wrote."""
    return _from_header(display, settings.DEFAULT_FROM_EMAIL, settings.SUPPORT_ADDRESS)


# Parsing and formatting an address costs as much as rendering a subject; these depend only on
# settings (and an agent's name), so each is worked out once per value, not once per mail.
@functools.lru_cache(maxsize=16)
def _support_parts(support_address: str) -> tuple[str, str, str]:
    return split_address(normalize_address(support_address))


@functools.lru_cache(maxsize=16)
def _display_name(from_email: str) -> str:
    return parseaddr(from_email)[0] or "Support"


@functools.lru_cache(maxsize=256)
def _from_header(display: str, from_email: str, support_address: str) -> str:
    name, support = safe_display_name(display), _display_name(from_email)
    return mailbox(f"{name} ({support})" if name else support, normalize_address(support_address))


_SPECIALS = re.compile(r'[][\\()<>@,:;".]')  # RFC 5322 3.2.3: a name with these is quoted


def mailbox(name: str, address: str) -> str:
    """`name <address>`, the name quoted when it needs it and left in its own letters.

    The backend writes a non-ASCII name as RFC 2047 encoded words of legal length (at most 75
    characters each). `email.utils.formataddr` encodes it itself, as one word of any length: a
    Devanagari name of ten letters already made an 80-character word, which strict parsers flag
    and some clients show as its raw `=?utf-8?...` text.
    """
    if _SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>" if name else address


def build_references(
    ids: Sequence[str], *, latest: int = REFERENCES_LATEST, max_chars: int = REFERENCES_MAX_CHARS
) -> list[str]:
    """The first id and the latest few, oldest first, within `max_chars` (joined by spaces)."""
    unique = list(dict.fromkeys(i for i in ids if i))
    if len(unique) > latest + 1:
        unique = unique[:1] + unique[-latest:]
    while len(unique) > 1 and len(" ".join(unique)) > max_chars:
        del unique[1 if len(unique) > 2 else 0]  # keep the first and the newest longest
    return unique if unique and len(" ".join(unique)) <= max_chars else []


def carried_and_previous(outbound: OutboundEmail, thread: Thread) -> tuple[Entry | None, Entry | None]:
    """The message the mail shows in full, and the one before it (quoted)."""
    entries = list(thread.latest)
    carried_id = outbound.message_id
    if carried_id is not None:
        index = next((i for i, e in enumerate(entries) if e.pk == carried_id), None)
        if index is None:
            return None, entries[-1] if entries else None
        return entries[index], entries[index - 1] if index > 0 else None
    if not entries:
        return None, None
    return entries[-1], entries[-2] if len(entries) > 1 else None


def threading_headers(outbound: OutboundEmail, thread: Thread) -> dict[str, str]:
    """In-Reply-To and References from the ids the recipient knows (`id_known_to()`), leaving out
    the message the mail carries (the mail stands for it) and any id that is not a plain
    `<left@right>`. The ticket's first message is its customer's (a ticket opened by mail is its
    sender's; one opened here has an id of ours)."""
    carried = outbound.message_id if outbound.template in CARRIES_MESSAGE else None
    recipient = str(outbound.recipient_id)
    to_staff = outbound.recipient is not None and outbound.recipient.is_staff
    left_out = {outbound.message_id_header, *(e.message_id for e in thread.latest if e.pk == carried)}
    named = [(thread.first_id, str(outbound.ticket.customer_id), False)] if thread.first_id not in left_out else []
    named += [(e.message_id, e.sender_id, e.by_staff) for e in thread.latest if e.pk != carried]
    ids = [id_known_to(recipient, to_staff, message_id, sender, by_staff) for message_id, sender, by_staff in named]
    ids.append(str(outbound.context.get("in_reply_to") or ""))
    ids = [i for i in ids if i not in left_out and usable_message_id(i)]
    references = build_references(ids)
    if not references:
        return {}
    return {"In-Reply-To": references[-1], "References": " ".join(references)}


# -- composing ---------------------------------------------------------------------------------


class Renderer:
    """Renders the subject, text and HTML of any mail type; one serves a whole batch.

    Each type's templates are looked up once, and one `Context` serves every mail: Django's
    `{% include %}` keeps the template it found in the context's render state, so a shared
    context looks the footer up once instead of twice per part and mail.

    The thread block (`quoted_thread`: the message a mail carries and the one before it), which
    the bodies show as `{{ thread_text }}` and `{{ thread_html }}`, is the same for every recipient
    of an event who sees the same two messages: built once per pair in the batch.
    """

    PARTS = ("subject.txt", "body.txt", "body.html")

    def __init__(self) -> None:
        self._templates: dict[str, list[Any]] = {}
        self._context: Context | None = None
        self._autoescape = True
        self._threads: dict[tuple[Entry | None, Entry | None], dict[str, str]] = {}

    def render(self, template: str, values: dict[str, Any]) -> tuple[str, str, str]:
        parts = self._parts(template)
        assert self._context is not None
        try:
            with self._context.push(values, **self._thread(values)):
                subject, text, html = (part.render(self._context) for part in parts)
        finally:
            # `{% autoescape off %}` switches the shared context back only when its part rendered:
            # after a mail that failed, the next mail's HTML would be rendered unescaped.
            self._context.autoescape = self._autoescape
        return " ".join(subject.split()), text.strip() + "\n", html

    def _parts(self, template: str) -> list[Any]:
        """The mail type's subject, text and HTML templates, looked up at its first mail."""
        parts = self._templates.get(template)
        if parts is None:
            # The Django engine's templates (TEMPLATES has only it): their engine and compiled form.
            found = [cast(DjangoBackendTemplate, get_template(f"emails/{template}/{name}")) for name in self.PARTS]
            parts = self._templates[template] = [t.template for t in found]
            if self._context is None:
                self._autoescape = found[0].backend.engine.autoescape
                self._context = Context(autoescape=self._autoescape)
                # Bound once for good: `Template.render()` binds an unbound context for every part
                # (a context manager each time); the include tag reads only the engine from it.
                self._context.template = parts[0]
        return parts

    def _thread(self, values: dict[str, Any]) -> dict[str, str]:
        message, previous = values.get("message"), values.get("previous")
        built = self._threads.get((message, previous))
        if built is None:
            built = self._threads[message, previous] = {
                "thread_text": thread_text(message, previous),
                "thread_html": thread_html(message, previous),
            }
        return built


def render_email(template: str, context: dict[str, Any], renderer: Renderer | None = None) -> tuple[str, str, str]:
    return (renderer or Renderer()).render(template, context)


class TemplateTicket:
    """The ticket as the mail templates see it: each name looked up on the ticket as a key.
    Django's templates try a name as a key before an attribute, and on a model that first try
    fails with an exception, once per `{{ ticket.reference }}` of every part. Nothing of its own
    to show (a `dict` would answer `{{ ticket.keys }}`); the underscore keeps templates out."""

    __slots__ = ("_ticket",)

    def __init__(self, ticket: Any) -> None:
        self._ticket = ticket

    def __getitem__(self, name: str) -> Any:
        return getattr(self._ticket, name)

    def __str__(self) -> str:
        return str(self._ticket)


def mail_context(outbound: OutboundEmail, recipient: User, thread: Thread) -> dict[str, Any]:
    carried, previous = carried_and_previous(outbound, thread)
    ticket = outbound.ticket
    return {
        "ticket": TemplateTicket(ticket),
        "subject_line": f"[{ticket.reference}] {ticket.title}",
        "recipient_name": recipient.name or recipient.email,
        "for_staff": recipient.is_staff,
        # Only for someone the web page will show the ticket to: a participant in Cc answers by mail.
        "link": ticket_link_url(ticket_id=ticket.pk, person_id=recipient.pk)
        if rules.can_view_ticket(recipient, ticket)
        else "",
        "support_name": support_name(),
        "message": carried,
        "previous": previous,
        "extra": outbound.context,
    }


@dataclass(slots=True)
class Draft:
    """A mail worked out up to its rendering: what its templates are given and what it is sent
    with. A batch drafts every mail, then renders them all, then builds them all (`outbox`), so
    that each step's code stays in the processor's caches from one mail to the next: one mail
    after another, each through every step, took about a tenth longer."""

    outbound: OutboundEmail
    context: dict[str, Any]
    headers: dict[str, str]
    from_email: str
    reply_to: str


def draft(outbound: OutboundEmail, thread: Thread | None = None) -> Draft:
    """The draft of this row's mail (reads the thread and the reply token when not given)."""
    recipient = outbound.recipient
    if recipient is None:
        raise ValueError(f"outbound mail {outbound.pk} has no recipient")
    if thread is None:
        thread = read_thread(outbound, staff_view=recipient.is_staff)
    context = mail_context(outbound, recipient, thread)
    headers = {"Message-ID": outbound.message_id_header, LOOP_HEADER: outbound.ticket.reference}
    headers.update(threading_headers(outbound, thread))
    if outbound.template not in PERSONAL_TEMPLATES:
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
    author = outbound.message.sender if outbound.message is not None else None
    display = ""
    if outbound.template in PERSONAL_TEMPLATES and author is not None:
        display = author.name
    token_id = getattr(outbound, "token_id", None)
    if token_id:
        token = reply_token_of(token_id=token_id, ticket_id=outbound.ticket_id, person_id=recipient.pk)
    else:  # the first mail to this person about this ticket
        token = issue_reply_token(ticket_id=outbound.ticket_id, person_id=recipient.pk)
    return Draft(outbound, context, headers, from_header(display), reply_address(token))


def finish(drafted: Draft, rendered: tuple[str, str, str]) -> AnymailMessage:
    """The mail of a draft and its rendered (subject, text, HTML), ready for the backend."""
    outbound = drafted.outbound
    subject, text, html = rendered
    mail = AnymailMessage(
        subject=subject,
        body=text,
        from_email=drafted.from_email,
        to=[outbound.to_address],
        reply_to=[drafted.reply_to],
        headers=drafted.headers,
        metadata={"outbound_id": str(outbound.pk), "ticket": outbound.ticket.reference},
        tags=[outbound.template],
    )
    mail.attach_alternative(html, "text/html")
    esp_template = settings.OUTBOUND_ESP_TEMPLATES.get(outbound.template)
    if esp_template:
        mail.template_id = esp_template
        mail.merge_global_data = {"subject": subject, "text": text, "link": drafted.context["link"]}
    return mail


def compose(outbound: OutboundEmail, thread: Thread | None = None, renderer: Renderer | None = None) -> AnymailMessage:
    """The mail for this row, ready for the backend (reads the thread and the reply token)."""
    drafted = draft(outbound, thread)
    return finish(drafted, render_email(outbound.template, drafted.context, renderer))
