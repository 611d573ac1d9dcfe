"""Celery wrappers only: the work is in `mailgateway.ingest`; retries live here."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable

from celery import shared_task

logger = logging.getLogger("mailgateway")

MAX_RETRIES = 5
# A mail handed to workers this often without an outcome is killing them (out of memory, a crash in
# a parser): it is marked failed for staff instead of taking down worker after worker. Retries and
# the sweeper's re-queueing count too, so the bound sits well above MAX_RETRIES.
MAX_DELIVERIES = 12


class WorkerLost(Exception):
    """The mail's processing never finished: each worker that took it died or was killed."""


def count_delivery(inbound_id: str) -> int:
    """How often this mail's task reached a worker (kept a day in the cache, next to the queue)."""
    from helpdesk.cache import count_up

    return count_up(f"mailgateway:deliveries:{inbound_id}", timeout=86400)


@shared_task(
    bind=True,
    name="mailgateway.process_inbound",
    acks_late=True,
    max_retries=MAX_RETRIES,
)
def process_inbound(self, inbound_id: str) -> str:
    from .ingest import FINAL_FAILURE, process_stored_mail, record_failure

    if count_delivery(inbound_id) > MAX_DELIVERIES:
        logger.error("inbound mail %s reached workers %s times without an outcome", inbound_id, MAX_DELIVERIES)
        record_failure(inbound_id, WorkerLost(f"taken by a worker {MAX_DELIVERIES} times, never finished"), final=True)
        return FINAL_FAILURE
    try:
        return process_stored_mail(inbound_id)
    except Exception as exc:
        final = self.request.retries >= self.max_retries
        logger.exception("processing inbound mail %s failed (try %s)", inbound_id, self.request.retries + 1)
        record_failure(inbound_id, exc, final=final)
        if final:
            return FINAL_FAILURE
        # Exponential backoff with jitter: 10 s, 20 s, 40 s ... at most 10 minutes.
        countdown = min(10 * 2**self.request.retries, 600) * random.uniform(0.5, 1.5)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="mailgateway.poll_imap", ignore_result=True)
def poll_imap() -> None:
    """Celery beat's entry to the IMAP door; quiet when no mailbox is configured (IMAP_HOST empty)."""
    from django.conf import settings

    if not settings.IMAP_HOST:
        return
    from .imap import poll_mailbox

    poll_mailbox()


@shared_task(bind=True, name="mailgateway.send_outbound", acks_late=True)
def send_outbound(self, outbound_id: str, attempt: int | None = None, alone: bool = False) -> str:
    """Try number `attempt` (1 for the first) of one queued `OutboundEmail`, with the backlog
    queued behind it (`outbox.py`) unless `alone`; each mail the provider refused gets its next
    try scheduled with backoff, until it is `failed`."""
    from .outbox import RETRY, due_attempt, outbound_key, record_send_failure, send_with_backlog

    if attempt is None:
        # Queued by an earlier version (every task now names its try), whose retries came after
        # their countdown: the try the mail is due for now.
        attempt = due_attempt(outbound_id)
    try:
        results = send_with_backlog(outbound_id, attempt=attempt, batch=1 if alone else None)
    except Exception as exc:  # nothing was recorded: the transaction rolled back
        logger.warning("sending outbound mail %s failed (try %s): %s", outbound_id, attempt, exc)
        status = record_send_failure(outbound_id, exc, attempt=attempt)
        if status == RETRY:
            retry_later([outbound_id], tried=attempt)
        return status
    own = outbound_key(outbound_id)
    hand_over(results, besides=own)
    status = results[own]
    if status == RETRY:
        logger.warning("the provider refused outbound mail %s (try %s)", outbound_id, attempt)
        retry_later([own], tried=attempt)
    return status


def hand_over(results: dict[str, str], *, besides: str | None = None, deferred: bool = True) -> None:
    """Give the mails of a batch (`besides` the task's own) the tasks they need next. They were
    claimed untried, so this was their first try: one the provider refused gets its second after
    the backoff, one set aside a task that sends it alone, and one the batch left untouched (out
    of time) its first try at once, unless `deferred` is False (a run of the outbox follows)."""
    from .outbox import DEFERRED, RETRY, SET_ASIDE

    others = [(outbound_id, status) for outbound_id, status in results.items() if outbound_id != besides]
    retry_later((outbound_id for outbound_id, status in others if status == RETRY), tried=1)
    if deferred:
        send_again(outbound_id for outbound_id, status in others if status == DEFERRED)
    send_again((outbound_id for outbound_id, status in others if status == SET_ASIDE), alone=True)


def _backoff(tried: int) -> float:
    """OUTBOUND_RETRY_SECONDS (30 s) after the first try, twice that after the second ... at most
    an hour, with jitter so that retries do not arrive together."""
    return _middle_backoff(tried) * random.uniform(0.5, 1.5)


def longest_backoff(tried: int) -> float:
    """The longest wait `_backoff()` gives after try number `tried`."""
    return _middle_backoff(tried) * 1.5


def _middle_backoff(tried: int) -> float:
    from django.conf import settings

    return min(settings.OUTBOUND_RETRY_SECONDS * 2 ** (tried - 1), 3600)


def retry_later(outbound_ids: Iterable[str], *, tried: int) -> None:
    """Mails the provider refused (their error kept, still queued) after `tried` tries: their next
    try, after the backoff."""
    for outbound_id in outbound_ids:
        send_outbound.apply_async(args=[outbound_id], kwargs={"attempt": tried + 1}, countdown=_backoff(tried))


def send_again(outbound_ids: Iterable[str], *, alone: bool = False) -> None:
    """Mails never tried, still queued, that a batch left untouched (it ran out of time, or broke,
    or a worker died holding them) are queued again at once, for their first try: their own tasks
    may have found them held by that batch and given up. With `alone`, each is sent without a
    backlog."""
    for outbound_id in outbound_ids:
        send_outbound.apply_async(args=[outbound_id], kwargs={"attempt": 1, **({"alone": True} if alone else {})})


# Set while a run of the outbox waits in the queue (`request_outbox_run()`): mails committed
# meanwhile are left to that run. Whatever a run misses (a run lost with its broker, killed, or
# that skipped rows another worker held and then let go) is found by the sweeper: it queues a run
# when mail never tried has waited longer than the mark lives (`sweeper.run_outbox_for_waiting_mail`).
OUTBOX_RUN_MARK = "mailgateway:outbox-run-queued"
OUTBOX_RUN_MARK_SECONDS = 60


def request_outbox_run(*, countdown: float = 0, failed_runs: int = 0) -> bool:
    """Queue one run of the outbox (`send_outbox`) unless one waits already, so that a burst of
    events, a run's follow-up and the sweeper start at most one run between them. The mark lives
    as long as the run may wait: its countdown and a minute. True when a run was queued or waits;
    False when the shared cache does not answer (the caller queues each mail's own task)."""
    from django.core.cache import cache

    try:
        if not cache.add(OUTBOX_RUN_MARK, 1, timeout=int(countdown) + OUTBOX_RUN_MARK_SECONDS):
            return True  # the run waiting in the queue takes these mails too
    except Exception:
        logger.warning("the cache did not answer: outbound mail is queued mail by mail", exc_info=True)
        _clear_outbox_run_mark()  # in case the mark was set and only the answer was lost
        return False
    try:
        send_outbox.apply_async(kwargs={"failed_runs": failed_runs} if failed_runs else {}, countdown=countdown or None)
    except Exception:
        _clear_outbox_run_mark()  # else the next commits would leave their mail to no run
        raise
    return True


def _clear_outbox_run_mark() -> bool:
    from django.core.cache import cache

    try:
        cache.delete(OUTBOX_RUN_MARK)
    except Exception:
        logger.warning("clearing the outbox run's mark failed", exc_info=True)
        return False
    return True


@shared_task(name="mailgateway.send_outbox", acks_late=True)
def send_outbox(failed_runs: int = 0) -> dict[str, str]:
    """One run of the outbox: the mails never tried, oldest first, up to OUTBOUND_DRAIN_BATCH, as
    one batch (`outbox.send_untried()`). The mark comes off first, so that a mail committed from
    now on, which this run may miss, queues the next run; a full batch queues the next run itself.
    Each mail the provider refused goes to `send_outbound` for its retry.

    A run that breaks (nothing recorded) is followed by one run after a backoff (`failed_runs` in
    a row so far), holding the mark meanwhile so that commits and the sweeper add none; and it
    hands the oldest mails to tasks of their own that send each alone, counting its tries, so that
    a mail that breaks every batch fails after its retries without costing the others theirs."""
    from django.conf import settings

    from .outbound_reads import untried_ids
    from .outbox import DEFERRED, send_untried

    marked_off = _clear_outbox_run_mark()
    try:
        results = send_untried()
    except Exception:  # nothing was recorded: the transaction rolled back
        logger.exception("a run of the outbox failed (%s in a row)", failed_runs + 1)
        countdown = _backoff(failed_runs + 1)
        if not request_outbox_run(countdown=countdown, failed_runs=failed_runs + 1):
            send_outbox.apply_async(kwargs={"failed_runs": failed_runs + 1}, countdown=countdown)
        send_again(untried_ids(settings.OUTBOUND_DRAIN_BATCH), alone=True)
        return {}
    hand_over(results, deferred=False)  # the next run takes the mails left for lack of time
    more_waits = DEFERRED in results.values() or len(results) >= settings.OUTBOUND_DRAIN_BATCH
    if more_waits and not request_outbox_run():  # the next run, straight away
        send_outbox.apply_async()
    if not marked_off:
        # Mail committed while the mark stays finds it and queues nothing: a run once it lapses.
        send_outbox.apply_async(countdown=OUTBOX_RUN_MARK_SECONDS)
    return results


@shared_task(name="mailgateway.send_outbound_batch", acks_late=True)
def send_outbound_batch(outbound_ids: list[str]) -> dict[str, str]:
    """Send the mails of one event together; each one the provider refused goes to `send_outbound`."""
    from .outbox import send_outbound_batch as send_batch

    results = send_batch(outbound_ids)
    hand_over(results)
    return results
