"""The console queue: which tickets a view, filters and search select, the counts per view,
the event history as sentences, and bulk actions (each one a service call per ticket).

The queue page costs the same queries whatever the number of tickets: the page's rows, a count
of the matching tickets capped at `COUNT_CAP` (none when only a view is chosen: its count is
known), and the counts per view with the agent list from the cache (renewed every
`COUNTS_SECONDS`, the shared counts in the background, so a tab's number, and an unfiltered
view's page count, may lag that long and the time a count takes).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from support import selectors, services
from support.api.filters import ORDERINGS
from support.errors import DomainError
from support.generations import CACHE_ERRORS
from support.models import Channel, EventKind, Message, Status, Ticket, User
from support.references import reference_spellings

from .forms import agent_choices

logger = logging.getLogger(__name__)

COUNTS_SECONDS = 15
SHARED_COUNTS_KEY = "console-counts:views"
# The shared counts stay this long past their renewal time, shown while they are counted again;
# a count that takes longer than the lock's time (a stuck database) lets another process try.
SHARED_KEEP_SECONDS = 600
REFRESH_LOCK_KEY = "console-counts:refreshing"
REFRESH_LOCK_SECONDS = 60
AGENTS_KEY = "console-agents"
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


def view_filter(view: str, user: User | None) -> Q:
    """What each view of the queue holds (`user` is the agent of "Mine"; None will do for the
    views shared by every agent). "Waiting on customer": in progress, with the last public
    message from staff (the customer has not answered yet)."""
    active = Q(status__in=ACTIVE)
    return {
        "all": active,
        "mine": active & Q(assigned_agent=user),
        "unassigned": active & Q(assigned_agent__isnull=True),
        "escalated": active & Q(escalated=True),
        "waiting": Q(status=Status.IN_PROGRESS, last_public_from_staff=True),
        "everything": Q(),
    }[view]


class QueueRows:
    """The page's rows for a Paginator: counted on the bare filtered tickets (the joins of the
    rows are not needed to count them), or taken from the view's count when one is known, and
    sliced from the full rows."""

    def __init__(
        self, filtered: QuerySet[Ticket], rows: QuerySet[Ticket], *, reach: int, known: int | None = None
    ) -> None:
        self.filtered, self.rows, self.known = filtered, rows, known
        # Counting stops at the cap, or just past the page asked for, so "Next" always works.
        self.cap = max(COUNT_CAP, reach + 1)

    def count(self) -> int:
        if self.known is not None:
            return min(self.known, self.cap)
        return self.filtered[: self.cap].count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]

    def __iter__(self) -> Iterator[Any]:  # Paginator only slices; iterating is every row
        return iter(self.rows)


def queue_tickets(
    user: User, choice: QueueChoice, *, reach: int = 0, counts: dict[str, int] | None = None
) -> QueueRows:
    """The tickets of the queue; `reach` is how many rows the page asked for and the next need.
    With only a view chosen (no filter, no search), `counts` (the view counts, see
    `console_state()`) says how many there are, and the page needs no count of its own, when it
    covers `reach`: the count may be a few seconds old, so a short view is counted exactly, and a
    new ticket never waits for the next counts to be listed."""
    filtered = _filtered(selectors.visible_tickets(user), user, choice)
    rows = _filtered(selectors.ticket_list(user), user, choice)
    ordered = rows.order_by(*ORDERINGS.get(choice.sort, ORDERINGS["-updated_at"]))
    values = ordered.values(*selectors.LIST_ROW_FIELDS, "customer__email", "customer__name")
    only_a_view = choice == QueueChoice(view=choice.view, sort=choice.sort)
    known = (counts or {}).get(choice.view) if only_a_view else None
    if known is not None and known < reach:
        known = None
    return QueueRows(filtered.order_by(), values, reach=reach, known=known)


def _filtered(tickets: QuerySet[Ticket], user: User, choice: QueueChoice) -> QuerySet[Ticket]:
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
        tickets = tickets.filter(assigned_agent__pk=choice.assignee)
    if words := choice.q.replace("\x00", "").strip():
        text = Message.objects.filter(ticket=OuterRef("pk"), message_text__icontains=words)
        tickets = tickets.filter(
            Q(reference__in=reference_spellings(words, typed_loosely=True))
            | Q(title__icontains=words)
            | Q(customer__email__icontains=words)
            | Q(customer__name__icontains=words)
            | Exists(text)
        )
    return tickets


@dataclass(frozen=True)
class ConsoleState:
    """What every queue page shows besides its rows: the tickets in each view and the agents
    of the drop-downs."""

    counts: dict[str, int]
    agents: list[tuple[str, str]]


def console_state(user: User) -> ConsoleState:
    """The counts per view and the agents, in one cache round trip. The views shared by every
    agent are counted once for the whole console (see `_shared()`) and the agent's own "Mine"
    apart; "Mine" and the agent list are kept `COUNTS_SECONDS` (a new agent shows up in the
    drop-downs that much later; the bulk action checks the agent again when it is posted)."""
    try:
        return _cached_console_state(user)
    except CACHE_ERRORS:  # the cache is down: every count from the database, nothing kept
        logger.warning("console counts not cached: the cache cannot be reached")
        return ConsoleState(counts={**_shared_counts(), "mine": _count_mine(user)}, agents=agent_choices())


def _cached_console_state(user: User) -> ConsoleState:
    mine_key = _mine_key(user)
    kept = cache.get_many([SHARED_COUNTS_KEY, mine_key, AGENTS_KEY])
    shared = _shared(kept.get(SHARED_COUNTS_KEY))
    fresh: dict[str, Any] = {}
    mine = kept.get(mine_key)
    if mine is None:
        mine = fresh[mine_key] = _count_mine(user)
    agents = kept.get(AGENTS_KEY)
    if agents is None:
        agents = fresh[AGENTS_KEY] = agent_choices()
    if fresh:
        cache.set_many(fresh, COUNTS_SECONDS)
    counts = {"all": shared["all"], "mine": mine, **{k: shared[k] for k in ("unassigned", "escalated", "waiting")}}
    return ConsoleState(counts=counts, agents=agents)


def _count_mine(user: User) -> int:
    return Ticket.objects.filter(view_filter("mine", user)).count()


def _shared(entry: dict[str, Any] | None) -> dict[str, int]:
    """The shared counts. They are one pass over the active tickets (about 45 ms at 50,000 of
    them), so no page waits for it once there are counts: past `COUNTS_SECONDS` a page shows
    the last ones while one thread of one process counts again. Only the first page, or the one
    after a bulk action forgot them, counts itself."""
    if entry is None:
        return _store_shared_counts()
    if entry["until"] <= time.time() and cache.add(REFRESH_LOCK_KEY, True, REFRESH_LOCK_SECONDS):
        _refresh_in_background()
    return entry["counts"]


def _store_shared_counts() -> dict[str, int]:
    counts = _shared_counts()
    cache.set(SHARED_COUNTS_KEY, {"counts": counts, "until": time.time() + COUNTS_SECONDS}, SHARED_KEEP_SECONDS)
    return counts


def _refresh_in_background() -> None:
    threading.Thread(target=_refresh_shared_counts, name="console-counts", daemon=True).start()


def _refresh_shared_counts() -> None:
    """The body of the counting thread: it has its own database connection, closed at the end."""
    try:
        _store_shared_counts()
    except Exception:
        logger.exception("Counting the console's views failed; the last counts stay shown.")
    finally:
        cache.delete(REFRESH_LOCK_KEY)
        connection.close()


def _mine_key(user: User) -> str:
    return f"console-counts:mine:{user.pk}"


def _shared_counts() -> dict[str, int]:
    """Each shared view counted by its own `view_filter()`, in one pass over the active tickets
    (every shared view is a part of them)."""
    views = ("all", "unassigned", "escalated", "waiting")
    active = Ticket.objects.filter(status__in=ACTIVE)
    return active.aggregate(**{view: Count("pk", filter=view_filter(view, None)) for view in views})


def forget_counts(user: User) -> None:
    try:
        cache.delete_many([SHARED_COUNTS_KEY, _mine_key(user)])
    except CACHE_ERRORS:
        logger.warning("console counts not forgotten: the cache cannot be reached")


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
        if isinstance(value, bool):
            return "yes" if value else "no"
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
                # "Escalated from no to yes" says nothing "Escalated" does not; the reason follows.
                "changes": event.kind not in (EventKind.CREATED, EventKind.ESCALATION),
            }
        )
    return rows
