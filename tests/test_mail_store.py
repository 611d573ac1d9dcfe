"""The doors' one write: the raw mail is kept once, whatever the number of deliveries."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from mailgateway.models import Door, InboundEmail
from mailgateway.store import extract_message_id, idempotency_key, mailbox_of, read_raw_mail, store_inbound
from mailgateway.tokens import issue_reply_token, verify_reply_token
from support import services

RAW = (
    b"From: Asha <asha@example.com>\r\nTo: support@example.com\r\nSubject: Help\r\n"
    b"Message-ID: <abc-123@mail.example.com>\r\n\r\nThe plumber did not come.\r\n"
)


def test_message_id_is_read_from_the_header_block_only():
    assert extract_message_id(RAW) == "<abc-123@mail.example.com>"
    assert extract_message_id(b"Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n") == ""


def test_mailbox_of_drops_the_plus_part_and_case():
    assert mailbox_of("Support+Abc123@Example.COM") == "support@example.com"


def test_the_same_mail_for_the_same_mailbox_has_one_key_whatever_the_token():
    one = idempotency_key(
        raw=RAW, message_id="<a@x>", envelope_recipient="support+t1@example.com", provider="", provider_id=""
    )
    two = idempotency_key(
        raw=RAW, message_id="<A@x>", envelope_recipient="support@example.com", provider="x", provider_id="9"
    )
    assert one == two


def test_a_mail_without_message_id_is_keyed_by_its_bytes():
    key = idempotency_key(raw=b"abc", message_id="", envelope_recipient="", provider="", provider_id="")
    assert key == idempotency_key(raw=b"abc", message_id="", envelope_recipient="", provider="", provider_id="")
    assert key != idempotency_key(raw=b"abd", message_id="", envelope_recipient="", provider="", provider_id="")


@pytest.mark.django_db
def test_storing_twice_keeps_one_row(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = store_inbound(RAW, door=Door.RAW)
        second = store_inbound(RAW, door=Door.WEBHOOK, provider="mailgun")
    assert first.created and not second.created
    assert second.inbound.pk == first.inbound.pk
    assert InboundEmail.objects.count() == 1
    assert len(callbacks) == 1  # processing is queued once


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_small_mail_is_one_insert_and_is_queued_once_committed(monkeypatch):
    from django.test.utils import CaptureQueriesContext

    queued: list[object] = []

    def enqueue(inbound_id: object) -> None:
        assert not connection.in_atomic_block  # the INSERT has committed
        queued.append(inbound_id)

    monkeypatch.setattr("mailgateway.store._enqueue", enqueue)
    with CaptureQueriesContext(connection) as statements:
        first = store_inbound(RAW, door=Door.RAW)
    second = store_inbound(RAW, door=Door.WEBHOOK)
    assert [q["sql"].split()[0] for q in statements.captured_queries] == ["INSERT"]
    assert first.created and not second.created and queued == [first.inbound.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_deliveries_store_one_row(monkeypatch):
    monkeypatch.setattr("mailgateway.store._enqueue", lambda inbound_id: None)
    barrier = threading.Barrier(10)
    results: list[bool] = []

    def deliver() -> None:
        try:
            barrier.wait()
            results.append(store_inbound(RAW, door=Door.WEBHOOK).created)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 9 + [True]
    assert InboundEmail.objects.count() == 1


@pytest.mark.django_db
def test_a_reply_token_names_its_ticket_and_person(customer_a, customer_b):
    ticket = services.open_ticket(customer=customer_a, title="t", message_text="m")
    token = issue_reply_token(ticket_id=ticket.pk, person_id=customer_a.pk)
    assert issue_reply_token(ticket_id=ticket.pk, person_id=customer_a.pk) == token
    assert len(token) == 26 and token == token.lower()
    owner = verify_reply_token(token.upper())
    assert owner is not None and (owner.ticket_id, owner.person_id) == (ticket.pk, customer_a.pk)
    assert issue_reply_token(ticket_id=ticket.pk, person_id=customer_b.pk) != token


@pytest.mark.django_db
def test_an_altered_or_resigned_token_does_not_verify(customer_a, settings):
    ticket = services.open_ticket(customer=customer_a, title="t", message_text="m")
    token = issue_reply_token(ticket_id=ticket.pk, person_id=customer_a.pk)
    altered = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert verify_reply_token(altered) is None
    assert verify_reply_token("") is None
    settings.REPLY_TOKEN_KEY = "another-key-after-rotation-0123456789"
    assert verify_reply_token(token) is None


@pytest.mark.django_db
@pytest.mark.parametrize("padding", [0, 300_000], ids=["small", "large"])  # large: the binary path on PostgreSQL
def test_the_raw_mail_is_kept_byte_for_byte(padding):
    raw = RAW.replace(b"The plumber", b"\x00\xff\xfe 8-bit \xe9t\xe9 and a NUL, the plumber") + b"\r\n" * padding
    stored = store_inbound(raw, door=Door.RAW)
    assert read_raw_mail(stored.inbound.pk) == raw
    assert bytes(InboundEmail.objects.get().raw) == raw  # the ORM (admin, console) reads the same bytes
    assert InboundEmail.objects.get().raw_size == len(raw)


@pytest.mark.django_db
def test_processing_never_writes_the_raw_mail_back():
    from django.test.utils import CaptureQueriesContext

    from mailgateway.ingest import process_stored_mail

    stored = store_inbound(RAW, door=Door.RAW)
    with CaptureQueriesContext(connection) as queries:
        assert process_stored_mail(str(stored.inbound.pk)) == "processed"
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))]
    assert writes and not any('"raw"' in sql for sql in writes if "mailgateway_inboundemail" in sql)
