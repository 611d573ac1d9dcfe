"""Beat's routine work: the sweeper of stuck mail, closing resolved tickets, removing old raw mail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from mailgateway import sweeper
from mailgateway.models import InboundEmail
from mailgateway.retention import purge_raw_mail
from mailgateway.store import store_inbound
from support.housekeeping import close_resolved_tickets
from support.models import Channel, EventKind, Status
from support.services import add_message, change_ticket
from tests.builders import make_ticket
from tests.mailbuilder import build_mail, deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """The ids the sweeper hands to process_inbound (the task itself is exercised by the worker tests)."""
    from mailgateway import tasks

    sent: list[str] = []
    monkeypatch.setattr(tasks.process_inbound, "delay", sent.append)
    return sent


def stored_mail(*, age: timedelta, status: str = "received") -> InboundEmail:
    inbound = store_inbound(build_mail(), door="raw").inbound
    InboundEmail.objects.filter(pk=inbound.pk).update(status=status, received_at=timezone.now() - age)
    return inbound


# -- the sweeper -----------------------------------------------------------------------------


def test_the_sweeper_queues_again_a_mail_stuck_in_received(settings, queued):
    settings.INBOUND_STUCK_AFTER_SECONDS = 600
    stuck = stored_mail(age=timedelta(minutes=11))
    queued.clear()  # storing queued it once already
    assert sweeper.requeue_stuck_inbound() == [str(stuck.pk)] and queued == [str(stuck.pk)]


def test_the_sweeper_leaves_a_mail_that_arrived_recently(settings, queued):
    settings.INBOUND_STUCK_AFTER_SECONDS = 600
    stored_mail(age=timedelta(minutes=9))
    queued.clear()
    assert sweeper.requeue_stuck_inbound() == [] and queued == []


@pytest.mark.parametrize("status", ["processed", "ignored", "quarantined", "failed"])
def test_the_sweeper_leaves_mail_that_was_handled(settings, queued, status):
    settings.INBOUND_STUCK_AFTER_SECONDS = 600
    stored_mail(age=timedelta(hours=2), status=status)
    queued.clear()
    assert sweeper.requeue_stuck_inbound() == []


def test_the_sweeper_queues_a_stuck_mail_once_per_period_not_at_every_run(settings, queued):
    settings.INBOUND_STUCK_AFTER_SECONDS = 600
    stored_mail(age=timedelta(hours=1))
    queued.clear()
    sweeper.requeue_stuck_inbound()
    sweeper.requeue_stuck_inbound()
    assert len(queued) == 1
    cache.clear()  # the period passed (or Redis lost its data together with the queue)
    sweeper.requeue_stuck_inbound()
    assert len(queued) == 2


def test_the_sweeper_takes_the_oldest_first_and_at_most_a_batch(settings, queued):
    settings.INBOUND_STUCK_AFTER_SECONDS, settings.SWEEP_BATCH = 60, 2
    ages = [timedelta(hours=h) for h in (1, 3, 2)]
    mails = [stored_mail(age=age) for age in ages]
    queued.clear()
    assert sweeper.requeue_stuck_inbound() == [str(mails[1].pk), str(mails[2].pk)]


def test_the_sweeper_leaves_a_failed_mail_to_its_scheduled_retry(settings, queued):
    settings.INBOUND_STUCK_AFTER_SECONDS, settings.SWEEP_RETRYING_AFTER_SECONDS = 600, 10800
    retrying = stored_mail(age=timedelta(hours=1))
    InboundEmail.objects.filter(pk=retrying.pk).update(attempts=2)
    queued.clear()
    assert sweeper.requeue_stuck_inbound() == []


def test_the_sweeper_takes_a_failed_mail_whose_retry_never_came(settings, queued):
    settings.INBOUND_STUCK_AFTER_SECONDS, settings.SWEEP_RETRYING_AFTER_SECONDS = 600, 10800
    lost = stored_mail(age=timedelta(hours=4))
    InboundEmail.objects.filter(pk=lost.pk).update(attempts=2)
    queued.clear()
    assert sweeper.requeue_stuck_inbound() == [str(lost.pk)]


def test_the_sweep_task_reports_what_it_queued(settings, queued):
    from helpdesk.tasks import sweep_stuck_mail

    settings.INBOUND_STUCK_AFTER_SECONDS = 60
    stored_mail(age=timedelta(hours=1))
    queued.clear()
    assert sweep_stuck_mail.apply().get()["inbound"] == 1


# -- closing resolved tickets ----------------------------------------------------------------


def resolved_ticket(customer, agent, *, days_ago: float):  # type: ignore[no-untyped-def]
    ticket = make_ticket(customer)
    change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, status=Status.RESOLVED)
    ticket.refresh_from_db()
    ticket.resolved_at = timezone.now() - timedelta(days=days_ago)
    ticket.save(update_fields=["resolved_at"])
    return ticket


def test_a_ticket_resolved_longer_than_the_setting_is_closed_with_an_event(customer_a, agent):
    ticket = resolved_ticket(customer_a, agent, days_ago=8)
    assert close_resolved_tickets(after_days=7) == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and ticket.closed_at is not None
    event = ticket.events.filter(kind=EventKind.STATUS).last()
    assert (event.from_value, event.to_value, event.channel, event.actor) == ("resolved", "closed", "system", None)
    assert "7 days" in event.note


def test_a_ticket_resolved_recently_stays_resolved(customer_a, agent):
    ticket = resolved_ticket(customer_a, agent, days_ago=6)
    assert close_resolved_tickets(after_days=7) == 0
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED


def test_a_ticket_the_customer_reopened_is_not_closed(customer_a, agent):
    ticket = resolved_ticket(customer_a, agent, days_ago=8)
    add_message(ticket=ticket, author=customer_a, message_text="Still broken", channel=Channel.EMAIL)
    assert close_resolved_tickets(after_days=7) == 0
    ticket.refresh_from_db()
    assert ticket.status != Status.CLOSED


def test_open_tickets_are_never_closed_automatically(customer_a):
    ticket = make_ticket(customer_a)
    ticket.created_at = timezone.now() - timedelta(days=365)
    ticket.save(update_fields=["created_at"])
    assert close_resolved_tickets(after_days=7) == 0


def test_auto_close_is_off_at_zero_days(customer_a, agent):
    resolved_ticket(customer_a, agent, days_ago=100)
    assert close_resolved_tickets(after_days=0) == 0


def test_the_close_task_uses_the_setting(settings, customer_a, agent):
    from helpdesk.tasks import close_resolved_tickets as task

    settings.AUTO_CLOSE_RESOLVED_DAYS = 3
    resolved_ticket(customer_a, agent, days_ago=4)
    assert task.apply().get() == 1


# -- removing old raw mail -------------------------------------------------------------------


def test_old_raw_mail_is_removed_and_its_message_and_record_kept(settings):
    inbound = deliver(build_mail(subject="Old tap"), door="raw")
    InboundEmail.objects.filter(pk=inbound.pk).update(received_at=timezone.now() - timedelta(days=91))
    assert purge_raw_mail(older_than_days=90) == 1
    inbound.refresh_from_db()
    assert bytes(inbound.raw) == b"" and inbound.raw_size > 0
    assert (inbound.status, inbound.subject, inbound.from_address) == ("processed", "Old tap", "asha@example.com")
    assert inbound.message.message_text == "The plumber did not come at 9am."


def test_recent_raw_mail_is_kept():
    inbound = deliver(build_mail(), door="raw")
    assert purge_raw_mail(older_than_days=90) == 0
    inbound.refresh_from_db()
    assert bytes(inbound.raw).startswith(b"From:") or len(bytes(inbound.raw)) > 100


@pytest.mark.parametrize("status", ["received", "quarantined", "failed"])
def test_raw_mail_that_staff_may_still_need_is_kept_whatever_its_age(status):
    inbound = stored_mail(age=timedelta(days=400), status=status)
    assert purge_raw_mail(older_than_days=90) == 0
    inbound.refresh_from_db()
    assert len(bytes(inbound.raw)) > 100


def test_ignored_mail_loses_its_raw_bytes_too():
    stored_mail(age=timedelta(days=100), status="ignored")
    assert purge_raw_mail(older_than_days=90) == 1


def test_raw_mail_is_kept_forever_at_zero_days():
    stored_mail(age=timedelta(days=4000), status="processed")
    assert purge_raw_mail(older_than_days=0) == 0


def test_purging_works_in_batches_and_twice_is_harmless():
    for _ in range(5):
        stored_mail(age=timedelta(days=100), status="processed")
    assert purge_raw_mail(older_than_days=90, batch=2) == 5
    assert purge_raw_mail(older_than_days=90, batch=2) == 0


# -- outbound mail stuck in queued -----------------------------------------------------------


@pytest.fixture
def sent_tasks(monkeypatch):
    from celery import current_app

    sent: list[tuple[str, list[str], dict[str, int]]] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args, kwargs: sent.append((name, args, kwargs)))
    return sent


def outbound_mail(customer, *, age: timedelta, status: str = "queued"):  # type: ignore[no-untyped-def]
    from mailgateway.models import OutboundEmail

    row = OutboundEmail.objects.create(
        ticket=make_ticket(customer), to_address=customer.email, template="agent_reply", message_id_header="<o@x>"
    )
    OutboundEmail.objects.filter(pk=row.pk).update(
        status=status, created_at=timezone.now() - age, updated_at=timezone.now() - age
    )
    return row


def test_the_sweeper_queues_again_outbound_mail_stuck_in_queued(settings, customer_a, sent_tasks):
    settings.OUTBOUND_STUCK_AFTER_SECONDS = 600
    stuck = outbound_mail(customer_a, age=timedelta(minutes=11))
    sent_tasks.clear()
    assert sweeper.requeue_stuck_outbound() == [str(stuck.pk)]
    assert sent_tasks == [("mailgateway.send_outbound", [str(stuck.pk)], {"attempt": 1})]


@pytest.mark.parametrize(("age", "status"), [(timedelta(minutes=5), "queued"), (timedelta(hours=2), "sent")])
def test_the_sweeper_leaves_outbound_mail_that_is_recent_or_sent(settings, customer_a, sent_tasks, age, status):
    settings.OUTBOUND_STUCK_AFTER_SECONDS = 600
    outbound_mail(customer_a, age=age, status=status)
    sent_tasks.clear()
    assert sweeper.requeue_stuck_outbound() == []


@pytest.mark.parametrize(("tried", "last_try"), [(1, timedelta(minutes=10)), (6, timedelta(minutes=33))])
def test_the_sweeper_leaves_outbound_mail_to_its_retry_until_it_is_overdue(
    settings, customer_a, sent_tasks, tried, last_try
):
    """Its next try comes at most 1.5 times its backoff after its last (45 s after the first try,
    24 minutes after the sixth); lost only OUTBOUND_STUCK_AFTER_SECONDS (10 minutes) after that."""
    from mailgateway.models import OutboundEmail

    settings.OUTBOUND_STUCK_AFTER_SECONDS, settings.OUTBOUND_RETRY_SECONDS = 600, 30
    retrying = outbound_mail(customer_a, age=timedelta(hours=5))  # queued during an outage
    OutboundEmail.objects.filter(pk=retrying.pk).update(attempts=tried, updated_at=timezone.now() - last_try)
    sent_tasks.clear()
    assert sweeper.requeue_stuck_outbound() == []


@pytest.mark.parametrize(("tried", "last_try"), [(1, timedelta(minutes=11)), (6, timedelta(minutes=35))])
def test_the_sweeper_queues_the_next_try_of_outbound_mail_whose_retry_is_overdue(
    settings, customer_a, sent_tasks, tried, last_try
):
    from mailgateway.models import OutboundEmail

    settings.OUTBOUND_STUCK_AFTER_SECONDS, settings.OUTBOUND_RETRY_SECONDS = 600, 30
    lost = outbound_mail(customer_a, age=timedelta(hours=5))
    OutboundEmail.objects.filter(pk=lost.pk).update(attempts=tried, updated_at=timezone.now() - last_try)
    sent_tasks.clear()
    assert sweeper.requeue_stuck_outbound() == [str(lost.pk)]
    assert sent_tasks == [("mailgateway.send_outbound", [str(lost.pk)], {"attempt": tried + 1})]


def test_the_sweeper_queues_the_last_try_of_outbound_mail_tried_more_than_the_retries_now_allow(
    settings, customer_a, sent_tasks
):
    from mailgateway.models import OutboundEmail

    settings.OUTBOUND_STUCK_AFTER_SECONDS, settings.OUTBOUND_MAX_RETRIES = 600, 2
    lost = outbound_mail(customer_a, age=timedelta(hours=5))
    OutboundEmail.objects.filter(pk=lost.pk).update(attempts=4, updated_at=timezone.now() - timedelta(hours=3))
    sent_tasks.clear()
    assert sweeper.requeue_stuck_outbound() == [str(lost.pk)]
    assert sent_tasks == [("mailgateway.send_outbound", [str(lost.pk)], {"attempt": 5})]
