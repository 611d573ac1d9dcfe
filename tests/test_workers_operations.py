"""What operators rely on: health and readiness, Prometheus counters, JSON logs, queues and limits."""

from __future__ import annotations

import gc
import json
import logging
import socket
from datetime import timedelta

import pytest
from celery.signals import worker_process_init, worker_ready
from django.utils import timezone

from helpdesk.celery import app as celery_app
from helpdesk.jsonlog import JsonFormatter
from mailgateway.models import InboundEmail
from tests.mailbuilder import build_mail, deliver

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- /healthz and /readyz --------------------------------------------------------------------


def test_healthz_answers_ok_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_ready_when_the_database_answers_and_tasks_run_in_process(client, settings):
    settings.CELERY_BROKER_URL = "memory://"
    body = client.get("/readyz").json()
    assert body["status"] == "ready" and body["database"]["ok"] is True
    assert body["redis"]["ok"] is None  # no broker to check


def test_readyz_is_not_ready_when_redis_does_not_answer(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready" and body["redis"]["ok"] is False
    assert "ConnectionError" in body["redis"]["error"]
    assert body["database"]["ok"] is True


def test_readyz_reports_the_waiting_mail_and_the_age_of_the_oldest(client, settings):
    settings.CELERY_BROKER_URL = "memory://"
    settings.INBOUND_STUCK_AFTER_SECONDS = 600
    old = deliver(build_mail(), door="raw")  # processed at once (eager)
    InboundEmail.objects.filter(pk=old.pk).update(status="received", received_at=timezone.now() - timedelta(hours=1))
    mail = client.get("/readyz").json()["inbound_mail"]
    assert mail["waiting"] == 1 and mail["stuck"] == 1
    assert 3590 < mail["oldest_waiting_seconds"] < 3700


def test_readyz_reports_no_age_when_nothing_waits(client, settings):
    settings.CELERY_BROKER_URL = "memory://"
    assert client.get("/readyz").json()["inbound_mail"] == {"waiting": 0, "oldest_waiting_seconds": None, "stuck": 0}


# -- /metrics --------------------------------------------------------------------------------


def test_metrics_are_closed_without_a_token(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_PUBLIC = "", False
    assert client.get("/metrics").status_code == 404


def test_metrics_refuse_a_wrong_token(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401


def test_metrics_may_be_opened_on_a_private_port_by_setting(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_PUBLIC = "", True
    assert client.get("/metrics").status_code == 200


def metric(text: str, name: str) -> float:
    """The value of one sample line `name{labels} value` (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(client) -> str:  # type: ignore[no-untyped-def]
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    return response.content.decode()


# Counters count what committed: these tests commit for real.
@pytest.mark.django_db(transaction=True)
def test_metrics_count_mails_received_processed_and_ignored(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    before = scrape(client)
    deliver(build_mail(), door="raw")
    deliver(build_mail(headers={"Auto-Submitted": "auto-replied"}), door="raw")
    after = scrape(client)
    received = 'helpdesk_mails_received_total{door="raw"}'
    ignored = 'helpdesk_mails_ignored_total{reason="auto_reply"}'
    assert metric(after, received) - metric(before, received) == 2
    assert metric(after, "helpdesk_mails_processed_total") - metric(before, "helpdesk_mails_processed_total") == 1
    assert metric(after, ignored) - metric(before, ignored) == 1


@pytest.mark.django_db(transaction=True)
def test_metrics_count_quarantined_mail_by_reason(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    name = 'helpdesk_mails_quarantined_total{reason="no_sender"}'
    before = metric(scrape(client), name)
    deliver(build_mail(sender="undisclosed-recipients:;"), door="raw")
    assert metric(scrape(client), name) - before == 1


@pytest.mark.django_db(transaction=True)
def test_metrics_count_the_mails_sent(client, settings, mailoutbox):
    settings.METRICS_TOKEN = "scrape-secret"
    before = metric(scrape(client), "helpdesk_mails_sent_total")
    deliver(build_mail(), door="raw")  # a new ticket: the customer gets an acknowledgement
    assert len(mailoutbox) == 1
    assert metric(scrape(client), "helpdesk_mails_sent_total") - before == 1


@pytest.mark.django_db(transaction=True)
def test_metrics_count_a_bounce_of_our_mail_once_however_often_it_is_reported(client, settings, customer_a):
    from mailgateway.delivery import DeliveryReport, apply_delivery_report
    from mailgateway.models import OutboundEmail
    from tests.builders import make_ticket

    settings.METRICS_TOKEN = "scrape-secret"
    row = OutboundEmail.objects.create(
        ticket=make_ticket(customer_a), to_address="asha@example.com", template="agent_reply", status="sent"
    )
    before = metric(scrape(client), "helpdesk_mails_bounced_total")
    for _ in range(2):  # providers repeat their reports
        apply_delivery_report(DeliveryReport(kind="bounced", provider="postmark", outbound_id=str(row.pk)))
    assert metric(scrape(client), "helpdesk_mails_bounced_total") - before == 1


def test_metrics_show_the_backlog_of_waiting_mail(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    settings.CELERY_BROKER_URL = "memory://"
    inbound = deliver(build_mail(), door="raw")
    five_minutes_ago = timezone.now() - timedelta(minutes=5)
    InboundEmail.objects.filter(pk=inbound.pk).update(status="received", received_at=five_minutes_ago)
    text = scrape(client)
    assert metric(text, "helpdesk_inbound_waiting") == 1
    assert 290 < metric(text, "helpdesk_inbound_oldest_waiting_seconds") < 400


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_delivery_is_not_counted_as_received(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    raw, name = build_mail(), 'helpdesk_mails_received_total{door="raw"}'
    before = metric(scrape(client), name)
    deliver(raw, door="raw")
    deliver(raw, door="raw")
    assert metric(scrape(client), name) - before == 1


# -- JSON logs -------------------------------------------------------------------------------


def test_json_logs_are_one_object_per_line_with_the_extra_fields():
    record = logging.LogRecord("mailgateway", logging.WARNING, __file__, 1, "queued %s mails", (3,), None)
    record.requeued = 3
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "WARNING" and entry["logger"] == "mailgateway"
    assert entry["message"] == "queued 3 mails" and entry["requeued"] == 3
    assert entry["time"].endswith("+00:00") and isinstance(entry["process"], int)


def test_json_logs_carry_the_exception_as_text():
    try:
        raise ValueError("bad header")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: bad header" in entry["exception"]


def test_json_logs_write_values_json_cannot_hold_as_text():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    record.when = timezone.now()
    assert isinstance(json.loads(JsonFormatter().format(record))["when"], str)


def test_an_unknown_log_format_is_refused_at_start(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import helpdesk.settings as settings_module

    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        importlib.reload(settings_module)
    monkeypatch.delenv("LOG_FORMAT")
    importlib.reload(settings_module)


# -- queues, acknowledgement, limits ---------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("mailgateway.process_inbound", "inbound"),
        ("mailgateway.poll_imap", "inbound"),
        ("mailgateway.send_outbound", "outbound"),
        ("mailgateway.send_outbox", "outbound"),
        ("helpdesk.sweep_stuck_mail", "housekeeping"),
        ("helpdesk.close_resolved_tickets", "housekeeping"),
        ("helpdesk.purge_raw_mail", "housekeeping"),
        ("some.task_without_a_route", "housekeeping"),
    ],
)
def test_each_kind_of_work_has_its_own_queue(task, queue):
    assert celery_app.amqp.router.route({}, task)["queue"].name == queue


@pytest.mark.parametrize("signal", [worker_process_init, worker_ready], ids=["prefork child", "worker itself"])
def test_a_worker_keeps_what_it_loaded_at_start_out_of_the_collector_s_full_passes(signal):
    gc.unfreeze()
    try:
        signal.send(sender=None)
        assert gc.get_freeze_count() > 10_000  # Django, the apps and their libraries
    finally:
        gc.unfreeze()


def test_a_task_is_acknowledged_only_after_it_ran_and_returns_when_its_worker_is_lost():
    conf = celery_app.conf
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    # Redis gives an unacknowledged task to another worker after this long: above the hard limit.
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit > conf.task_soft_time_limit


def test_beat_sweeps_stuck_mail_and_keeps_house():
    tasks = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert {"helpdesk.sweep_stuck_mail", "helpdesk.close_resolved_tickets", "helpdesk.purge_raw_mail"} <= tasks


def test_housekeeping_tasks_retry_with_backoff_and_jitter():
    import helpdesk.tasks as tasks

    for task in (tasks.sweep_stuck_mail, tasks.close_resolved_tickets, tasks.purge_raw_mail):
        assert task.autoretry_for == (Exception,) and task.retry_backoff and task.retry_jitter
        assert task.time_limit > task.soft_time_limit


# -- a mail that kills its workers -----------------------------------------------------------


def test_a_mail_that_never_finishes_on_any_worker_is_marked_failed_instead_of_taken_forever():
    from django.core.cache import cache

    from mailgateway.store import store_inbound
    from mailgateway.tasks import MAX_DELIVERIES, process_inbound

    inbound = store_inbound(build_mail(), door="raw").inbound  # not committed: its task never ran
    cache.set(f"mailgateway:deliveries:{inbound.pk}", MAX_DELIVERIES)  # workers took it and died, again and again
    assert process_inbound.apply(args=[str(inbound.pk)]).get() == "failed"
    inbound.refresh_from_db()
    assert (inbound.status, inbound.reason) == ("failed", "processing_error") and "never finished" in inbound.error


def test_a_mail_below_that_bound_is_processed_as_usual():
    from mailgateway.store import store_inbound
    from mailgateway.tasks import process_inbound

    inbound = store_inbound(build_mail(), door="raw").inbound
    for _ in range(3):  # delivered three times (a retry, a re-queue): one outcome
        process_inbound.apply(args=[str(inbound.pk)])
    inbound.refresh_from_db()
    assert inbound.status == "processed" and inbound.attempts == 1
