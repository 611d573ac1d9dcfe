"""Outbound mail speed: notification mails against a bare EmailMessage, same backend, same run.

On its own PostgreSQL database (created and migrated when missing, emptied first), or on the
embedded default's SQLite with `BENCH_DATABASE_URL=sqlite:////tmp/bench-outbound.sqlite3`:

1. Seeds 100 tickets: half with a short thread (2 messages), half with a long one (200), every
   message with its Message-ID, the customer's and the agent's reply tokens issued.
2. Queues 5,000 notification mails (agent replies to customers and customer replies to agents,
   alternately on short and long threads) with `queue_notices()`, untimed.
3. Sends them as the worker does, half one task per mail (`send_outbound_email(id)`: lock and
   read the row with its people, reply token, undeliverable flag and the ticket's first
   Message-ID, read the latest messages, render subject, text and HTML, set the headers, send
   through Anymail's test backend, record the result), half in batches of 100
   (`send_outbound_batch(ids)`, as the mails of one event go: the same reads once per batch, one
   connection, one UPDATE). Database queries are counted per mail and per batch, separately for
   short and long threads. Planner statistics are gathered after seeding (`ANALYZE`), as
   autovacuum keeps them on a live database.
4. The bare rate: build and send one plain `EmailMessage` with the same subject and text
   through the same backend. Both run in interleaved rounds; the test backend's outbox is
   emptied between batches so that its list does not grow.

Targets: the same number of queries per mail whatever the thread length, and at least 0.3 of
the bare rate.

    .venv/bin/python bench/outbound.py [--mails 5000]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE = "helpdesk_bench_outbound"
BATCH = 100


def configure() -> None:
    os.environ.update(
        {
            "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{DATABASE}"),
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + "x" * 50,
            "ALLOWED_HOSTS": "127.0.0.1,testserver",
            "EMAIL_BACKEND": "anymail.backends.test.EmailBackend",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)


def ensure_database() -> None:
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=os.environ, check=True)
        return
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=os.environ, check=True)


def empty_tables() -> None:
    from django.db import connection

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            names = [n for n in connection.introspection.table_names() if n.startswith(("support_", "mailgateway_"))]
            cursor.execute("PRAGMA foreign_keys = OFF")
            for name in names:
                cursor.execute(f'DELETE FROM "{name}"')
            cursor.execute("PRAGMA foreign_keys = ON")
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND "
            "(tablename LIKE 'support\\_%%' OR tablename LIKE 'mailgateway\\_%%')"
        )
        tables = ", ".join(f'"{name}"' for (name,) in cursor.fetchall())
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


def seed(tickets: int) -> tuple[list, list]:  # type: ignore[type-arg]
    """(short tickets, long tickets), each with its people's reply tokens issued."""
    from datetime import timedelta

    from django.utils import timezone

    from mailgateway.tokens import issue_reply_token
    from support.models import Message, Ticket, User
    from support.references import next_ticket_reference

    customer = User.objects.create_user("asha@example.com", None, name="Asha Rai")
    agent = User.objects.create_user("agent@sewabazaar.test", None, name="Sita Agent", is_staff=True)
    start = timezone.now() - timedelta(days=30)
    short, long = [], []
    for n in range(tickets):
        length = 2 if n % 2 == 0 else 200
        ticket = Ticket.objects.create(
            reference=next_ticket_reference(), title=f"Cleaner did not come ({n})", customer=customer,
            assigned_agent=agent, created_at=start, updated_at=start,
        )  # fmt: skip
        Message.objects.bulk_create(
            [
                Message(
                    ticket=ticket,
                    sender=customer if i % 2 == 0 else agent,
                    message_text=f"Message {i} on ticket {n}.\n\nThe cleaner was booked for 9am and did not come."
                    * (1 + i % 3),
                    is_from_customer=i % 2 == 0,
                    email_message_id=f"<bench.{n}.{i}@mail.example.com>",
                    created_at=start + timedelta(minutes=i),
                )
                for i in range(length)
            ]
        )
        for person in (customer, agent):
            issue_reply_token(ticket_id=ticket.pk, person_id=person.pk)
        (short if length == 2 else long).append(ticket)
    return short, long


def queue_mails(short: list, long: list, count: int) -> list[tuple[str, bool]]:  # type: ignore[type-arg]
    """(outbound id, on a long thread) for `count` queued notification mails."""
    from django.db import transaction

    from mailgateway import notifications
    from mailgateway.notifications import Notice, queue_notices

    notifications._enqueue = lambda outbound_id: None  # the bench sends them itself, timed
    from support.models import Message

    rows: list[tuple[str, bool]] = []
    tickets = [(t, False) for t in short] + [(t, True) for t in long]
    latest = {
        t.pk: list(Message.objects.filter(ticket=t).select_related("sender").order_by("-created_at")[:2])
        for t, _ in tickets
    }
    with transaction.atomic():
        for n in range(count):
            ticket, is_long = tickets[n % len(tickets)]
            message = latest[ticket.pk][n % 2]
            template = "customer_reply" if message.is_from_customer else "agent_reply"
            person = ticket.assigned_agent if message.is_from_customer else ticket.customer
            for row in queue_notices(ticket=ticket, message=message, notices=[Notice(person, template, in_app=False)]):
                rows.append((str(row.pk), is_long))
    return rows


def analyze() -> None:
    """Planner statistics for the seeded tables, as autovacuum keeps them on a live database; a
    freshly seeded one has none, and the planner then sorts whole threads instead of reading the
    latest messages through the (ticket, created_at) index."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def run_ours(batch: list[tuple[str, bool]], queries: dict[bool, set[int]]) -> float:
    from django.core import mail
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from mailgateway.outbound import send_outbound_email

    started = time.perf_counter()
    for outbound_id, is_long in batch:
        reset_queries()  # the query log keeps 9,000 entries; a full one would miscount
        with CaptureQueriesContext(connection) as captured:
            status = send_outbound_email(outbound_id)
        assert status == "sent", status
        queries[is_long].add(len(captured.captured_queries))
    elapsed = time.perf_counter() - started
    mail.outbox = []
    return elapsed


def run_batch(batch: list[tuple[str, bool]], queries: dict[bool, set[int]]) -> float:
    """The same mails through `send_outbound_batch()`: one transaction and connection per batch."""
    from django.core import mail
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from mailgateway.outbound import send_outbound_batch

    reset_queries()
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        results = send_outbound_batch([outbound_id for outbound_id, _ in batch])
    elapsed = time.perf_counter() - started
    assert set(results.values()) == {"sent"}, results
    queries[batch[0][1]].add(len(captured.captured_queries))
    mail.outbox = []
    return elapsed


def run_bare(count: int, subject: str, text: str) -> float:
    from django.core import mail
    from django.core.mail import EmailMessage

    started = time.perf_counter()
    for _ in range(count):
        EmailMessage(subject, text, "SewaBazaar Support <support@example.com>", ["asha@example.com"]).send()
    elapsed = time.perf_counter() - started
    mail.outbox = []
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="cProfile the notification loop")
    args = parser.parse_args()
    configure()
    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core import mail

    empty_tables()
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"machine: {os.cpu_count()} cores, {python}, database {engine}, backend {settings.EMAIL_BACKEND}")
    short, long = seed(100)
    rows = queue_mails(short, long, args.mails)
    analyze()
    mail.outbox = []

    # One mail first, untimed: warms the template cache and gives the bare loop its text.
    from mailgateway.outbound import send_outbound_email

    send_outbound_email(rows[0][0])
    sample = mail.outbox[0]
    subject, text = sample.subject, sample.body
    mail.outbox = []

    queries: dict[bool, set[int]] = {False: set(), True: set()}
    batch_queries: dict[bool, set[int]] = {False: set(), True: set()}
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.runcall(run_batch, rows[1:201], queries)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        return
    # Half the mails one by one (the per-mail task), half in batches; bare sends in between.
    half = (len(rows) - 1) // 2
    single, batched = rows[1 : 1 + half], rows[1 + half :]
    batched = sorted(batched, key=lambda row: row[1])  # a batch is all short or all long threads
    times = {"single": 0.0, "batch": 0.0, "bare": 0.0}
    counts = {"single": 0, "batch": 0, "bare": 0}
    while single or batched:
        if single:
            chunk, single = single[:BATCH], single[BATCH:]
            times["single"] += run_ours(chunk, queries)
            counts["single"] += len(chunk)
        if batched:
            chunk, batched = batched[:BATCH], batched[BATCH:]
            times["batch"] += run_batch(chunk, batch_queries)
            counts["batch"] += len(chunk)
        times["bare"] += run_bare(BATCH, subject, text)
        counts["bare"] += BATCH
    rate = {name: counts[name] / times[name] for name in times}
    print(f"bare EmailMessage:            {counts['bare']:5} mails, {rate['bare']:8,.0f} mails/s")
    for name, label in (("single", "one task per mail:"), ("batch", f"batches of {BATCH}:")):
        print(f"notification mails, {label:18} {counts[name]:5} mails, {rate[name]:8,.0f} mails/s, "
              f"{rate[name] / rate['bare']:.2f} of bare (target >= 0.30)")  # fmt: skip
    print(f"queries per mail, one task per mail: short threads {sorted(queries[False])}, "
          f"long threads {sorted(queries[True])}")  # fmt: skip
    print(f"queries per batch of {BATCH}: short threads {sorted(batch_queries[False])}, "
          f"long threads {sorted(batch_queries[True])} (target: one fixed number)")  # fmt: skip


if __name__ == "__main__":
    main()
