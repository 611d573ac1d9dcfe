"""The mail promise with the real services: Celery workers on Redis, PostgreSQL, and their faults.

Each test starts its own `celery worker` processes (and beat, a private redis-server or a proxy in
front of PostgreSQL where it needs them) and stops them however it ends. The workers use the test
database, so these tests commit for real (transactional).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import random
import time
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client

from mailgateway.ingest import process_stored_mail
from mailgateway.models import InboundEmail
from support.models import Message, Ticket, User
from tests.mailbuilder import build_mail
from tests.workerkit import (  # noqa: F401  (the fixtures broker, private_redis, workers)
    BreakingProxy,
    broker_fixture,
    free_port,
    private_redis_fixture,
    producer_to,
    wait_for,
    workers_fixture,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MAILGUN_URL = "/anymail/mailgun/inbound_mime/"
SIGNING_KEY = "key-worker-tests"
BASIC_AUTH = "Basic " + b64encode(b"hook:s3cret").decode()


@pytest.fixture
def mailgun(settings):  # type: ignore[no-untyped-def]
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret", "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    return {"HTTP_AUTHORIZATION": BASIC_AUTH}


def mailgun_delivery(raw: bytes) -> dict[str, str]:
    """Mailgun's inbound "store and notify" POST (raw MIME), signed as Mailgun signs it."""
    timestamp, token = str(int(time.time())), "tok-" + hashlib.sha1(raw).hexdigest()[:24]
    signature = hmac.new(SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "body-mime": raw.decode("utf-8"),
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        "recipient": "support@example.com",
        "sender": "asha@example.com",
    }


def processed(inbound_id: object) -> bool:
    return InboundEmail.objects.filter(pk=inbound_id).exclude(status="received").exists()


# -- a webhook through a real worker ----------------------------------------------------------


@pytest.mark.redis
def test_a_webhook_delivery_becomes_a_ticket_through_a_real_worker(client, mailgun, broker, workers):
    worker = workers.start(broker_url=broker, env={"LOG_FORMAT": "json"})
    response = client.post(MAILGUN_URL, mailgun_delivery(build_mail(subject="Geyser not heating")), **mailgun)
    assert response.status_code == 200
    inbound = InboundEmail.objects.get()
    wait_for(lambda: processed(inbound.pk), timeout=90, what="the worker to process the mail", log=worker.log)
    inbound.refresh_from_db()
    assert inbound.status == "processed" and inbound.ticket.title == "Geyser not heating"
    assert inbound.ticket.messages.get().message_text == "The plumber did not come at 9am."

    # The worker logs one JSON object per line (LOG_FORMAT=json), naming the task it ran (the line
    # is written just after the commit, so it may trail the row by a moment).
    def logged_outcome() -> bool:
        entries = [json.loads(line) for line in worker.text().splitlines() if line.startswith("{")]
        return any(e.get("task") == "mailgateway.process_inbound" and str(inbound.pk) in e["message"] for e in entries)

    wait_for(logged_outcome, timeout=30, what="the worker's JSON log line", log=worker.log)


# -- a worker killed mid-mail -----------------------------------------------------------------


@pytest.mark.redis
def test_a_worker_killed_mid_mail_leaves_it_to_the_next_worker_which_processes_it_once(
    client, mailgun, broker, workers, tmp_path
):
    marker = tmp_path / "midway"
    visibility = {"CELERY_VISIBILITY_TIMEOUT": "2"}  # Redis gives an unacknowledged task away after 2 s
    slow = workers.start(
        broker_url=broker, app="tests.slow_worker", env={**visibility, "SLOW_WORKER_MARKER": str(marker)}
    )
    assert client.post(MAILGUN_URL, mailgun_delivery(build_mail(subject="Half done")), **mailgun).status_code == 200
    wait_for(marker.exists, timeout=90, what="the worker to be midway through the mail", log=slow.log)

    slow.kill()  # SIGKILL, with the ticket written but not committed
    inbound = InboundEmail.objects.get()
    assert inbound.status == "received" and not Ticket.objects.exists() and not Message.objects.exists()

    time.sleep(2.5)  # the visibility timeout passes
    fresh = workers.start(broker_url=broker, env=visibility)
    wait_for(lambda: processed(inbound.pk), timeout=90, what="the new worker to take the mail", log=fresh.log)
    inbound.refresh_from_db()
    assert inbound.status == "processed" and inbound.attempts == 1
    assert Ticket.objects.get().title == "Half done" and Message.objects.count() == 1


# -- Redis down while a webhook arrives -------------------------------------------------------


@pytest.mark.redis
def test_a_webhook_while_redis_is_down_gets_200_and_the_sweeper_processes_it_once_redis_is_back(
    client, mailgun, private_redis, workers
):
    with producer_to(private_redis.url):
        private_redis.stop()
        response = client.post(MAILGUN_URL, mailgun_delivery(build_mail(subject="Sent during an outage")), **mailgun)
        assert response.status_code == 200  # the mail is in PostgreSQL; its task could not be queued
        inbound = InboundEmail.objects.get()
        assert inbound.status == "received"

        private_redis.start()  # an empty Redis: the task is gone for good
        fast_sweeps = {"INBOUND_STUCK_AFTER_SECONDS": "1", "SWEEP_SECONDS": "1"}
        worker = workers.start(broker_url=private_redis.url, env=fast_sweeps)
        workers.start_beat(broker_url=private_redis.url, env=fast_sweeps)
        wait_for(lambda: processed(inbound.pk), timeout=120, what="the sweeper to queue the mail", log=worker.log)
    inbound.refresh_from_db()
    assert inbound.status == "processed" and inbound.attempts == 1
    assert Ticket.objects.get().title == "Sent during an outage" and Message.objects.count() == 1
    assert "queued 1 stuck inbound mails again" in worker.text()


# -- PostgreSQL down while a webhook arrives --------------------------------------------------


@contextlib.contextmanager
def database_at(host: str, port: int) -> Iterator[None]:
    """Django's connection goes to host:port until the block ends."""
    saved = connection.settings_dict["HOST"], connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["HOST"], connection.settings_dict["PORT"] = host, port
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["HOST"], connection.settings_dict["PORT"] = saved


def test_a_webhook_while_postgresql_is_unreachable_gets_a_5xx_so_the_provider_retries(mailgun):
    provider = Client(raise_request_exception=False)
    with database_at("127.0.0.1", free_port()):
        response = provider.post(MAILGUN_URL, mailgun_delivery(build_mail()), **mailgun)
    assert response.status_code == 500
    assert not InboundEmail.objects.exists()


@pytest.mark.parametrize(
    ("text", "durable_at"),
    [
        # A small mail is one INSERT in autocommit: the statement that would make it durable.
        ("The tap leaks.", b'INSERT INTO "mailgateway_inboundemail"'),
        # A large one is inserted, then its bytes sent in the binary protocol, then committed.
        ("The tap leaks. " * 5000, b"COMMIT"),
    ],
    ids=["small", "large"],
)
def test_a_database_lost_at_commit_gives_a_5xx_and_leaves_nothing_half_written(mailgun, text, durable_at):
    provider = Client(raise_request_exception=False)
    raw = build_mail(subject="Lost at commit", text=text)
    target = (connection.settings_dict["HOST"] or "127.0.0.1", int(connection.settings_dict["PORT"] or 5432))
    proxy = BreakingProxy(target)
    proxy.cut_on(durable_at)  # the connection dies before the row is committed
    try:
        with database_at("127.0.0.1", proxy.port):
            response = provider.post(MAILGUN_URL, mailgun_delivery(raw), **mailgun)
    finally:
        proxy.close()
    assert response.status_code == 500 and proxy.cuts == 1
    assert not InboundEmail.objects.exists() and not Ticket.objects.exists()

    # The provider retries once the database is back: stored once, processed once.
    assert provider.post(MAILGUN_URL, mailgun_delivery(raw), **mailgun).status_code == 200
    inbound = InboundEmail.objects.get()
    process_stored_mail(str(inbound.pk))
    assert Ticket.objects.get().title == "Lost at commit"


# -- 200 concurrent deliveries, 10% duplicates, 2 workers -------------------------------------


def post_to(url: str, raw: bytes) -> int:
    request = urllib.request.Request(
        url,
        data=urlencode(mailgun_delivery(raw)).encode(),
        headers={"Authorization": BASIC_AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.redis
def test_200_concurrent_deliveries_with_10_percent_duplicates_and_2_workers_make_exactly_the_expected_tickets(
    live_server, mailgun, broker, workers
):
    pair = [workers.start(broker_url=broker, ready=False) for _ in range(2)]
    for worker in pair:
        worker.wait_ready()
    # 180 different mails from 60 customers (3 each, under the flood limit), and 20 sent twice.
    distinct = [
        build_mail(
            sender=f"Customer {i % 60} <customer{i % 60}@example.com>",
            subject=f"Order {i} is late",
            message_id=f"<load-{i}@mail.example.com>",
        )
        for i in range(180)
    ]
    rng = random.Random(6)
    deliveries = distinct + rng.sample(distinct, 20)
    rng.shuffle(deliveries)
    with ThreadPoolExecutor(max_workers=16) as senders:
        answers = list(senders.map(lambda raw: post_to(live_server.url + MAILGUN_URL, raw), deliveries))
    assert answers == [200] * 200
    assert InboundEmail.objects.count() == 180

    def log() -> str:
        import redis

        client = redis.Redis.from_url(broker)
        waiting = list(InboundEmail.objects.filter(status="received").values_list("pk", flat=True)[:5])
        state = f"still received: {waiting}; queue {client.llen('inbound')}, unacked {client.hlen('unacked')}"
        return state + "\n" + "\n".join(w.log() for w in pair)

    wait_for(lambda: not InboundEmail.objects.filter(status="received").exists(), timeout=300, what="all mail", log=log)
    assert InboundEmail.objects.filter(status="processed").count() == 180
    assert Ticket.objects.count() == 180 and Message.objects.count() == 180
    assert set(Ticket.objects.values_list("title", flat=True)) == {f"Order {i} is late" for i in range(180)}
    assert User.objects.count() == 60
    assert all(worker.process.poll() is None for worker in pair)  # no worker died or hung on a lock
