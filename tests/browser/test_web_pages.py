"""The web pages in a real browser: what a customer and an agent do, end to end.

Each test states one flow; the page is driven the way a person does it (typing, clicking, the
keyboard), and the result is read back both from the page and from the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from mailgateway.models import InboundEmail
from support import services
from support.models import CannedReply, Channel, Message, Status, Ticket, User
from tests.builders import PNG_1PX, make_reply, make_ticket
from tests.mailbuilder import build_mail, deliver

pytestmark = pytest.mark.django_db(transaction=True)

OpenAs = Callable[..., Page]


def test_customer_signs_in_creates_a_ticket_with_an_attachment_and_sees_it_listed(
    open_as: OpenAs, customer_a: User, screenshot: Any
) -> None:
    page = open_as(None)
    page.goto("/login/")
    page.get_by_label("Email address").fill("asha@example.com")
    page.get_by_label("Password").fill("pw-asha-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/tickets/$"))
    page.get_by_role("link", name="New ticket").first.click()
    page.get_by_label("Title").fill("Broken window in the kitchen")
    page.get_by_label("Category").select_option("service")
    page.get_by_label("What happened?").fill("The glass cracked this morning.")
    page.get_by_label("Attachments").set_input_files(
        [{"name": "window.png", "mimeType": "image/png", "buffer": PNG_1PX}]
    )
    expect(page.get_by_text("window.png (")).to_be_visible()
    page.get_by_role("button", name="Open the ticket").click()
    expect(page).to_have_url(re.compile(r"/tickets/SB-\d+/$"))
    expect(page.get_by_role("img", name="Preview of window.png")).to_be_visible()
    screenshot(page, "customer-ticket")
    page.get_by_role("link", name="My tickets").click()
    expect(page.get_by_role("link", name=re.compile("Broken window in the kitchen"))).to_be_visible()
    ticket = Ticket.objects.get(customer=customer_a)
    assert ticket.messages.get().attachments.get().filename == "window.png"


def test_a_file_of_a_refused_type_is_stopped_in_the_browser_before_upload(open_as: OpenAs, customer_a: User) -> None:
    page = open_as(customer_a)
    page.goto("/tickets/new/")
    page.get_by_label("Title").fill("Program")
    page.get_by_label("What happened?").fill("See the file")
    page.get_by_label("Attachments").set_input_files(
        [{"name": "setup.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ" + b"\0" * 64}]
    )
    page.get_by_role("button", name="Open the ticket").click()
    expect(page.locator(".field-errors").get_by_text("setup.exe: this type of file is not accepted.")).to_be_visible()
    assert not Ticket.objects.exists()


def test_agent_reply_in_the_console_appears_on_the_customers_open_page_without_a_reload(
    open_as: OpenAs, customer_a: User, agent: User
) -> None:
    ticket = make_ticket(customer_a, title="No hot water")
    customer = open_as(customer_a)
    customer.goto(f"/tickets/{ticket.reference}/")
    customer.evaluate("window.__sameDocument = true")
    console = open_as(agent)
    console.goto(f"/console/tickets/{ticket.reference}/")
    console.get_by_label("Message", exact=True).fill("A plumber comes at 3 pm.")
    console.get_by_role("button", name="Send reply to customer").click()
    expect(console.locator(".conversation").get_by_text("A plumber comes at 3 pm.")).to_be_visible()
    expect(customer.locator(".conversation").get_by_text("A plumber comes at 3 pm.")).to_be_visible()
    expect(customer.locator("#announcer")).to_have_text("1 new message")
    assert customer.evaluate("window.__sameDocument") is True  # the page was not reloaded


def test_an_internal_note_never_appears_on_the_customers_page(open_as: OpenAs, customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    customer = open_as(customer_a)
    customer.goto(f"/tickets/{ticket.reference}/")
    console = open_as(agent)
    console.goto(f"/console/tickets/{ticket.reference}/")
    console.get_by_label("Internal note (staff only)").check()
    console.get_by_label("Message", exact=True).fill("Customer already got a refund once.")
    console.get_by_role("button", name="Add internal note").click()
    expect(console.locator(".msg-note").get_by_text("Customer already got a refund once.")).to_be_visible()
    console.get_by_label("Reply to the customer").check()
    console.get_by_label("Message", exact=True).fill("We are on it.")
    console.get_by_role("button", name="Send reply to customer").click()
    expect(customer.get_by_text("We are on it.")).to_be_visible()  # polled after the note was written
    assert "refund" not in customer.content()
    customer.reload()
    assert "refund" not in customer.content()


def test_a_customer_following_the_signed_link_from_the_acknowledgement_mail_lands_on_the_ticket_signed_in(
    open_as: OpenAs, customer_a: User
) -> None:
    ticket = make_ticket(customer_a, title="Link ticket")
    acks = [m for m in mail.outbox if m.to == ["asha@example.com"] and ticket.reference in m.subject]
    assert len(acks) == 1, [m.subject for m in mail.outbox]
    link = re.search(r"https?://\S+/t/([^/\s]+)/", acks[0].body)
    assert link is not None, acks[0].body
    page = open_as(None)  # a browser that never signed in
    page.goto(f"/t/{link.group(1)}/")
    expect(page).to_have_url(re.compile(rf"/tickets/{ticket.reference}/$"))
    expect(page.get_by_role("heading", name=re.compile("Link ticket"))).to_be_visible()
    expect(page.get_by_text("Signed in as asha@example.com")).to_be_visible()
    expect(page.get_by_role("button", name="Send reply")).to_be_visible()


def test_a_customer_cannot_open_another_customers_ticket_by_url(
    open_as: OpenAs, customer_a: User, customer_b: User
) -> None:
    theirs = make_ticket(customer_b, title="Bikash's private ticket")
    page = open_as(customer_a)
    response = page.goto(f"/tickets/{theirs.reference}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Nothing here")).to_be_visible()
    assert "private ticket" not in page.content()


def test_agent_assigns_selected_tickets_in_bulk(
    open_as: OpenAs, customer_a: User, agent: User, other_agent: User
) -> None:
    first, second, third = (make_ticket(customer_a, title=f"Bulk {n}") for n in ("one", "two", "three"))
    page = open_as(agent)
    page.goto("/console/")
    page.get_by_label(f"Select {first.reference}").check()
    page.get_by_label(f"Select {second.reference}").check()
    page.get_by_label("Action", exact=True).select_option("assign")
    page.get_by_label("Agent", exact=True).select_option(label="Ram Agent")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.get_by_text("Changed 2 tickets.")).to_be_visible()
    assigned = set(Ticket.objects.filter(assigned_agent=other_agent).values_list("pk", flat=True))
    assert assigned == {first.pk, second.pk} and Ticket.objects.get(pk=third.pk).assigned_agent is None


def test_agent_inserts_a_canned_reply_and_sends_it(open_as: OpenAs, customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    page = open_as(agent)
    page.goto("/console/canned/")
    page.get_by_label("Title").fill("Refund timing")
    page.get_by_label("Text").fill("Refunds reach your account within 5 working days.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("link", name="Refund timing")).to_be_visible()
    page.goto(f"/console/tickets/{ticket.reference}/")
    page.get_by_label("Canned reply").select_option(label="Refund timing")
    page.get_by_role("button", name="Insert").click()
    expect(page.get_by_label("Message", exact=True)).to_have_value("Refunds reach your account within 5 working days.")
    page.get_by_role("button", name="Send reply to customer").click()
    expect(page.locator(".msg-staff").get_by_text("within 5 working days")).to_be_visible()
    assert (
        Message.objects.filter(ticket=ticket, is_internal=False, sender=agent).get().message_text.startswith("Refunds")
    )
    assert CannedReply.objects.count() == 1


def test_agent_accepts_quarantined_mail_into_its_ticket(open_as: OpenAs, customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    inbound = deliver(build_mail(sender="Hari <hari@example.org>", subject=f"Re: [{ticket.reference}] me too"))
    assert inbound.status == "quarantined"
    page = open_as(agent)
    page.goto("/console/quarantine/")
    expect(page.get_by_text("hari@example.org", exact=True)).to_be_visible()
    page.get_by_role("button", name="Accept into ticket").click()
    expect(page.get_by_text(f"was added to {ticket.reference}")).to_be_visible()
    assert InboundEmail.objects.get(pk=inbound.pk).status == "processed"
    assert ticket.messages.filter(sender__email="hari@example.org").exists()


def test_discarding_quarantined_mail_asks_first(open_as: OpenAs, customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    inbound = deliver(build_mail(sender="Hari <hari@example.org>", subject=f"Re: [{ticket.reference}] me too"))
    page = open_as(agent)
    page.goto("/console/quarantine/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Discard").click()
    expect(page.get_by_text("hari@example.org", exact=True)).to_be_visible()
    assert InboundEmail.objects.get(pk=inbound.pk).status == "quarantined"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Discard").click()
    expect(page.get_by_text("was discarded")).to_be_visible()
    assert InboundEmail.objects.get(pk=inbound.pk).status == "ignored"


def test_the_whole_mail_loop_without_a_provider(
    open_as: OpenAs, customer_a: User, agent: User, settings: Any, tmp_path: Any
) -> None:
    """A customer opens a ticket on the web; an agent reads the acknowledgement on the sent-mail
    page, answers it as the customer, and sees the answer on the ticket, the quote cut."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "sent_mail")
    settings.DEV_OUTBOX = True
    customer = open_as(customer_a)
    customer.goto("/tickets/new/")
    customer.get_by_label("Title").fill("Geyser not heating")
    customer.get_by_label("What happened?").fill("No hot water since Monday.")
    customer.get_by_role("button", name="Open the ticket").click()
    expect(customer).to_have_url(re.compile(r"/tickets/[A-Z]+-\d+/$"))
    reference = Ticket.objects.get(customer=customer_a).reference
    console = open_as(agent)
    console.goto("/console/")
    console.get_by_role("link", name="Sent mail").click()
    console.get_by_role("link", name="asha@example.com").first.click()
    expect(console.get_by_text(f"[{reference}] Geyser not heating").first).to_be_visible()
    console.get_by_label("Answer it as asha@example.com").fill("Thank you, Tuesday morning suits me.")
    console.get_by_role("button", name="Send this reply into the helpdesk").click()
    expect(console).to_have_url(re.compile(rf"/console/tickets/{reference}/$"))
    expect(console.get_by_text(f"was appended on {reference}")).to_be_visible()
    expect(console.get_by_text("Thank you, Tuesday morning suits me.")).to_be_visible()
    latest = Message.objects.filter(ticket__reference=reference).latest("created_at")
    assert latest.message_text == "Thank you, Tuesday morning suits me." and latest.routed_by == "token"


def test_the_metrics_page_draws_its_chart(open_as: OpenAs, customer_a: User, agent: User) -> None:
    done = make_ticket(customer_a)
    make_reply(done, agent, "Fixed")
    services.change_ticket(ticket=done, actor=agent, channel=Channel.WEB, status=Status.RESOLVED)
    make_ticket(customer_a)
    page = open_as(agent)
    page.goto("/console/metrics/")
    chart = page.get_by_role("img", name=re.compile("Opened and resolved per day"))
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    opened = page.locator("[data-series=opened]").get_attribute("points") or ""
    assert len(opened.split()) == 30


def test_a_customer_replies_with_the_keyboard_alone(open_as: OpenAs, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    page = open_as(customer_a)
    page.goto(f"/tickets/{ticket.reference}/")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "message_text":
            break
    else:
        pytest.fail("the reply box cannot be reached with Tab")
    page.keyboard.type("Typed without a mouse.")
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Send reply":
            break
    else:
        pytest.fail("the send button cannot be reached with Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".msg-mine").get_by_text("Typed without a mouse.")).to_be_visible()
    assert ticket.messages.filter(message_text="Typed without a mouse.").exists()


def test_another_agent_viewing_and_typing_is_announced(
    open_as: OpenAs, customer_a: User, agent: User, other_agent: User
) -> None:
    ticket = make_ticket(customer_a)
    sita = open_as(agent)
    sita.goto(f"/console/tickets/{ticket.reference}/")
    ram = open_as(other_agent)
    ram.goto(f"/console/tickets/{ticket.reference}/")
    expect(ram.get_by_text("Sita Agent is viewing this ticket.")).to_be_visible()
    ram.get_by_label("Message", exact=True).press_sequentially("Let me take this")
    expect(sita.get_by_text("Ram Agent is typing a reply.")).to_be_visible(timeout=12_000)
