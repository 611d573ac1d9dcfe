"""Held replies: an agent's mailed reply to an out-of-date notification waits for a decision.

`is_stale()` reads; `hold_reply()` keeps the reply and queues a mail to the agent with the
messages they had not seen; `send_held_reply()` posts it through the domain services (from the
console or by answering that mail with `#send`), `drop_held_reply()` drops it. Both are staff
decisions and refuse a reply that was already decided.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from support import services
from support.errors import InvalidInput, NotAllowed
from support.models import Channel, Message, Ticket, User

from .models import HeldReply, HeldStatus
from .notifications import Notice, queue_notices
from .outbound import author_label

MAX_UNSEEN = 10


def newer_messages(ticket: Ticket, agent: User, since: Any) -> Any:
    """Public messages by others after `since`: what an agent answering an older mail missed."""
    return (
        Message.objects.filter(ticket=ticket, is_internal=False, created_at__gt=since)
        .exclude(sender=agent)
        .order_by("created_at")
    )


def is_stale(ticket: Ticket, agent: User, answered_at: Any) -> bool:
    return answered_at is not None and newer_messages(ticket, agent, answered_at).exists()


def hold_reply(
    *,
    ticket: Ticket,
    agent: User,
    inbound: Any,
    text: str,
    answered: Message | None,
    answered_at: Any,
    in_reply_to: str,
    applied: list[str],
) -> HeldReply:
    held = HeldReply.objects.create(ticket=ticket, agent=agent, inbound=inbound, text=text, answered_message=answered)
    unseen = [
        {
            "author": author_label(name=m.sender.name, email=m.sender.email, is_staff=m.sender.is_staff),
            "created_at": m.created_at.isoformat(),
            "text": m.message_text,
        }
        for m in newer_messages(ticket, agent, answered_at).select_related("sender")[:MAX_UNSEEN]
    ]
    context = {"held_id": str(held.pk), "unseen": unseen, "held_text": text, "applied": applied}
    queue_notices(
        ticket=ticket,
        message=None,
        notices=[Notice(agent, "reply_held", in_app=False, context=context)],
        in_reply_to=in_reply_to,
    )
    return held


def latest_held(ticket: Ticket, agent: User) -> HeldReply | None:
    return HeldReply.objects.filter(ticket=ticket, agent=agent, status=HeldStatus.HELD).order_by("-created_at").first()


def _lock_undecided(held: HeldReply, actor: User) -> HeldReply:
    if not (actor.is_active and actor.is_staff):
        raise NotAllowed("Only staff may decide on held replies.")
    row = HeldReply.objects.select_for_update(of=("self",)).select_related("ticket", "agent", "inbound").get(pk=held.pk)
    if row.status != HeldStatus.HELD:
        raise InvalidInput(f"This reply was already {row.get_status_display().lower()}.", {"status": [row.status]})
    return row


def send_held_reply(held: HeldReply, *, actor: User) -> Message:
    """Post the held reply as its agent wrote it; the customer gets it as any reply."""
    with transaction.atomic():
        row = _lock_undecided(held, actor)
        message = services.add_message(
            ticket=row.ticket,
            author=row.agent,
            message_text=row.text,
            channel=Channel.EMAIL,
            email_message_id=row.inbound.message_id_header if row.inbound else "",
            routed_by="held",
        )
        row.status, row.posted_message, row.decided_at = HeldStatus.SENT, message, timezone.now()
        row.save(update_fields=["status", "posted_message", "decided_at"])
    return message


def drop_held_reply(held: HeldReply, *, actor: User) -> None:
    with transaction.atomic():
        row = _lock_undecided(held, actor)
        row.status, row.decided_at = HeldStatus.DROPPED, timezone.now()
        row.save(update_fields=["status", "decided_at"])
