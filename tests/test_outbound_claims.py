"""A mail that kills the worker sending it does not take the outbox down with it.

Each claim of a mail is counted in the shared cache before it is sent; a claim that left no try
behind ended without an outcome (the worker died: out of memory, a crash, the hard time limit).
A worker's death is stood in for by the count it leaves behind. PostgreSQL, as the batches that
claim a backlog; the cache is the test run's (Redis on the second pass of .ci/run).
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mailgateway import tasks
from mailgateway.models import OutboundEmail
from mailgateway.outbox import send_with_backlog
from tests.outbound_helpers import sent
from tests.test_outbound_drainer import queue_lone_mails, statuses

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _outbox(anymail_outbox, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr("mailgateway.notifications._enqueue", lambda outbound_ids: None)


def died_sending(outbound_id: str, times: int = 1) -> None:
    """The worker sending this mail died `times` times: claimed, never tried."""
    cache.set(f"mailgateway:out-claims:{outbound_id}", times, timeout=3600)


def claims_of(outbound_id: str) -> int:
    return int(cache.get(f"mailgateway:out-claims:{outbound_id}", 0))


def test_a_mail_sent_counts_one_claim_with_its_one_try():
    (mail,) = queue_lone_mails(1)
    assert tasks.send_outbound.run(mail, 1) == "sent"
    assert claims_of(mail) == 1 == OutboundEmail.objects.get(pk=mail).attempts


def test_a_mail_whose_worker_died_is_set_aside_and_sent_alone_once_the_batch_has_committed():
    ids = queue_lone_mails(4)
    died_sending(ids[1])
    with CaptureQueriesContext(connection) as captured:
        assert tasks.send_outbound.run(ids[0], 1) == "sent"
    assert statuses(ids) == ["sent"] * 4
    updates = [q for q in captured.captured_queries if q["sql"].startswith('UPDATE "mailgateway_outboundemail"')]
    assert len(updates) == 2  # the batch of three, then the one set aside, alone
    assert [m["To"] for m in sent()][-1] == "guest1@example.com"  # last: after the batch
    assert set(OutboundEmail.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}


def test_a_mail_that_killed_its_workers_too_often_is_failed_with_the_reason_and_the_others_go_out(settings):
    settings.OUTBOUND_MAX_DELIVERIES = 3
    ids = queue_lone_mails(3)
    died_sending(ids[2], times=3)
    assert tasks.send_outbound.run(ids[0], 1) == "sent"
    assert statuses(ids) == ["sent", "sent", "failed"]
    failed = OutboundEmail.objects.get(pk=ids[2])
    assert failed.attempts == 0 and "3 times without an outcome" in failed.error
    assert "guest2@example.com" not in [m["To"] for m in sent()]


def test_a_mail_below_that_bound_is_still_sent_alone(settings):
    settings.OUTBOUND_MAX_DELIVERIES = 3
    (mail,) = queue_lone_mails(1)
    died_sending(mail, times=2)
    assert tasks.send_outbound.run(mail, 1) == "sent"


def test_a_mail_a_batch_left_for_lack_of_time_is_not_counted_as_a_worker_s_death(settings):
    settings.OUTBOUND_BATCH_SECONDS = 0  # no mail starts after the first
    ids = queue_lone_mails(3)
    assert send_with_backlog(ids[0]) == {ids[0]: "sent", ids[1]: "deferred", ids[2]: "deferred"}
    assert statuses(ids) == ["sent", "queued", "queued"]
    assert [claims_of(i) for i in ids[1:]] == [0, 0]


def test_a_mail_the_provider_refused_is_retried_in_a_batch_as_before(monkeypatch):
    from tests.outbound_helpers import refuse_mail_to

    ids = queue_lone_mails(2)
    with monkeypatch.context() as patch:
        refuse_mail_to(patch, "guest1@example.com")
        patch.setattr(tasks, "retry_later", lambda outbound_ids, *, tried: None)
        tasks.send_outbound.run(ids[0], 1)
    assert claims_of(ids[1]) == 1 == OutboundEmail.objects.get(pk=ids[1]).attempts  # a try, not a death


def test_without_the_cache_mails_are_sent_uncounted(unreachable_cache):
    ids = queue_lone_mails(2)
    assert tasks.send_outbound.run(ids[0], 1) == "sent"
    assert statuses(ids) == ["sent", "sent"]
