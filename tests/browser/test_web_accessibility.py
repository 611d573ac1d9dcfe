"""Every main page passes an axe-core scan with no serious or critical violation, fits a phone's
width without sideways scrolling, and leaves a screenshot under var/screenshots/ (desktop and
phone) for a person to look at."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

from mailgateway.models import OutboundEmail
from support import message_files, services
from support.models import CannedReply, Channel, User
from tests.builders import make_attachment, make_reply, make_ticket
from tests.mailbuilder import build_mail, deliver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def helpdesk(customer_a: User, agent: User, other_agent: User) -> dict[str, str]:
    """A small helpdesk with something on every page: tickets, replies, a note, a file, mail."""
    ticket = make_ticket(customer_a, title="Cleaner did not come on Monday", priority="high")
    first = ticket.messages.get()
    message_files.attach_to_message(message=first, attachments=[make_attachment(ticket, customer_a)])
    make_reply(ticket, agent, "Sorry about that. We send someone tomorrow at 9.")
    make_reply(ticket, agent, "Check the booking log first.", is_internal=True)
    make_reply(ticket, customer_a, "Thank you, 9 is fine.")
    services.assign(ticket=ticket, actor=agent, agent=agent, channel=Channel.WEB)
    other = make_ticket(customer_a, title="Refund for the cancelled visit", category="billing")
    services.escalate(ticket=other, actor=agent, reason="Third refund request", channel=Channel.WEB)
    services.change_ticket(ticket=other, actor=agent, channel=Channel.WEB, tags=["refund"])
    resolved = make_ticket(customer_a, title="Invoice address")
    make_reply(resolved, agent, "Fixed.")
    services.change_ticket(ticket=resolved, actor=agent, channel=Channel.WEB, status="resolved")
    deliver(build_mail(sender="Hari <hari@example.org>", subject=f"Re: [{ticket.reference}] my flat too"))
    CannedReply.objects.create(title="Greeting", body="Hello, thank you for writing to us.")
    acknowledgement = OutboundEmail.objects.get(ticket=ticket, template="ticket_opened")
    return {"ticket": ticket.reference, "sent": str(acknowledgement.pk)}


CUSTOMER_PAGES = [
    ("sign-in", None, "/login/"),
    ("customer-my-tickets", "customer", "/tickets/"),
    ("customer-new-ticket", "customer", "/tickets/new/"),
    ("customer-ticket-page", "customer", "/tickets/{ticket}/"),
    ("console-queue", "agent", "/console/"),
    ("console-ticket", "agent", "/console/tickets/{ticket}/"),
    ("console-quarantine", "agent", "/console/quarantine/"),
    ("console-canned-replies", "agent", "/console/canned/"),
    ("console-metrics", "agent", "/console/metrics/"),
    ("console-sent-mail", "agent", "/console/sent-mail/"),
    ("console-sent-mail-detail", "agent", "/console/sent-mail/{sent}/"),
]


@pytest.mark.parametrize(("name", "who", "url"), CUSTOMER_PAGES, ids=[p[0] for p in CUSTOMER_PAGES])
def test_main_page_is_accessible_fits_a_phone_and_is_captured(
    open_as: Callable[..., Page],
    helpdesk: dict[str, str],
    customer_a: User,
    agent: User,
    check_accessible: Callable[[Page, str], None],
    screenshot: Callable[[Page, str], Any],
    name: str,
    who: str | None,
    url: str,
) -> None:
    person = {"customer": customer_a, "agent": agent, None: None}[who]
    address = url.format(**helpdesk)
    page = open_as(person)
    response = page.goto(address)
    assert response is not None and response.status == 200
    check_accessible(page, name)
    screenshot(page, name)
    phone = open_as(person, width=390, height=844)
    phone.goto(address)
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at phone width"
    screenshot(phone, f"{name}-phone")


def test_the_scan_fails_on_a_page_with_an_unlabelled_control(
    open_as: Callable[..., Page], check_accessible: Callable[[Page, str], None]
) -> None:
    page = open_as(None)
    page.set_content("<html><body><main><input type='text'></main></body></html>")
    with pytest.raises(AssertionError, match="label"):
        check_accessible(page, "a page with a bare input")


def test_no_two_elements_of_a_main_page_share_an_id(
    open_as: Callable[..., Page], helpdesk: dict[str, str], agent: User
) -> None:
    page = open_as(agent)
    for url in ("/console/", f"/console/tickets/{helpdesk['ticket']}/"):
        page.goto(url)
        ids = page.evaluate("Array.from(document.querySelectorAll('[id]'), e => e.id)")
        assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_a_title_and_a_link_without_spaces_wrap_instead_of_widening_the_pages(
    open_as: Callable[..., Page], customer_a: User, agent: User
) -> None:
    """Found by a person trying the pages: one 255-character word made the ticket page 6,787 px
    wide and pushed the queue's other columns off the screen."""
    word = "Refrigerator" * 21  # 252 letters, no space
    link = "https://example.com/" + "a" * 300
    ticket = make_ticket(customer_a, title=word, message_text=f"{link}\nThe fridge stopped.")
    for person, url, width in (
        (customer_a, "/tickets/", 390),
        (customer_a, f"/tickets/{ticket.reference}/", 390),
        (agent, "/console/", 1280),
        (agent, f"/console/tickets/{ticket.reference}/", 1280),
        (agent, "/console/canned/", 390),
    ):
        page = open_as(person, width=width, height=844)
        if "canned" in url:
            CannedReply.objects.get_or_create(title="Greeting", body="Hello, thank you for writing to us.")
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{url} at {width}px scrolls sideways by {overflow}px"
