"""The outbox drainer: a send task takes the mails queued behind its own, and each is sent once.

PostgreSQL only: a backlog is claimed with `FOR UPDATE SKIP LOCKED`; on other databases a task
sends its own mail alone (the last test).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from mailgateway import tasks
from mailgateway.models import OutboundEmail, OutboundStatus
from mailgateway.outbound_reads import claim_rows
from mailgateway.outbox import TAKEN, send_with_backlog
from tests.outbound_helpers import queue_lone_mails, refuse_mail_to, sent, statuses

postgres = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _outbox(anymail_outbox, monkeypatch):  # type: ignore[no-untyped-def]
    """Queued mails wait for their tasks: the broker is the edge, and each test runs the tasks."""
    monkeypatch.setattr("mailgateway.notifications._enqueue", lambda outbound_ids: None)


def run_task(outbound_id: str, attempt: int = 1) -> str:
    return tasks.send_outbound.apply(args=[outbound_id], kwargs={"attempt": attempt}).get()


def scheduled_retries(monkeypatch) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """The retries the tasks schedule, as (mail, try number), kept instead of queued."""
    retries: list[tuple[str, int]] = []

    def keep(outbound_ids, *, tried):  # type: ignore[no-untyped-def]
        retries.extend((outbound_id, tried + 1) for outbound_id in outbound_ids)

    monkeypatch.setattr(tasks, "retry_later", keep)
    return retries


@postgres
@pytest.mark.django_db
def test_a_task_sends_the_mails_queued_behind_its_own_in_one_batch():
    ids = queue_lone_mails(5)
    with CaptureQueriesContext(connection) as captured:
        assert run_task(ids[0]) == "sent"
    assert statuses(ids) == ["sent"] * 5
    assert sorted(m["To"] for m in sent()) == [f"guest{n}@example.com" for n in range(5)]
    updates = [q for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1


@postgres
@pytest.mark.django_db
def test_a_drained_batch_takes_as_many_queries_for_twenty_mails_as_for_two():
    def queries_to_drain(count: int) -> int:
        ids = queue_lone_mails(count, guests=f"guest-of-{count}-")
        with CaptureQueriesContext(connection) as captured:
            run_task(ids[0])
        assert statuses(ids) == ["sent"] * count
        return len(captured.captured_queries)

    assert queries_to_drain(2) == queries_to_drain(20)


@postgres
@pytest.mark.django_db
def test_a_task_whose_mail_went_out_with_another_task_s_batch_sends_nothing_with_one_read():
    ids = queue_lone_mails(3)
    run_task(ids[0])
    with CaptureQueriesContext(connection) as captured:
        assert run_task(ids[2]) == "sent"
    assert len(captured.captured_queries) == 1
    assert len(sent()) == 3


@postgres
@pytest.mark.django_db
def test_a_task_takes_at_most_the_drain_batch_oldest_first(settings):
    settings.OUTBOUND_DRAIN_BATCH = 3
    ids = queue_lone_mails(5)
    run_task(ids[4])
    assert statuses(ids) == ["sent", "sent", "queued", "queued", "sent"]


@postgres
@pytest.mark.django_db
def test_a_mail_waiting_for_its_retry_is_not_taken_into_another_task_s_batch():
    ids = queue_lone_mails(2)
    OutboundEmail.objects.filter(pk=ids[0]).update(attempts=1, error="AnymailAPIError: 503")
    run_task(ids[1])
    assert statuses(ids) == ["queued", "sent"]


@postgres
@pytest.mark.django_db
def test_a_provider_error_on_one_mail_of_a_drained_batch_retries_only_that_mail(monkeypatch):
    ids = queue_lone_mails(3)
    refuse_mail_to(monkeypatch, "guest1@example.com")
    retried = scheduled_retries(monkeypatch)
    assert run_task(ids[0]) == "sent"
    assert retried == [(ids[1], 2)]
    assert statuses(ids) == ["sent", "queued", "sent"]
    refused = OutboundEmail.objects.get(pk=ids[1])
    assert refused.attempts == 1 and "the provider refused it" in refused.error


@postgres
@pytest.mark.django_db
def test_the_own_task_of_a_mail_refused_in_another_task_s_batch_leaves_it_to_its_retry(monkeypatch):
    ids = queue_lone_mails(3)
    tries = refuse_mail_to(monkeypatch, "guest1@example.com")
    retried = scheduled_retries(monkeypatch)
    run_task(ids[0])
    assert run_task(ids[1]) == "waiting"  # its first task, behind the batch that tried it
    assert len(tries) == 1 and retried == [(ids[1], 2)]
    monkeypatch.undo()
    assert run_task(*retried[0]) == "sent"
    assert OutboundEmail.objects.get(pk=ids[1]).attempts == 2


@postgres
@pytest.mark.django_db
def test_a_mail_refused_in_a_batch_is_tried_no_more_than_its_retries_allow(monkeypatch, settings):
    settings.OUTBOUND_MAX_RETRIES = 1
    ids = queue_lone_mails(2)
    tries = refuse_mail_to(monkeypatch, "guest1@example.com")
    retried = scheduled_retries(monkeypatch)
    run_task(ids[0])
    run_task(ids[1])
    for outbound_id, attempt in list(retried) * 2:  # each retry delivered twice
        assert run_task(outbound_id, attempt) == "failed"
    assert len(tries) == 2 and statuses(ids) == ["sent", "failed"]


@pytest.mark.django_db
def test_a_task_for_a_try_already_made_sends_nothing_and_the_next_try_sends_the_mail():
    (outbound_id,) = queue_lone_mails(1)
    OutboundEmail.objects.filter(pk=outbound_id).update(attempts=1, error="AnymailAPIError: 503")
    assert run_task(outbound_id) == "waiting"
    assert sent() == []
    assert run_task(outbound_id, attempt=2) == "sent"
    assert len(sent()) == 1


@postgres
@pytest.mark.django_db(transaction=True)
def test_a_mail_claimed_by_one_worker_is_not_sent_by_another():
    held = queue_lone_mails(4)[:2]
    with transaction.atomic():
        claimed = claim_rows(held[0], tried=0, backlog=1)  # this worker holds the two oldest
        assert [str(r.pk) for r in claimed] == held
        outcome: dict[str, dict[str, str]] = {}

        def other_worker() -> None:
            try:
                outcome["own row held"] = send_with_backlog(held[1])
                free = OutboundEmail.objects.filter(status=OutboundStatus.QUEUED).exclude(pk__in=held).first()
                outcome["free row"] = send_with_backlog(str(free.pk))
            finally:
                connection.close()

        worker = threading.Thread(target=other_worker)
        worker.start()
        worker.join(timeout=30)
    assert outcome["own row held"] == {held[1]: TAKEN}
    assert sorted(outcome["free row"].values()) == ["sent", "sent"]  # the two rows nobody held
    assert sorted(m["To"] for m in sent()) == ["guest2@example.com", "guest3@example.com"]


@pytest.mark.django_db
def test_a_task_given_its_mail_s_id_spelled_otherwise_sends_it_once():
    ids = queue_lone_mails(1)
    assert run_task(ids[0].upper()) == "sent"
    assert run_task(ids[0]) == "sent"
    assert len(sent()) == 1


@pytest.mark.django_db
def test_without_postgresql_a_task_sends_its_own_mail_alone():
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL drains the backlog")
    ids = queue_lone_mails(3)
    assert run_task(ids[1]) == "sent"
    assert statuses(ids) == ["queued", "sent", "queued"]


@pytest.mark.django_db
def test_a_try_that_breaks_before_recording_counts_and_schedules_the_next_try(monkeypatch):
    (outbound_id,) = queue_lone_mails(1)
    retried = scheduled_retries(monkeypatch)

    def broken(rows):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database went away")

    monkeypatch.setattr("mailgateway.outbox.read_threads", broken)
    assert run_task(outbound_id) == "retry"
    stored = OutboundEmail.objects.get(pk=outbound_id)
    assert (stored.status, stored.attempts) == ("queued", 1) and "the database went away" in stored.error
    assert retried == [(outbound_id, 2)]


@pytest.mark.django_db
def test_a_try_that_breaks_on_the_last_try_fails_the_mail(monkeypatch, settings):
    settings.OUTBOUND_MAX_RETRIES = 1
    (outbound_id,) = queue_lone_mails(1)
    OutboundEmail.objects.filter(pk=outbound_id).update(attempts=1)
    retried = scheduled_retries(monkeypatch)
    monkeypatch.setattr("mailgateway.outbox.read_threads", lambda rows: 1 / 0)
    assert run_task(outbound_id, attempt=2) == "failed"
    assert OutboundEmail.objects.get(pk=outbound_id).status == "failed" and retried == []


@pytest.mark.django_db
def test_a_task_queued_by_the_earlier_version_sends_the_try_its_mail_is_due_for():
    """Such a task names no try; it came after its countdown, as that version's retries did."""
    (outbound_id,) = queue_lone_mails(1)
    OutboundEmail.objects.filter(pk=outbound_id).update(attempts=1, error="AnymailAPIError: 503")
    assert tasks.send_outbound.apply(args=[outbound_id]).get() == "sent"
    assert OutboundEmail.objects.get(pk=outbound_id).attempts == 2
