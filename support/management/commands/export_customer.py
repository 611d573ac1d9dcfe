"""`manage.py export_customer EMAIL`: one customer's data as JSON (GDPR access request)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mailgateway.privacy import export_mail
from support.errors import InvalidInput
from support.models import Ticket
from support.privacy import export_customer, find_customer


class Command(BaseCommand):
    help = (
        "Print everything kept about one customer as JSON: the person, their tickets with the public "
        "conversation, file names, history, their messages on other tickets, and the mails from and to them."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email", help="the customer's address")
        parser.add_argument("--output", "-o", help="write to this file instead of standard output")
        parser.add_argument("--include-internal", action="store_true", help="include staff's internal notes")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            person = find_customer(options["email"])
        except InvalidInput as exc:
            raise CommandError(str(exc)) from exc
        data = export_customer(person, include_internal=options["include_internal"])
        ticket_ids = list(Ticket.objects.filter(customer=person).values_list("pk", flat=True))
        data["mail"] = export_mail(person.email, person, ticket_ids)
        text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        if options["output"]:
            Path(options["output"]).write_text(text + "\n", encoding="utf-8")
            self.stderr.write(f"Wrote {len(data['tickets'])} tickets of {person.email} to {options['output']}.")
        else:
            self.stdout.write(text)
