"""Demo people and tickets for a first look; runs once (a second run only prints the logins)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from support import services
from support.models import Category, Channel, Priority, Source, Status, User

DEMO_PASSWORD = "sewa-demo-2026"
PEOPLE = [
    # email, name, is_staff, is_superuser, role
    ("admin@sewabazaar.test", "Anita Admin", True, True, "staff (admin)"),
    ("agent@sewabazaar.test", "Sita Sharma", True, False, "agent"),
    ("asha@example.com", "Asha Rai", False, False, "customer"),
    ("bikash@example.com", "Bikash Thapa", False, False, "customer"),
]


class Command(BaseCommand):
    help = "Create a staff user, an agent, two customers and a few tickets with conversations (once)."

    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.filter(email=PEOPLE[0][0]).exists():
            self.stdout.write("Demo data is already loaded.")
        else:
            with transaction.atomic():
                self._create()
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(f"Logins (password for all: {DEMO_PASSWORD}):")
        for email, name, _staff, _super, role in PEOPLE:
            self.stdout.write(f"  {role:<14} {email:<24} {name}")

    def _create(self) -> None:
        people = {}
        for email, name, staff, superuser, _role in PEOPLE:
            maker = User.objects.create_superuser if superuser else User.objects.create_user
            people[email] = maker(email, DEMO_PASSWORD, name=name, is_staff=staff)
        admin, agent = people["admin@sewabazaar.test"], people["agent@sewabazaar.test"]
        asha, bikash = people["asha@example.com"], people["bikash@example.com"]

        t1 = services.open_ticket(
            customer=asha,
            title="Plumber did not arrive for my booking",
            category=Category.BOOKING,
            priority=Priority.HIGH,
            message_text="I booked a plumber for 10am today and nobody came. Booking BK-2211.",
        )
        services.assign(ticket=t1, actor=admin, agent=agent, channel=Channel.WEB)
        services.add_message(
            ticket=t1,
            author=agent,
            channel=Channel.WEB,
            is_internal=True,
            message_text="Provider says the van broke down. Offer a free reschedule.",
        )
        services.add_message(
            ticket=t1,
            author=agent,
            channel=Channel.WEB,
            message_text="Sorry about that, Asha. The provider had a breakdown; can we send someone tomorrow at 9?",
        )
        services.add_message(ticket=t1, author=asha, channel=Channel.WEB, message_text="Tomorrow at 9 works. Thanks.")

        t2 = services.open_ticket(
            customer=bikash,
            title="Charged twice for a cleaning service",
            category=Category.PAYMENT,
            priority=Priority.URGENT,
            source=Source.EMAIL,
            channel=Channel.EMAIL,
            message_text="My card shows two charges of NPR 2,500 for the same cleaning on 3 November.",
        )
        services.escalate(ticket=t2, actor=agent, reason="Double charge; needs finance.", channel=Channel.WEB)
        services.change_ticket(ticket=t2, actor=agent, channel=Channel.WEB, tags=["refund", "card"])

        t3 = services.open_ticket(
            customer=asha,
            title="How do I change my phone number?",
            category=Category.ACCOUNT,
            priority=Priority.LOW,
            message_text="I have a new number. Where can I update it?",
        )
        services.add_message(
            ticket=t3,
            author=agent,
            channel=Channel.WEB,
            message_text="Go to Profile, then Contact details, and choose Edit next to your number.",
        )
        services.change_ticket(ticket=t3, actor=agent, channel=Channel.WEB, status=Status.RESOLVED)

        services.open_ticket(
            customer=bikash,
            title="Electrician left the job unfinished",
            category=Category.SERVICE,
            message_text="The electrician fixed two sockets out of five and left.",
        )
