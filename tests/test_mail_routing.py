"""Where a mail lands: reply token, then In-Reply-To/References, then the subject; never a stranger's."""

from __future__ import annotations

import pytest

from mailgateway.tokens import issue_reply_token
from support.models import Message, Status, TicketParticipant, User
from support.services import change_ticket
from tests.builders import make_reply, make_ticket
from tests.mailbuilder import build_mail, deliver

pytestmark = pytest.mark.django_db


def reply_address(ticket, person) -> str:
    return f"support+{issue_reply_token(ticket_id=ticket.pk, person_id=person.pk)}@example.com"


def sent_message(ticket, author, message_id: str) -> Message:
    """A message the helpdesk mailed out, with the Message-ID it carried."""
    return make_reply(ticket, author, "We will send someone.", email_message_id=message_id, channel="email")


def test_a_mail_from_a_new_sender_opens_a_ticket_for_a_new_customer():
    inbound = deliver(build_mail(sender="Nima Sherpa <Nima@Example.org>", subject="Broken tap"))
    customer = User.objects.get(email="nima@example.org")
    assert inbound.status == "processed" and inbound.routed_by == "new"
    assert (inbound.ticket.customer, inbound.ticket.title, inbound.ticket.source) == (customer, "Broken tap", "email")
    assert customer.name == "Nima Sherpa" and not customer.has_usable_password() and not customer.is_staff


def test_the_sender_is_found_whatever_the_case_of_the_address(customer_a):
    inbound = deliver(build_mail(sender="ASHA@EXAMPLE.COM"))
    assert inbound.ticket.customer == customer_a


def test_the_sender_is_found_when_the_domain_ends_in_the_dns_root_dot(customer_a):
    inbound = deliver(build_mail(sender="Asha Rai <asha@example.com.>"))
    assert inbound.ticket.customer == customer_a


def test_a_reply_token_threads_the_mail_even_with_a_new_subject(customer_a):
    ticket = make_ticket(customer_a)
    inbound = deliver(build_mail(to=reply_address(ticket, customer_a), subject="something else entirely"))
    assert (inbound.ticket, inbound.routed_by, inbound.message.routed_by) == (ticket, "token", "token")


def test_a_reply_token_in_cc_or_the_envelope_counts_too(customer_a):
    ticket = make_ticket(customer_a)
    assert deliver(build_mail(cc=reply_address(ticket, customer_a))).ticket == ticket
    assert deliver(build_mail(), recipient=reply_address(ticket, customer_a)).ticket == ticket


def test_an_upper_cased_reply_address_still_threads(customer_a):
    ticket = make_ticket(customer_a)
    assert deliver(build_mail(to=reply_address(ticket, customer_a).upper())).routed_by == "token"


def test_someone_else_using_a_token_is_quarantined_not_posted(customer_a, customer_b):
    ticket = make_ticket(customer_a)
    inbound = deliver(build_mail(sender="bikash@example.com", to=reply_address(ticket, customer_a)))
    assert (inbound.status, inbound.reason, inbound.ticket) == ("quarantined", "sender_mismatch", ticket)
    assert ticket.messages.count() == 1


def test_a_forged_token_is_ignored_and_the_mail_threads_by_other_means(customer_a):
    ticket = make_ticket(customer_a)
    forged = "support+" + "a" * 26 + "@example.com"
    inbound = deliver(build_mail(to=forged, subject=f"Re: [{ticket.reference}] x"))
    assert (inbound.ticket, inbound.routed_by) == (ticket, "subject")


def test_in_reply_to_threads_a_reply_whose_subject_changed(customer_a, agent):
    ticket = make_ticket(customer_a)
    sent_message(ticket, agent, "<sb-1@support.example.com>")
    inbound = deliver(build_mail(subject="totally new words", in_reply_to="<sb-1@support.example.com>"))
    assert (inbound.ticket, inbound.routed_by) == (ticket, "in_reply_to")


def test_references_thread_a_reply_without_in_reply_to(customer_a, agent):
    ticket = make_ticket(customer_a)
    sent_message(ticket, agent, "<sb-2@support.example.com>")
    inbound = deliver(build_mail(subject="no ref", references="<other@x> <sb-2@support.example.com>"))
    assert (inbound.ticket, inbound.routed_by) == (ticket, "references")


def test_a_header_stripped_reply_threads_by_the_subject_reference(customer_a):
    ticket = make_ticket(customer_a)
    inbound = deliver(build_mail(subject=f"RE: AW: [{ticket.reference}] Plumber"))
    assert (inbound.ticket, inbound.routed_by) == (ticket, "subject")


def test_a_stranger_with_the_ticket_number_in_the_subject_is_quarantined(customer_a):
    ticket = make_ticket(customer_a)
    inbound = deliver(build_mail(sender="eve@evil.example", subject=f"Re: [{ticket.reference}] let me in"))
    assert (inbound.status, inbound.reason, inbound.ticket) == ("quarantined", "sender_mismatch", ticket)
    assert not Message.objects.filter(sender__email="eve@evil.example").exists()


def test_a_stranger_sharing_an_in_reply_to_is_quarantined(customer_a, agent):
    ticket = make_ticket(customer_a)
    sent_message(ticket, agent, "<sb-3@support.example.com>")
    inbound = deliver(build_mail(sender="eve@evil.example", in_reply_to="<sb-3@support.example.com>"))
    assert (inbound.status, inbound.reason) == ("quarantined", "sender_mismatch")


def test_people_in_cc_of_a_customer_mail_become_participants_who_may_answer(customer_a):
    first = deliver(build_mail(cc="Bikash <bikash@example.com>, support@example.com"))
    ticket = first.ticket
    assert list(TicketParticipant.objects.filter(ticket=ticket).values_list("person__email", flat=True)) == [
        "bikash@example.com"
    ]
    reply = deliver(build_mail(sender="bikash@example.com", subject=f"Re: [{ticket.reference}] x"))
    assert (reply.status, reply.ticket, reply.message.is_from_customer) == ("processed", ticket, True)


def test_staff_replying_by_mail_post_a_staff_reply(customer_a, agent):
    ticket = make_ticket(customer_a)
    inbound = deliver(build_mail(sender="agent@sewabazaar.test", subject=f"Re: [{ticket.reference}] x"))
    assert inbound.message.sender == agent and not inbound.message.is_from_customer


def test_a_staff_address_that_fails_dmarc_is_not_treated_as_staff(customer_a, agent):
    ticket = make_ticket(customer_a)
    raw = build_mail(
        sender="agent@sewabazaar.test",
        subject=f"Re: [{ticket.reference}] x",
        headers={"Authentication-Results": "mx.ours; spf=fail; dmarc=fail header.from=sewabazaar.test"},
    )
    inbound = deliver(raw)
    assert (inbound.status, inbound.reason) == ("quarantined", "sender_unverified")
    assert inbound.auth_results["dmarc"] == "fail"
    assert ticket.messages.count() == 1


def _broken_header_block(reference: str, sender: str, dmarc: str) -> bytes:
    """A mail whose header block a line without a colon cuts short: the receiving server's checks
    end the headers there (no From), and the From below it is read only after repair."""
    return (
        f"Authentication-Results: mx.ours; spf=pass smtp.mailfrom=elsewhere.example; dmarc={dmarc}\r\n"
        f"To: support@example.com\r\nSubject: Re: [{reference}] refund\r\nhello\r\nFrom: {sender}\r\n"
        "Content-Type: text/plain\r\n\r\nWe refund you in full.\r\n"
    ).encode()


def test_a_staff_from_found_only_by_repairing_the_headers_is_unverified(customer_a, agent):
    ticket = make_ticket(customer_a)
    inbound = deliver(_broken_header_block(ticket.reference, "Sita Agent <agent@sewabazaar.test>", "none"))
    assert (inbound.status, inbound.reason) == ("quarantined", "sender_unverified")
    assert ticket.messages.count() == 1


def test_a_repaired_staff_from_that_passed_dmarc_is_staff(customer_a, agent):
    ticket = make_ticket(customer_a)
    inbound = deliver(_broken_header_block(ticket.reference, "Sita Agent <agent@sewabazaar.test>", "pass"))
    assert inbound.status == "processed" and inbound.message.sender == agent


@pytest.mark.parametrize("above", [b"\n", b"\r\n", b"\nFrom MAILER-DAEMON Thu Dec  3 10:00:00 2026\n"])
def test_a_staff_mail_with_lines_an_mta_pipe_put_above_it_is_still_staff(above, customer_a, agent):
    """The receiving server wrote its own headers on top and checked these: what a local pipe puts
    above them is no sign of a forged sender."""
    ticket = make_ticket(customer_a)
    raw = build_mail(
        sender="Sita Agent <agent@sewabazaar.test>",
        subject=f"Re: [{ticket.reference}] x",
        headers={"Authentication-Results": "mx.ours; spf=pass; dkim=pass; dmarc=none"},
    )
    inbound = deliver(above + raw)
    assert inbound.status == "processed" and inbound.message.sender == agent


def test_a_customer_s_mail_with_a_repaired_header_block_is_still_theirs(customer_a):
    ticket = make_ticket(customer_a)
    inbound = deliver(_broken_header_block(ticket.reference, customer_a.email, "none"))
    assert inbound.status == "processed" and inbound.ticket_id == ticket.pk


def test_a_reply_to_a_resolved_ticket_reopens_it(customer_a, agent):
    ticket = make_ticket(customer_a)
    change_ticket(ticket=ticket, actor=agent, channel="web", status=Status.RESOLVED)
    deliver(build_mail(subject=f"Re: [{ticket.reference}] still broken"))
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.resolved_at is None


def test_a_reply_to_a_closed_ticket_opens_a_follow_up_ticket(customer_a, agent):
    ticket = make_ticket(customer_a)
    change_ticket(ticket=ticket, actor=agent, channel="web", status=Status.CLOSED)
    inbound = deliver(build_mail(to=reply_address(ticket, customer_a)))
    assert inbound.ticket != ticket and inbound.ticket.follow_up_of == ticket
    assert inbound.routed_by == "follow_up" and ticket.messages.count() == 1


def test_every_message_records_why_it_was_threaded_there(customer_a, agent):
    ticket = make_ticket(customer_a)
    sent_message(ticket, agent, "<sb-9@support.example.com>")
    deliver(build_mail(in_reply_to="<sb-9@support.example.com>"))
    deliver(build_mail(subject=f"[{ticket.reference}]"))
    mailed = ticket.messages.filter(channel="email", is_from_customer=True).order_by("created_at")
    assert list(mailed.values_list("routed_by", flat=True)) == ["in_reply_to", "subject"]


def test_a_participant_answering_all_with_the_customer_s_token_is_posted_as_themself(customer_a, customer_b):
    ticket = make_ticket(customer_a)
    TicketParticipant.objects.create(ticket=ticket, person=customer_b)
    raw = build_mail(
        sender="bikash@example.com",
        to=reply_address(ticket, customer_a),
        subject=f"Re: [{ticket.reference}] Cleaner did not come",
    )
    inbound = deliver(raw)
    assert (inbound.status, inbound.ticket, inbound.routed_by) == ("processed", ticket, "subject")
    assert inbound.message.sender == customer_b
