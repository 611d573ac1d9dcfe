"""The console queue: which tickets a view, filters and search select, the counts per view,
the event history as sentences, and bulk actions (each one a service call per ticket).

The queue page costs the same queries whatever the number of tickets: the page's rows, a count
of the matching tickets capped at `COUNT_CAP`, and the counts per view from the cache (renewed
every `COUNTS_SECONDS`, so a tab's number may lag that long behind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

from support import selectors, services
from support.api.filters import ORDERINGS
from support.errors import DomainError
from support.models import Channel, EventKind, Message, Status, Ticket, User

COUNTS_SECONDS = 15
SHARED_COUNTS_KEY = "console-counts:shared"
# The queue counts at most this many matching tickets for its pages ("Page 1 of 40+"): an exact
# count would read every matching ticket, and nobody pages past 40 pages; they filter.
COUNT_CAP = 1000
ACTIVE = [Status.OPEN, Status.IN_PROGRESS]
VIEW_LABELS = {
    "all": "All open",
    "mine": "Mine",
    "unassigned": "Unassigned",
    "escalated": "Escalated",
    "waiting": "Waiting on customer",
    "everything": "Everything",
}


@dataclass(frozen=True)
class QueueChoice:
    view: str = "all"
    status: str = ""
    priority: str = ""
    category: str = ""
    assignee: str = ""
    escalated: str = ""
    channel: str = ""
    q: str = ""
    sort: str = "-updated_at"

    @classmethod
    def from_cleaned(cls, data: dict[str, Any]) -> QueueChoice:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and v}
        return cls(**values)


def _last_public_from_customer() -> Subquery:
    last = Message.objects.filter(ticket=OuterRef("pk"), is_internal=False).order_by("-created_at")
    return Subquery(last.values("is_from_customer")[:1])


def view_filter(view: str, user: User) -> Q:
    """What each view of the queue holds. "Waiting on customer": in progress, with the last
    public message from staff (the customer has not answered yet)."""
    active = Q(status__in=ACTIVE)
    return {
        "all": active,
        "mine": active & Q(assigned_agent=user),
        "unassigned": active & Q(assigned_agent__isnull=True),
        "escalated": active & Q(escalated=True),
        "waiting": Q(status=Status.IN_PROGRESS, last_from_customer=False),
        "everything": Q(),
    }[view]


class QueueRows:
    """The page's rows for a Paginator: counted on the bare filtered tickets (the snippet and
    unread annotations would otherwise be computed for every matching ticket just to count
    them), sliced from the annotated rows."""

    def __init__(self, filtered: QuerySet[Ticket], rows: QuerySet[Ticket], *, reach: int) -> None:
        self.filtered, self.rows = filtered, rows
        # Counting stops at the cap, or just past the page asked for, so "Next" always works.
        self.cap = max(COUNT_CAP, reach + 1)

    def count(self) -> int:
        return self.filtered[: self.cap].count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]


def queue_tickets(user: User, choice: QueueChoice, *, reach: int = 0) -> QueueRows:
    """The tickets of the queue; `reach` is how many rows the page asked for needs."""
    filtered = _filtered(selectors.visible_tickets(user), user, choice)
    rows = _filtered(selectors.ticket_list(user), user, choice)
    ordered = rows.order_by(*ORDERINGS.get(choice.sort, ORDERINGS["-updated_at"]))
    values = ordered.values(*selectors.LIST_ROW_FIELDS, "customer__email", "customer__name")
    return QueueRows(filtered.order_by(), values, reach=reach)


def _filtered(tickets: QuerySet[Ticket], user: User, choice: QueueChoice) -> QuerySet[Ticket]:
    if choice.view == "waiting":
        tickets = tickets.annotate(last_from_customer=_last_public_from_customer())
    tickets = tickets.filter(view_filter(choice.view, user))
    exact = {"status": choice.status, "priority": choice.priority, "category": choice.category}
    tickets = tickets.filter(**{k: v for k, v in exact.items() if v})
    if choice.channel:
        tickets = tickets.filter(source=choice.channel)
    if choice.escalated:
        tickets = tickets.filter(escalated=choice.escalated == "yes")
    if choice.assignee == "none":
        tickets = tickets.filter(assigned_agent__isnull=True)
    elif choice.assignee:
        tickets = tickets.filter(assigned_agent_id=choice.assignee)
    if words := choice.q.replace("\x00", "").strip():
        text = Message.objects.filter(ticket=OuterRef("pk"), message_text__icontains=words)
        tickets = tickets.filter(
            Q(reference=words.upper())
            | Q(title__icontains=words)
            | Q(customer__email__icontains=words)
            | Q(customer__name__icontains=words)
            | Exists(text)
        )
    return tickets


def view_counts(user: User) -> dict[str, int]:
    """Tickets in each view. The views shared by every agent are counted once for the whole
    console and the agent's own "Mine" apart, each kept `COUNTS_SECONDS` in the cache."""
    shared = cache.get(SHARED_COUNTS_KEY)
    if shared is None:
        active = Ticket.objects.filter(status__in=ACTIVE)
        shared = active.aggregate(
            all=Count("pk"),
            unassigned=Count("pk", filter=Q(assigned_agent__isnull=True)),
            escalated=Count("pk", filter=Q(escalated=True)),
        )
        waiting = Ticket.objects.filter(status=Status.IN_PROGRESS).annotate(
            last_from_customer=_last_public_from_customer()
        )
        shared["waiting"] = waiting.filter(last_from_customer=False).count()
        cache.set(SHARED_COUNTS_KEY, shared, COUNTS_SECONDS)
    mine_key = f"console-counts:mine:{user.pk}"
    mine = cache.get(mine_key)
    if mine is None:
        mine = Ticket.objects.filter(status__in=ACTIVE, assigned_agent=user).count()
        cache.set(mine_key, mine, COUNTS_SECONDS)
    return {"all": shared["all"], "mine": mine, **{k: shared[k] for k in ("unassigned", "escalated", "waiting")}}


def forget_counts(user: User) -> None:
    cache.delete_many([SHARED_COUNTS_KEY, f"console-counts:mine:{user.pk}"])


def apply_bulk(actor: User, data: dict[str, Any]) -> tuple[int, list[str]]:
    """Apply one action to each selected ticket; returns how many changed and each refusal."""
    action = data["action"]
    agent = None
    if action == "assign" and data["agent"] != "none":
        agent = User.objects.filter(pk=data["agent"], is_staff=True, is_active=True).first()
        if agent is None:
            return 0, ["That agent cannot be assigned tickets."]
    changed, refused = 0, []
    for ticket in Ticket.objects.filter(pk__in=data["tickets"]).order_by("reference"):
        try:
            if action == "assign":
                events = services.assign(ticket=ticket, actor=actor, agent=agent, channel=Channel.WEB)
            elif action == "tag":
                events = services.change_ticket(
                    ticket=ticket, actor=actor, channel=Channel.WEB, tags=[*ticket.tags, data["tag"]]
                )
            else:
                events = services.change_ticket(
                    ticket=ticket, actor=actor, channel=Channel.WEB, **{action: data[action]}
                )
        except DomainError as exc:
            refused.append(f"{ticket.reference}: {exc.message}")
        else:
            changed += bool(events)
    forget_counts(actor)
    return changed, refused


def event_rows(ticket: Ticket, agent_names: dict[str, str]) -> list[dict[str, Any]]:
    """The audit log as rows a person reads: who, when, what changed from what to what."""

    def shown(kind: str, value: Any) -> str:
        if value in (None, "", []):
            return "nobody" if kind == EventKind.ASSIGNMENT else "none"
        if kind == EventKind.ASSIGNMENT:
            return agent_names.get(str(value), "a former agent")
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value).replace("_", " ")

    rows = []
    for event in ticket.events.select_related("actor").order_by("created_at", "id"):
        rows.append(
            {
                "when": event.created_at,
                "who": event.actor.display_name if event.actor else "the system",
                "what": event.get_kind_display(),
                "from": shown(event.kind, event.from_value),
                "to": shown(event.kind, event.to_value),
                "note": event.note,
                "channel": event.get_channel_display(),
                "kind": event.kind,
            }
        )
    return rows
