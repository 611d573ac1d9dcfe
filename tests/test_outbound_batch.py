"""The mails of one event sent together: what each row records, in the statements it takes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from anymail.backends.test import EmailBackend
from anymail.exceptions import AnymailAPIError
from django.core import mail as django_mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mailgateway import quoted_thread
from mailgateway.models import OutboundEmail, OutboundStatus, UndeliverableAddress
from mailgateway.notifications import Notice, queue_notices
from mailgateway.outbound_reads import lock_rows, outbound_rows
from mailgateway.outbox import send_outbound_batch
from support.models import User
from tests.builders import make_reply, make_ticket
from tests.outbound_helpers import html_of, refuse_mail_to, sent, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _outbox(anymail_outbox):  # type: ignore[no-untyped-def]
    return anymail_outbox


def queue_event(people: list[User]) -> list[OutboundEmail]:
    """One reply's mails to `people`, queued and not yet sent: their rows, in order."""
    ticket = make_ticket(people[0])
    message = make_reply(ticket, people[0], "The cleaner came at noon.")
    notices = [Notice(p, "agent_reply", in_app=False) for p in people]
    rows = queue_notices(ticket=ticket, message=message, notices=notices)
    return [row for row in rows if row.status == OutboundStatus.QUEUED]


def people(count: int) -> list[User]:
    return [User.objects.create_user(f"guest{n}@example.com", None, name=f"Guest {n}") for n in range(count)]


def test_each_mail_of_a_batch_is_recorded_sent_with_its_own_provider_id_in_one_update():
    rows = queue_event(people(3))
    with CaptureQueriesContext(connection) as captured:
        results = send_outbound_batch([str(r.pk) for r in rows])
    assert set(results.values()) == {"sent"}
    updates = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1
    recorded = {r.pk: r for r in OutboundEmail.objects.filter(pk__in=[r.pk for r in rows])}
    provider_ids = {m.to[0]: str(m.anymail_status.message_id) for m in django_mail.outbox}
    for row in rows:
        stored = recorded[row.pk]
        assert (stored.status, stored.error, stored.attempts) == (OutboundStatus.SENT, "", row.attempts + 1)
        assert stored.provider == "test" and stored.sent_at is not None
        assert stored.provider_message_id == provider_ids[row.to_address]
    assert len({r.provider_message_id for r in recorded.values()}) == 3


def test_a_batch_skips_an_undeliverable_address_and_leaves_a_refused_mail_queued_for_its_retry(monkeypatch):
    guests = people(3)
    rows = queue_event(guests)
    UndeliverableAddress.objects.create(address=guests[1].email, reason="bounce")
    refuse_mail_to(monkeypatch, guests[2].email, "the provider is down")
    results = send_outbound_batch([str(r.pk) for r in rows])
    assert [results[str(r.pk)] for r in rows] == ["sent", "skipped", "retry"]
    stored = {r.to_address: r for r in OutboundEmail.objects.filter(pk__in=[r.pk for r in rows])}
    assert stored[guests[0].email].status == OutboundStatus.SENT
    assert stored[guests[1].email].status == OutboundStatus.SKIPPED
    refused = stored[guests[2].email]
    assert (refused.status, refused.attempts) == (OutboundStatus.QUEUED, 1)
    assert "the provider is down" in refused.error
    assert [m["To"] for m in sent()] == [guests[0].email]


def test_a_batch_counts_the_mails_it_sent_not_those_skipped_or_refused(monkeypatch, django_capture_on_commit_callbacks):
    from prometheus_client import REGISTRY

    guests = people(4)
    rows = queue_event(guests)
    UndeliverableAddress.objects.create(address=guests[1].email, reason="bounce")
    refuse_mail_to(monkeypatch, guests[2].email)
    before = REGISTRY.get_sample_value("helpdesk_mails_sent_total") or 0
    with django_capture_on_commit_callbacks(execute=True):
        send_outbound_batch([str(r.pk) for r in rows])
    assert REGISTRY.get_sample_value("helpdesk_mails_sent_total") - before == 2


def test_a_mail_whose_rendering_failed_leaves_the_next_mail_of_the_batch_escaped(monkeypatch):
    from support.models import Ticket

    guests = people(1) + [User.objects.create_user(f"ops{n}@example.com", None, name="<b>Ops</b> & co") for n in (1, 2)]
    ticket = make_ticket(guests[0])
    message = make_reply(ticket, guests[0], "Still leaking.")
    notices = [Notice(g, "customer_reply", in_app=False) for g in guests[1:]]
    rows = [r for r in queue_notices(ticket=ticket, message=message, notices=notices) if r.status == "queued"]
    status_display = Ticket.get_status_display
    calls: list[int] = []

    def fails_the_first_time(self):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:  # inside the text part's {% autoescape off %}
            raise RuntimeError("the first mail cannot be rendered")
        return status_display(self)

    monkeypatch.setattr(Ticket, "get_status_display", fails_the_first_time)
    results = send_outbound_batch([str(r.pk) for r in rows])
    assert sorted(results.values()) == ["retry", "sent"]
    (mail,) = sent()
    assert "Hello &lt;b&gt;Ops&lt;/b&gt; &amp; co," in html_of(mail) and "<b>Ops</b>" not in html_of(mail)


def test_a_mail_that_cannot_be_drafted_is_refused_and_the_others_of_its_batch_are_sent(monkeypatch):
    from mailgateway import outbox

    rows = queue_event(people(3))
    draft = outbox.draft

    def no_link_for_guest1(row, thread=None):  # type: ignore[no-untyped-def]
        if row.to_address == "guest1@example.com":
            raise RuntimeError("no link for guest1")
        return draft(row, thread)

    monkeypatch.setattr(outbox, "draft", no_link_for_guest1)
    results = send_outbound_batch([str(r.pk) for r in rows])
    assert sorted(results.values()) == ["retry", "sent", "sent"]
    assert sorted(m.to[0] for m in django_mail.outbox) == ["guest0@example.com", "guest2@example.com"]
    refused = OutboundEmail.objects.get(to_address="guest1@example.com")
    assert (refused.status, refused.attempts, refused.error) == ("queued", 1, "RuntimeError: no link for guest1")


def test_one_mail_composed_alone_is_the_mail_its_batch_sends():
    """`compose()` (the sent-mail page's fallback) takes the batch's three steps for one mail."""
    from mailgateway.outbound import compose

    rows = queue_event(people(2))
    alone = compose(outbound_rows().get(pk=rows[1].pk))
    send_outbound_batch([str(r.pk) for r in rows])
    (batched,) = [m for m in django_mail.outbox if m.to == alone.to]
    assert (alone.subject, alone.body, alone.alternatives) == (batched.subject, batched.body, batched.alternatives)
    assert (alone.from_email, alone.reply_to, alone.extra_headers) == (
        batched.from_email,
        batched.reply_to,
        batched.extra_headers,
    )
    assert (alone.metadata, alone.tags) == (batched.metadata, batched.tags)


def test_a_row_sent_already_is_not_sent_again_by_a_second_batch():
    rows = queue_event(people(2))
    ids = [str(r.pk) for r in rows]
    send_outbound_batch(ids)
    assert send_outbound_batch(ids) == {}
    assert len(sent()) == 2
    assert set(OutboundEmail.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}


def test_an_event_s_batch_delivered_again_leaves_a_refused_mail_to_its_retry(monkeypatch):
    rows = queue_event(people(2))
    ids = [str(r.pk) for r in rows]
    tries = refuse_mail_to(monkeypatch, "guest1@example.com")
    send_outbound_batch(ids)
    assert send_outbound_batch(ids) == {}  # the task redelivered: its retry is scheduled, with backoff
    assert tries == ["guest1@example.com"]


def test_a_refused_mail_on_its_last_try_is_failed_with_the_error(monkeypatch, settings):
    settings.OUTBOUND_MAX_RETRIES = 0
    rows = queue_event(people(1))

    def refuse(self, payload, message):  # type: ignore[no-untyped-def]
        raise AnymailAPIError("the provider is down")

    monkeypatch.setattr(EmailBackend, "post_to_esp", refuse)
    assert send_outbound_batch([str(rows[0].pk)]) == {str(rows[0].pk): "failed"}
    stored = OutboundEmail.objects.get(pk=rows[0].pk)
    assert (stored.status, stored.attempts) == (OutboundStatus.FAILED, 1) and "the provider is down" in stored.error


def test_a_batch_opens_the_mail_connection_once(monkeypatch):
    """A provider's HTTP session (or an SMTP connection) serves the whole batch."""
    opened: list[EmailBackend] = []

    def open_session(self):  # type: ignore[no-untyped-def]
        """Like a provider's backend: True only when it opened a session that was not open."""
        if getattr(self, "session", None):
            return False
        self.session = object()
        opened.append(self)
        return True

    monkeypatch.setattr(EmailBackend, "open", open_session)
    monkeypatch.setattr(EmailBackend, "close", lambda self: setattr(self, "session", None))
    rows = queue_event(people(3))
    send_outbound_batch([str(r.pk) for r in rows])
    assert len(opened) == 1 and len(sent()) == 3


def test_the_rows_locked_for_sending_hold_what_outbound_rows_reads():
    """PostgreSQL reads them with a written-out statement: the same values as the ORM's query."""
    guests = people(3)
    rows = queue_event(guests)
    ticket = rows[0].ticket
    rows += queue_notices(ticket=ticket, message=None, notices=[Notice(guests[0], "ticket_resolved", in_app=False)])
    UndeliverableAddress.objects.create(address=guests[1].email.upper(), reason="bounce")
    expected = {r.pk: r for r in outbound_rows().filter(pk__in=[r.pk for r in rows])}
    locked = lock_rows([r.pk for r in rows], skip_locked=True)
    assert {r.pk for r in locked} == set(expected)
    for row in locked:
        want = expected[row.pk]
        for field in OutboundEmail._meta.concrete_fields:
            assert getattr(row, field.attname) == getattr(want, field.attname), field.name
        for name in ("first_message_id", "token_id", "undeliverable"):
            assert getattr(row, name) == getattr(want, name), name
        assert (row.ticket.reference, row.ticket.title, row.ticket.customer_id) == (
            want.ticket.reference, want.ticket.title, want.ticket.customer_id,
        )  # fmt: skip
        assert row.ticket.get_status_display() == want.ticket.get_status_display()
        assert row.ticket.get_priority_display() == want.ticket.get_priority_display()
        assert row.ticket.get_category_display() == want.ticket.get_category_display()
        for name in ("pk", "email", "name", "is_staff", "is_active"):
            assert getattr(row.recipient, name) == getattr(want.recipient, name), name
        if want.message is None:
            assert row.message is None
        else:
            assert (row.message.pk, row.message.created_at) == (want.message.pk, want.message.created_at)
            assert row.message.sender.name == want.message.sender.name
    assert {r.to_address: r.undeliverable for r in locked}[guests[1].email] is True


def test_after_a_failed_send_the_next_mails_of_the_batch_go_out_on_a_new_connection(monkeypatch):
    """A dead connection (an SMTP server that hung up) costs the batch one mail, not the rest."""
    post = EmailBackend.post_to_esp
    failures: list[str] = []

    def open_session(self):  # type: ignore[no-untyped-def]
        if getattr(self, "session", None):
            return False
        self.session = "live"
        return True

    def post_or_hang_up(self, payload, message):  # type: ignore[no-untyped-def]
        if self.session == "dead" or not failures:
            failures.append(message.to[0])
            self.session = "dead"
            raise AnymailAPIError("the server hung up")
        return post(self, payload, message)

    monkeypatch.setattr(EmailBackend, "open", open_session)
    monkeypatch.setattr(EmailBackend, "close", lambda self: setattr(self, "session", None))
    monkeypatch.setattr(EmailBackend, "post_to_esp", post_or_hang_up)
    rows = queue_event(people(4))
    results = send_outbound_batch([str(r.pk) for r in rows])
    assert sorted(results.values()) == ["retry", "sent", "sent", "sent"]
    assert len(failures) == 1 and len(sent()) == 3


def test_the_models_read_for_sending_have_no_init_receivers_that_the_hand_written_read_would_skip():
    """PostgreSQL's read builds these instances without `Model.__init__`, which sends the signals."""
    from django.db.models.signals import post_init, pre_init

    from support.models import Message, Ticket

    for model in (OutboundEmail, Ticket, Message, User):
        assert not pre_init.has_listeners(model) and not post_init.has_listeners(model), model


@contextmanager
def rendered_templates() -> Iterator[list[str]]:
    """The names of the templates rendered in the block (pytest-django's instrumented rendering)."""
    from django.test.signals import template_rendered

    names: list[str] = []

    def record(sender, template, **kwargs):  # type: ignore[no-untyped-def]
        names.append(template.name)

    template_rendered.connect(record)
    try:
        yield names
    finally:
        template_rendered.disconnect(record)


def test_the_thread_an_event_s_mails_show_is_built_once_for_all_their_recipients(monkeypatch):
    from mailgateway import outbound

    built: list[object] = []
    monkeypatch.setattr(outbound, "thread_html", lambda *pair: built.append(pair) or quoted_thread.thread_html(*pair))
    rows = queue_event(people(3))
    with rendered_templates() as names:
        send_outbound_batch([str(r.pk) for r in rows])
    assert names.count("emails/agent_reply/body.txt") == names.count("emails/agent_reply/body.html") == 3
    assert len(built) == 1
    assert all("The cleaner came at noon." in text_of(m) and "The cleaner came at noon." in html_of(m) for m in sent())


def test_in_one_batch_staff_see_the_internal_note_before_the_reply_and_the_customer_does_not(agent, other_agent):
    customer = User.objects.create_user("asha@example.com", None, name="Asha Rai")
    ticket = make_ticket(customer)
    make_reply(ticket, agent, "Internal: the cleaner is sick.", is_internal=True)
    reply = make_reply(ticket, agent, "Another cleaner comes at noon.")
    OutboundEmail.objects.update(status=OutboundStatus.SKIPPED)  # the setup's own mails
    notices = [Notice(customer, "agent_reply", in_app=False), Notice(other_agent, "agent_reply", in_app=False)]
    rows = queue_notices(ticket=ticket, message=reply, notices=notices)
    send_outbound_batch([str(r.pk) for r in rows])
    (to_customer,) = [m for m in sent() if m["To"] == customer.email]
    (to_staff,) = [m for m in sent() if m["To"] == other_agent.email]
    for mail in (to_customer, to_staff):
        assert "Another cleaner comes at noon." in text_of(mail)
    assert "the cleaner is sick" in text_of(to_staff) and "the cleaner is sick" in html_of(to_staff)
    assert "the cleaner is sick" not in to_customer.as_string()
    assert "> Booked for 9am." in text_of(to_customer)
