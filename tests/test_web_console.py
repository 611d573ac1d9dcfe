"""The staff console through Django's test client: only staff get in; the queue's views,
filters, search, sorting and bulk actions; the ticket page's reply / note, controls, history,
raw mail and presence; canned replies; quarantine decisions; metrics; constant query counts."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from mailgateway.models import InboundEmail
from support import services
from support.models import CannedReply, Channel, EventKind, Message, Status, Ticket, User
from support.web import metrics, presence
from tests.builders import make_reply, make_ticket
from tests.mailbuilder import build_mail, deliver

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def console(agent: User) -> Client:
    return signed_in(agent)


@pytest.fixture
def quarantined(customer_a: User) -> InboundEmail:
    ticket = make_ticket(customer_a)
    inbound = deliver(build_mail(sender="Hari <hari@example.org>", subject=f"Re: [{ticket.reference}] my flat too"))
    assert inbound.status == "quarantined"
    return inbound


CONSOLE_PAGES = ["/console/", "/console/quarantine/", "/console/canned/", "/console/metrics/"]


@pytest.mark.parametrize("url", CONSOLE_PAGES)
def test_console_pages_send_signed_out_visitors_to_sign_in(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("url", CONSOLE_PAGES)
def test_console_pages_refuse_customers(customer_a: User, url: str) -> None:
    response = signed_in(customer_a).get(url)
    assert response.status_code == 403 and "not for your account" in response.content.decode()


def test_customer_cannot_post_console_actions(customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    client = signed_in(customer_a)
    assert (
        client.post(f"/console/tickets/{ticket.reference}/reply/", {"message_text": "x", "kind": "note"}).status_code
        == 403
    )
    assert (
        client.post("/console/bulk/", {"tickets": [ticket.pk], "action": "status", "status": "closed"}).status_code
        == 403
    )
    assert ticket.messages.count() == 1 and Ticket.objects.get().status == Status.OPEN


def test_queue_lists_open_tickets_with_customer_and_counts(console: Client, customer_a: User, agent: User) -> None:
    make_ticket(customer_a, title="Water leak")
    mine = make_ticket(customer_a, title="Mine one")
    services.assign(ticket=mine, actor=agent, agent=agent, channel=Channel.WEB)
    page = console.get("/console/").content.decode()
    assert "Water leak" in page and "Mine one" in page and "Asha Rai" in page
    assert 'Mine <span class="count">1</span>' in page and 'Unassigned <span class="count">1</span>' in page


def test_queue_views_select_their_tickets(console: Client, customer_a: User, agent: User) -> None:
    plain = make_ticket(customer_a, title="Plain one")
    escalated = make_ticket(customer_a, title="Hot one")
    services.escalate(ticket=escalated, actor=agent, reason="VIP", channel=Channel.WEB)
    waiting = make_ticket(customer_a, title="Answered one")
    make_reply(waiting, agent, "Can you send a photo?")
    assert "Hot one" in (e := console.get("/console/?view=escalated").content.decode()) and "Plain one" not in e
    w = console.get("/console/?view=waiting").content.decode()
    assert "Answered one" in w and "Plain one" not in w and "Hot one" not in w
    make_reply(Ticket.objects.get(pk=waiting.pk), customer_a, "Photo attached.")
    assert "Answered one" not in console.get("/console/?view=waiting").content.decode()
    services.change_ticket(ticket=plain, actor=agent, channel=Channel.WEB, status=Status.CLOSED)
    assert "Plain one" not in console.get("/console/").content.decode()
    assert "Plain one" in console.get("/console/?view=everything").content.decode()


def test_queue_filters_by_priority_category_and_channel(console: Client, customer_a: User) -> None:
    make_ticket(customer_a, title="Urgent billing", priority="urgent", category="billing")
    make_ticket(customer_a, title="Low general", priority="low", category="general", source="email")
    assert "Low general" not in console.get("/console/?priority=urgent").content.decode()
    assert "Urgent billing" not in console.get("/console/?category=general").content.decode()
    assert "Urgent billing" not in console.get("/console/?channel=email").content.decode()


def test_queue_search_finds_reference_title_customer_and_message_text(
    console: Client, customer_a: User, customer_b: User
) -> None:
    first = make_ticket(customer_a, title="Alpha", message_text="the geyser is cold")
    make_ticket(customer_b, title="Beta")
    for words in (first.reference, first.reference.split("-")[1], "alph", "asha", "geyser"):
        page = console.get("/console/", {"q": words}).content.decode()
        assert "Alpha" in page and "Beta" not in page, words


def test_queue_sorts_by_severity(console: Client, customer_a: User) -> None:
    make_ticket(customer_a, title="Calm", priority="low")
    make_ticket(customer_a, title="Fire", priority="urgent")
    page = console.get("/console/?sort=-priority").content.decode()
    assert page.index("Fire") < page.index("Calm")


def test_queue_invalid_filter_is_shown_and_ignored(console: Client, customer_a: User) -> None:
    make_ticket(customer_a, title="Still listed")
    response = console.get("/console/?priority=enormous")
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert "Still listed" in response.content.decode()


def test_bulk_assign_gives_every_selected_ticket_to_the_agent(
    console: Client, customer_a: User, other_agent: User
) -> None:
    tickets = [make_ticket(customer_a, title=f"T{i}") for i in range(3)]
    response = console.post(
        "/console/bulk/",
        {
            "tickets": [t.pk for t in tickets[:2]],
            "action": "assign",
            "agent": other_agent.pk,
            "next": "/console/?view=all",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/console/?view=all"
    assert sorted(Ticket.objects.filter(assigned_agent=other_agent).values_list("title", flat=True)) == ["T0", "T1"]
    assert Ticket.objects.get(title="T2").assigned_agent is None


def test_bulk_status_priority_and_tag(console: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    console.post("/console/bulk/", {"tickets": [ticket.pk], "action": "status", "status": "resolved"})
    console.post("/console/bulk/", {"tickets": [ticket.pk], "action": "priority", "priority": "high"})
    console.post("/console/bulk/", {"tickets": [ticket.pk], "action": "tag", "tag": "Refund"})
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.tags) == ("resolved", "high", ["refund"])
    assert set(ticket.events.values_list("kind", flat=True)) >= {EventKind.STATUS, EventKind.PRIORITY, EventKind.TAGS}


def test_bulk_without_a_value_changes_nothing_and_says_why(console: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    response = console.post("/console/bulk/", {"tickets": [ticket.pk], "action": "status"}, follow=True)
    assert "Nothing changed. Status: Choose a value" in response.content.decode()
    assert Ticket.objects.get().status == Status.OPEN


def test_bulk_refuses_an_offsite_next(console: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    response = console.post(
        "/console/bulk/", {"tickets": [ticket.pk], "action": "tag", "tag": "x", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/console/"


def test_ticket_page_shows_notes_apart_with_customer_details_and_history(
    console: Client, customer_a: User, agent: User
) -> None:
    ticket = make_ticket(customer_a, title="Main one")
    make_ticket(customer_a, title="Earlier one")
    make_reply(ticket, agent, "Check the invoice first", is_internal=True)
    services.change_ticket(ticket=ticket, actor=agent, channel=Channel.WEB, priority="high")
    page = console.get(f"/console/tickets/{ticket.reference}/").content.decode()
    assert "msg-note" in page and "Internal note" in page and "Check the invoice first" in page
    assert "asha@example.com" in page and "Earlier one" in page
    assert "Priority changed" in page and "from medium to high" in page


def test_reply_reaches_the_customer_and_a_note_does_not(console: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    console.post(f"/console/tickets/{ticket.reference}/reply/", {"message_text": "Public answer", "kind": "reply"})
    console.post(f"/console/tickets/{ticket.reference}/reply/", {"message_text": "Staff only", "kind": "note"})
    public, note = ticket.messages.order_by("created_at")[1:]
    assert (public.is_internal, note.is_internal) == (False, True)
    page = signed_in(customer_a).get(f"/tickets/{ticket.reference}/").content.decode()
    assert "Public answer" in page and "Staff only" not in page


def test_change_status_priority_category_tags(console: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    response = console.post(
        f"/console/tickets/{ticket.reference}/change/",
        {"status": "in_progress", "priority": "urgent", "category": "billing", "tags": "refund, vip"},
    )
    ticket.refresh_from_db()
    assert response.status_code == 302
    assert (ticket.status, ticket.priority, ticket.category, ticket.tags) == (
        "in_progress",
        "urgent",
        "billing",
        ["refund", "vip"],
    )


def test_change_with_too_many_tags_is_a_field_error(console: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    tags = ", ".join(f"t{i}" for i in range(25))
    response = console.post(
        f"/console/tickets/{ticket.reference}/change/",
        {"status": "open", "priority": "medium", "category": "booking", "tags": tags},
    )
    assert response.status_code == 400 and "at most 20 tags" in response.content.decode()
    assert Ticket.objects.get().tags == []


def test_assign_and_unassign(console: Client, customer_a: User, other_agent: User) -> None:
    ticket = make_ticket(customer_a)
    console.post(f"/console/tickets/{ticket.reference}/assign/", {"agent": other_agent.pk})
    assert Ticket.objects.get().assigned_agent == other_agent
    console.post(f"/console/tickets/{ticket.reference}/assign/", {"agent": ""})
    assert Ticket.objects.get().assigned_agent is None


def test_assign_to_a_customer_is_refused(console: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    response = console.post(f"/console/tickets/{ticket.reference}/assign/", {"agent": customer_a.pk})
    assert response.status_code == 400 and Ticket.objects.get().assigned_agent is None


def test_escalate_needs_a_reason(console: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a)
    refused = console.post(f"/console/tickets/{ticket.reference}/escalate/", {"reason": "", "priority": "urgent"})
    assert refused.status_code == 400 and not Ticket.objects.get().escalated
    console.post(f"/console/tickets/{ticket.reference}/escalate/", {"reason": "Angry VIP", "priority": "high"})
    ticket.refresh_from_db()
    assert (ticket.escalated, ticket.escalation_reason, ticket.priority) == (True, "Angry VIP", "high")


def test_a_refused_escalation_offers_again_only_the_ticket_s_priority_and_higher(
    console: Client, customer_a: User
) -> None:
    ticket = make_ticket(customer_a, priority="high")
    refused = console.post(f"/console/tickets/{ticket.reference}/escalate/", {"reason": "", "priority": "urgent"})
    page = refused.content.decode()
    offered = re.findall(r'<option value="(\w+)"', page.split('id="escalate_priority"')[1].split("</select>")[0])
    assert refused.status_code == 400 and offered == ["high", "urgent"]


def test_escalating_from_a_page_older_than_a_raise_still_escalates(console: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a, priority="medium")
    Ticket.objects.filter(pk=ticket.pk).update(priority="urgent")  # raised by someone else meanwhile
    response = console.post(f"/console/tickets/{ticket.reference}/escalate/", {"reason": "VIP", "priority": "high"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.escalated, ticket.priority) == (True, "urgent")


def test_the_history_reads_as_words(console: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a, priority="high")
    console.post(f"/console/tickets/{ticket.reference}/escalate/", {"reason": "Angry VIP", "priority": "urgent"})
    page = console.get(f"/console/tickets/{ticket.reference}/").content.decode()
    assert "Escalated — “Angry VIP”" in page and "Priority changed from high to urgent" in page
    assert "False" not in page and "True" not in page


def test_escalating_offers_only_the_ticket_s_priority_and_higher(console: Client, customer_a: User) -> None:
    ticket = make_ticket(customer_a, priority="high")
    page = console.get(f"/console/tickets/{ticket.reference}/").content.decode()
    offered = re.findall(r'<option value="(\w+)"', page.split('id="escalate_priority"')[1].split("</select>")[0])
    assert offered == ["high", "urgent"]


def test_raw_mail_of_an_email_message_is_plain_text(console: Client) -> None:
    inbound = deliver(build_mail(sender="Mina <mina@example.org>", subject="Broken <b>door</b>"))
    ticket = inbound.ticket
    page = console.get(f"/console/tickets/{ticket.reference}/").content.decode()
    assert f"/console/mail/{inbound.pk}/raw/" in page
    raw = console.get(f"/console/mail/{inbound.pk}/raw/")
    assert raw["Content-Type"].startswith("text/plain") and raw["X-Content-Type-Options"] == "nosniff"
    assert b"Subject: Broken <b>door</b>" in raw.content


def test_raw_mail_of_an_unknown_id_is_not_found(console: Client) -> None:
    assert console.get("/console/mail/not-a-uuid/raw/").status_code == 404


def test_a_ticket_address_with_a_nul_in_it_is_not_found(console: Client) -> None:
    """PostgreSQL refuses a NUL in a query: the page must not send one (it was a 500)."""
    for url in ("/console/tickets/SB-%001/", "/console/tickets/%00/updates/", "/tickets/SB-%001/"):
        assert console.get(url, follow=True).status_code == 404, url


def test_presence_tells_an_agent_who_else_is_viewing_or_typing(
    customer_a: User, agent: User, other_agent: User
) -> None:
    ticket = make_ticket(customer_a)
    signed_in(other_agent).post(f"/console/tickets/{ticket.reference}/presence/", {"typing": "1"})
    page = signed_in(agent).get(f"/console/tickets/{ticket.reference}/").content.decode()
    assert "Ram Agent is typing a reply." in page
    others = signed_in(other_agent).post(f"/console/tickets/{ticket.reference}/presence/", {"typing": "0"}).json()
    assert others == {"others": [{"name": "Sita Agent", "typing": False}]}


def test_presence_forgets_an_agent_who_left(
    customer_a: User, agent: User, other_agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = make_ticket(customer_a)
    presence.note(ticket, other_agent, typing=False)
    import time

    later = time.time() + presence.STALE_SECONDS + 1
    monkeypatch.setattr(presence.time, "time", lambda: later)
    assert presence.others_on(ticket, agent) == []


def test_canned_replies_are_created_edited_and_deleted(console: Client, customer_a: User) -> None:
    console.post("/console/canned/", {"title": "Refund policy", "body": "Refunds take 5 days."})
    reply = CannedReply.objects.get()
    ticket = make_ticket(customer_a)
    page = console.get(f"/console/tickets/{ticket.reference}/").content.decode()
    assert "Refund policy" in page and "Refunds take 5 days." in page
    console.post(f"/console/canned/{reply.pk}/", {"title": "Refunds", "body": "Refunds take 3 days."})
    assert CannedReply.objects.get().body == "Refunds take 3 days."
    console.post(f"/console/canned/{reply.pk}/", {"delete": "yes"})
    assert not CannedReply.objects.exists()


def test_canned_reply_titles_are_unique(console: Client) -> None:
    console.post("/console/canned/", {"title": "Hello", "body": "a"})
    response = console.post("/console/canned/", {"title": "hello", "body": "b"})
    assert response.status_code == 400 and "Choose another title." in response.content.decode()
    assert CannedReply.objects.count() == 1


def test_canned_reply_text_is_escaped(console: Client, customer_a: User) -> None:
    console.post("/console/canned/", {"title": "X", "body": "<img src=x onerror=alert(1)>"})
    page = console.get(f"/console/tickets/{make_ticket(customer_a).reference}/").content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_quarantine_lists_reason_sender_and_subject(console: Client, quarantined: InboundEmail) -> None:
    page = console.get("/console/quarantine/").content.decode()
    assert "hari@example.org" in page and "my flat too" in page and "Sender mismatch" in page


def test_quarantine_accept_posts_it_to_its_ticket(console: Client, quarantined: InboundEmail) -> None:
    console.post(f"/console/quarantine/{quarantined.pk}/", {"action": "accept"})
    quarantined.refresh_from_db()
    assert quarantined.status == "processed" and quarantined.ticket.messages.count() == 2


def test_quarantine_accept_into_a_typed_reference(console: Client, quarantined: InboundEmail, customer_b: User) -> None:
    other = make_ticket(customer_b)
    console.post(f"/console/quarantine/{quarantined.pk}/", {"action": "accept", "reference": other.reference})
    assert other.messages.count() == 2


def test_quarantine_accept_into_a_reference_that_does_not_exist_says_so(
    console: Client, quarantined: InboundEmail
) -> None:
    response = console.post(
        f"/console/quarantine/{quarantined.pk}/", {"action": "accept", "reference": "SB-99999"}, follow=True
    )
    assert "there is no ticket SB-99999" in response.content.decode()
    quarantined.refresh_from_db()
    assert quarantined.status == "quarantined"


def test_quarantine_accept_says_the_sender_now_takes_part(console: Client, quarantined: InboundEmail) -> None:
    page = console.get("/console/quarantine/").content.decode()
    assert "Accepting makes the sender one of the ticket's people" in page
    response = console.post(f"/console/quarantine/{quarantined.pk}/", {"action": "accept"}, follow=True)
    assert "hari@example.org takes part in it" in response.content.decode()


def test_quarantine_open_as_new_ticket(console: Client, quarantined: InboundEmail) -> None:
    console.post(f"/console/quarantine/{quarantined.pk}/", {"action": "new"})
    assert Ticket.objects.filter(customer__email="hari@example.org").exists()


def test_quarantine_discard_and_reprocess(console: Client, quarantined: InboundEmail) -> None:
    response = console.post(f"/console/quarantine/{quarantined.pk}/", {"action": "reprocess"}, follow=True)
    assert "processed again" in response.content.decode()
    console.post(f"/console/quarantine/{quarantined.pk}/", {"action": "discard"})
    quarantined.refresh_from_db()
    assert (quarantined.status, quarantined.reason) == ("ignored", "discarded")


def test_quarantine_decision_twice_says_it_is_no_longer_quarantined(console: Client, quarantined: InboundEmail) -> None:
    console.post(f"/console/quarantine/{quarantined.pk}/", {"action": "discard"})
    response = console.post(f"/console/quarantine/{quarantined.pk}/", {"action": "new"}, follow=True)
    assert "not quarantined" in response.content.decode() and Ticket.objects.count() == 1


def test_metrics_page_counts_and_draws_the_chart(console: Client, customer_a: User, agent: User) -> None:
    done = make_ticket(customer_a, priority="high")
    make_reply(done, agent, "Fixed")
    services.change_ticket(ticket=done, actor=agent, channel=Channel.WEB, status=Status.RESOLVED)
    make_ticket(customer_a, priority="urgent")
    page = console.get("/console/metrics/?days=7").content.decode()
    assert "<svg" in page and 'data-series="opened"' in page and "50%" in page


def test_chart_points_follow_the_counts() -> None:
    import datetime as dt

    today = dt.date(2026, 12, 2)
    chart = metrics.build_chart({today: 4}, {today - dt.timedelta(days=1): 2}, today)
    assert chart.y_max == 4 and len(chart.days) == 30
    assert chart.opened_points.split()[-1].endswith(",32.0")  # the top of the plot: the maximum
    assert chart.resolved_points.split()[-2].endswith(",110.0")  # half way: 2 of 4


def test_queue_query_count_does_not_grow_with_tickets(console: Client, customer_a: User, agent: User) -> None:
    def count() -> int:
        cache.clear()
        console.force_login(agent)
        with CaptureQueriesContext(connection) as queries:
            assert console.get("/console/").status_code == 200
        return len(queries)

    make_ticket(customer_a)
    few = count()
    for i in range(15):
        make_reply(make_ticket(customer_a, title=f"More {i}"), agent, "answer")
    assert count() == few


def test_customer_ticket_page_query_count_does_not_grow_with_messages(customer_a: User, agent: User) -> None:
    ticket = make_ticket(customer_a)
    client = signed_in(customer_a)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/tickets/{ticket.reference}/").status_code == 200
        return len(queries)

    make_reply(ticket, agent, "one")
    few = count()
    for i in range(10):
        make_reply(ticket, agent, f"more {i}")
    assert count() == few
    assert Message.objects.filter(ticket=ticket).count() == 12


def test_queue_counts_pages_only_up_to_the_cap(
    console: Client, customer_a: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.web import queue

    monkeypatch.setattr(queue, "COUNT_CAP", 3)
    monkeypatch.setattr("support.web.console.PAGE_SIZE", 2)
    for i in range(8):
        make_ticket(customer_a, title=f"Capped {i}")
    first = console.get("/console/").content.decode()
    assert "Page 1 of 3+ (5 or more tickets" in first
    last = console.get("/console/?page=4").content.decode()
    assert "Page 4 of 4 (8 in all)" in last and "Capped 0" in last  # paging on past the cap works


def test_view_counts_of_an_agent_do_not_leak_into_anothers_mine(
    customer_a: User, agent: User, other_agent: User
) -> None:
    ticket = make_ticket(customer_a)
    services.assign(ticket=ticket, actor=agent, agent=agent, channel=Channel.WEB)
    assert 'Mine <span class="count">1</span>' in signed_in(agent).get("/console/").content.decode()
    assert 'Mine <span class="count">0</span>' in signed_in(other_agent).get("/console/").content.decode()


def test_every_console_form_needs_the_csrf_token(customer_a: User, agent: User, quarantined: InboundEmail) -> None:
    ticket = make_ticket(customer_a)
    reply = CannedReply.objects.create(title="Hi", body="Hello")
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    ref = ticket.reference
    posts = {
        f"/console/tickets/{ref}/reply/": {"message_text": "x", "kind": "reply"},
        f"/console/tickets/{ref}/change/": {"status": "closed", "priority": "low", "category": "general"},
        f"/console/tickets/{ref}/assign/": {"agent": agent.pk},
        f"/console/tickets/{ref}/escalate/": {"reason": "x", "priority": "urgent"},
        f"/console/tickets/{ref}/presence/": {"typing": "1"},
        "/console/bulk/": {"tickets": [ticket.pk], "action": "status", "status": "closed"},
        "/console/canned/": {"title": "New", "body": "x"},
        f"/console/canned/{reply.pk}/": {"delete": "yes"},
        f"/console/quarantine/{quarantined.pk}/": {"action": "discard"},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    ticket.refresh_from_db()
    quarantined.refresh_from_db()
    assert (ticket.status, ticket.escalated, ticket.assigned_agent, ticket.messages.count()) == ("open", False, None, 1)
    assert CannedReply.objects.count() == 1 and quarantined.status == "quarantined"


def test_production_settings_keep_session_and_csrf_cookies_secure() -> None:
    import subprocess
    import sys

    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'helpdesk.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY)"
    )
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "false", "SECRET_KEY": "k" * 40, "ALLOWED_HOSTS": "help.example.com"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["True", "True", "True"]


def test_metrics_period_shows_the_chosen_one_and_falls_back_to_30_days(console: Client) -> None:
    assert '<option value="7" selected>' in console.get("/console/metrics/?days=7").content.decode()
    page = console.get("/console/metrics/?days=9999").content.decode()
    assert "last 30 days" in page and "Select a valid choice" in page
    assert '<option value="30" selected>' in console.get("/console/metrics/").content.decode()


def test_a_queue_with_only_a_view_chosen_takes_its_page_count_from_the_view_counts(
    console: Client, customer_a: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("support.web.console.PAGE_SIZE", 1)  # the view's count covers a page and the next
    for i in range(3):
        make_ticket(customer_a, title=f"Counted {i}")
    console.get("/console/")  # the view counts are now in the cache

    def counts(url: str) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            page = console.get(url).content.decode()
        assert "Counted 2" in page
        return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]

    assert counts("/console/") == [] and counts("/console/?view=unassigned&sort=-created_at") == []
    assert len(counts("/console/?priority=medium")) == 1


def test_old_view_counts_are_shown_while_one_thread_counts_again(
    console: Client, customer_a: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.web import queue

    make_ticket(customer_a, title="First")
    console.get("/console/")
    started: list[bool] = []
    monkeypatch.setattr(queue, "_refresh_in_background", lambda: started.append(True))
    cache.set(queue.SHARED_COUNTS_KEY, {**cache.get(queue.SHARED_COUNTS_KEY), "until": 0})
    make_ticket(customer_a, title="Second")
    page = console.get("/console/").content.decode()
    assert 'All open <span class="count">1</span>' in page  # the page did not count
    assert "First" in page and "Second" in page  # a short view is listed in full all the same
    console.get("/console/")
    assert started == [True]  # one count at a time
    queue._store_shared_counts()  # what the thread does
    assert 'All open <span class="count">2</span>' in console.get("/console/").content.decode()
