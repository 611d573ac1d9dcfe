"""What the services check first: who may see or write to a ticket, and what text, titles, tags
and choices are acceptable. Raises the domain's errors (`support.errors`); reads at most one row."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings

from .errors import InvalidInput, NotAllowed
from .models import Channel, Ticket, TicketParticipant, User

MAX_TYPED_TEXT = 5000
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
TRUNCATION_MARKER = "\n\n[… message truncated; the full mail is kept with the original]"


def can_view_ticket(user: User, ticket: Ticket) -> bool:
    return bool(user.is_active and (user.is_staff or ticket.customer_id == user.pk))


def require_view(user: User, ticket: Ticket) -> None:
    if not can_view_ticket(user, ticket):
        raise NotAllowed("You cannot see this ticket.")


def is_participant(user: User, ticket: Ticket) -> bool:
    return bool(user.is_active and TicketParticipant.objects.filter(ticket=ticket, person=user).exists())


def require_conversation(user: User, ticket: Ticket) -> None:
    """The customer, staff, and the ticket's participants (people in Cc) may write to it."""
    if not (can_view_ticket(user, ticket) or is_participant(user, ticket)):
        raise NotAllowed("You cannot write to this ticket.")


def require_staff(user: User, action: str) -> None:
    if not (user.is_active and user.is_staff):
        raise NotAllowed(f"Only staff may {action}.")


def clean_message_text(text: str | None, *, channel: str) -> str:
    """Typed text is limited to 5,000 characters; mail bodies are cut with a marker instead."""
    text = (text or "").replace("\x00", "").strip()
    if not text:
        raise InvalidInput("Write a message.", {"message_text": ["This field may not be blank."]})
    if len(text) > MAX_TYPED_TEXT:
        if channel != Channel.EMAIL:
            raise InvalidInput(
                "The message is too long.",
                {"message_text": [f"Ensure this field has no more than {MAX_TYPED_TEXT} characters."]},
            )
        text = cut_at_word(text, MAX_TYPED_TEXT - len(TRUNCATION_MARKER)) + TRUNCATION_MARKER
    return text


# How far back from the limit a cut looks for a space: a word is that short, a run of letters
# without one (a link, a token, a language written without spaces) is cut at the limit.
_WORD_REACH = 200


def cut_at_word(text: str, limit: int) -> str:
    """The text cut to at most `limit` characters, at the last space or line break before the limit
    (any whitespace) when one lies within its last 200 characters, so the thread shows no half word."""
    if len(text) <= limit:
        return text
    if not text[limit].isspace():
        reach = range(limit - 1, max(limit - _WORD_REACH, 0), -1)
        limit = next((k for k in reach if text[k].isspace()), limit)
    return text[:limit].rstrip()


def public_staff_text(text: str, author: User) -> str:
    """A staff member's public words as a customer may read them: their personal address written
    as the support address, which is the only one a customer sees. It comes mostly in a mailed
    signature without its `-- ` line (Outlook's, a phone's), kept as the agent's words."""
    return replace_address(text, author.email, settings.SUPPORT_ADDRESS)


def replace_address(text: str, address: str, replacement: str) -> str:
    """`text` with each whole occurrence of `address` (any case, `mailto:` too, its domain in
    Unicode or punycode) written as `replacement`; an address that merely contains it
    (`sita.agent@x`, `agent@x.np`) stays."""
    if not address:
        return text
    spellings = "|".join(re.escape(a) for a in sorted(_spellings(address), key=len, reverse=True))
    whole = re.compile(rf"(?<![\w.+%-])(?:{spellings})(?![\w-]|\.[\w-])", re.IGNORECASE)
    return whole.sub(lambda _: replacement, text)


def _spellings(address: str) -> set[str]:
    """The address, and with its domain in the other IDN form (`münchen.de`, `xn--mnchen-3ya.de`)."""
    local, _, domain = address.rpartition("@")
    found = {address}
    try:
        other = domain.encode("idna").decode("ascii") if not domain.isascii() else domain.encode().decode("idna")
    except UnicodeError:
        return found
    if local and other:
        found.add(f"{local}@{other}")
    return found


def clean_title(title: str | None) -> str:
    title = " ".join((title or "").replace("\x00", "").split())
    if not title:
        raise InvalidInput("Give the ticket a title.", {"title": ["This field may not be blank."]})
    if len(title) > 255:
        raise InvalidInput("The title is too long.", {"title": ["Ensure this field has no more than 255 characters."]})
    return title


def clean_tags(tags: Iterable[Any]) -> list[str]:
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        raise InvalidInput("Tags are a list of words.", {"tags": ["Expected a list of strings."]})
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise InvalidInput("Tags are a list of words.", {"tags": ["Every tag must be a string."]})
        tag = " ".join(tag.replace("\x00", "").split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput("A tag is too long.", {"tags": [f"A tag has at most {MAX_TAG_LENGTH} characters."]})
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput("Too many tags.", {"tags": [f"A ticket has at most {MAX_TAGS} tags."]})
    return cleaned


def clean_choice(value: Any, choices: type, field: str) -> str:
    if value not in choices.values:  # type: ignore[attr-defined]
        raise InvalidInput(
            f"{value!r} is not a valid {field}.",
            {field: [f'"{value}" is not a valid choice.']},
        )
    return str(value)
