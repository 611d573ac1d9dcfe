"""Real Celery workers, a private Redis and a PostgreSQL proxy for the tests that prove the stack.

Every process started here is killed and reaped by its fixture, even when the test fails. The
workers run `celery -A <app> worker` against the pytest test database (DATABASE_URL made from
`settings.DATABASES` at test time) and a Redis database of their own: two below the one in REDIS_URL
(the test process's cache flushes its own database), or WORKER_TEST_REDIS_DB.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings
from django.db import connection

from helpdesk.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str, log: Callable[[], str] = str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{log()}")


def worker_broker_url() -> str:
    base = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    own = os.environ.get("WORKER_TEST_REDIS_DB")
    # Not the cache's database (the tests flush it), nor 0 (every client's default): two below it.
    db = int(own) if own else (int((base.path or "/0").strip("/") or 0) - 2) % 16
    return f"{base.scheme}://{base.netloc}/{db}"


def database_url_of_tests() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def producer_to(broker_url: str) -> Iterator[None]:
    """This (test) process sends its tasks to `broker_url` instead of running them in-process."""
    conf = celery_app.conf
    saved = {"broker_url": conf.broker_url, "task_always_eager": conf.task_always_eager}
    saved_setting = settings.CELERY_BROKER_URL
    conf.update(broker_url=broker_url, task_always_eager=False)
    settings.CELERY_BROKER_URL = broker_url  # what /readyz and the metrics read
    _drop_connections()
    try:
        yield
    finally:
        conf.update(**saved)
        settings.CELERY_BROKER_URL = saved_setting
        _drop_connections()


def _drop_connections() -> None:
    # Only forget them: kombu keeps one pool per broker URL and hands it out again later.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def text(self) -> str:
        """The whole log, for looking things up: a busy worker pushes a line out of log()'s tail in seconds."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log(self) -> str:
        """The log's tail, for a failure message."""
        return self.text()[-6000:]

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.name} exited with {self.process.returncode}\n{self.log()}")
            return " ready." in self.text()

        wait_for(ready, timeout=timeout, what=f"worker {self.name} to be ready", log=self.log)

    def kill(self) -> None:
        """SIGKILL to the worker and every process it started: no shutdown, no acknowledgement."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError):  # pool children left behind, if any
            os.killpg(self.process.pid, signal.SIGKILL)


@dataclass
class Workers:
    tmp: Path
    started: list[Worker] = field(default_factory=list)

    def start(
        self,
        *,
        broker_url: str,
        app: str = "helpdesk",
        queues: str = "inbound,housekeeping",
        concurrency: int = 1,
        pool: str = "solo",
        env: dict[str, str] | None = None,
        ready: bool = True,
    ) -> Worker:
        name = f"w{len(self.started) + 1}-{os.getpid()}"
        log_path = self.tmp / f"{name}.log"
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
            "DATABASE_URL": database_url_of_tests(),
            "REDIS_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "DB_CONN_MAX_AGE": "0",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        command = [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queues, f"--pool={pool}"]
        command += [f"--concurrency={concurrency}", "-n", f"{name}@%h", "-l", "info"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = Worker(name=name, process=process, log_path=log_path)
        self.started.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    def start_beat(self, *, broker_url: str, env: dict[str, str] | None = None) -> Worker:
        """`celery beat`, sending the schedule of CELERY_BEAT_SCHEDULE (tune it through `env`)."""
        name = f"beat{len(self.started) + 1}"
        log_path = self.tmp / f"{name}.log"
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
            "DATABASE_URL": database_url_of_tests(),
            "REDIS_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        command = [sys.executable, "-m", "celery", "-A", "helpdesk", "beat", "-l", "info"]
        command += ["-s", str(self.tmp / f"{name}-schedule"), "--pidfile", str(self.tmp / f"{name}.pid")]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        beat = Worker(name=name, process=process, log_path=log_path)
        self.started.append(beat)
        return beat

    def stop_all(self) -> None:
        for worker in self.started:  # all at once: each warm shutdown takes a moment
            if worker.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.process.pid, signal.SIGTERM)
        for worker in self.started:
            worker.stop()
        _wait_for_their_database_sessions_to_end()


def _wait_for_their_database_sessions_to_end(timeout: float = 5) -> None:
    """PostgreSQL ends a dead client's session a moment later; the test database is dropped after."""
    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)


@pytest.fixture(name="workers")
def workers_fixture(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp=tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture(name="broker")
def broker_fixture() -> Iterator[str]:
    """The workers' Redis database, empty, with this process sending its tasks there."""
    url = worker_broker_url()
    flush_redis(url)
    with producer_to(url):
        yield url
    flush_redis(url)


# -- a Redis of our own, to stop and start ------------------------------------------------------


@dataclass
class PrivateRedis:
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", str(self.folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, timeout=10, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture(name="private_redis")
def private_redis_fixture(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port(), folder=tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- a TCP proxy in front of PostgreSQL that we can break -------------------------------------


class BreakingProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; `cut_on(b"COMMIT")` drops the connection at that
    point, as a database that goes away mid-transaction would."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.cut_marker: bytes | None = None
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_on(self, marker: bytes | None) -> None:
        self.cut_marker = marker

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_client and self.cut_marker and self.cut_marker in data:
                    self.cuts += 1
                    break
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
