"""Run stored mail through processing again: failed mail after a fix, quarantined mail after a change."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mailgateway.ingest import outcome_of
from mailgateway.models import InboundEmail, InboundStatus
from mailgateway.quarantine import reprocess


class Command(BaseCommand):
    help = (
        "Process stored inbound mail again. Give inbound ids, or --failed / --quarantined / --stuck "
        "(still 'received') to take every such mail. Each is processed now, in this process."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("ids", nargs="*", help="InboundEmail ids")
        parser.add_argument("--failed", action="store_true", help="every failed mail")
        parser.add_argument("--quarantined", action="store_true", help="every quarantined mail")
        parser.add_argument("--stuck", action="store_true", help="every mail still waiting to be processed")

    def handle(self, *args: Any, **options: Any) -> None:
        statuses = [
            status
            for flag, status in (
                ("failed", InboundStatus.FAILED),
                ("quarantined", InboundStatus.QUARANTINED),
                ("stuck", InboundStatus.RECEIVED),
            )
            if options[flag]
        ]
        if not options["ids"] and not statuses:
            raise CommandError("Give inbound ids, or --failed, --quarantined or --stuck.")
        rows = InboundEmail.objects.none()
        if options["ids"]:
            rows = InboundEmail.objects.filter(pk__in=options["ids"])
            missing = set(options["ids"]) - {str(pk) for pk in rows.values_list("pk", flat=True)}
            if missing:
                raise CommandError(f"No inbound mail with id {', '.join(sorted(missing))}.")
        if statuses:
            rows = rows | InboundEmail.objects.filter(status__in=statuses)
        for inbound in rows.order_by("received_at").defer("raw"):
            reprocess(inbound)
            inbound.refresh_from_db()
            result = outcome_of(inbound)
            extra = "  ".join(f"{k}={result[k]}" for k in ("ticket", "reason") if k in result)
            self.stdout.write(f"{inbound.pk}  {result['status']}  {extra}".rstrip())
