"""Web page speed: the console's queue page and the customer's ticket page with 100,000
tickets in PostgreSQL, next to a bare Django view doing one indexed query, in the same run.

Reuses bench/api.py's database and seeding (100,000 tickets, 500,000 messages; the customer
page is the 50-message ticket with 100 attachments). Serves the app with gunicorn (2 workers),
Redis as cache, signed in by session cookie; drives the three pages in interleaved rounds with
the same keep-alive clients. Prints p50/p99 per page, the p99 ratio to the bare view (target:
within 3x), and the SQL queries per page, also with ten times fewer tickets in the queue view's
filter to show that the count does not depend on the data size.

    .venv/bin/python bench/web.py            # reuse the seeded database
    .venv/bin/python bench/web.py --reseed   # seed again
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import (  # noqa: E402
    STAFF_EMAIL,
    configure,
    drive,
    ensure_database,
    free_port,
    ratio_table,
    seed,
    start_gunicorn,
)

CUSTOMER_EMAIL = "customer0@example.com"  # bench/api.py gives customer 0 the fifty-message ticket


def session_cookie(email: str) -> str:
    """A signed-in session for `email`, stored in the database like a real sign-in."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from support.models import User

    user = User.objects.get(email=email)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


def count_queries(pages: dict[str, tuple[str, str]]) -> dict[str, int]:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from support.models import User

    counts = {}
    for name, (email, path) in pages.items():
        client = Client()
        client.force_login(User.objects.get(email=email))
        client.get(path)  # the view counts are then in the cache, as on a busy console
        with CaptureQueriesContext(connection) as captured:
            status = client.get(path).status_code
        assert status == 200, (name, status)
        counts[name] = len(captured)
        cache.clear()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="helpdesk_bench")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-client", type=int, default=25, help="requests per client per page per round")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()

    env = {**configure(args.database), "DJANGO_SETTINGS_MODULE": "bench.web_settings"}
    os.environ.update(env)
    ensure_database(args.database, reseed=args.reseed)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env={**os.environ, **env}, check=True)
    import django

    django.setup()
    _, reference = seed(args.tickets, args.messages)
    pages = {
        "bare": (STAFF_EMAIL, f"/bench/bare-web/?ref={reference}"),
        "queue": (STAFF_EMAIL, "/console/"),
        "ticket": (CUSTOMER_EMAIL, f"/tickets/{reference}/"),
    }
    queries = count_queries(pages)
    queries_narrow = count_queries({"queue": (STAFF_EMAIL, "/console/?priority=urgent&category=billing&channel=email")})
    cookies = {STAFF_EMAIL: session_cookie(STAFF_EMAIL), CUSTOMER_EMAIL: session_cookie(CUSTOMER_EMAIL)}
    from django.db import connection

    connection.close()

    port = free_port()
    server = start_gunicorn(env, port)
    try:
        for email, path in pages.values():  # warm up both workers
            drive(port, path, {"Cookie": cookies[email]}, clients=2, per_client=10)
        samples: dict[str, list[float]] = {name: [] for name in pages}
        elapsed = dict.fromkeys(pages, 0.0)
        for _ in range(args.rounds):
            order = list(pages)
            random.shuffle(order)
            for name in order:
                email, path = pages[name]
                cookie = {"Cookie": cookies[email]}
                latencies, seconds = drive(port, path, cookie, clients=args.clients, per_client=args.per_client)
                samples[name].extend(latencies)
                elapsed[name] += seconds
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    report(args, samples, elapsed, queries, queries_narrow["queue"])


def report(
    args: argparse.Namespace, samples: dict[str, list[float]], elapsed: dict[str, float], queries: dict, narrow: int
) -> None:
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"machine: {os.cpu_count()} cores, {memory_gib:.0f} GiB; gunicorn -w 2; {args.clients} keep-alive clients")
    print(f"data: {args.tickets:,} tickets, {args.messages:,} messages; queue = All open, 25 a page (staff);")
    print("ticket = the customer's page of a 50-message ticket with 100 attachments")
    results = ratio_table("page", samples, elapsed, queries)
    print(f"queue queries with a narrow filter (few matching tickets): {narrow} (all open: {queries['queue']})")
    target = all(results[n]["p99_ratio_to_bare"] <= 3 for n in ("queue", "ticket"))
    print(f"target (queue and ticket p99 within 3x of bare): {'met' if target else 'NOT met'}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "web.json").write_text(json.dumps({**results, "queue_queries_narrow": narrow}, indent=2))


if __name__ == "__main__":
    main()
