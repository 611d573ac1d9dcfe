"""Runs of the outbox (OUTBOUND_COALESCE): a burst of events starts one task, not one per mail.

A commit that queues mail starts a run of the outbox unless one already waits in the queue (a
mark in the shared cache); the run takes the mark off and sends the mails never tried, oldest
first, as one batch. PostgreSQL and Redis; on other databases each mail keeps its own task (the
last test). The broker is the edge: the tasks queued are kept here and run by the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache

from mailgateway import outbound_reads, tasks
from mailgateway.models import OutboundEmail, OutboundStatus
from mailgateway.tasks import OUTBOX_RUN_MARK
from support.models import User
from tests.builders import make_ticket
from tests.outbound_helpers import queue_lone_mails, refuse_mail_to, sent, statuses


class Queue:
    """The tasks the commits queue, in order, kept instead of sent to the broker (with the
    countdown each was given, in `countdowns`)."""

    def __init__(self, monkeypatch: Any) -> None:
        self.queued: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.countdowns: list[float | None] = []
        for task in (tasks.send_outbox, tasks.send_outbound, tasks.send_outbound_batch):
            monkeypatch.setattr(task, "delay", self._keeper(task.name))
            monkeypatch.setattr(task, "apply_async", self._async_keeper(task.name))

    def _keep(self, name: str, args: Any, kwargs: Any, countdown: float | None = None) -> None:
        self.queued.append((name, tuple(args), dict(kwargs or {})))
        self.countdowns.append(countdown)

    def _keeper(self, name: str) -> Any:
        return lambda *args, **kwargs: self._keep(name, args, kwargs)

    def _async_keeper(self, name: str) -> Any:
        return lambda args=(), kwargs=None, countdown=None, **options: self._keep(name, args, kwargs, countdown)

    def names(self) -> list[str]:
        return [name for name, _, _ in self.queued]

    def take(self, index: int) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        self.countdowns.pop(index)
        return self.queued.pop(index)

    def clear(self) -> None:
        self.queued.clear()
        self.countdowns.clear()

    def run_all(self) -> list[Any]:
        """Run the queued runs of the outbox (and whatever they queue in turn), oldest first."""
        results = []
        while "mailgateway.send_outbox" in self.names():
            assert len(results) < 50, "runs that keep queueing runs"
            _, _, kwargs = self.take(self.names().index("mailgateway.send_outbox"))
            results.append(tasks.send_outbox.run(**kwargs))
        return results


@pytest.fixture
def queue(monkeypatch, settings, anymail_outbox, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    settings.OUTBOUND_COALESCE = True
    cache.delete(OUTBOX_RUN_MARK)
    return Queue(monkeypatch)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_burst_of_events_starts_one_run_of_the_outbox_and_no_task_per_mail(queue, django_capture_on_commit_callbacks):
    queue_lone_mails(5, commit=django_capture_on_commit_callbacks)
    assert queue.names() == ["mailgateway.send_outbox"]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_the_run_sends_every_mail_of_the_burst_as_one_batch_each_on_its_first_try(
    queue, django_capture_on_commit_callbacks
):
    ids = queue_lone_mails(5, commit=django_capture_on_commit_callbacks)
    (results,) = queue.run_all()
    assert results == dict.fromkeys(ids, "sent")
    assert sorted(m["To"] for m in sent()) == [f"guest{n}@example.com" for n in range(5)]
    assert set(OutboundEmail.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_mail_committed_once_the_run_has_started_starts_the_next_run(queue, django_capture_on_commit_callbacks):
    queue_lone_mails(2, commit=django_capture_on_commit_callbacks)
    queue.run_all()
    later = queue_lone_mails(1, guests="late", commit=django_capture_on_commit_callbacks)
    assert queue.names() == ["mailgateway.send_outbox"]
    (results,) = queue.run_all()
    assert results == {later[0]: "sent"}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_mail_committed_while_a_run_sends_starts_the_next_run(queue, monkeypatch, django_capture_on_commit_callbacks):
    queue_lone_mails(2, commit=django_capture_on_commit_callbacks)
    queue.clear()
    late: list[str] = []
    claim = outbound_reads.claim_untried

    def claim_then_commit(limit: int) -> Any:
        rows = claim(limit)
        late.extend(queue_lone_mails(1, guests="late", commit=django_capture_on_commit_callbacks))
        return rows

    with monkeypatch.context() as patch:
        patch.setattr("mailgateway.outbox.claim_untried", claim_then_commit)
        first = tasks.send_outbox.run()
    assert late[0] not in first
    assert queue.names() == ["mailgateway.send_outbox"]
    (second,) = queue.run_all()
    assert second == {late[0]: "sent"}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_run_out_of_time_queues_the_next_run_for_the_mails_it_left(
    queue, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOUND_BATCH_SECONDS = 0  # a slow provider: no mail starts after the first
    ids = queue_lone_mails(3, commit=django_capture_on_commit_callbacks)
    queue.clear()
    assert tasks.send_outbox.run() == {ids[0]: "sent", ids[1]: "deferred", ids[2]: "deferred"}
    assert queue.names() == ["mailgateway.send_outbox"]
    assert statuses(ids) == ["sent", "queued", "queued"]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_run_that_sends_a_full_batch_queues_the_next_run_for_the_rest(
    queue, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOUND_DRAIN_BATCH = 3
    ids = queue_lone_mails(5, commit=django_capture_on_commit_callbacks)
    first, second = queue.run_all()
    assert list(first) == ids[:3]  # oldest first
    assert list(second) == ids[3:]
    assert queue.names() == []  # the second run found less than a batch: no third
    assert statuses(ids) == ["sent"] * 5


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_mail_waiting_for_its_retry_is_left_to_it_by_a_run(queue, django_capture_on_commit_callbacks):
    ids = queue_lone_mails(2, commit=django_capture_on_commit_callbacks)
    OutboundEmail.objects.filter(pk=ids[0]).update(attempts=1, error="AnymailAPIError: 503")
    (results,) = queue.run_all()
    assert results == {ids[1]: "sent"}
    assert statuses(ids) == ["queued", "sent"]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_mail_the_provider_refused_in_a_run_gets_its_own_task_for_the_second_try_after_a_backoff(
    queue, monkeypatch, django_capture_on_commit_callbacks
):
    ids = queue_lone_mails(3, commit=django_capture_on_commit_callbacks)
    refuse_mail_to(monkeypatch, "guest1@example.com")
    (results,) = queue.run_all()
    assert results == {ids[0]: "sent", ids[1]: "retry", ids[2]: "sent"}
    ((name, args, kwargs),) = queue.queued
    assert (name, args, kwargs) == ("mailgateway.send_outbound", (ids[1],), {"attempt": 2})
    refused = OutboundEmail.objects.get(pk=ids[1])
    assert (refused.status, refused.attempts) == (OutboundStatus.QUEUED, 1)
    assert "the provider refused it" in refused.error


def broken_runs(monkeypatch: Any) -> None:
    def broken(**kwargs: Any) -> dict[str, str]:
        raise RuntimeError("the database went away mid-run")

    monkeypatch.setattr("mailgateway.outbox.send_untried", broken)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_run_that_breaks_hands_the_oldest_mails_to_tasks_that_send_each_alone(
    queue, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOUND_DRAIN_BATCH = 3
    ids = queue_lone_mails(5, commit=django_capture_on_commit_callbacks)
    queue.clear()
    with monkeypatch.context() as patch:
        broken_runs(patch)
        assert tasks.send_outbox.run() == {}
    alone = [("mailgateway.send_outbound", (i,), {"attempt": 1, "alone": True}) for i in ids[:3]]
    assert queue.queued[1:] == alone
    assert statuses(ids) == ["queued"] * 5
    # Each alone: the first sends only its own mail, and no other mail's try is counted.
    tasks.send_outbound.run(ids[0], attempt=1, alone=True)
    assert statuses(ids) == ["sent"] + ["queued"] * 4
    assert set(OutboundEmail.objects.filter(pk__in=ids[1:]).values_list("attempts", flat=True)) == {0}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_run_that_breaks_is_followed_by_one_run_after_a_backoff_that_grows(
    queue, monkeypatch, django_capture_on_commit_callbacks
):
    ids = queue_lone_mails(2, commit=django_capture_on_commit_callbacks)
    queue.clear()
    backoffs = []
    with monkeypatch.context() as patch:
        broken_runs(patch)
        failed_runs = 0
        for _ in range(3):
            tasks.send_outbox.run(failed_runs=failed_runs)
            (name, _, kwargs), countdown = queue.queued[0], queue.countdowns[0]
            assert name == "mailgateway.send_outbox" and queue.names().count(name) == 1
            failed_runs = kwargs["failed_runs"]
            backoffs.append(countdown)
            queue.clear()
    assert 15 <= backoffs[0] <= 45 and 30 <= backoffs[1] <= 90 and 60 <= backoffs[2] <= 180  # 30 s doubling, +-50%
    assert queue.run_all() == []  # nothing queued now: the database is back, the next run sends
    (results,) = [tasks.send_outbox.run(failed_runs=failed_runs)]
    assert list(results) == ids


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_while_runs_keep_breaking_commits_and_the_sweeper_add_no_runs_to_the_one_waiting(
    queue, monkeypatch, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from mailgateway.sweeper import run_outbox_for_waiting_mail

    queue_lone_mails(1, commit=django_capture_on_commit_callbacks)
    with monkeypatch.context() as patch:
        broken_runs(patch)
        for n in range(4):
            _, _, kwargs = queue.take(queue.names().index("mailgateway.send_outbox"))
            tasks.send_outbox.run(**kwargs)
            queue_lone_mails(1, guests=f"round{n}-", commit=django_capture_on_commit_callbacks)
            run_outbox_for_waiting_mail(now=timezone.now() + timedelta(minutes=5))
            assert queue.names().count("mailgateway.send_outbox") == 1


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_run_that_cannot_take_its_mark_off_queues_a_run_for_when_the_mark_has_lapsed(
    queue, monkeypatch, django_capture_on_commit_callbacks
):
    queue_lone_mails(1, commit=django_capture_on_commit_callbacks)
    delete = cache.delete

    def timing_out(key: str, *args: Any, **kwargs: Any) -> Any:
        if key == OUTBOX_RUN_MARK:
            raise TimeoutError("Timeout reading from socket")
        return delete(key, *args, **kwargs)

    queue.clear()
    with monkeypatch.context() as patch:
        patch.setattr(cache, "delete", timing_out)
        tasks.send_outbox.run()
    # The run that comes once the mark has lapsed, for the mail of the commits that found it.
    assert queue.queued == [("mailgateway.send_outbox", (), {})]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_mark_set_by_a_call_whose_answer_was_lost_is_taken_off_again(
    queue, monkeypatch, django_capture_on_commit_callbacks
):
    add = cache.add

    def set_then_time_out(key: str, *args: Any, **kwargs: Any) -> Any:
        add(key, *args, **kwargs)
        raise TimeoutError("Timeout reading from socket")

    with monkeypatch.context() as patch:
        patch.setattr(cache, "add", set_then_time_out)
        (first,) = queue_lone_mails(1, commit=django_capture_on_commit_callbacks)
    assert queue.queued == [("mailgateway.send_outbound", (first, 1), {})]  # its own task
    queue_lone_mails(1, guests="next", commit=django_capture_on_commit_callbacks)
    assert queue.names()[-1] == "mailgateway.send_outbox"


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_run_the_broker_refused_leaves_no_mark_behind_so_the_next_commit_queues_one(
    queue, monkeypatch, django_capture_on_commit_callbacks
):
    def refused(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the broker is down")

    with monkeypatch.context() as patch:
        patch.setattr(tasks.send_outbox, "apply_async", refused)
        queue_lone_mails(1, commit=django_capture_on_commit_callbacks)  # logged by the robust on-commit hook
    assert cache.get(OUTBOX_RUN_MARK) is None
    queue_lone_mails(1, guests="next", commit=django_capture_on_commit_callbacks)
    assert queue.names() == ["mailgateway.send_outbox"]
    (results,) = queue.run_all()
    assert list(results.values()) == ["sent", "sent"]  # the first event's mail too


@pytest.mark.postgres
@pytest.mark.django_db
def test_without_the_shared_cache_each_mail_gets_its_own_task(
    queue, unreachable_cache, django_capture_on_commit_callbacks
):
    ids = queue_lone_mails(2, commit=django_capture_on_commit_callbacks)
    assert queue.queued == [("mailgateway.send_outbound", (i, 1), {}) for i in ids]


@pytest.mark.django_db
def test_without_postgresql_each_mail_gets_its_own_task(queue, django_capture_on_commit_callbacks):
    from django.db import connection

    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL runs the outbox")
    ids = queue_lone_mails(2, commit=django_capture_on_commit_callbacks)
    assert queue.queued == [("mailgateway.send_outbound", (i, 1), {}) for i in ids]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_the_sweeper_asks_for_a_run_for_mail_never_tried_that_waited_longer_than_a_run_s_mark(
    queue, django_capture_on_commit_callbacks
):
    """A run killed mid-batch, lost with its broker, or that skipped rows another worker held and
    let go: the mail waits untried with no task, and the sweep (every minute) starts a run."""
    from django.utils import timezone

    from helpdesk.tasks import sweep_stuck_mail

    ids = queue_lone_mails(1, commit=django_capture_on_commit_callbacks)
    queue.clear()
    cache.delete(OUTBOX_RUN_MARK)  # its run was lost with the broker
    assert sweep_stuck_mail.run()["outbox_runs"] == 0  # just committed: its run may be on the way
    later = timezone.now() + timedelta(seconds=tasks.OUTBOX_RUN_MARK_SECONDS + 1)
    with freeze_now(later):
        assert sweep_stuck_mail.run()["outbox_runs"] == 1
    assert queue.names() == ["mailgateway.send_outbox"]
    OutboundEmail.objects.filter(pk__in=ids).update(attempts=1)  # its retry is on the way
    with freeze_now(later):
        assert sweep_stuck_mail.run()["outbox_runs"] == 0


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_sweeper_queues_no_run_when_each_mail_has_its_own_task(settings, monkeypatch):
    from django.utils import timezone

    from mailgateway.sweeper import run_outbox_for_waiting_mail

    settings.OUTBOUND_COALESCE = False
    monkeypatch.setattr("mailgateway.notifications._enqueue", lambda outbound_ids: None)
    monkeypatch.setattr(tasks, "request_outbox_run", lambda **kwargs: pytest.fail("no run without runs"))
    commit = make_ticket(User.objects.create_user("asha@example.com", None, name="Asha Rai"))
    assert OutboundEmail.objects.filter(ticket=commit, status=OutboundStatus.QUEUED).exists()
    assert run_outbox_for_waiting_mail(now=timezone.now() + timedelta(hours=1)) is False


@contextmanager
def freeze_now(moment: Any) -> Iterator[None]:
    """`timezone.now()` answers `moment` (the sweeper's clock)."""
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_a_run_takes_the_mails_that_waited_longest_whatever_order_they_were_written_in(
    queue, settings, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    settings.OUTBOUND_DRAIN_BATCH = 2
    ids = queue_lone_mails(4, commit=django_capture_on_commit_callbacks)
    for age, outbound_id in enumerate(ids):  # the last written waited longest
        OutboundEmail.objects.filter(pk=outbound_id).update(created_at=timezone.now() - timedelta(minutes=age))
    queue.clear()
    assert list(tasks.send_outbox.run()) == [ids[3], ids[2]]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_run_skips_the_mails_another_worker_holds_instead_of_waiting_for_them(
    queue, django_capture_on_commit_callbacks
):
    import psycopg
    from django.db import connection

    ids = queue_lone_mails(3, commit=django_capture_on_commit_callbacks)
    queue.clear()
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    ) as other:
        other.execute(f"SELECT 1 FROM {OutboundEmail._meta.db_table} WHERE id = %s FOR UPDATE", [ids[1]])
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # waiting instead of skipping fails here
        assert list(tasks.send_outbox.run()) == [ids[0], ids[2]]
        other.rollback()
    assert statuses(ids) == ["sent", "queued", "sent"]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_the_mark_of_a_waiting_run_lapses_after_the_run_s_countdown_and_a_minute(queue):
    def seconds_left() -> int:
        key = cache.make_and_validate_key(OUTBOX_RUN_MARK)
        return int(cache._cache.get_client(key).ttl(key))  # type: ignore[attr-defined]

    assert tasks.request_outbox_run() is True
    assert 50 <= seconds_left() <= 60
    cache.delete(OUTBOX_RUN_MARK)
    assert tasks.request_outbox_run(countdown=120, failed_runs=2) is True
    assert 170 <= seconds_left() <= 180
    assert queue.queued == [("mailgateway.send_outbox", (), {}), ("mailgateway.send_outbox", (), {"failed_runs": 2})]
    assert queue.countdowns == [None, 120]
