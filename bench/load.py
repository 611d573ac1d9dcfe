"""Load and scale of the mail path: webhook -> PostgreSQL -> Redis -> 2 Celery workers -> tickets.

Serves the app with gunicorn (2 processes) and runs 2 Celery workers on the `inbound` queue, on a
PostgreSQL database of its own (`helpdesk_bench_load`, made afresh) and a Redis database of its own
(`--redis-db`, flushed). Everything listens on 127.0.0.1 only. Mail arrives as signed Mailgun
webhooks (raw MIME, what Anymail verifies and parses); half are new tickets from new senders,
half replies by In-Reply-To to existing tickets from their customers.

1. Growing concurrency: 1, 2, 4, 8, 16, 32 senders, `--per-step` mails each: accepted deliveries
   per second and the answer time (p50, p99) the provider sees.
2. Growing database: the mail tables are filled (bulk rows: users, tickets, messages, processed
   inbound mail) to each size of `--sizes` (up to `--max`, default 50,000 mails), and at each size
   a window of `--window` deliveries with 8 senders measures the same, plus how fast the workers
   process it (processed mails/s, worker-seconds per mail) and the queue's lag (deepest queue,
   oldest waiting mail).

    .venv/bin/python bench/load.py                       # sizes 1,000 / 10,000 / 50,000
    .venv/bin/python bench/load.py --max 10000           # when time is short
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from base64 import b64encode
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "helpdesk_bench_load"
SIGNING_KEY = "bench-signing-key"
BASIC = "Basic " + b64encode(b"bench:hook-secret").decode()
WEBHOOK = "/anymail/mailgun/inbound_mime/"


def configure(redis_db: int) -> dict[str, str]:
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-load-" + "k" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "ANYMAIL_WEBHOOK_SECRET": "bench:hook-secret",
        "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
        "INBOUND_FLOOD_PER_HOUR": "0",  # the bench's senders are not a flood
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": "/tmp/helpdesk-bench-load-media",
    }
    os.environ.update(env)
    return env


def fresh_database() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- processes ------------------------------------------------------------------------------


class Stack:
    """gunicorn (2 processes) and 2 Celery workers on `inbound`, each in its own process group."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env}
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def _start(self, name: str, command: list[str]) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            self.processes.append(
                subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True)
            )

    def start(self) -> None:
        python = sys.executable
        web = [python, "-m", "gunicorn", "helpdesk.wsgi:application", "-c", "python:helpdesk.gunicorn_config"]
        self._start("web", [*web, "-b", f"127.0.0.1:{self.port}", "-w", "2", "--access-logfile", "/dev/null"])
        for n in (1, 2):
            worker = [python, "-m", "celery", "-A", "helpdesk", "worker", "-Q", "inbound", "-c", "1", "-l", "warning"]
            self._start(f"worker{n}", [*worker, "-n", f"bench{n}@%h", "--without-gossip", "--without-mingle"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("gunicorn did not start; see " + str(self.logs / "web.log"))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


# -- mail -----------------------------------------------------------------------------------


def mail(*, sender: str, subject: str, message_id: str, in_reply_to: str = "") -> bytes:
    lines = [
        f"From: {sender}",
        "To: support@example.com",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
        "Date: Tue, 01 Dec 2026 10:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    body = "The cleaner did not come today.\nPlease send someone tomorrow morning.\n\nThanks"
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def signed_form(raw: bytes, sender: str) -> bytes:
    timestamp, token = str(int(time.time())), uuid.uuid4().hex
    signature = hmac.new(SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    fields = {"body-mime": raw.decode(), "timestamp": timestamp, "token": token, "signature": signature}
    return urlencode({**fields, "recipient": "support@example.com", "sender": sender}).encode()


@dataclass
class Replies:
    """(customer address, Message-ID of their ticket's first message) to reply to."""

    targets: list[tuple[str, str]]


def deliveries(count: int, replies: Replies, rng: random.Random) -> list[bytes]:
    out = []
    for _ in range(count):
        unique = uuid.uuid4().hex[:12]
        if replies.targets and rng.random() < 0.5:
            address, message_id = rng.choice(replies.targets)
            raw = mail(sender=address, subject="Re: booking", message_id=f"<r-{unique}@b.test>", in_reply_to=message_id)
        else:
            address = f"new-{unique}@customers.test"
            raw = mail(sender=address, subject=f"Booking {unique}", message_id=f"<n-{unique}@b.test>")
        out.append(signed_form(raw, address))
    return out


# -- driving the webhook --------------------------------------------------------------------


def drive(port: int, bodies: list[bytes], senders: int) -> tuple[float, list[float], int]:
    """Deliver every body with `senders` keep-alive connections; (seconds, latencies in ms, errors)."""
    queue = iter(bodies)
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]

    def sender() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": BASIC, "Content-Type": "application/x-www-form-urlencoded"}
        while True:
            with lock:
                body = next(queue, None)
            if body is None:
                return
            started = time.perf_counter()
            try:
                connection.request("POST", WEBHOOK, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                errors[0] += 0 if ok else 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=senders) as pool:
        for _ in range(senders):
            pool.submit(sender)
    return time.perf_counter() - started, latencies, errors[0]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class LagProbe:
    """Samples the inbound queue's depth and the oldest waiting mail every 0.25 s."""

    def __init__(self, redis_url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(redis_url)
        self.depth = 0
        self.oldest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from django.db import connection
        from django.utils import timezone

        from mailgateway.models import InboundEmail

        while not self._stop.is_set():
            self.depth = max(self.depth, int(self.client.llen("inbound")))
            first = (
                InboundEmail.objects.filter(status="received")
                .order_by("received_at")
                .values_list("received_at", flat=True)[:1]
            )
            if first:
                self.oldest = max(self.oldest, (timezone.now() - first[0]).total_seconds())
            self._stop.wait(0.25)
        connection.close()

    def __enter__(self) -> LagProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def wait_processed(timeout: float = 1800) -> float:
    from mailgateway.models import InboundEmail

    deadline = time.monotonic() + timeout
    while InboundEmail.objects.filter(status="received").exists():
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not keep up within the timeout")
        time.sleep(0.2)
    return time.perf_counter()


# -- growing the database -------------------------------------------------------------------


def grow_to(size: int, rng: random.Random) -> Replies:
    """Bulk rows until there are `size` inbound mails, each with its customer, ticket and message."""
    from django.db import connection
    from django.utils import timezone

    from mailgateway.models import InboundEmail
    from support.models import Message, Ticket, User

    have = InboundEmail.objects.count()
    now = timezone.now()
    batch = 2000
    while have < size:
        n = min(batch, size - have)
        users = [User(email=f"seed-{have + i}@customers.test", name="Seeded") for i in range(n)]
        for user in users:
            user.set_unusable_password()
        User.objects.bulk_create(users)
        tickets = [
            Ticket(reference=f"LD-{have + i}", title=f"Seeded {have + i}", customer=u, source="email")
            for i, u in enumerate(users)
        ]
        Ticket.objects.bulk_create(tickets)
        messages = [
            Message(
                ticket=t,
                sender=t.customer,
                message_text="Seeded text",
                channel="email",
                email_message_id=f"<seed-{have + i}@b.test>",
                routed_by="new",
            )
            for i, t in enumerate(tickets)
        ]
        Message.objects.bulk_create(messages)
        InboundEmail.objects.bulk_create(
            InboundEmail(
                idempotency_key=f"seed:{have + i}",
                door="webhook",
                provider="Mailgun",
                raw=b"seeded",
                raw_size=6,
                message_id_header=m.email_message_id,
                from_address=m.ticket.customer.email,
                subject="seeded",
                status="processed",
                routed_by="new",
                ticket=m.ticket,
                message=m,
                received_at=now,
                processed_at=now,
            )
            for i, m in enumerate(messages)
        )
        have += n
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    sample = Message.objects.filter(email_message_id__startswith="<seed-").order_by("?")[:500]
    return Replies([(m.sender.email, m.email_message_id) for m in sample.select_related("sender")])


# -- the run --------------------------------------------------------------------------------


def machine() -> str:
    memory = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores, {int(memory.split()[1]) // 1024 // 1024} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max", type=int, default=50_000, help="largest database size, in mails")
    parser.add_argument("--sizes", default="1000,10000,50000", help="database sizes to measure at")
    parser.add_argument("--per-step", type=int, default=200, help="mails per concurrency step")
    parser.add_argument("--window", type=int, default=400, help="mails measured at each size")
    parser.add_argument("--redis-db", type=int, default=12)
    args = parser.parse_args()
    sizes = [s for s in (int(x) for x in args.sizes.split(",")) if s <= args.max] or [args.max]

    env = configure(args.redis_db)
    fresh_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis

    from mailgateway.models import InboundEmail

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    logs = ROOT / "bench" / "results"
    logs.mkdir(parents=True, exist_ok=True)
    stack = Stack(env, logs)
    rng = random.Random(2026)
    report: dict[str, object] = {"machine": machine(), "ramp": [], "sizes": []}
    print(f"machine: {report['machine']}; gunicorn 2 processes, 2 Celery workers (-c 1) on inbound")
    try:
        stack.start()
        replies = grow_to(sizes[0], rng)
        print("\nsenders  accepted/s  p50 ms  p99 ms  errors")
        for senders in (1, 2, 4, 8, 16, 32):
            seconds, latencies, errors = drive(stack.port, deliveries(args.per_step, replies, rng), senders)
            row = {
                "senders": senders,
                "accepted_per_s": round(len(latencies) / seconds, 1),
                "p50_ms": round(percentile(latencies, 0.5), 1),
                "p99_ms": round(percentile(latencies, 0.99), 1),
                "errors": errors,
            }
            report["ramp"].append(row)  # type: ignore[attr-defined]
            print(f"{senders:7}  {row['accepted_per_s']:10}  {row['p50_ms']:6}  {row['p99_ms']:6}  {errors:6}")
        wait_processed()
        print("\nmails in db  accepted/s  p50 ms  p99 ms  processed/s  worker-ms/mail  max queue  max lag s")
        for size in sizes:
            replies = grow_to(size, rng)
            size = InboundEmail.objects.count()
            bodies = deliveries(args.window, replies, rng)
            with LagProbe(env["REDIS_URL"]) as probe:
                started = time.perf_counter()
                seconds, latencies, errors = drive(stack.port, bodies, 8)
                done = wait_processed()
            processed_per_s = args.window / (done - started)
            row = {
                "mails_in_db": size,
                "accepted_per_s": round(len(latencies) / seconds, 1),
                "p50_ms": round(percentile(latencies, 0.5), 1),
                "p99_ms": round(percentile(latencies, 0.99), 1),
                "processed_per_s": round(processed_per_s, 1),
                "worker_ms_per_mail": round(2 * 1000 / processed_per_s, 1),
                "max_queue": probe.depth,
                "max_lag_s": round(probe.oldest, 1),
                "errors": errors,
            }
            report["sizes"].append(row)  # type: ignore[attr-defined]
            print(
                f"{size:11}  {row['accepted_per_s']:10}  {row['p50_ms']:6}  {row['p99_ms']:6}  "
                f"{row['processed_per_s']:11}  {row['worker_ms_per_mail']:14}  {probe.depth:9}  {row['max_lag_s']:9}"
            )
        check_counts()
    finally:
        stack.stop()
    (logs / "load.json").write_text(json.dumps(report, indent=2))
    print(f"\nfigures in {logs / 'load.json'}; process logs beside it")


def check_counts() -> None:
    """Every delivered mail became exactly one message (the seeded ones included)."""
    from django.db.models import Count

    from mailgateway.models import InboundEmail
    from support.models import Message

    statuses = dict(InboundEmail.objects.values_list("status").annotate(n=Count("id")))
    print(f"\ninbound mail by status: {statuses}; messages: {Message.objects.count()}")


if __name__ == "__main__":
    main()
