"""Read raw mail from files, `.eml` folders, mbox files or standard input (an MTA pipe)."""

from __future__ import annotations

import json
import mailbox
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mailgateway.ingest import outcome_of, process_now
from mailgateway.models import Door
from mailgateway.store import store_inbound

# sysexits.h: a temporary failure; MTAs (Postfix, Exim, Sendmail) keep the mail and try again.
EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = (
        "Store raw RFC 5322 messages and process them. PATH may be a message file, a folder of .eml "
        "files, an mbox file, or '-' (the default) for one message on standard input, as an MTA pipe "
        "sends it. By default each message is processed before the command returns (--sync); with "
        "--queue it is only stored and queued for the workers. Exit code 0 when every message was "
        "stored, even if some were ignored, quarantined or failed to process (the workers retry those); "
        "75 (EX_TEMPFAIL) when one could not be stored, so that an MTA keeps it and delivers it again "
        "later instead of bouncing it."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("paths", nargs="*", default=["-"], help="files, folders or mbox files; '-' for stdin")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--sync", dest="sync", action="store_true", default=True, help="process now (default)")
        mode.add_argument("--queue", dest="sync", action="store_false", help="only store and queue for workers")
        parser.add_argument("--json", action="store_true", help="one JSON object per message on its own line")
        parser.add_argument("--sender", default="", help="the envelope sender, when the MTA knows it")
        parser.add_argument("--recipient", default="", help="the envelope recipient, when the MTA knows it")

    def handle(self, *args: Any, **options: Any) -> None:
        failures = 0
        for source, raw in self._messages(options["paths"]):
            try:
                result = self._ingest(raw, source=source, options=options)
            except Exception as exc:  # one unreadable message must not stop the rest
                failures += 1
                result = {"source": source, "status": "error", "reason": str(exc)[:500]}
            self._report(result, as_json=options["json"])
        if failures:
            raise CommandError(f"{failures} message(s) could not be stored.", returncode=EX_TEMPFAIL)

    def _ingest(self, raw: bytes, *, source: str, options: dict[str, Any]) -> dict[str, Any]:
        stored = store_inbound(
            raw, door=Door.PIPE, envelope_sender=options["sender"], envelope_recipient=options["recipient"]
        )
        if not stored.created:
            inbound = stored.inbound
            return {
                "source": source,
                "status": "duplicate",
                "ticket": _reference(inbound),
                "message": _message(inbound),
            }
        # A mail whose processing broke is stored and queued: the workers retry it, the MTA must not.
        if options["sync"] and not process_now(str(stored.inbound.pk)):
            stored.inbound.refresh_from_db()
            return {"source": source, **outcome_of(stored.inbound), "reason": "processing_error"}
        stored.inbound.refresh_from_db()
        return {"source": source, **outcome_of(stored.inbound)}

    def _report(self, result: dict[str, Any], *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        parts = [result["source"], result["status"]]
        parts += [f"{k}={result[k]}" for k in ("ticket", "message", "reason") if result.get(k)]
        self.stdout.write("  ".join(parts))

    def _messages(self, paths: list[str]) -> Iterator[tuple[str, bytes]]:
        for path in paths:
            if path == "-":
                yield "stdin", sys.stdin.buffer.read()
                continue
            target = Path(path)
            if target.is_dir():
                for file in sorted(target.glob("*.eml")):
                    yield str(file), file.read_bytes()
            elif target.is_file():
                yield from _read_file(target)
            else:
                raise CommandError(f"{path}: no such file or folder")


def _read_file(path: Path) -> Iterator[tuple[str, bytes]]:
    with path.open("rb") as handle:
        is_mbox = handle.read(5) == b"From "
    if not is_mbox:
        yield str(path), path.read_bytes()
        return
    box = mailbox.mbox(str(path), create=False)
    try:
        for index, key in enumerate(box.iterkeys()):
            yield f"{path}#{index + 1}", box.get_bytes(key)
    finally:
        box.close()


def _reference(inbound: Any) -> str | None:
    return inbound.ticket.reference if inbound.ticket_id else None


def _message(inbound: Any) -> str | None:
    return str(inbound.message_id) if inbound.message_id else None
