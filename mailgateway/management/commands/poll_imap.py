"""Poll the IMAP mailbox once, or every IMAP_POLL_SECONDS with --loop (for hosts without Celery beat)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from mailgateway.imap import ImapError, poll_mailbox


class Command(BaseCommand):
    help = (
        "Store the unseen mail of the IMAP mailbox (IMAP_* settings) and mark each one seen, or move it to "
        "IMAP_PROCESSED_FOLDER, once it is stored. Prints one summary line per poll. A mail that cannot be "
        "stored is counted as failed, stays unseen and is tried again next poll. Exit code 1 only when the "
        "mailbox cannot be reached or logged into, or the settings are missing; with --loop such a poll is "
        "reported and tried again, and only missing settings stop the loop."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--loop", action="store_true", help="poll every IMAP_POLL_SECONDS until interrupted")
        parser.add_argument("--limit", type=positive_int, default=None, help="fetch at most N mails per poll")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["loop"]:
                self._loop(limit=options["limit"])
            else:
                self._poll(limit=options["limit"])
        except (ImproperlyConfigured, ImapError) as exc:
            raise CommandError(str(exc)) from exc

    def _loop(self, *, limit: int | None) -> None:
        interval = max(1, settings.IMAP_POLL_SECONDS)
        try:
            while True:
                try:
                    self._poll(limit=limit)
                except ImapError as exc:  # the server may be back next time; a daemon keeps going
                    self.stderr.write(str(exc))
                time.sleep(interval)
        except KeyboardInterrupt:
            self.stdout.write("stopped")

    def _poll(self, *, limit: int | None) -> None:
        result = poll_mailbox(limit=limit)
        self.stdout.write(result.summary())
        for error in result.errors:
            self.stderr.write(error)


def positive_int(value: str) -> int:
    """argparse type for --limit: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {value!r}")
    return number
