"""Mail backends for real workers whose provider misbehaves on one address.

Django's file backend (each connection's mails in one file under EMAIL_FILE_PATH), except that:
- `RefusingProviderBackend`: a mail to REFUSE_MAIL_TO is refused while the file named by
  REFUSE_MAIL_STATE holds a count above zero, one less per refusal. Every try to that address is
  logged there too, so a test sees each try of every worker process, in order, with its time.
- `KillingProviderBackend`: sending a mail to KILL_MAIL_TO ends the worker's process.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.mail.backends.filebased import EmailBackend


class RefusedByProvider(Exception):
    """What a provider's 503 becomes in the send path."""


class RefusingProviderBackend(EmailBackend):
    def send_messages(self, email_messages: Sequence[Any]) -> int:
        refused = os.environ["REFUSE_MAIL_TO"]
        if any(refused in message.to for message in email_messages):
            with Path(os.environ["REFUSE_MAIL_STATE"]).open("r+") as state:
                fcntl.flock(state, fcntl.LOCK_EX)
                count, *tries = state.read().splitlines()
                refuse = int(count) > 0
                tries.append(f"{'refused' if refuse else 'sent'} {time.time():.3f}")
                state.seek(0)
                state.truncate()
                state.write("\n".join([str(max(0, int(count) - 1)), *tries]) + "\n")
            if refuse:
                raise RefusedByProvider(f"503 the provider refused mail to {refused}")
        return super().send_messages(email_messages)


def tries_of(state: Path) -> list[tuple[str, float]]:
    """(outcome, time) of each try to the refused address, oldest first."""
    _, *tries = state.read_text().splitlines()
    return [(outcome, float(at)) for outcome, at in (line.split() for line in tries)]


class KillingProviderBackend(EmailBackend):
    """Sending a mail to KILL_MAIL_TO ends the process on the spot, as running out of memory or a
    crash in a C library would; each death is logged as a line in the file KILL_MAIL_LOG."""

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        if any(os.environ["KILL_MAIL_TO"] in message.to for message in email_messages):
            with Path(os.environ["KILL_MAIL_LOG"]).open("a") as log:
                log.write(f"died {time.time():.3f}\n")
            os._exit(1)
        return super().send_messages(email_messages)
