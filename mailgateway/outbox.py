"""Sending queued mail: `OutboundEmail` rows in, each mail through `EMAIL_BACKEND`, statuses out.

`send_rows()` sends rows locked by the caller's transaction as one batch: their threads read
once (`outbound_reads`), one `Renderer`, one backend connection, one UPDATE for the mails sent.
A row then says `sent` (with the provider's message id), `rejected` or `skipped`; a mail the
backend refused stays `queued` with the error and comes back as `RETRY`, for the task to try
again with backoff (after its last try it is `failed`). `send_outbound_batch()` sends the mails of one event so.

The outbox drainer, `send_with_backlog()`, is what a `mailgateway.send_outbound` task runs. A
lone mail goes out at once, alone. When other mails wait in the outbox that were never tried
(their own tasks still in the queue behind this one), the task claims up to
`OUTBOUND_DRAIN_BATCH - 1` of them too, oldest first, and sends them all as one batch. The
tasks whose mails were taken then find them sent with one read, outside any transaction, and
do nothing more.

A run of the outbox, `send_untried()`, is what a `mailgateway.send_outbox` task runs when a burst
of events queued one task for all their mails (OUTBOUND_COALESCE, `tasks.request_outbox_run()`):
the mails never tried, oldest first, up to `OUTBOUND_DRAIN_BATCH`, claimed and sent as one batch.

Exactly once: a mail is claimed with its row lock (`FOR UPDATE SKIP LOCKED`), checked `queued`
under that lock, and recorded sent in the same transaction that sent it; a worker skips the
rows another holds instead of waiting for them, its own row included (the holder sends it, or
hands it to a retry). Only PostgreSQL claims a backlog; elsewhere a task sends its own mail.

Retries: each task is for one try of its mail (`attempt`), and sends the mail only if it was
tried exactly `attempt - 1` times, checked under the row lock. A mail the provider refuses stays
queued with its error and one more attempt counted, and comes back as `RETRY`: the caller
schedules its next try with backoff. The tasks that come for a try already made (the mail's own
first task, queued behind a batch that tried it; a duplicate delivery) answer WAITING and do
nothing, so a mail is never tried before its backoff nor more than `OUTBOUND_MAX_RETRIES + 1`
times; after its last try it is `failed`.

A mail that a worker died holding (out of memory, a crash, the hard time limit) is not sent with
a batch again but alone, and failed after OUTBOUND_MAX_WORKER_DEATHS such deaths
(`worker_deaths`, `send_claimed()`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from anymail.message import AnymailMessage
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.utils import timezone

from helpdesk import metrics

from .models import OutboundEmail, OutboundStatus
from .outbound import Renderer, draft, finish
from .outbound_reads import Thread, claim_rows, claim_untried, find_state, lock_rows, read_threads
from .worker_deaths import Holds, holding, record_suspects, screen

logger = logging.getLogger("mailgateway.outbound")

# The outcome of a mail the backend refused this time: still queued, its error kept, to be retried.
RETRY = "retry"

# The task's mail is held by another worker, which sends it (or hands it to a retry).
TAKEN = "taken"

# The task's mail was tried more often than the task expected: its next try is already scheduled.
WAITING = "waiting"

# A mail of a batch left untouched (still queued, never tried) because the batch ran out of time:
# the caller queues its task again at once.
DEFERRED = "deferred"

# A mail of a batch that a worker died holding (`worker_deaths`): still queued, untouched, for a
# task of its own that sends it alone.
SET_ASIDE = "set-aside"


def send_with_backlog(outbound_id: str, *, attempt: int = 1, batch: int | None = None) -> dict[str, str]:
    """Send this queued mail as its try number `attempt`, and with it up to `batch - 1` others
    never tried; statuses by id (`str(uuid)`, as `outbound_key()` spells them).

    The mail is sent only when it was tried `attempt - 1` times: otherwise this task came too
    early or too late for it (a batch tried it and scheduled its retry, with backoff) and the
    answer is WAITING.
    """
    outbound_id = outbound_key(outbound_id)
    state = find_state(outbound_id)
    if state is None or state.status != OutboundStatus.QUEUED:
        return {outbound_id: state.status if state else "missing"}  # sent with another task's batch, or skipped
    if state.attempts != attempt - 1:
        return {outbound_id: WAITING}
    size = settings.OUTBOUND_DRAIN_BATCH if batch is None else batch
    if state.worker_deaths:  # a mail a worker died sending goes alone (`worker_deaths`)
        size = 1
    with holding() as holds, transaction.atomic():
        rows = claim_rows(outbound_id, tried=attempt - 1, backlog=size - 1)
        if not rows or str(rows[0].pk) != outbound_id:
            return {outbound_id: TAKEN}
        return send_claimed(rows, holds, own=outbound_id)


def send_untried(*, batch: int | None = None) -> dict[str, str]:
    """One run of the outbox: the oldest mails never tried, up to `batch` (OUTBOUND_DRAIN_BATCH),
    claimed and sent as one batch as their first try; statuses by id, empty when none waited.
    PostgreSQL only (`can_claim_backlog()`): elsewhere each mail has its own task."""
    size = settings.OUTBOUND_DRAIN_BATCH if batch is None else batch
    with holding() as holds, transaction.atomic():
        return send_claimed(claim_untried(size), holds)


def due_attempt(outbound_id: str) -> int:
    """The try a queued mail is due for next (one read); 1 when it is gone or was never tried."""
    state = find_state(outbound_key(outbound_id))
    return state.attempts + 1 if state is not None else 1


def outbound_key(outbound_id: object) -> str:
    """A row's id as the results name it (a task's argument may be spelled another way)."""
    return str(uuid.UUID(str(outbound_id)))


# -- sending a batch -----------------------------------------------------------------------------


def provider_name() -> str:
    parts = settings.EMAIL_BACKEND.split(".")
    return (parts[-2] if len(parts) > 1 else parts[0])[:32]


def _record_sent(row: OutboundEmail, mail: AnymailMessage) -> None:
    status = mail.anymail_status
    recipient_status = status.recipients.get(row.to_address) if status.recipients else None
    if recipient_status is not None and recipient_status.status in ("rejected", "invalid"):
        row.status, row.error = (
            OutboundStatus.REJECTED,
            f"The provider refused the address ({recipient_status.status}).",
        )
    else:
        row.status, row.error = OutboundStatus.SENT, ""
    row.provider = provider_name()
    row.provider_message_id = "" if status.message_id is None else str(status.message_id)[:255]
    row.sent_at = row.updated_at = timezone.now()


_SENT_FIELDS = ["status", "error", "provider", "provider_message_id", "sent_at", "updated_at", "attempts"]


def send_outbound_batch(outbound_ids: Sequence[str]) -> dict[str, str]:
    """Send several queued mails in one transaction over one backend connection.

    A fixed number of queries for the whole batch (the rows, the latest messages of their
    tickets, one update), whatever the threads' length; one more for a row whose thread is not
    among those latest messages. Rows another worker holds are skipped, and so are rows tried
    before: this is their first try, and a refused one has its retry scheduled with backoff.
    What each row records is `send_rows()`'s.
    """
    with holding() as holds, transaction.atomic():
        return send_claimed(lock_rows(outbound_ids, skip_locked=True, tried=0), holds)


def send_claimed(rows: list[OutboundEmail], holds: Holds, *, own: str | None = None) -> dict[str, str]:
    """Send rows claimed by the caller's transaction (`own` is the task's own mail) as `send_rows()`
    does, each tallied as held while it is being sent; statuses by id. A mail a worker died holding
    is not sent with the others (`worker_deaths.screen()`): SET_ASIDE, for a task that sends it
    alone; the others claimed with a task's own such mail are DEFERRED (or SET_ASIDE, suspects
    too); one that killed too many workers is `failed`."""
    screened = screen(rows, holds.take(rows), own=own, limit=settings.OUTBOUND_MAX_WORKER_DEATHS)
    try:
        # Only the mails being sent stay held: a death while sending them is not the others'.
        holds.put_down(str(row.pk) for row in (*screened.set_aside, *screened.left, *screened.failed))
        record_suspects(screened)
        results = {str(row.pk): SET_ASIDE for row in screened.set_aside}
        results.update((str(row.pk), DEFERRED) for row in screened.left)
        results.update((str(row.pk), OutboundStatus.FAILED) for row in screened.failed)
        results.update(send_rows(screened.send))
    except BaseException:  # this process lives: its counts go before the rollback lets the rows go
        holds.put_down(list(holds.tallied))
        raise
    holds.put_down(list(holds.tallied))  # the sending is over, and the rows still locked
    holds.finish(results, screened.deaths)
    return results


def send_rows(rows: list[OutboundEmail]) -> dict[str, str]:
    """Send these rows, locked by the caller's transaction, as one batch; their statuses by id.

    One read of their threads, one renderer, one backend connection, one UPDATE for the mails
    sent. A mail the backend refuses stays `queued` with the error, one more attempt counted, and
    is returned as RETRY for the caller to try again with backoff; the others are recorded in the
    same commit.

    Every mail is composed before the first is sent (`_send_rows()`). A batch stops sending after
    `OUTBOUND_BATCH_SECONDS` (a slow provider), and at the task's soft time limit: the mails not
    yet sent stay queued, untouched, and come back as DEFERRED, so that what was sent is
    committed. Otherwise the hard limit would kill the worker mid-batch, the transaction would
    roll back, and every mail the provider had accepted would be sent again by its task (and the
    killed task, put back, would claim the same batch again). A mail that could not be composed
    has counted its try all the same, and a reply token issued while composing stays (one per
    ticket and person: the next mail uses it).
    """
    results: dict[str, str] = {}
    if not rows:
        return results
    threads = read_threads(rows)
    renderer = Renderer()
    # Opened once, so that a provider's HTTP session (or an SMTP connection) serves the batch.
    backend = get_connection()
    try:
        backend.open()
    except Exception:  # each mail then tries on its own, and a failure is its retry
        logger.warning("opening the mail connection for a batch failed", exc_info=True)
    deadline = time.monotonic() + settings.OUTBOUND_BATCH_SECONDS
    try:
        _send_rows(rows, threads, renderer, backend, results, deadline)
    finally:
        backend.close()
    _save_batch([row for row in rows if results[str(row.pk)] != DEFERRED])
    metrics.count_sent(sum(1 for status in results.values() if status == OutboundStatus.SENT))
    if len(rows) == 1:
        logger.info("outbound %s (%s) to %s: %s", rows[0].pk, rows[0].template, rows[0].to_address, rows[0].status)
    else:
        logger.info("outbound batch of %s: %s", len(rows), sorted(str(status) for status in results.values()))
    return results


In = TypeVar("In")
Out = TypeVar("Out")


def _send_rows(
    rows: list[OutboundEmail],
    threads: dict[Any, Thread],
    renderer: Renderer,
    backend: Any,
    results: dict[str, str],
    deadline: float,
) -> None:
    """Every mail is composed before the first is sent, one step at a time over the batch
    (`outbound.Draft`); a mail that cannot be composed is refused, as one the backend refuses."""
    try:
        composed = _compose(rows, threads, renderer, results)
    except SoftTimeLimitExceeded:  # nothing sent yet: the mails with no outcome wait
        results.update((str(row.pk), DEFERRED) for row in rows if str(row.pk) not in results)
        return
    out_of_time = False
    for index, (row, mail) in enumerate(composed):
        key = str(row.pk)
        if out_of_time or (index and time.monotonic() > deadline):
            out_of_time = True
            results[key] = DEFERRED
            continue
        _start_try(row)
        try:
            mail.connection = backend
            mail.send()
        except SoftTimeLimitExceeded as exc:  # this mail counts as refused; the rest wait
            results[key] = _refused(row, f"{type(exc).__name__}: the task's time ran out while sending")
            out_of_time = True
            continue
        except Exception as exc:  # one refused mail must not undo the ones already sent
            results[key] = _refused(row, f"{type(exc).__name__}: {exc}")
            _drop_connection(backend)
            continue
        _record_sent(row, mail)
        results[key] = row.status


def _compose(
    rows: list[OutboundEmail], threads: dict[Any, Thread], renderer: Renderer, results: dict[str, str]
) -> list[tuple[OutboundEmail, AnymailMessage]]:
    """The batch's mails, in three steps each taken for every mail (drafts, rendering, messages).
    A mail to an undeliverable address is skipped; one whose step fails is refused (RETRY)."""
    wanted: list[tuple[OutboundEmail, Thread | None]] = []
    for row in rows:
        if getattr(row, "undeliverable", False):  # read with the row (`outbound_reads`)
            _start_try(row)
            row.status, row.error = OutboundStatus.SKIPPED, "The address is marked undeliverable."
            results[str(row.pk)] = row.status
        else:
            wanted.append((row, threads.get(row.pk)))
    drafts = _each(wanted, draft, results)
    rendered = _each(drafts, lambda row, drafted: (drafted, renderer.render(row.template, drafted.context)), results)
    return _each(rendered, lambda row, done: finish(*done), results)


def _each(
    items: list[tuple[OutboundEmail, In]], step: Callable[[OutboundEmail, In], Out], results: dict[str, str]
) -> list[tuple[OutboundEmail, Out]]:
    """(row, step(row, value)) for each row and value whose step succeeded. The task's time running
    out refuses the mail at hand and stops the batch's composing (SoftTimeLimitExceeded)."""
    done: list[tuple[OutboundEmail, Out]] = []
    for row, value in items:
        try:
            done.append((row, step(row, value)))
        except SoftTimeLimitExceeded:
            _start_try(row)
            results[str(row.pk)] = _refused(row, "SoftTimeLimitExceeded: the task's time ran out while composing")
            raise
        except Exception as exc:  # this mail cannot be composed; the others go on
            _start_try(row)
            results[str(row.pk)] = _refused(row, f"{type(exc).__name__}: {exc}")
    return done


def _start_try(row: OutboundEmail) -> None:
    row.attempts += 1
    row.updated_at = timezone.now()


def _refused(row: OutboundEmail, error: str) -> str:
    """A mail the backend refused keeps the error; after its last try it is `failed`, else RETRY."""
    row.error = error[:4000]
    if is_last_try(row.attempts):
        row.status = OutboundStatus.FAILED
        return OutboundStatus.FAILED
    return RETRY


def is_last_try(attempts: int) -> bool:
    """A mail is tried once and retried `OUTBOUND_MAX_RETRIES` times."""
    return attempts > settings.OUTBOUND_MAX_RETRIES


def _drop_connection(backend: Any) -> None:
    """After a failed send the batch's connection may be dead (an SMTP server hung up): the next
    mails open their own rather than all failing on it."""
    try:
        backend.close()
    except Exception:
        logger.warning("closing the mail connection after a failed send failed", exc_info=True)


def _save_batch(rows: list[OutboundEmail]) -> None:
    """The batch's results in one statement when all went out; anything else row by row."""
    sent = [r for r in rows if r.status == OutboundStatus.SENT and r.sent_at is not None]
    if sent:
        _update_sent(sent)
    done = {r.pk for r in sent}
    for row in rows:
        if row.pk not in done:
            row.save(update_fields=_SENT_FIELDS)


def _update_sent(rows: list[OutboundEmail]) -> None:
    """Mark the rows sent, each with its own provider message id, in one UPDATE joined to their ids
    and provider ids: Django's `bulk_update` compiles a CASE branch per row, which cost more than
    sending the mails. On PostgreSQL the two lists go as two arrays (a VALUES list took 200
    parameters, each quoted into the statement: 3 ms of a batch of 100); elsewhere a VALUES list
    (SQLite from 3.33)."""
    meta = OutboundEmail._meta
    field = {f.name: f for f in meta.concrete_fields}
    first = rows[0]
    params: list[Any] = [
        OutboundStatus.SENT.value,
        field["provider"].get_db_prep_value(first.provider, connection),
        field["sent_at"].get_db_prep_value(first.sent_at, connection),
        field["updated_at"].get_db_prep_value(first.updated_at, connection),
    ]
    if connection.vendor == "postgresql":
        source = "unnest(%s::uuid[], %s::text[]) AS v(column1, column2)"
        params += [[row.pk for row in rows], [row.provider_message_id for row in rows]]
    else:
        source = f"(VALUES {', '.join(['(%s, %s)'] * len(rows))}) AS v"
        for row in rows:
            params += [meta.pk.get_db_prep_value(row.pk, connection), row.provider_message_id]
    table = connection.ops.quote_name(meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, error = '', provider = %s, sent_at = %s, updated_at = %s, "
            f"attempts = attempts + 1, provider_message_id = v.column2 FROM {source} WHERE {table}.id = v.column1",
            params,
        )


def record_send_failure(outbound_id: str, exc: BaseException, *, attempt: int) -> str:
    """Keep the error of try number `attempt` that broke before the mail's outcome was recorded
    (the transaction rolled back): RETRY, or `failed` after the last try. WAITING, with nothing
    recorded, when the mail was tried since (not this try's); its status when no longer queued."""
    error = f"{type(exc).__name__}: {exc}"[:4000]
    with transaction.atomic():
        row = OutboundEmail.objects.select_for_update().filter(pk=outbound_id).first()
        if row is None or row.status != OutboundStatus.QUEUED:
            return row.status if row else "missing"
        if row.attempts != attempt - 1:
            return WAITING
        row.attempts += 1
        row.updated_at = timezone.now()
        status = _refused(row, error)
        row.save(update_fields=["attempts", "error", "status", "updated_at"])
        return status
