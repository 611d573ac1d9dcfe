"""A mail that kills the worker sending it must not take the outbox down with it.

A worker can die while it sends: out of memory, a crash in a C library, the hard time limit. Its
transaction rolls back, so the database keeps no trace, and its task comes back (acks late,
rejected on worker loss) to claim the same mails again; as long as such a mail is the oldest
waiting, every run and every backlog would claim it, and no outbound mail would go out.

So the mails a transaction sends are tallied in the shared cache while it sends them (a script
call when they are claimed, and one when the sending is over, before the commit, while the rows
are still locked; a broken transaction takes its counts off as it ends). Only a process that died
leaves its count standing: a count found when a mail is claimed again is the number of workers
that died sending it, or sending a batch with it.

Such a mail is a suspect (`screen()`):
- in a batch it is set aside, untouched, its deaths written on the row (`worker_deaths`, which
  keeps it out of later runs and backlogs), and handed to a task that sends it alone;
- a task's own mail is sent alone at once (its task claims no backlog once its deaths are written
  on the row), and the mails claimed with it are left to first tries, or set aside;
- alone, at OUTBOUND_MAX_WORKER_DEATHS deaths (at least 2, so each is sent alone once), it is
  failed with the reason instead of sent again.
Only the mails being sent stay tallied: a mail set aside, left or failed gains no death; and a
transaction that breaks puts its counts down before it rolls back, while the rows are locked.
These counts hold while the cache answers: a count it failed to take off twice stands as a death.

A death by the hard time limit acknowledges the task (`task_acks_on_failure_or_timeout`): the mails wait
for the sweeper's next run of the outbox or re-queueing. The mails a batch sent before the death
are sent again (the provider had them, the rollback forgot it): only the killer is bounded here.
The tally needs the shared cache (Redis): without one that answers, mails are sent untallied.
The embedded default's memory cache keeps it per process (its tasks run in the web process), where
it dies with the process and sees no death; any other cache keeps none. Every process end while
mails are held counts, a SIGKILL at deploy time too: let workers finish their batches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from helpdesk.cache import add_to_tally, drop_from_tally, subtract_from_tally

from .models import OutboundEmail, OutboundStatus

logger = logging.getLogger("mailgateway.outbound")

HOLDS_TALLY = "mailgateway:outbound-held"

# After the transaction, a mail in one of these states is never claimed again: its count goes.
_DONE = frozenset({OutboundStatus.SENT, OutboundStatus.REJECTED, OutboundStatus.SKIPPED, OutboundStatus.FAILED})


@dataclass
class Holds:
    """The mails this process holds for sending, as tallied in the shared cache."""

    tallied: list[str] = field(default_factory=list)  # counted as held by this process, now
    finished: list[str] = field(default_factory=list)  # suspects the transaction finishes if it commits

    def take(self, rows: Sequence[OutboundEmail]) -> dict[str, int]:
        """Tally these rows as held; for each one a worker died holding, how many did."""
        ids = [str(row.pk) for row in rows]
        # Held even when the cache does not answer: the script may have run with only its reply
        # lost, and a count left standing would pass for a death. Putting down a count never added
        # can only take one death off a mail that had some: the killer gets one more try.
        self.tallied += ids
        try:
            counts = add_to_tally(HOLDS_TALLY, ids)
        except SoftTimeLimitExceeded:  # the task's time is up: nothing is sent, the batch rolls back
            raise
        except Exception:
            logger.warning("the shared cache did not answer: the mails held for sending are not tallied", exc_info=True)
            return {}
        return {outbound_id: count - 1 for outbound_id, count in zip(ids, counts, strict=True) if count > 1}

    def put_down(self, outbound_ids: Iterable[str]) -> None:
        """Take this process's count off these mails: they are not being sent, or no longer. Done
        before the commit, while the rows are still locked, so that no claim after it finds them.
        When the cache does not answer they stay held, and `release()` tries again."""
        asked = list(dict.fromkeys(outbound_ids))
        if not asked:  # the common case before the sending: no suspect in the batch
            return
        held = set(self.tallied)
        putting = [outbound_id for outbound_id in asked if outbound_id in held]
        if not putting:
            return
        try:
            subtract_from_tally(HOLDS_TALLY, putting)
        except Exception:
            logger.warning("the shared cache did not answer: mails held for sending stay tallied", exc_info=True)
            return
        put = set(putting)
        self.tallied = [outbound_id for outbound_id in self.tallied if outbound_id not in put]

    def finish(self, results: dict[str, str], suspects: Iterable[str]) -> None:
        """The suspects this transaction finishes (sent, or failed): once it commits, the deaths
        before no longer matter, and their counts go."""
        suspected = set(suspects)
        self.finished = [i for i, status in results.items() if status in _DONE and i in suspected]

    def release(self, *, committed: bool) -> None:
        """The transaction is over: put down what is still held (a put-down the cache did not
        answer), and drop the counts of the suspects it finished."""
        self.put_down(list(self.tallied))
        self.tallied = []  # a second refusal: the counts stand, and each such mail goes alone once
        if committed and self.finished:
            try:
                drop_from_tally(HOLDS_TALLY, self.finished)
            except Exception:
                logger.warning("the shared cache did not answer: finished mails stay tallied", exc_info=True)
        self.finished = []


@contextmanager
def holding() -> Iterator[Holds]:
    """Holds for one transaction, entered before it (`with holding() as holds, transaction.atomic()`):
    whatever is still held is put down when it is over, committed or rolled back. Inside an outer
    transaction nothing is committed yet, so nothing counts as finished."""
    holds = Holds()
    outer = transaction.get_connection().in_atomic_block
    committed = False
    try:
        yield holds
        committed = not outer
    finally:
        holds.release(committed=committed)


@dataclass(frozen=True)
class Screened:
    """A claimed batch sorted by the deaths of the workers that held its mails before."""

    send: list[OutboundEmail]
    set_aside: list[OutboundEmail] = field(default_factory=list)  # suspects of a batch: each to go alone
    left: list[OutboundEmail] = field(default_factory=list)  # claimed with a task's own suspect: untouched
    failed: list[OutboundEmail] = field(default_factory=list)  # alone, and killed workers too often
    deaths: dict[str, int] = field(default_factory=dict)  # each suspect's deaths


def screen(rows: Sequence[OutboundEmail], tallied: dict[str, int], *, own: str | None, limit: int) -> Screened:
    """Sort claimed rows by the deaths of their earlier holders: those tallied now, or those written
    on the row (the cache may have lost its tally since). `own` is the row the task is for."""
    deaths = {str(row.pk): max(tallied.get(str(row.pk), 0), row.worker_deaths) for row in rows}
    suspects = {outbound_id: n for outbound_id, n in deaths.items() if n}
    if not suspects:
        return Screened(send=list(rows))
    limit = max(limit, 2)  # the first death may have been another mail's: each goes alone once
    set_aside: list[OutboundEmail] = []
    if own in suspects:
        alone = [row for row in rows if str(row.pk) == own]
        set_aside = [row for row in rows if str(row.pk) != own and str(row.pk) in suspects]
        left = [row for row in rows if str(row.pk) not in suspects]
    elif len(rows) == 1:
        alone, left = list(rows), []
    else:
        return Screened(
            send=[row for row in rows if str(row.pk) not in suspects],
            set_aside=[row for row in rows if str(row.pk) in suspects],
            deaths=suspects,
        )
    (row,) = alone
    if deaths[str(row.pk)] >= limit:
        return Screened(send=[], set_aside=set_aside, left=left, failed=alone, deaths=suspects)
    return Screened(send=alone, set_aside=set_aside, left=left, deaths=suspects)


def record_suspects(screened: Screened) -> None:
    """Write each suspect's deaths on its row, and fail those that killed workers too often (in the
    caller's transaction, which holds their locks)."""
    if not screened.deaths:  # the common case: no suspect
        return
    failed = {row.pk for row in screened.failed}
    for row in [*screened.send, *screened.set_aside, *screened.left, *screened.failed]:
        deaths = screened.deaths.get(str(row.pk), 0)
        if deaths <= row.worker_deaths and row.pk not in failed:
            continue
        row.worker_deaths = deaths
        fields = ["worker_deaths"]
        if row.pk in failed:
            row.status = OutboundStatus.FAILED
            row.error = (
                f"The worker's process ended {deaths} times while this mail was being sent (out of memory, a "
                "crash, or the task's time limit), at least once with this mail alone; it is not tried again."
            )
            row.updated_at = timezone.now()
            fields += ["status", "error", "updated_at"]
            logger.error("outbound %s to %s: %s workers died sending it; failed", row.pk, row.to_address, deaths)
        else:
            logger.warning("outbound %s: %s worker(s) died sending it, or its batch; it goes alone", row.pk, deaths)
        row.save(update_fields=fields)
