"""Outbound mail speed: notification mails against a bare EmailMessage, same backend, same run.

On its own PostgreSQL database (created and migrated when missing, emptied first), or on the
embedded default's SQLite with `BENCH_DATABASE_URL=sqlite:////tmp/bench-outbound.sqlite3`:

1. Seeds 100 tickets: half with a short thread (2 messages), half with a long one (200), every
   message with its Message-ID, the customer's and the agent's reply tokens issued.
2. Sends 5,000 notification mails (agent replies to customers and customer replies to agents,
   each mail the only one of its event), in interleaved rounds, each round on short or on long
   threads. Queueing is untimed: `queue_notices()` writes the rows, and on commit its `_enqueue`
   starts the tasks production starts, except that the broker is a list. The task bodies run
   (`task.run`), not Celery's own per-task tracing (about 0.15-0.3 ms a task here, outside our
   code). Four ways, timed:
   - a burst (2/7 of the mails), as production queues mail (OUTBOUND_COALESCE, the default with
     Redis and real workers): 100 events commit, the first starts a run of the outbox and the
     other 99 find it waiting (a mark in Redis); the run sends the 100 as one batch.
   - one task per mail (2/7), as without OUTBOUND_COALESCE: the 100 events start 100
     `send_outbound` tasks, run one after another in queue order, as one worker takes them. The
     first claims the backlog behind it (up to `OUTBOUND_DRAIN_BATCH`) and sends it as a batch;
     the other 99 find their mail sent with one read each.
   - alone (1/7): one mail queued, its run of the outbox, and the next: nothing else waits, so
     each mail is its own transaction and commit (the latency of a lone mail, not a capacity).
   - batches of 100 (2/7): `send_outbound_batch(ids)`, here given 100 mails of 100 events (so
     no thread is shared between them).
   Database queries are counted per 100 mails of a burst, per 100 tasks, per lone mail and per
   batch, separately for short and long threads. Planner statistics are gathered after seeding
   (`ANALYZE`), as autovacuum keeps them on a live database.
3. The bare rate: build and send one plain `EmailMessage` with the same subject and text
   through the same backend, 100 per round. The test backend's outbox is emptied every round.

Targets: the same number of queries per mail whatever the thread length, and at least 0.3 of
the bare rate for the ways that carry a load (burst, one task per mail, batches). A lone mail is
reported as the time it takes, since its rate is that of one commit after another.

The shared cache, which holds the mark of a waiting run, is Redis (`BENCH_REDIS_URL`, database 12
by default; only that key is touched); `BENCH_REDIS_URL=` runs on the process's own memory.

With `--stages`, the batches of 100 are timed again stage by stage (timers around the functions
the batch path calls), and the time each mail may take at 0.3 of bare is set against the two
stages the issue prescribes: rendering with Django templates and sending through Anymail.

    .venv/bin/python bench/outbound.py [--mails 5000] [--profile] [--stages]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
            # The cache that marks a waiting run of the outbox; tasks still run in this process.
            "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        }
    )
    if not os.environ["REDIS_URL"]:
        os.environ.pop("REDIS_URL")


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


class Broker:
    """Stands in for the task queue: the tasks production starts on commit, kept in order."""

    def __init__(self) -> None:
        from mailgateway import tasks

        self.tasks: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
        for task in (tasks.send_outbound, tasks.send_outbound_batch, tasks.send_outbox):
            task.delay = lambda *args, task=task, **kwargs: self.tasks.append((task, args, kwargs))  # type: ignore[method-assign]
            task.apply_async = lambda args=(), kwargs=None, task=task, **options: self.tasks.append(  # type: ignore[method-assign]
                (task, tuple(args), kwargs or {})
            )

    def take(self) -> list[tuple[Any, tuple[Any, ...], dict[str, Any]]]:
        taken, self.tasks = self.tasks, []
        return taken


def queue_mails(tickets: list, count: int, start: int = 0, *, coalesce: bool = True) -> list[str]:  # type: ignore[type-arg]
    """Queue `count` notification mails on these tickets, each its own event; their row ids. With
    `coalesce`, as production queues them with OUTBOUND_COALESCE; without, a task per mail."""
    from django.conf import settings
    from django.db import transaction

    settings.OUTBOUND_COALESCE = coalesce

    from mailgateway.notifications import Notice, queue_notices
    from support.models import Message

    ids: list[str] = []
    with transaction.atomic():
        for n in range(start, start + count):
            ticket = tickets[n % len(tickets)]
            message = _latest(ticket, Message)[n // len(tickets) % 2]
            template = "customer_reply" if message.is_from_customer else "agent_reply"
            person = ticket.assigned_agent if message.is_from_customer else ticket.customer
            for row in queue_notices(ticket=ticket, message=message, notices=[Notice(person, template, in_app=False)]):
                ids.append(str(row.pk))
    return ids


_LATEST: dict = {}  # type: ignore[type-arg]


def _latest(ticket, message_model) -> list:  # type: ignore[no-untyped-def, type-arg]
    if ticket.pk not in _LATEST:
        rows = message_model.objects.filter(ticket=ticket).select_related("sender").order_by("-created_at")[:2]
        _LATEST[ticket.pk] = list(rows)
    return _LATEST[ticket.pk]


def analyze() -> None:
    """Planner statistics for the seeded tables, as autovacuum keeps them on a live database; a
    freshly seeded one has none, and the planner then sorts whole threads instead of reading the
    latest messages through the (ticket, created_at) index."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def run_backlog(broker: Broker) -> tuple[float, int]:
    """The queued tasks' bodies in queue order, as one worker runs them, and the tasks they queue
    in turn (a full run of the outbox queues the next run): (seconds, queries)."""
    from django.core import mail
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()  # the query log keeps 9,000 entries; a full one would miscount
    results = []
    gc.collect()  # each way pays for the garbage it makes, not for the last way's
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        while tasks := broker.take():
            results += [task.run(*args, **kwargs) for task, args, kwargs in tasks]
    elapsed = time.perf_counter() - started
    assert set(_statuses(results)) == {"sent"}, results
    mail.outbox = []
    return elapsed, len(captured.captured_queries)


def _statuses(results: list[Any]) -> list[str]:
    """A run of the outbox answers every mail's status (none when it found nothing); a mail's own
    task, its own."""
    return [status for result in results for status in (result.values() if isinstance(result, dict) else [result])]


def run_alone(task: tuple[Any, tuple[Any, ...], dict[str, Any]]) -> tuple[float, int]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()
    gc.collect()  # each way pays for the garbage it makes, not for the last way's
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        result = task[0].run(*task[1], **task[2])
    elapsed = time.perf_counter() - started
    assert _statuses([result]) == ["sent"], result
    return elapsed, len(captured.captured_queries)


def run_batch(ids: list[str]) -> tuple[float, int]:
    """The same mails through `send_outbound_batch()`: one transaction and connection per batch."""
    from django.core import mail
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from mailgateway.outbox import send_outbound_batch

    reset_queries()
    gc.collect()  # each way pays for the garbage it makes, not for the last way's
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as captured:
        results = send_outbound_batch(ids)
    elapsed = time.perf_counter() - started
    assert set(results.values()) == {"sent"}, results
    mail.outbox = []
    return elapsed, len(captured.captured_queries)


def run_bare(count: int, subject: str, text: str) -> float:
    from django.core import mail
    from django.core.mail import EmailMessage

    gc.collect()  # each way pays for the garbage it makes, not for the last way's
    started = time.perf_counter()
    for _ in range(count):
        EmailMessage(subject, text, "SewaBazaar Support <support@example.com>", ["asha@example.com"]).send()
    elapsed = time.perf_counter() - started
    mail.outbox = []
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="cProfile a backlog of 200 tasks")
    parser.add_argument("--stages", action="store_true", help="time the batch path stage by stage")
    args = parser.parse_args()
    configure()
    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core import mail

    from helpdesk.celery import freeze_startup_heap

    freeze_startup_heap()  # as a worker does once it has started
    empty_tables()
    from django.core.cache import cache

    from mailgateway.tasks import OUTBOX_RUN_MARK

    cache.delete(OUTBOX_RUN_MARK)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"machine: {os.cpu_count()} cores, {python}, database {engine}, backend {settings.EMAIL_BACKEND}")
    cache_backend = settings.CACHES["default"]["BACKEND"]
    print(f"drain batch (OUTBOUND_DRAIN_BATCH): {settings.OUTBOUND_DRAIN_BATCH}, cache {cache_backend}")
    short, long = seed(100)
    broker = Broker()
    analyze()

    # One mail first, untimed: warms the template cache and gives the bare loop its text.
    queue_mails(short, 1)
    (first,) = broker.take()
    run_alone(first)
    sample = mail.outbox[0]
    subject, text = sample.subject, sample.body
    mail.outbox = []

    if args.profile:
        import cProfile
        import pstats

        queue_mails(long, 200, coalesce=False)
        profile = cProfile.Profile()
        profile.runcall(run_backlog, broker)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
        return
    kinds = ("burst", "backlog", "alone", "batch", "bare")
    times = dict.fromkeys(kinds, 0.0)
    counts = dict.fromkeys(kinds, 0)
    queries: dict[str, dict[bool, set[int]]] = {kind: {False: set(), True: set()} for kind in kinds}
    rounds = max(1, args.mails // (7 * BATCH // 2))  # each round: 3 x 100 + 50 mails
    for n in range(rounds):
        is_long = n % 2 == 1
        tickets = long if is_long else short
        record = _recorder(times, counts, queries, is_long)
        queue_mails(tickets, BATCH, start=n * BATCH)
        # One run of the outbox; a task per mail where runs need PostgreSQL and there is none.
        assert len(broker.tasks) == 1 or engine != "postgresql", f"a burst started {len(broker.tasks)} tasks"
        record("burst", BATCH, *run_backlog(broker))
        queue_mails(tickets, BATCH, start=n * BATCH, coalesce=False)
        record("backlog", BATCH, *run_backlog(broker))
        for m in range(BATCH // 2):
            queue_mails(tickets, 1, start=n * BATCH + m)
            record("alone", 1, *run_alone(broker.take()[0]))
        ids = queue_mails(tickets, BATCH, start=n * BATCH, coalesce=False)
        broker.take()  # the batch path is called directly below
        record("batch", BATCH, *run_batch(ids))
        times["bare"] += run_bare(BATCH, subject, text)
        counts["bare"] += BATCH
        mail.outbox = []
    report(times, counts, queries)
    if args.stages:
        report_stages(time_stages(long, short, broker, rounds), times["bare"] / counts["bare"])


# Where a mail of a batch spends its time: (module, attribute, stage), timed where the batch path
# looks them up. The backend's send is `EmailMessage.send()`; the bare loop is not timed this way.
STAGES = (
    ("mailgateway.outbox", "lock_rows", "read and lock the rows"),
    ("mailgateway.outbox", "read_threads", "read the threads"),
    ("mailgateway.outbox", "draft", "draft: context, headers, reply token"),
    ("mailgateway.outbound", "Renderer.render", "render: templates, thread block"),
    ("django.core.mail.message", "EmailMessage.send", "send: Anymail's backend"),
    ("mailgateway.outbox", "_save_batch", "record the sends (UPDATE)"),
)
PRESCRIBED = ("render: templates, thread block", "send: Anymail's backend")
# What keeping the mails as rows costs: the statements that read and lock them, read their
# threads and record the sends (each with the decoding of what it returns).
ROWS = ("read and lock the rows", "read the threads", "record the sends (UPDATE)")


@contextmanager
def stage_timers(spent: Counter[str]) -> Iterator[None]:
    import importlib

    restore: list[tuple[Any, str, Any]] = []
    for module_name, path, stage in STAGES:
        owner: Any = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        original = getattr(owner, name)
        restore.append((owner, name, original))
        setattr(owner, name, _timed(original, stage, spent))
    try:
        yield
    finally:
        for owner, name, original in reversed(restore):
            setattr(owner, name, original)


def _timed(function: Callable[..., Any], stage: str, spent: Counter[str]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[stage] += time.perf_counter() - started

    return timed


def time_stages(long: list, short: list, broker: Broker, rounds: int) -> tuple[Counter[str], float, int]:  # type: ignore[type-arg]
    """The batch path again, with a timer around each stage: (seconds per stage, total, mails)."""
    spent: Counter[str] = Counter()
    total, mails = 0.0, 0
    with stage_timers(spent):
        for n in range(rounds):
            ids = queue_mails(long if n % 2 else short, BATCH, start=n * BATCH, coalesce=False)
            broker.take()
            seconds, _ = run_batch(ids)
            total += seconds
            mails += BATCH
    return spent, total, mails


def report_stages(timed: tuple[Counter[str], float, int], bare_seconds: float) -> None:
    spent, total, mails = timed
    ms = {stage: seconds / mails * 1000 for stage, seconds in spent.items()}
    whole = total / mails * 1000
    print(f"\nbatches of {BATCH}, stage by stage (ms per mail; timers add a little):")
    for _, _, stage in STAGES:
        print(f"  {stage:36} {ms.get(stage, 0.0):6.3f}")
    rest = whole - sum(ms.values())
    print(f"  {'the rest (the messages, glue)':36} {rest:6.3f}")
    print(f"  {'whole':36} {whole:6.3f}")
    budget = bare_seconds * 1000 / 0.3
    prescribed = sum(ms.get(stage, 0.0) for stage in PRESCRIBED)
    rows = sum(ms.get(stage, 0.0) for stage in ROWS)
    print(f"at 0.3 of bare a mail may take {budget:.3f} ms; rendering and sending alone take {prescribed:.3f} ms "
          f"({prescribed / budget:.0%} of it), leaving {budget - prescribed:.3f} ms for everything else, "
          f"which takes {whole - prescribed:.3f} ms")  # fmt: skip
    print(f"reading, locking and recording the rows take {rows:.3f} ms ({rows / budget:.0%} of the budget); "
          f"with rendering and sending, {prescribed + rows:.3f} ms ({(prescribed + rows) / budget:.0%})")  # fmt: skip


def _recorder(times, counts, queries, is_long):  # type: ignore[no-untyped-def]
    def record(kind: str, mails: int, seconds: float, query_count: int) -> None:
        times[kind] += seconds
        counts[kind] += mails
        queries[kind][is_long].add(query_count)

    return record


def report(times: dict[str, float], counts: dict[str, int], queries: dict[str, dict[bool, set[int]]]) -> None:
    rate = {kind: counts[kind] / times[kind] for kind in times}
    print(f"{'bare EmailMessage:':42} {counts['bare']:5} mails, {rate['bare']:8,.0f} mails/s")
    labels = {
        "burst": f"a burst of {BATCH} events:",
        "backlog": "one task per mail, backlog:",
        "batch": f"batches of {BATCH} (send_outbound_batch):",
    }
    for kind, label in labels.items():
        print(f"{label:42} {counts[kind]:5} mails, {rate[kind]:8,.0f} mails/s, "
              f"{rate[kind] / rate['bare']:.2f} of bare (target >= 0.30)")  # fmt: skip
    # Nothing queued behind it: its own transaction and commit. A latency, not a capacity.
    print(f"{'a lone mail, its run (latency):':42} {counts['alone']:5} mails, "
          f"{1000 / rate['alone']:8.2f} ms a mail ({rate['alone'] / rate['bare']:.2f} of bare)")  # fmt: skip
    units = {
        "burst": f"per burst of {BATCH}",
        "backlog": f"per {BATCH} tasks",
        "alone": "per lone mail",
        "batch": f"per batch of {BATCH}",
    }
    for kind, unit in units.items():
        print(f"queries {unit}: short threads {sorted(queries[kind][False])}, "
              f"long threads {sorted(queries[kind][True])}")  # fmt: skip


if __name__ == "__main__":
    main()
