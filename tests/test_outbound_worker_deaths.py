"""A mail that kills the worker sending it does not take the outbox down with it.

The mails a transaction holds for sending are tallied in the shared cache until it is over; a
count left standing is a worker that died holding the mail (out of memory, a crash, the hard time
limit). Here a death is stood in for by the count it leaves (`died_holding()`); a real prefork
worker whose provider ends its process is in `test_outbound_worker.py`. The broker is the edge:
the tasks queued are kept, and the tests run them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from anymail.backends.test import EmailBackend
from django.db import transaction

from helpdesk.cache import add_to_tally, drop_from_tally, subtract_from_tally, tally_of
from mailgateway import outbox, tasks, worker_deaths
from mailgateway.models import OutboundEmail, OutboundStatus
from mailgateway.worker_deaths import HOLDS_TALLY, screen
from tests.outbound_helpers import queue_lone_mails, sent, statuses

postgres = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _outbox(anymail_outbox, monkeypatch):  # type: ignore[no-untyped-def]
    """Queued mails wait for their tasks: each test runs them."""
    monkeypatch.setattr("mailgateway.notifications._enqueue", lambda outbound_ids: None)


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """The `send_outbound` tasks queued, as (mail, keyword arguments), kept instead of sent."""
    kept: list[tuple[str, dict[str, Any]]] = []

    def keep(args=(), kwargs=None, **options):  # type: ignore[no-untyped-def]
        kept.append((args[0], dict(kwargs or {})))

    monkeypatch.setattr(tasks.send_outbound, "apply_async", keep)
    return kept


def died_holding(outbound_id: str, times: int = 1) -> None:
    """`times` workers died while they held this mail for sending: their counts stand."""
    for _ in range(times):
        add_to_tally(HOLDS_TALLY, [outbound_id])


class WorkerDied(BaseException):
    """A process's end, as the test stands it in: nothing after it runs in that process."""


@contextmanager
def dying_when_sending_to(monkeypatch, address: str) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Sending a mail to `address` ends the process, as far as the database and the tally can
    tell: the transaction rolls back, and the counts still held are never taken off."""
    post, subtract = EmailBackend.post_to_esp, worker_deaths.subtract_from_tally
    dead = False

    def post_or_die(self, payload, message):  # type: ignore[no-untyped-def]
        nonlocal dead
        if message.to == [address]:
            dead = True
            raise WorkerDied(address)
        return post(self, payload, message)

    with monkeypatch.context() as patch:
        patch.setattr(EmailBackend, "post_to_esp", post_or_die)
        patch.setattr(worker_deaths, "subtract_from_tally", lambda name, ids: None if dead else subtract(name, ids))
        with pytest.raises(WorkerDied):
            yield
    assert dead


def rows(*worker_deaths: int) -> list[OutboundEmail]:
    return [OutboundEmail(worker_deaths=n) for n in worker_deaths]


def ids_of(found: list[OutboundEmail]) -> list[str]:
    return [str(row.pk) for row in found]


# -- sorting a claimed batch (pure) --------------------------------------------------------------


def test_a_batch_no_worker_died_holding_is_sent_whole():
    batch = rows(0, 0, 0)
    screened = screen(batch, {}, own=None, limit=3)
    assert screened.send == batch and not (screened.set_aside or screened.left or screened.failed)


def test_a_batch_sets_aside_each_mail_a_worker_died_holding_and_sends_the_rest():
    batch = rows(0, 0, 0)
    screened = screen(batch, {str(batch[1].pk): 1}, own=None, limit=3)
    assert (screened.send, screened.set_aside) == ([batch[0], batch[2]], [batch[1]])
    assert screened.deaths == {str(batch[1].pk): 1}


def test_a_task_s_own_mail_a_worker_died_holding_goes_alone_and_the_backlog_claimed_with_it_is_left():
    own, *backlog = rows(0, 0, 0)
    screened = screen([own, *backlog], {str(own.pk): 2}, own=str(own.pk), limit=3)
    assert (screened.send, screened.left, screened.set_aside) == ([own], backlog, [])


def test_a_mail_alone_is_sent_below_the_bound_and_failed_at_it():
    (mail,) = rows(0)
    assert screen([mail], {str(mail.pk): 2}, own=None, limit=3).send == [mail]
    at_bound = screen([mail], {str(mail.pk): 3}, own=None, limit=3)
    assert (at_bound.send, at_bound.failed) == ([], [mail])


def test_a_mail_is_sent_alone_once_before_it_is_failed_whatever_the_bound():
    """Its first death may have been another mail's of the same batch."""
    (mail,) = rows(0)
    assert screen([mail], {str(mail.pk): 1}, own=None, limit=1).send == [mail]
    assert screen([mail], {str(mail.pk): 2}, own=None, limit=1).failed == [mail]


def test_mails_claimed_with_a_task_s_own_suspect_are_set_aside_when_they_are_suspects_too():
    own, suspect, innocent = rows(0, 1, 0)
    screened = screen([own, suspect, innocent], {str(own.pk): 1}, own=str(own.pk), limit=3)
    assert (screened.send, screened.set_aside, screened.left) == ([own], [suspect], [innocent])


def test_deaths_written_on_the_row_count_when_the_cache_has_lost_its_tally():
    batch = rows(0, 2)
    assert screen(batch, {}, own=None, limit=3).set_aside == [batch[1]]
    assert screen(batch[1:], {}, own=None, limit=2).failed == [batch[1]]


# -- the tally -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tally_counts_each_member_and_forgets_a_member_back_at_zero():
    assert add_to_tally("test:tally", ["a", "b"]) == [1, 1]
    assert add_to_tally("test:tally", ["a"]) == [2]
    subtract_from_tally("test:tally", ["a", "b"])
    assert tally_of("test:tally") == {"a": 1}
    drop_from_tally("test:tally", ["a"])
    assert tally_of("test:tally") == {}


@pytest.mark.redis
@pytest.mark.django_db
def test_on_redis_a_tally_keeps_every_count_of_processes_adding_at_once():
    """The tally is shared by every worker: additions from several processes are never lost."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    adders = [context.Process(target=_add_to_test_tally, args=(300,)) for _ in range(3)]
    for adder in adders:
        adder.start()
    for adder in adders:
        adder.join(timeout=60)
    assert [adder.exitcode for adder in adders] == [0, 0, 0]
    assert tally_of("test:tally") == {"m": 900}


def _add_to_test_tally(times: int) -> None:
    for _ in range(times):
        add_to_tally("test:tally", ["m"])


# -- sending -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sending_leaves_no_tally_behind():
    ids = queue_lone_mails(3)
    assert set(outbox.send_outbound_batch(ids).values()) == {OutboundStatus.SENT}
    assert tally_of(HOLDS_TALLY) == {}


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_rolled_back_is_not_counted_as_a_death(monkeypatch):
    ids = queue_lone_mails(2)
    with monkeypatch.context() as patch:
        patch.setattr(outbox, "_save_batch", _database_gone)
        with pytest.raises(RuntimeError):
            outbox.send_outbound_batch(ids)
    assert tally_of(HOLDS_TALLY) == {} and statuses(ids) == ["queued", "queued"]
    assert outbox.send_outbound_batch(ids) == {i: OutboundStatus.SENT for i in ids}  # none set aside


def _database_gone(rows: Any) -> None:
    raise RuntimeError("the database connection was lost")


@pytest.mark.django_db
def test_a_mail_of_a_batch_a_worker_died_holding_is_set_aside_and_then_sent_alone_once(queued):
    ids = queue_lone_mails(3)
    died_holding(ids[1])
    results = tasks.send_outbound_batch.run(ids)
    assert results[ids[1]] == outbox.SET_ASIDE and statuses(ids) == ["sent", "queued", "sent"]
    assert OutboundEmail.objects.get(pk=ids[1]).worker_deaths == 1
    assert queued == [(ids[1], {"attempt": 1, "alone": True})]
    assert tasks.send_outbound.run(ids[1], attempt=1, alone=True) == OutboundStatus.SENT
    assert sorted(m["To"] for m in sent()) == ["guest0@example.com", "guest1@example.com", "guest2@example.com"]


@pytest.mark.django_db(transaction=True)
def test_a_mail_that_ended_too_many_workers_is_failed_with_the_reason_and_never_handed_to_the_provider(settings):
    settings.OUTBOUND_MAX_WORKER_DEATHS = 2
    (mail,) = queue_lone_mails(1)
    died_holding(mail, times=2)
    assert tasks.send_outbound.run(mail, attempt=1, alone=True) == OutboundStatus.FAILED
    failed = OutboundEmail.objects.get(pk=mail)
    assert (failed.status, failed.attempts, failed.worker_deaths) == (OutboundStatus.FAILED, 0, 2)
    assert "process ended 2 times" in failed.error
    assert sent() == [] and tally_of(HOLDS_TALLY) == {}


@pytest.mark.django_db
def test_below_the_bound_a_mail_a_worker_died_holding_is_sent_alone(settings):
    settings.OUTBOUND_MAX_WORKER_DEATHS = 3
    (mail,) = queue_lone_mails(1)
    died_holding(mail, times=2)
    assert tasks.send_outbound.run(mail, attempt=1, alone=True) == OutboundStatus.SENT
    assert OutboundEmail.objects.get(pk=mail).worker_deaths == 2


@pytest.mark.django_db
def test_without_the_cache_mails_are_sent_untallied(unreachable_cache):
    ids = queue_lone_mails(2)
    assert outbox.send_outbound_batch(ids) == {i: OutboundStatus.SENT for i in ids}


@postgres
@pytest.mark.django_db
def test_a_task_whose_own_mail_a_worker_died_holding_sends_it_alone_and_leaves_the_backlog_to_first_tries(queued):
    ids = queue_lone_mails(3)
    died_holding(ids[0])
    assert tasks.send_outbound.run(ids[0], attempt=1) == OutboundStatus.SENT
    assert statuses(ids) == ["sent", "queued", "queued"]
    assert queued == [(ids[1], {"attempt": 1}), (ids[2], {"attempt": 1})]


@postgres
@pytest.mark.django_db
def test_runs_and_backlogs_leave_a_mail_set_aside_to_its_own_task():
    ids = queue_lone_mails(4)
    OutboundEmail.objects.filter(pk=ids[1]).update(worker_deaths=1)
    assert set(outbox.send_untried()) == {ids[0], ids[2], ids[3]}
    assert statuses(ids) == ["sent", "queued", "sent", "sent"]
    more = queue_lone_mails(2, guests="later")
    assert set(outbox.send_with_backlog(more[0])) == set(more)  # its backlog: the other new one only


@postgres
@pytest.mark.django_db
def test_the_sweeper_asks_no_run_for_a_mail_set_aside_and_requeues_it_once_it_is_stuck(settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from mailgateway import sweeper

    settings.OUTBOUND_COALESCE = True
    (mail,) = queue_lone_mails(1)
    OutboundEmail.objects.filter(pk=mail).update(worker_deaths=1, created_at=timezone.now() - timedelta(hours=1))
    assert sweeper.run_outbox_for_waiting_mail() is False
    requeued: list[Any] = []
    monkeypatch.setattr("celery.current_app.send_task", lambda *task, **kwargs: requeued.append((*task, kwargs)))
    assert sweeper.requeue_stuck_outbound() == [mail]
    assert requeued == [("mailgateway.send_outbound", {"args": [mail], "kwargs": {"attempt": 1}})]
    assert tasks.send_outbound.run(mail, attempt=1) == OutboundStatus.SENT


# -- deaths while sending ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_worker_that_dies_sending_a_batch_leaves_a_count_on_each_mail_of_it(monkeypatch):
    ids = queue_lone_mails(3)
    with dying_when_sending_to(monkeypatch, "guest1@example.com"):
        outbox.send_outbound_batch(ids)
    assert tally_of(HOLDS_TALLY) == dict.fromkeys(ids, 1) and statuses(ids) == ["queued"] * 3


@pytest.mark.django_db
def test_a_mail_set_aside_gains_no_death_from_the_batch_it_was_set_aside_from(monkeypatch):
    ids = queue_lone_mails(3)
    died_holding(ids[2])
    with dying_when_sending_to(monkeypatch, "guest0@example.com"):
        outbox.send_outbound_batch(ids)
    assert tally_of(HOLDS_TALLY) == {ids[0]: 1, ids[1]: 1, ids[2]: 1}


@postgres
@pytest.mark.django_db(transaction=True)
def test_the_mails_claimed_with_a_killer_s_own_mail_gain_no_further_death_and_go_out(monkeypatch, settings, queued):
    """Without runs of the outbox: the killer's own task claims the mails queued behind it. They
    share the death of its batch, and no more: then each goes alone."""
    settings.OUTBOUND_MAX_WORKER_DEATHS = 2
    killer, *others = queue_lone_mails(4)
    for _ in range(2):  # in its batch, then alone
        with dying_when_sending_to(monkeypatch, "guest0@example.com"):
            tasks.send_outbound.run(killer, attempt=1)
    assert tally_of(HOLDS_TALLY) == {killer: 2, **dict.fromkeys(others, 1)}
    assert tasks.send_outbound.run(killer, attempt=1) == OutboundStatus.FAILED
    assert queued == [(other, {"attempt": 1, "alone": True}) for other in others]
    assert [tasks.send_outbound.run(other, attempt=1, alone=True) for other in others] == [OutboundStatus.SENT] * 3
    assert statuses([killer, *others]) == ["failed", "sent", "sent", "sent"]
    assert tally_of(HOLDS_TALLY) == {}


@pytest.mark.django_db(transaction=True)
def test_a_batch_takes_its_counts_off_before_it_commits(monkeypatch, settings):
    """A claim right after the commit must not find the batch's counts and take the mails it
    left (here for lack of time) for mails a worker died sending."""
    settings.OUTBOUND_BATCH_SECONDS = 0  # no mail starts after the first
    ids = queue_lone_mails(3)
    send_rows, at_commit = outbox.send_rows, []

    def sending(rows):  # type: ignore[no-untyped-def]
        transaction.on_commit(lambda: at_commit.append(tally_of(HOLDS_TALLY)))
        return send_rows(rows)

    monkeypatch.setattr(outbox, "send_rows", sending)
    assert list(outbox.send_outbound_batch(ids).values()) == ["sent", "deferred", "deferred"]
    assert at_commit == [{}]


@postgres
@pytest.mark.django_db
def test_the_task_of_a_mail_with_deaths_on_its_row_claims_no_backlog(queued):
    ids = queue_lone_mails(3)
    OutboundEmail.objects.filter(pk=ids[0]).update(worker_deaths=1)
    assert outbox.send_with_backlog(ids[0]) == {ids[0]: OutboundStatus.SENT}
    assert statuses(ids) == ["sent", "queued", "queued"]


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_breaks_puts_its_counts_down_before_it_lets_the_rows_go(monkeypatch):
    """Else a claim in between would take this live process's counts for deaths."""
    ids = queue_lone_mails(2)
    subtract, inside = worker_deaths.subtract_from_tally, []

    def noting(name, members):  # type: ignore[no-untyped-def]
        inside.append(transaction.get_connection().in_atomic_block)
        subtract(name, members)

    monkeypatch.setattr(worker_deaths, "subtract_from_tally", noting)
    monkeypatch.setattr(outbox, "_save_batch", _database_gone)
    with pytest.raises(RuntimeError):
        outbox.send_outbound_batch(ids)
    assert inside == [True] and tally_of(HOLDS_TALLY) == {}


@pytest.mark.django_db(transaction=True)
def test_counts_the_cache_did_not_take_off_are_tried_again_when_the_transaction_ends(monkeypatch):
    ids = queue_lone_mails(2)
    subtract, calls = worker_deaths.subtract_from_tally, []

    def failing_once(name, members):  # type: ignore[no-untyped-def]
        calls.append(list(members))
        if len(calls) == 1:
            raise ConnectionError("Redis did not answer")
        subtract(name, members)

    monkeypatch.setattr(worker_deaths, "subtract_from_tally", failing_once)
    assert outbox.send_outbound_batch(ids) == {i: OutboundStatus.SENT for i in ids}
    assert [sorted(call) for call in calls] == [sorted(ids)] * 2 and tally_of(HOLDS_TALLY) == {}


@pytest.mark.django_db(transaction=True)
def test_counts_added_whose_answer_was_lost_are_taken_off(monkeypatch):
    ids = queue_lone_mails(2)
    add = worker_deaths.add_to_tally

    def answer_lost(name, members):  # type: ignore[no-untyped-def]
        add(name, members)
        raise TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(worker_deaths, "add_to_tally", answer_lost)
    assert outbox.send_outbound_batch(ids) == {i: OutboundStatus.SENT for i in ids}
    assert tally_of(HOLDS_TALLY) == {}


@postgres
@pytest.mark.django_db
def test_the_mails_left_behind_a_task_s_own_suspect_gain_no_death_when_it_kills_again(monkeypatch):
    ids = queue_lone_mails(3)
    died_holding(ids[0])
    with dying_when_sending_to(monkeypatch, "guest0@example.com"):
        tasks.send_outbound.run(ids[0], attempt=1)
    assert tally_of(HOLDS_TALLY) == {ids[0]: 2}


@pytest.mark.django_db
def test_the_task_s_time_running_out_while_the_mails_are_tallied_sends_nothing(monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    ids = queue_lone_mails(2)

    def time_is_up(name, members):  # type: ignore[no-untyped-def]
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(worker_deaths, "add_to_tally", time_is_up)
    with pytest.raises(SoftTimeLimitExceeded):
        outbox.send_outbound_batch(ids)
    assert statuses(ids) == ["queued", "queued"] and sent() == []


@pytest.mark.django_db
def test_a_cache_that_cannot_change_a_tally_atomically_keeps_none(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert add_to_tally("test:tally", ["a", "a"]) == [1, 1]
    assert tally_of("test:tally") == {}
