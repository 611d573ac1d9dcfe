"""A staff user's mailed reply: commands, internal or public, held when out of date.

Called by `ingest.apply_route()` for a reply whose author is staff, inside the ingest transaction.
Writes only through `support.services` (and `held` for held replies); the receipt and the held
notice are queued through `notifications.queue_notices()` and sent after commit.

- Commands (`commands.py`) count only on a mail routed by the agent's own reply token (routing
  has checked that the From is that agent, and that a staff From passed DMARC). Any problem:
  nothing is applied or posted, and the receipt says what was wrong.
- A reply to an internal-note notification (its In-Reply-To is a note, or the subject says
  "(internal note)") is an internal note; so is a reply with `#note`.
- A public reply that answers a message older than the ticket's latest public message from
  someone else is held (`held.py`): two agents must not answer the same customer twice unaware.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from support import rules, services
from support.errors import InvalidInput
from support.models import Channel, Message, Ticket, User

from . import held
from .commands import Commands, parse_commands
from .models import OutboundEmail
from .notifications import Notice, queue_notices
from .outbound import CARRIES_MESSAGE
from .parsing import ParsedEmail

NOTE_SUBJECT_MARK = "(internal note)"


@dataclass(frozen=True)
class StaffMailOutcome:
    message: Message | None
    reason: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Answered:
    """What the agent's mail answered: a message on the ticket, or only a mail we sent."""

    message: Message | None
    sent_at: Any


def find_answered(ticket: Ticket, mail: ParsedEmail) -> Answered | None:
    ids = [i for i in (*mail.in_reply_to, *reversed(mail.references)) if i][:50]
    if not ids:
        return None
    messages = {m.email_message_id: m for m in Message.objects.filter(ticket=ticket, email_message_id__in=ids)}
    sent = {
        row.message_id_header: row
        for row in OutboundEmail.objects.filter(ticket=ticket, message_id_header__in=ids).select_related("message")
    }
    for message_id in ids:  # nearest first
        if message_id in messages:
            return Answered(message=messages[message_id], sent_at=messages[message_id].created_at)
        if message_id in sent:
            row = sent[message_id]
            if row.message is not None and row.template in CARRIES_MESSAGE:
                # The mail carried a message under an id of its own (the message came by mail).
                return Answered(message=row.message, sent_at=row.message.created_at)
            return Answered(message=None, sent_at=row.created_at)
    return None


def apply_staff_mail(
    *, inbound: Any, mail: ParsedEmail, ticket: Ticket, agent: User, routed_by: str, text: str
) -> StaffMailOutcome:
    commands = parse_commands(text) if routed_by == "token" else Commands(text=text)
    answered = find_answered(ticket, mail)
    problems = list(commands.problems)
    assignee = _assignee(commands, agent, problems)
    tags = _tags(ticket, commands, problems)
    if problems:
        _receipt(ticket, agent, mail, None, applied=[], problems=problems)
        return StaffMailOutcome(None, "commands_refused", "; ".join(problems))
    if commands.send_held or commands.drop_held:
        return _decide_held(ticket, agent, mail, commands)
    internal = commands.internal or _answers_a_note(answered, mail)
    body = "" if text_is_empty(commands.text) else commands.text
    if body and not internal and answered is not None and held.is_stale(ticket, agent, answered.sent_at):
        # The commands still apply (they say what the agent wants of the ticket); only the words
        # to the customer wait until the agent has seen what they missed.
        applied = _apply_changes(ticket, agent, commands, assignee, tags)
        held.hold_reply(
            ticket=ticket,
            agent=agent,
            inbound=inbound,
            text=body,
            answered=answered.message,
            answered_at=answered.sent_at,
            in_reply_to=mail.message_id,
            applied=applied,
        )
        return StaffMailOutcome(None, "held", "The reply answered an out-of-date notification; it is held.")
    message = None
    if body:
        message = services.add_message(
            ticket=ticket,
            author=agent,
            message_text=body,
            channel=Channel.EMAIL,
            is_internal=internal,
            # Text only: the agent's mail quotes the notification it answers, which may show an
            # internal note or the agent's own address; the cut text (`body`) has neither.
            html="",
            email_message_id=mail.message_id,
            routed_by=routed_by,
        )
    applied = _apply_changes(ticket, agent, commands, assignee, tags)
    if commands.any:
        if message is not None:
            applied.insert(0, "Posted your reply as an internal note." if internal else "Posted your reply.")
        _receipt(ticket, agent, mail, message, applied=applied, problems=[])
    if message is None:
        return StaffMailOutcome(None, "commands_only", "; ".join(applied) or "Nothing to post.")
    return StaffMailOutcome(message)


def text_is_empty(text: str) -> bool:
    from .extraction import NO_TEXT

    return not text.strip() or text.strip() == NO_TEXT


def _answers_a_note(answered: Answered | None, mail: ParsedEmail) -> bool:
    if answered is not None and answered.message is not None and answered.message.is_internal:
        return True
    return NOTE_SUBJECT_MARK in (mail.subject or "").lower()


def _assignee(commands: Commands, agent: User, problems: list[str]) -> User | str | None:
    """The agent to assign, None for nobody, or "" when the mail does not assign."""
    if commands.assign is None:
        return ""
    if commands.assign == "me":
        return agent
    if commands.assign == "nobody":
        return None
    found = User.objects.filter(Q(email__iexact=commands.assign), is_staff=True, is_active=True).first()
    if found is None:
        problems.append(f"#assign {commands.assign}: no active agent has this address.")
        return ""
    return found


def _tags(ticket: Ticket, commands: Commands, problems: list[str]) -> list[str] | None:
    if not commands.tags:
        return None
    try:
        return rules.clean_tags([*ticket.tags, *commands.tags])
    except InvalidInput as exc:
        problems.append(f"#tag: {exc.message} {' '.join(exc.details.get('tags', []))}".strip())
        return None


def _apply_changes(
    ticket: Ticket, agent: User, commands: Commands, assignee: User | str | None, tags: list[str] | None
) -> list[str]:
    applied: list[str] = []
    changes: dict[str, Any] = {}
    if commands.status:
        changes["status"] = commands.status
    if commands.priority:
        changes["priority"] = commands.priority
    if tags is not None:
        changes["tags"] = tags
    if changes:
        services.change_ticket(ticket=ticket, actor=agent, channel=Channel.EMAIL, **changes)
        applied += [
            f"Set the {field} to {value if field != 'tags' else ', '.join(value)}." for field, value in changes.items()
        ]
    if assignee != "":
        services.assign(ticket=ticket, actor=agent, agent=assignee or None, channel=Channel.EMAIL)  # type: ignore[arg-type]
        applied.append(f"Assigned the ticket to {assignee.email}." if isinstance(assignee, User) else "Unassigned it.")
    return applied


def _decide_held(ticket: Ticket, agent: User, mail: ParsedEmail, commands: Commands) -> StaffMailOutcome:
    waiting = held.latest_held(ticket, agent)
    if waiting is None:
        problem = "There is no held reply of yours on this ticket."
        _receipt(ticket, agent, mail, None, applied=[], problems=[problem])
        return StaffMailOutcome(None, "commands_refused", problem)
    if commands.drop_held:
        held.drop_held_reply(waiting, actor=agent)
        _receipt(ticket, agent, mail, None, applied=["Dropped your held reply."], problems=[])
        return StaffMailOutcome(None, "held_dropped", "The held reply was dropped.")
    message = held.send_held_reply(waiting, actor=agent)
    applied = ["Sent your held reply."]
    if not text_is_empty(commands.text):
        applied.append("The other text of this mail was not posted; write a new reply for it.")
    _receipt(ticket, agent, mail, message, applied=applied, problems=[])
    return StaffMailOutcome(None, "held_sent", f"The held reply was sent as message {message.pk if message else '-'}.")


def _receipt(
    ticket: Ticket, agent: User, mail: ParsedEmail, message: Message | None, *, applied: list[str], problems: list[str]
) -> None:
    notice = Notice(agent, "command_receipt", in_app=False, context={"applied": applied, "problems": problems})
    queue_notices(ticket=ticket, message=message, notices=[notice], in_reply_to=mail.message_id)
