"""A batch that runs out of time commits what it sent and leaves the rest queued, untouched.

Without this, a slow provider made a batch of the drainer (up to 100 mails) overrun the task's soft
time limit, which was caught as one more refused mail while the loop went on, until the hard limit
killed the worker: the transaction rolled back and every mail the provider had accepted was sent
again by its own task (and the killed task, put back, claimed the same batch again).
"""

from __future__ import annotations

import pytest
from anymail.backends.test import EmailBackend
from celery.exceptions import SoftTimeLimitExceeded

from mailgateway import tasks
from mailgateway.models import OutboundEmail
from mailgateway.outbox import DEFERRED, RETRY, send_outbound_batch
from tests.outbound_helpers import queue_lone_mails, sent
from tests.test_outbound_batch import people, queue_event
from tests.test_outbound_drainer import run_task

pytestmark = pytest.mark.django_db


def rows_of(ids: list[str]) -> list[tuple[str, int]]:
    found = {str(r.pk): (r.status, r.attempts) for r in OutboundEmail.objects.filter(pk__in=ids)}
    return [found[i] for i in ids]


def by_outcome(results: dict[str, str]) -> dict[str, list[str]]:
    """The batch's ids by what became of them (the order of a batch is the database's)."""
    grouped: dict[str, list[str]] = {}
    for outbound_id, status in results.items():
        grouped.setdefault(str(status), []).append(outbound_id)
    return grouped


def test_a_batch_out_of_time_starts_no_more_mails_and_leaves_them_queued_untried(settings, anymail_outbox):
    settings.OUTBOUND_BATCH_SECONDS = 0
    ids = [str(r.pk) for r in queue_event(people(3))]
    outcome = by_outcome(send_outbound_batch(ids))
    assert sorted(outcome) == [DEFERRED, "sent"] and len(outcome[DEFERRED]) == 2
    assert rows_of(outcome["sent"] + outcome[DEFERRED]) == [("sent", 1), ("queued", 0), ("queued", 0)]
    assert len(sent()) == 1


def test_the_soft_time_limit_while_sending_ends_the_batch_and_what_was_sent_is_kept(monkeypatch, anymail_outbox):
    ids = [str(r.pk) for r in queue_event(people(3))]
    post = EmailBackend.post_to_esp

    tried: list[str] = []

    def slow_second(self, payload, message):  # type: ignore[no-untyped-def]
        tried.append(message.to[0])
        if len(tried) == 2:
            raise SoftTimeLimitExceeded()
        return post(self, payload, message)

    monkeypatch.setattr(EmailBackend, "post_to_esp", slow_second)
    outcome = by_outcome(send_outbound_batch(ids))
    assert sorted(outcome) == [DEFERRED, RETRY, "sent"]
    assert rows_of(outcome["sent"] + outcome[RETRY] + outcome[DEFERRED]) == [("sent", 1), ("queued", 1), ("queued", 0)]
    assert len(tried) == 2 and [m["To"] for m in sent()] == tried[:1]


def test_the_soft_time_limit_while_composing_sends_nothing_and_leaves_the_rest_untried(monkeypatch, anymail_outbox):
    from mailgateway import outbox

    ids = [str(r.pk) for r in queue_event(people(3))]
    drafted: list[str] = []
    draft = outbox.draft

    def slow_second(row, thread=None):  # type: ignore[no-untyped-def]
        drafted.append(str(row.pk))
        if len(drafted) == 2:
            raise SoftTimeLimitExceeded()
        return draft(row, thread)

    monkeypatch.setattr(outbox, "draft", slow_second)
    outcome = by_outcome(send_outbound_batch(ids))
    assert outcome[RETRY] == drafted[1:2] and sorted(outcome[DEFERRED]) == sorted(set(ids) - {drafted[1]})
    assert rows_of(outcome[RETRY] + outcome[DEFERRED]) == [("queued", 1), ("queued", 0), ("queued", 0)]
    assert sent() == []


def test_the_soft_time_limit_while_rendering_keeps_what_the_earlier_steps_decided(monkeypatch, anymail_outbox):
    """An undeliverable mail is skipped and one that cannot be drafted refused, each its try
    counted; the mail being rendered is refused; the others stay untried."""
    from mailgateway import outbox
    from mailgateway.models import UndeliverableAddress
    from mailgateway.outbound import Renderer

    rows = queue_event(people(5))
    by_address = {row.to_address: str(row.pk) for row in rows}
    UndeliverableAddress.objects.create(address="guest0@example.com", reason="bounce")
    draft, render = outbox.draft, Renderer.render

    def refusing_guest1(row, thread=None):  # type: ignore[no-untyped-def]
        if row.to_address == "guest1@example.com":
            raise RuntimeError("no link for guest1")
        return draft(row, thread)

    def time_runs_out_at_guest2(self, template, values):  # type: ignore[no-untyped-def]
        if values["recipient_name"] == "Guest 2":
            raise SoftTimeLimitExceeded()
        return render(self, template, values)

    monkeypatch.setattr(outbox, "draft", refusing_guest1)
    monkeypatch.setattr(Renderer, "render", time_runs_out_at_guest2)
    results = send_outbound_batch(list(by_address.values()))
    assert {address: results[pk] for address, pk in by_address.items()} == {
        "guest0@example.com": "skipped",
        "guest1@example.com": RETRY,
        "guest2@example.com": RETRY,
        "guest3@example.com": DEFERRED,
        "guest4@example.com": DEFERRED,
    }
    assert rows_of(list(by_address.values())) == [
        ("skipped", 1),
        ("queued", 1),
        ("queued", 1),
        ("queued", 0),
        ("queued", 0),
    ]
    assert (
        "the task's time ran out while composing"
        in OutboundEmail.objects.get(pk=by_address["guest2@example.com"]).error
    )
    assert sent() == []


def test_the_mails_a_batch_left_for_lack_of_time_are_queued_again_at_once(settings, monkeypatch, anymail_outbox):
    settings.OUTBOUND_BATCH_SECONDS = 0
    ids = [str(r.pk) for r in queue_event(people(3))]
    queued: list[tuple[list[str], dict[str, object]]] = []
    monkeypatch.setattr(tasks.send_outbound, "apply_async", lambda args, **options: queued.append((args, options)))
    outcome = by_outcome(tasks.send_outbound_batch.apply(args=[ids]).get())
    assert sorted(queued) == sorted(([i], {"kwargs": {"attempt": 1}}) for i in outcome[DEFERRED]) and len(queued) == 2


@pytest.mark.postgres
def test_a_drained_batch_out_of_time_queues_the_rest_again_and_each_goes_once(settings, monkeypatch, anymail_outbox):
    monkeypatch.setattr("mailgateway.notifications._enqueue", lambda outbound_ids: None)
    settings.OUTBOUND_BATCH_SECONDS = 0
    ids = queue_lone_mails(3)
    queued: list[str] = []
    monkeypatch.setattr(tasks.send_outbound, "apply_async", lambda args, **options: queued.extend(args))
    assert run_task(ids[0]) == "sent"
    assert queued == ids[1:]
    assert rows_of(ids) == [("sent", 1), ("queued", 0), ("queued", 0)]
    for outbound_id in queued:
        assert run_task(outbound_id) == "sent"
    assert sorted(m["To"] for m in sent()) == ["guest0@example.com", "guest1@example.com", "guest2@example.com"]
