"""API speed: the ticket list and detail against a bare one-query DRF view, in the same run.

Seeds PostgreSQL with 100,000 tickets and 500,000 messages (once; `--reseed` to start over),
serves the app with gunicorn (2 workers) with Redis as cache, and drives the three endpoints
with the same keep-alive load generator and concurrency, in interleaved rounds so that noise
hits all three alike. Prints requests/s, p50 and p99 per endpoint and the p99 ratio to the bare
view (target: list and detail within 3x), and the SQL queries per request.

    .venv/bin/python bench/api.py                 # reuse the seeded database
    .venv/bin/python bench/api.py --reseed        # seed again
    .venv/bin/python bench/api.py --no-caches     # without the count and conversation caches
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STAFF_EMAIL, STAFF_PASSWORD = "bench-staff@sewabazaar.test", "bench-password-123"


def configure(database: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": "redis://127.0.0.1:6379/14",
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "RATE_LIMIT_DEFAULT": "100000000/min",
        "RATE_LIMIT_TICKET_CREATE": "100000000/min",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    return env


def ensure_database(name: str, *, reseed: bool) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reseed:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def seed(tickets: int, messages: int) -> tuple[str, str]:
    """Rows straight through COPY; returns (the 50-message ticket's id, a reference)."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from support import summaries
    from support.models import PRIORITY_RANK, Category, Priority, Source, Status, Ticket, User

    existing = Ticket.objects.count()
    if existing >= tickets:
        detail = Ticket.objects.get(title="Bench: fifty messages")
        return str(detail.pk), detail.reference
    rng = random.Random(42)
    started = time.perf_counter()
    password = make_password(STAFF_PASSWORD)
    now = timezone.now()
    customers = [uuid.uuid4() for _ in range(2000)]
    agents = [uuid.uuid4() for _ in range(5)]
    staff = uuid.uuid4()
    statuses, priorities = list(Status.values), list(Priority.values)
    categories, sources = list(Category.values), list(Source.values)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY support_user (id, password, email, name, is_staff, is_active, is_superuser, date_joined) FROM STDIN"
        ) as copy,
    ):
        copy.write_row((staff, password, STAFF_EMAIL, "Bench Staff", True, True, False, now))
        for n, pk in enumerate(agents):
            copy.write_row((pk, password, f"agent{n}@sewabazaar.test", f"Agent {n}", True, True, False, now))
        for n, pk in enumerate(customers):
            copy.write_row((pk, password, f"customer{n}@example.com", f"Customer {n}", False, True, False, now))
    ticket_rows = []
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY support_ticket (id, reference, title, customer_id, category, status, priority, priority_rank, "
            "assigned_agent_id, escalated, escalation_reason, source, tags, created_at, updated_at, "
            "unread_by_staff, unread_by_customer, conversation_version) FROM STDIN"
        ) as copy,
    ):
        for n in range(tickets):
            pk, customer = uuid.uuid4(), customers[n % len(customers)]
            created = now - timedelta(minutes=rng.randint(1, 525_600))
            priority = rng.choice(priorities)
            title = "Bench: fifty messages" if n == 0 else f"Booking problem number {n}"
            copy.write_row(
                (
                    pk,
                    f"SB-{1001 + n}",
                    title,
                    customer,
                    rng.choice(categories),
                    rng.choice(statuses),
                    priority,
                    PRIORITY_RANK[priority],
                    rng.choice(agents) if n % 3 else None,
                    n % 50 == 0,
                    "",
                    rng.choice(sources),
                    "[]",
                    created,
                    created + timedelta(minutes=rng.randint(0, 10_000)),
                    0,  # the list columns are counted from the messages below
                    0,
                    0,
                )
            )
            ticket_rows.append((pk, customer, created))
    detail_id = ticket_rows[0][0]
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY support_message (id, ticket_id, sender_id, message_text, html, is_from_customer, is_internal, "
            "read_by_customer, read_by_staff, channel, email_message_id, routed_by, created_at) FROM STDIN"
        ) as copy,
    ):
        written = 0
        detail_messages = []
        for index, (pk, customer, created) in enumerate(ticket_rows):
            count = 50 if index == 0 else max(1, round((messages - 50) / (tickets - 1) + rng.uniform(-2, 2)))
            for m in range(count):
                from_customer = m % 2 == 0
                message_id = uuid.uuid4()
                copy.write_row(
                    (
                        message_id,
                        pk,
                        customer if from_customer else agents[m % 5],
                        f"Message {m} about the booking: the provider arrived late and left early.",
                        "",
                        from_customer,
                        (not from_customer) and m % 5 == 3,
                        True,
                        m < count - 1,
                        "web",
                        "",
                        "",
                        created + timedelta(minutes=m),
                    )
                )
                if index == 0:
                    detail_messages.append(message_id)
                written += 1
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY support_attachment (id, ticket_id, message_id, uploaded_by_id, file, filename, file_size, "
            "content_type, content_id, created_at) FROM STDIN"
        ) as copy,
    ):
        for message_id in detail_messages:
            for k in range(2):
                copy.write_row(
                    (
                        uuid.uuid4(),
                        detail_id,
                        message_id,
                        staff,
                        f"attachments/bench/{k}",
                        f"photo{k}.png",
                        1234,
                        "image/png",
                        "",
                        now,
                    )
                )
    summaries.refresh_ticket_summaries(Ticket.objects.all())
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval('support_ticket_reference_seq', %s)", [tickets + 10])
        cursor.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps a live table in
    print(f"seeded {tickets:,} tickets and {written:,} messages in {time.perf_counter() - started:.0f} s")
    User.objects.filter(pk=staff).update(is_staff=True)
    return str(detail_id), "SB-1001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "helpdesk.wsgi:application",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def get_token(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    conn.request("POST", "/api/auth/token/", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = json.loads(response.read())
    if response.status != 200:
        raise RuntimeError(f"no token: {response.status} {data}")
    return str(data["access"])


def drive(port: int, path: str, headers: dict[str, str], *, clients: int, per_client: int) -> tuple[list[float], float]:
    """`clients` threads, each with one keep-alive connection, send `per_client` requests."""
    latencies: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for _ in range(per_client):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                failures.append(f"{path}: {response.status}")
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, e.g. {failures[0]}")
    return latencies, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def count_queries(paths: dict[str, str]) -> dict[str, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework_simplejwt.tokens import AccessToken

    from support.models import User

    token = AccessToken.for_user(User.objects.get(email=STAFF_EMAIL))
    client, counts = Client(), {}
    for name, path in paths.items():
        # The second request is the one the load repeats: by then a first read has filled the
        # caches (when they are on) and marked the ticket read.
        for _ in range(2):
            with CaptureQueriesContext(connection) as captured:
                status = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}").status_code
            assert status == 200, (name, status)
        counts[name] = len(captured)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="helpdesk_bench")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-client", type=int, default=25, help="requests per client per endpoint per round")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument(
        "--no-caches",
        action="store_true",
        help="count every list and read every conversation from the database (the cold path)",
    )
    args = parser.parse_args()

    env = configure(args.database)
    if args.no_caches:
        env.update({"TICKET_COUNT_CACHE_SECONDS": "0", "CONVERSATION_CACHE_SECONDS": "0"})
        os.environ.update(env)
    ensure_database(args.database, reseed=args.reseed)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env={**os.environ, **env}, check=True)
    import django

    django.setup()
    detail_id, reference = seed(args.tickets, args.messages)
    paths = {
        "bare": f"/api/bench/bare/?ref={reference}",
        "list": "/api/support/tickets/?page_size=100&status=open",
        "detail": f"/api/support/tickets/{detail_id}/",
    }
    queries = count_queries(paths)
    from django.db import connection

    connection.close()

    port = free_port()
    server = start_gunicorn(env, port)
    try:
        token = get_token(port)
        for path in paths.values():  # warm up both workers
            drive(port, path, {"Authorization": f"Bearer {token}"}, clients=2, per_client=10)
        samples: dict[str, list[float]] = {name: [] for name in paths}
        elapsed = dict.fromkeys(paths, 0.0)
        for _ in range(args.rounds):
            order = list(paths)
            random.shuffle(order)
            for name in order:
                bearer = {"Authorization": f"Bearer {token}"}
                latencies, seconds = drive(port, paths[name], bearer, clients=args.clients, per_client=args.per_client)
                samples[name].extend(latencies)
                elapsed[name] += seconds
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    report(args, samples, elapsed, queries)


def ratio_table(
    label: str, samples: dict[str, list[float]], elapsed: dict[str, float], queries: dict
) -> dict[str, dict[str, float]]:
    """Print and return req/s, p50, p99 and the p99's ratio to the bare view's, a row per name."""
    bare_p99 = percentile(samples["bare"], 0.99)
    results = {}
    print(f"{label:<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99/bare':>9} {'queries':>8}")
    for name, values in samples.items():
        row = {
            "requests": len(values),
            "rps": len(values) / elapsed[name],
            "p50_ms": statistics.median(values) * 1000,
            "p99_ms": percentile(values, 0.99) * 1000,
            "p99_ratio_to_bare": percentile(values, 0.99) / bare_p99,
            "queries": queries[name],
        }
        results[name] = row
        print(
            f"{name:<8} {row['rps']:>8.0f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
            f"{row['p99_ratio_to_bare']:>8.2f}x {row['queries']:>8}"
        )
    return results


def report(args: argparse.Namespace, samples: dict[str, list[float]], elapsed: dict[str, float], queries: dict) -> None:
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {os.cpu_count()} cores, {memory_gib:.0f} GiB; gunicorn -w 2; {args.clients} keep-alive clients")
    print(f"data: {args.tickets:,} tickets, {args.messages:,} messages; list = page_size 100 + status filter (staff)")
    print("caches: " + ("off (every count and conversation from the database)" if args.no_caches else "on (Redis)"))
    results = ratio_table("endpoint", samples, elapsed, queries)
    target = all(results[n]["p99_ratio_to_bare"] <= 3 for n in ("list", "detail"))
    print(f"target (list and detail p99 within 3x of bare): {'met' if target else 'NOT met'}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / ("api-no-caches.json" if args.no_caches else "api.json")).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
