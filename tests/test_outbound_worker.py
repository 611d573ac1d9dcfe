"""Outbound mail through a real Celery worker on the outbound queue (PostgreSQL and Redis)."""

from __future__ import annotations

import email
from email.policy import default
from typing import Any

import pytest

from mailgateway.models import OutboundEmail, OutboundStatus
from tests.builders import make_reply, make_ticket
from tests.workerkit import broker_fixture, wait_for, workers_fixture  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def commit_single_mail_events(customer: Any, count: int) -> None:
    """`count` events on one ticket, each committed on its own with one mail (to guest0@... on)."""
    from django.db import transaction

    from mailgateway.notifications import Notice, queue_notices
    from support.models import User

    ticket = make_ticket(customer, title="Geyser not heating")
    message = make_reply(ticket, customer, "Still cold.")
    for n in range(count):
        guest = User.objects.create_user(f"guest{n}@example.com", None, name=f"Guest {n}")
        with transaction.atomic():
            queue_notices(ticket=ticket, message=message, notices=[Notice(guest, "agent_reply", in_app=False)])


def start_two_outbound_workers(workers: Any, broker: str, outbox: Any) -> list[Any]:
    """Two workers on the outbound queue, two prefork children each, writing mail under `outbox`."""
    env = {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(outbox)}
    started = [
        workers.start(broker_url=broker, queues="outbound", pool="prefork", concurrency=2, env=env, ready=False)
        for _ in "ab"
    ]
    for worker in started:
        worker.wait_ready()
    return started


def sent(template: str) -> bool:
    return OutboundEmail.objects.filter(template=template, status=OutboundStatus.SENT).exists()


def test_a_worker_on_the_outbound_queue_sends_the_mails_of_committed_changes(
    customer_a, customer_b, agent, broker, workers, tmp_path
):
    from support.models import TicketParticipant

    outbox = tmp_path / "sent_mail"
    worker = workers.start(
        broker_url=broker,
        queues="outbound",
        env={"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(outbox)},
    )
    ticket = make_ticket(customer_a, title="Geyser not heating")
    wait_for(lambda: sent("ticket_opened"), timeout=30, what="the acknowledgement", log=worker.log)
    TicketParticipant.objects.create(ticket=ticket, person=customer_b)
    make_reply(ticket, agent, "A technician comes at 3pm.")
    wait_for(
        lambda: OutboundEmail.objects.filter(template="agent_reply", status=OutboundStatus.SENT).count() == 2,
        timeout=30,
        what="the reply to the customer and the participant (one batch)",
        log=worker.log,
    )
    # Django's file backend writes the mails of one connection (one batch) into one file, each
    # followed by a line of 79 dashes.
    parts = [p for path in outbox.iterdir() for p in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n") if p.strip()]
    mails = [email.message_from_bytes(part, policy=default) for part in parts]
    received = sorted((str(m["To"]), str(m["Subject"])) for m in mails)
    subject = f"[{ticket.reference}] Geyser not heating"
    # The acknowledgement and the reply to Asha, the reply to Bikash, the new-ticket mail to Sita.
    assert received == sorted([(customer_a.email, subject)] * 2 + [(customer_b.email, subject), (agent.email, subject)])


def test_two_workers_taking_a_backlog_send_each_mail_once_and_in_batches(customer_a, broker, workers, tmp_path):
    """The tasks of 120 single-mail events wait in the queue; four worker processes drain them."""

    commit_single_mail_events(customer_a, 120)  # each starting its own send task
    outbox = tmp_path / "sent_mail"
    started = start_two_outbound_workers(workers, broker, outbox)
    rows = OutboundEmail.objects.filter(to_address__startswith="guest")
    wait_for(
        lambda: rows.filter(status=OutboundStatus.SENT).count() == 120,
        timeout=60,
        what="the 120 mails",
        log=lambda: "\n".join(w.log() for w in started),
    )
    assert set(rows.values_list("attempts", flat=True)) == {1}
    files = list(outbox.iterdir())
    parts = [p for path in files for p in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n") if p.strip()]
    mails = [email.message_from_bytes(part, policy=default) for part in parts]
    to_guests = sorted(str(m["To"]) for m in mails if str(m["To"]).startswith("guest"))
    assert to_guests == sorted(f"guest{n}@example.com" for n in range(120))  # each exactly once
    assert len(files) < 60  # one file per batch (per backend connection): the backlog went in batches


def test_a_mail_refused_inside_another_task_s_batch_waits_its_backoff_and_is_sent_once(
    customer_a, broker, workers, tmp_path
):
    """Three single-mail events queued before the worker starts: the first task sends all three
    as one batch; the provider refuses the second mail once. Its own queued task must leave it
    to the retry, which comes after the backoff (OUTBOUND_RETRY_SECONDS, +-50%)."""
    from django.db import transaction

    from mailgateway.notifications import Notice, queue_notices
    from support.models import User
    from tests.refusing_provider import tries_of

    ticket = make_ticket(customer_a, title="Geyser not heating")
    message = make_reply(ticket, customer_a, "Still cold.")
    guests = [User.objects.create_user(f"guest{n}@example.com", None, name=f"Guest {n}") for n in range(3)]
    for guest in guests:
        with transaction.atomic():
            queue_notices(ticket=ticket, message=message, notices=[Notice(guest, "agent_reply", in_app=False)])
    state = tmp_path / "provider_state"
    state.write_text("1\n")  # refuse one try
    worker = workers.start(
        broker_url=broker,
        queues="outbound",
        pool="prefork",
        concurrency=1,
        env={
            "EMAIL_BACKEND": "tests.refusing_provider.RefusingProviderBackend",
            "EMAIL_FILE_PATH": str(tmp_path / "sent_mail"),
            "REFUSE_MAIL_TO": guests[1].email,
            "REFUSE_MAIL_STATE": str(state),
            "OUTBOUND_RETRY_SECONDS": "4",
        },
    )
    rows = OutboundEmail.objects.filter(to_address__startswith="guest")
    wait_for(
        lambda: rows.filter(status=OutboundStatus.SENT).count() == 3, timeout=60, what="the 3 mails", log=worker.log
    )
    (refused_at, sent_at) = [at for _, at in tries_of(state)]
    assert [outcome for outcome, _ in tries_of(state)] == ["refused", "sent"]
    assert sent_at - refused_at >= 2  # the backoff's shortest wait: 4 s - 50%
    assert rows.get(to_address=guests[1].email).attempts == 2
    assert set(rows.exclude(to_address=guests[1].email).values_list("attempts", flat=True)) == {1}


def test_a_burst_of_events_goes_out_in_runs_of_the_outbox_not_a_task_per_mail(
    customer_a, broker, workers, tmp_path, settings
):
    """OUTBOUND_COALESCE, as with Redis and real workers: the 120 single-mail events queued before
    the workers start leave one run of the outbox in the queue; it sends 100 and queues the next
    run, which sends the other 20. Web and workers share one cache, which holds the run's mark."""

    settings.OUTBOUND_COALESCE = True
    settings.CACHES = {"default": {"BACKEND": "helpdesk.cache.SharedRedisCache", "LOCATION": broker}}
    commit_single_mail_events(customer_a, 120)
    started = start_two_outbound_workers(workers, broker, tmp_path)
    rows = OutboundEmail.objects.filter(to_address__startswith="guest")
    logs = lambda: "\n".join(w.text() for w in started)  # noqa: E731
    wait_for(lambda: rows.filter(status=OutboundStatus.SENT).count() == 120, timeout=60, what="the 120 mails", log=logs)
    assert set(rows.values_list("attempts", flat=True)) == {1}
    # Each run logs "received" and, once it committed, "succeeded": two runs, four lines.
    wait_for(lambda: logs().count("Task mailgateway.send_outbox[") >= 4, timeout=10, what="the runs' logs", log=logs)
    assert logs().count("Task mailgateway.send_outbox[") == 2 * 2
    assert "Task mailgateway.send_outbound[" not in logs()


def test_a_mail_that_kills_its_worker_is_failed_after_a_few_deaths_and_the_mails_behind_it_go_out_once(
    customer_a, broker, workers, tmp_path, settings
):
    """Four single-mail events leave one run of the outbox in the queue (OUTBOUND_COALESCE);
    sending the oldest mail ends the worker's process. The pool puts the run back (acks late,
    rejected on worker loss); the run again sets the four aside and hands each to a task that
    sends it alone; the killer, alone, kills once more and is then failed
    (OUTBOUND_MAX_WORKER_DEATHS, here 2). The killer is the oldest, so sent first: a mail its batch
    had sent before the death would be sent again (the rollback forgets it; not bounded here)."""
    settings.OUTBOUND_COALESCE = True
    settings.CACHES = {"default": {"BACKEND": "helpdesk.cache.SharedRedisCache", "LOCATION": broker}}
    commit_single_mail_events(customer_a, 4)
    deaths, outbox = tmp_path / "deaths", tmp_path / "sent_mail"
    env = {
        "EMAIL_BACKEND": "tests.refusing_provider.KillingProviderBackend",
        "EMAIL_FILE_PATH": str(outbox),
        "KILL_MAIL_TO": "guest0@example.com",
        "KILL_MAIL_LOG": str(deaths),
        "OUTBOUND_MAX_WORKER_DEATHS": "2",
    }
    worker = workers.start(broker_url=broker, queues="outbound", pool="prefork", concurrency=1, env=env)
    rows = OutboundEmail.objects.filter(to_address__startswith="guest")
    queued = rows.filter(status=OutboundStatus.QUEUED)
    wait_for(lambda: not queued.exists(), timeout=90, what="no mail left queued", log=worker.log)
    killer = rows.get(to_address="guest0@example.com")
    assert (killer.status, killer.attempts, killer.worker_deaths) == (OutboundStatus.FAILED, 0, 2)
    assert "process ended 2 times" in killer.error
    assert deaths.read_text().count("died") == 2
    assert set(rows.exclude(pk=killer.pk).values_list("status", "attempts")) == {(OutboundStatus.SENT, 1)}
    parts = [p for path in outbox.iterdir() for p in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n") if p.strip()]
    to = sorted(str(email.message_from_bytes(part, policy=default)["To"]) for part in parts)
    assert [t for t in to if t.startswith("guest")] == [f"guest{n}@example.com" for n in (1, 2, 3)]  # each once
