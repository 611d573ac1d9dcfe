"""`manage.py erase_customer EMAIL --yes`: make one customer anonymous (GDPR erasure request).

What is removed and what stays is described in `support.privacy` and `mailgateway.privacy`. It all
happens in one transaction: either everything is erased or nothing is; files are deleted from
storage once it has committed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mailgateway.privacy import erase_mail
from support.errors import InvalidInput
from support.models import Ticket
from support.privacy import erase_customer, find_customer


class Command(BaseCommand):
    help = (
        "Erase one customer: their address and name, the text and files of their tickets' conversations and "
        "of their messages elsewhere, and the raw mail from and to them. Tickets, statuses and events stay, "
        "anonymous. Needs --yes."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("email", help="the customer's address")
        parser.add_argument("--yes", action="store_true", help="really erase (it cannot be undone)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            person = find_customer(options["email"])
        except InvalidInput as exc:
            raise CommandError(str(exc)) from exc
        tickets = Ticket.objects.filter(customer=person)
        if not options["yes"]:
            raise CommandError(
                f"This erases {person.email} and the conversations of {tickets.count()} tickets for good; "
                "run again with --yes."
            )
        try:
            with transaction.atomic():
                ticket_ids = list(tickets.values_list("pk", flat=True))
                erasure = erase_customer(person)
                mails = erase_mail(erasure.old_email, person, ticket_ids)
        except InvalidInput as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Erased {erasure.old_email}: now {person.email} (id {erasure.person_id}); {erasure.tickets} tickets, "
            f"{erasure.messages} messages, {erasure.files} files, {mails} inbound mails."
        )
