"""The outbox drainer: a send task takes the backlog of queued mail along with its own mail.

In: the id of the mail a `mailgateway.send_outbound` task was started for. Out: the status of
each mail it sent, by id (`outbound.send_rows()`'s results), or just that mail's status when it
was not there to send. Touches: the `OutboundEmail` rows it claims, and the mail backend.

A lone mail goes out at once, alone. When other mails wait in the outbox that were never tried
(their own tasks still in the queue behind this one), the task claims up to
`OUTBOUND_DRAIN_BATCH - 1` of them too, oldest first, and sends them all as one batch: one
transaction, one backend connection, their threads read once. The tasks whose mails were taken
then find them sent with one read, outside any transaction, and do nothing more.

Exactly once: a mail is claimed with its row lock (`FOR UPDATE SKIP LOCKED`), checked `queued`
under that lock, and recorded sent in the same transaction that sent it; a worker skips the
rows another holds instead of waiting for them, its own row included (the holder sends it, or
hands it to a retry). Only PostgreSQL claims a backlog; elsewhere a task sends its own mail.

Retries: a mail tried before (attempts > 0) has its retry on the way, with its backoff, and is
not taken. A mail of the batch that the provider refuses stays queued with its error and comes
back as `RETRY`: the task retries its own mail, and hands each other one to `send_outbound`
with backoff (that mail's own task, if it is still queued, may try it sooner; whichever comes
first sends it, the other finds it sent).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction

from .models import OutboundStatus
from .outbound import send_rows
from .outbound_reads import claim_rows, find_status

# The task's mail is held by another worker, which sends it (or hands it to a retry).
TAKEN = "taken"


def send_with_backlog(outbound_id: str, *, batch: int | None = None) -> dict[str, str]:
    """Send this queued mail, and with it up to `batch - 1` others never tried; statuses by id
    (`str(uuid)`, as `outbound_key()` spells them)."""
    outbound_id = outbound_key(outbound_id)
    status = find_status(outbound_id)
    if status != OutboundStatus.QUEUED:
        return {outbound_id: status or "missing"}  # sent with another task's batch, or skipped
    size = settings.OUTBOUND_DRAIN_BATCH if batch is None else batch
    with transaction.atomic():
        rows = claim_rows(outbound_id, backlog=size - 1)
        if not rows or str(rows[0].pk) != outbound_id:
            return {outbound_id: TAKEN}
        return send_rows(rows)


def outbound_key(outbound_id: object) -> str:
    """A row's id as the results name it (a task's argument may be spelled another way)."""
    return str(uuid.UUID(str(outbound_id)))
