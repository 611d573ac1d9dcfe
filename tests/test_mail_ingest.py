"""Processing stored mail: what reaches the ticket, what is left out, and that nothing is lost."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.core import mail as outbox
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from mailgateway.extraction import extract
from mailgateway.html_text import html_to_text
from mailgateway.ingest import process_stored_mail, record_failure
from mailgateway.models import InboundEmail, OutboundEmail, UndeliverableAddress
from mailgateway.parsing import parse_email
from mailgateway.quarantine import reprocess
from mailgateway.store import store_inbound
from support.models import Attachment, Message, Ticket
from tests.builders import LINUX_ELF, PDF_HEAD, PNG_1PX, make_reply, make_ticket
from tests.mailbuilder import build_mail, deliver, tnef_with_file

pytestmark = pytest.mark.django_db

GMAIL_REPLY = (
    "Thanks, the plumber came.\n\nOn Tue, 24 Nov 2026 at 10:02, SewaBazaar <support@example.com> wrote:\n> Is it fixed?"
)


def test_the_stored_text_is_what_the_person_wrote_without_the_quote():
    inbound = deliver(build_mail(text=GMAIL_REPLY))
    assert inbound.message.message_text == "Thanks, the plumber came."


OUTLOOK_FORWARD = (
    "Please check this invoice, I never booked this visit.\n\n________________________________\n"
    "From: Provider <billing@provider.example>\nSent: Monday, 2 March 2026 10:00\nTo: Asha Gurung\n"
    "Subject: Invoice 77\n\nYou owe 200 for the visit of 2 March."
)


def test_a_forwarded_mail_keeps_the_mail_it_forwards_for_staff_to_read():
    inbound = deliver(build_mail(subject="FW: Invoice 77", text=OUTLOOK_FORWARD))
    assert inbound.message.message_text == OUTLOOK_FORWARD


@pytest.mark.parametrize(
    "history",
    [
        '<div class="gmail_quote">---------- Forwarded message ---------<br>'
        "From: Provider &lt;billing@provider.example&gt;<br>Subject: Invoice 77<br><br>"
        "You owe 200 for the visit of 2 March.</div>",
        '<div id="divRplyFwdMsg"><b>From:</b> Provider &lt;billing@provider.example&gt;<br><b>Sent:</b> Monday, 2 March'
        " 2026 10:00<br><b>Subject:</b> Invoice 77</div><div>You owe 200 for the visit of 2 March.</div>",
    ],
    ids=["gmail", "outlook-web"],
)
def test_an_html_only_forward_keeps_the_mail_it_forwards(history):
    html = f"<div>Please check this invoice, I never booked this visit.</div>{history}"
    text = deliver(build_mail(subject="Fwd: Invoice 77", text=None, html=html)).message.message_text
    assert text.startswith("Please check this invoice") and "You owe 200 for the visit of 2 March." in text


def test_an_html_only_forward_still_leaves_out_the_text_it_hides():
    html = (
        '<div style="display:none">preheader zzqx</div><div>Please handle this refund.</div>'
        '<div class="gmail_quote">---------- Forwarded message ---------<br>From: Shop &lt;shop@example.com&gt;<br>'
        '<span style="display:none">hidden preheader of the shop</span>Your order 123 was refunded.</div>'
    )
    text = deliver(build_mail(subject="Fwd: Order 123", text=None, html=html)).message.message_text
    assert "preheader" not in text and text.startswith("Please handle this refund.")
    assert "Your order 123 was refunded." in text


def test_a_reply_drops_the_same_history_it_quotes():
    inbound = deliver(build_mail(subject="RE: Invoice 77", text=OUTLOOK_FORWARD))
    assert inbound.message.message_text == "Please check this invoice, I never booked this visit."


def test_the_raw_mail_stays_with_the_message_for_staff():
    raw = build_mail(text=GMAIL_REPLY)
    inbound = deliver(raw)
    assert bytes(InboundEmail.objects.get(message=inbound.message).raw) == raw


def test_html_only_mail_becomes_readable_text_and_safe_html():
    html = '<div>Hello <b>team</b>,<br>the tap leaks.<script>steal()</script><img src="https://t.example/p.gif"></div>'
    inbound = deliver(build_mail(text=None, html=html))
    message = inbound.message
    assert message.message_text == "Hello team,\nthe tap leaks."
    assert "<script" not in message.html and "steal" not in message.html and "t.example" not in message.html
    assert "<b>team</b>" in message.html


@pytest.mark.parametrize(
    "notice",
    [
        "This is an HTML message. Please use an HTML capable mail program to read\nthis message.",
        "To view the message, please use an HTML compatible email viewer!",
        "This is an HTML-only message. To view it, activate HTML in your email application.",
    ],
)
def test_a_plain_part_that_only_says_to_read_the_html_gives_way_to_the_html(notice):
    html = "<p>Hello,<br>the boiler in flat 4 is leaking again.</p>"
    extracted = extract(parse_email(build_mail(text=notice, html=html)))
    assert extracted.text == "Hello,\nthe boiler in flat 4 is leaking again."


def test_a_short_plain_text_about_html_is_still_the_text():
    text = "Your HTML invoice shows no VAT line."
    extracted = extract(parse_email(build_mail(text=text, html="<p>Your HTML invoice shows <b>no</b> VAT line.</p>")))
    assert extracted.text == text


def test_an_html_only_hotmail_reply_keeps_only_the_text_above_its_stop_spelling_rule():
    # Outlook.com and Hotmail put the history, headed Date / Subject / From, under <hr id="stopSpelling">.
    html = (
        "<div>Tuesday at 9 works for me.</div>"
        '<hr id="stopSpelling">Date: Tue, 3 Mar 2026 10:02:00 +0545<br>Subject: Plumber did not arrive<br>'
        "From: support@example.com<br>To: asha@example.com<br><br>When can the plumber come back?"
    )
    assert deliver(build_mail(text=None, html=html)).message.message_text == "Tuesday at 9 works for me."


def test_an_html_only_lotus_notes_reply_leaves_out_the_answered_mail_in_its_domino_section():
    html = (
        "Thursday is fine.<br><br>Ram<br><br>"
        '<div class="domino-section"><div class="domino-section-head"><span class="domino-section-title">'
        'Support --- Plumber did not arrive --- </span></div><div class="domino-section-body">'
        "<table><tr><td>From:</td><td>support@example.com</td></tr><tr><td>Subject</td><td>Plumber</td></tr>"
        "</table><pre>When can the plumber come back?</pre></div></div>"
    )
    assert deliver(build_mail(text=None, html=html)).message.message_text == "Thursday is fine.\n\nRam"


def test_an_html_only_blackberry_reply_leaves_out_the_answered_mail_under_its_persistent_header():
    # Each field is a block of its own, so the text has an empty line between them.
    html = (
        '<div>Friday morning suits me.</div><div id="_persistentHeader"><div><b>From: </b>Support via SewaBazaar</div>'
        "<div><b>Sent: </b>Tuesday, 3 March 2026 10:02</div><div><b>To: </b>asha@example.com</div>"
        "<div><b>Reply To: </b>Support via SewaBazaar</div><div><b>Subject: </b>[SB-1042] re: Plumber did not<br>"
        ' arrive</div></div><br><div id="_originalContent">When can he come back?</div>'
    )
    assert deliver(build_mail(text=None, html=html)).message.message_text == "Friday morning suits me."


@pytest.mark.parametrize(
    "signature",
    [
        '<div class="gmail_signature">Asha Rai<br>+977 980 000 0000</div>',
        '<div class="moz-signature">-- <br>Asha Rai<br>+977 980 000 0000</div>',
        '<div id="Signature"><p>Asha Rai</p><p>+977 980 000 0000</p></div>',
        '<div class="protonmail_signature_block"><div class="protonmail_signature_block-user '
        'protonmail_signature_block-empty"></div><div class="protonmail_signature_block-proton">Sent with '
        '<a href="https://proton.me/" target="_blank">Proton Mail</a> secure email.</div></div>',
        '<div id="ms-outlook-mobile-signature">Get <a href="https://aka.ms/o0ukef">Outlook for iOS</a></div>',
    ],
    ids=["gmail", "thunderbird", "outlook-web", "proton-mail", "outlook-mobile"],
)
def test_an_html_only_mail_leaves_out_the_signature_its_client_marked(signature):
    html = f"<div>The tap still leaks.</div>{signature}"
    assert deliver(build_mail(text=None, html=html)).message.message_text == "The tap still leaks."


def test_an_html_only_mail_leaves_out_the_text_it_hides_from_its_reader():
    html = (
        '<div style="display: none; max-height: 0">Big savings this week on cleaning!</div>'
        '<span style="mso-hide:all;DISPLAY:NONE">tracking 8c1f</span><p>My booking SB-1042 was charged twice.</p>'
    )
    assert deliver(build_mail(text=None, html=html)).message.message_text == "My booking SB-1042 was charged twice."


def test_an_html_only_mail_written_in_divs_keeps_its_lines_as_lines():
    # Gmail and Apple Mail write each line as a <div>, and an empty line as <div><br></div>.
    html = '<div dir="ltr">Hi team,<div><br></div><div>the tap still leaks.</div><div>Asha</div></div>'
    assert deliver(build_mail(text=None, html=html)).message.message_text == "Hi team,\n\nthe tap still leaks.\nAsha"


def test_an_html_only_reply_leaves_out_the_header_block_of_the_answered_mail_written_in_divs():
    html = (
        "<div>Thanks, Friday works.</div><div><br></div><div><b>From:</b> Support &lt;support@example.com&gt;</div>"
        "<div><b>Sent:</b> Monday, 2 March 2026 10:00</div><div><b>To:</b> Asha</div>"
        "<div><b>Subject:</b> Re: Booking</div><div><br></div><div>Can the plumber come on Friday?</div>"
    )
    assert deliver(build_mail(text=None, html=html)).message.message_text == "Thanks, Friday works."


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ('<p style="display:none">Big savings!<p>My order 1234 is late.</p>', "My order 1234 is late."),
        ('<ul><li style="display:none">Big savings!<li>My order 1234 is late.</ul>', "- My order 1234 is late."),
        (
            '<table><tr><td style="display:none">Big savings!<td>My order 1234 is late.</table>',
            "My order 1234 is late.",
        ),
    ],
    ids=["paragraph", "list-item", "table-cell"],
)
def test_a_hidden_element_whose_end_tag_is_left_out_hides_only_itself(html, text):
    assert deliver(build_mail(text=None, html=html)).message.message_text == text


def test_text_hidden_only_from_outlook_desktop_is_kept():
    # mso-hide:all hides a bulletproof button's copy from Outlook; every other client shows it.
    html = '<p>Please try <a href="https://example.com/reset" style="mso-hide:all">Reset password</a>.</p>'
    text = deliver(build_mail(text=None, html=html)).message.message_text
    assert text == "Please try Reset password (https://example.com/reset)."


def test_an_html_only_mail_written_all_in_its_signature_element_keeps_its_words():
    html = '<div id="Signature"><div>I still cannot log in, error 502 since Monday.</div></div>'
    message = deliver(build_mail(text=None, html=html)).message
    assert message.message_text == "I still cannot log in, error 502 since Monday."


def test_an_html_mail_of_many_empty_lines_and_signature_elements_is_read_in_one_pass():
    html = "<br>" * 100_000 + '<div class="gmail_signature">Asha</div>' * 25_000
    started = time.perf_counter()
    html_to_text(html)
    assert time.perf_counter() - started < 10  # 79 s before: each signature element read all the text again


def test_an_html_only_mail_that_is_all_quote_keeps_its_words():
    html = '<div class="gmail_quote">On Monday, Support wrote:<blockquote>Is the leak fixed?</blockquote></div>'
    assert "Is the leak fixed?" in deliver(build_mail(text=None, html=html)).message.message_text


def test_an_html_only_mail_keeps_the_line_breaks_of_its_preformatted_text():
    html = "<p>Hello,</p><pre>Order 77\nDelivered: no\n\nPlease call me.</pre>"
    message = deliver(build_mail(text=None, html=html)).message
    assert message.message_text == "Hello,\n\nOrder 77\nDelivered: no\n\nPlease call me."


def test_event_handlers_and_javascript_links_are_removed_from_html():
    html = '<p onclick="x()" onmouseover="y()">hi <a href="javascript:alert(1)">a</a> <a href="https://ok.example">b</a></p>'
    message = deliver(build_mail(html=html)).message
    assert "onclick" not in message.html and "javascript:" not in message.html
    assert 'href="https://ok.example"' in message.html and 'rel="noopener noreferrer nofollow"' in message.html


def test_attachments_are_kept_with_the_message():
    inbound = deliver(build_mail(files=[("invoice.pdf", PDF_HEAD, "application/pdf")]))
    (kept,) = inbound.message.attachments.all()
    assert (kept.filename, kept.content_type, kept.file_size) == ("invoice.pdf", "application/pdf", len(PDF_HEAD))
    assert kept.file.read() == PDF_HEAD


def test_an_attachment_that_breaks_a_rule_is_left_out_and_the_message_says_why(settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    big_pdf = PDF_HEAD + b"0" * 2000
    files = [("tool.exe", LINUX_ELF, "application/octet-stream"), ("big.pdf", big_pdf, "application/pdf")]
    message = deliver(build_mail(files=files)).message
    assert message.attachments.count() == 0
    assert "[Attachment left out - tool.exe: application/x-executable is not an accepted type]" in message.message_text
    assert "[Attachment left out - big.pdf: larger than the limit of 0 MB]" in message.message_text


def test_a_path_in_an_attachment_name_is_never_used_as_a_path():
    message = deliver(build_mail(files=[("../../etc/passwd", b"root:x:0:0\n", "text/plain")])).message
    (kept,) = message.attachments.all()
    assert kept.filename == "passwd.txt" and ".." not in kept.file.name


def test_an_inline_image_points_at_its_stored_attachment():
    raw = build_mail(html='<p>see <img src="cid:photo1@x" alt="leak"></p>', inline=[("photo1@x", PNG_1PX, "image/png")])
    message = deliver(raw).message
    (image,) = message.attachments.all()
    assert f'src="/api/support/attachments/{image.pk}/download/"' in message.html and image.content_id == "photo1@x"


def test_an_inline_image_that_was_not_kept_leaves_no_cid_link():
    raw = build_mail(html='<p><img src="cid:gone@x"></p>')
    assert "cid:" not in deliver(raw).message.html


def test_winmail_dat_arrives_as_the_files_inside_it():
    raw = build_mail(files=[("winmail.dat", tnef_with_file("invoice.pdf", PDF_HEAD), "application/ms-tnef")])
    assert [a.filename for a in deliver(raw).message.attachments.all()] == ["invoice.pdf"]


def test_a_mail_with_only_an_attachment_still_becomes_a_message():
    message = deliver(build_mail(text=None, files=[("scan.png", PNG_1PX, "image/png")])).message
    assert message.message_text == "(The mail had no text.)" and message.attachments.count() == 1


def test_a_very_long_mail_is_cut_with_a_marker_and_kept_whole_in_the_raw():
    inbound = deliver(build_mail(text="word " * 5000))
    assert len(inbound.message.message_text) <= 5000 and "truncated" in inbound.message.message_text


def test_the_same_mail_delivered_twice_is_one_message():
    raw = build_mail(message_id="<twice@example.com>")
    first, second = deliver(raw), deliver(raw)
    assert first.pk == second.pk and Message.objects.count() == 1


def test_the_same_mail_through_two_mailboxes_is_one_message(customer_a):
    raw = build_mail(message_id="<two-boxes@example.com>", subject="[SB-0] x")
    first = deliver(raw, recipient="support@example.com")
    second = deliver(raw, recipient="help@example.com")
    assert first.pk != second.pk
    assert (second.status, second.reason, second.message) == ("ignored", "duplicate", first.message)
    assert Message.objects.filter(email_message_id="<two-boxes@example.com>").count() == 1


def test_processing_a_row_again_does_nothing():
    inbound = deliver(build_mail())
    assert process_stored_mail(str(inbound.pk)) == "processed"
    assert Message.objects.count() == 1


def test_a_crash_in_the_middle_leaves_nothing_half_written_and_the_retry_posts_once():
    stored = store_inbound(build_mail(files=[("a.pdf", PDF_HEAD, "application/pdf")]), door="raw")
    crash = mock.patch("support.message_files.attach_to_message", side_effect=RuntimeError("worker died"))
    with crash, pytest.raises(RuntimeError):
        process_stored_mail(str(stored.inbound.pk))
    assert (Ticket.objects.count(), Message.objects.count(), Attachment.objects.count()) == (0, 0, 0)
    stored.inbound.refresh_from_db()
    assert stored.inbound.status == "received"
    assert process_stored_mail(str(stored.inbound.pk)) == "processed"
    assert (Ticket.objects.count(), Message.objects.count(), Attachment.objects.count()) == (1, 1, 1)


def test_a_mail_that_keeps_failing_ends_failed_with_its_error_and_can_be_reprocessed():
    stored = store_inbound(build_mail(), door="raw")
    record_failure(str(stored.inbound.pk), RuntimeError("database went away"), final=False)
    stored.inbound.refresh_from_db()
    assert (stored.inbound.status, stored.inbound.attempts) == ("received", 1)
    record_failure(str(stored.inbound.pk), RuntimeError("database went away"), final=True)
    stored.inbound.refresh_from_db()
    assert (stored.inbound.status, stored.inbound.reason) == ("failed", "processing_error")
    assert "database went away" in stored.inbound.error
    assert reprocess(stored.inbound) == "processed" and Message.objects.count() == 1


def test_the_task_retries_a_failing_mail_and_then_marks_it_failed():
    """In the embedded default (eager tasks) the retries run at once; with workers they back off."""
    from mailgateway.tasks import MAX_RETRIES, process_inbound

    stored = store_inbound(build_mail(), door="raw")
    with mock.patch("mailgateway.ingest._process", side_effect=RuntimeError("boom")) as processing:
        process_inbound.apply(args=[str(stored.inbound.pk)])
    stored.inbound.refresh_from_db()
    assert processing.call_count == MAX_RETRIES + 1
    assert (stored.inbound.status, stored.inbound.attempts) == ("failed", MAX_RETRIES + 1)
    assert "RuntimeError: boom" in stored.inbound.error


@pytest.mark.parametrize(
    "raw, status, reason",
    [
        (b"\x00\x01\x02 not a mail at all \xff\xfe", "quarantined", "no_sender"),
        (b"From: \r\nSubject: no sender\r\n\r\nbody", "quarantined", "no_sender"),
        (b"From: asha@example.com\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all", "processed", ""),
        (b"From: asha@example.com\r\nSubject: x\r\n\r\nhello\x00\x00world", "processed", ""),
        (b"From: asha@example.com\r\nSubject: =?utf-8?q?a=0D=0AX-Evil=3A_1?=\r\n\r\nbody", "processed", ""),
        (b'From: asha@example.com\r\nContent-Type: text/plain; charset="""\r\n\r\nodd charset', "processed", ""),
    ],
    ids=["binary-junk", "empty-from", "multipart-without-boundary", "nul-bytes", "crlf-in-subject", "bad-param"],
)
def test_bad_input_ends_stored_with_a_status_and_a_reason(raw, status, reason):
    inbound = deliver(raw)
    assert (inbound.status, inbound.reason) == (status, reason)
    assert bytes(inbound.raw) == raw


def test_a_forty_megabyte_mail_is_processed_and_its_oversized_file_left_out():
    raw = build_mail(files=[("huge.pdf", PDF_HEAD + b"x" * (40 * 1024 * 1024), "application/pdf")])
    inbound = deliver(raw)
    assert inbound.status == "processed" and inbound.message.attachments.count() == 0
    assert "huge.pdf: larger than the limit" in inbound.message.message_text


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(["From", "To", "Cc", "Subject", "Content-Type", "Message-ID", "In-Reply-To", "X-Any"]),
            st.text(max_size=60),
        ),
        max_size=8,
    ),
    body=st.binary(max_size=400),
)
def test_no_generated_mail_raises_out_of_the_pipeline(headers, body):
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8", "surrogateescape")
    raw = head + b"\r\n" + body
    inbound = deliver(raw)
    assert inbound.status in ("processed", "ignored", "quarantined")
    assert inbound.status == "processed" or inbound.reason


# -- mail that must not become a ticket ---------------------------------------------------------


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({"Auto-Submitted": "auto-replied"}, "auto_reply"),
        ({"List-Id": "<offers.example.com>"}, "mailing_list"),
        ({"X-Spam-Flag": "YES"}, "spam"),
    ],
)
def test_ignored_mail_is_recorded_and_creates_nothing_and_sends_nothing(headers, reason):
    inbound = deliver(build_mail(headers=headers))
    assert (inbound.status, inbound.reason) == ("ignored", reason)
    assert Ticket.objects.count() == 0 and len(outbox.outbox) == 0


def test_a_sender_who_floods_is_ignored_past_the_hourly_limit(settings):
    settings.INBOUND_FLOOD_PER_HOUR = 3
    results = [deliver(build_mail(subject=f"mail {n}")).status for n in range(5)]
    assert results == ["processed"] * 3 + ["ignored"] * 2
    assert InboundEmail.objects.filter(reason="flood").count() == 2 and Ticket.objects.count() == 3


def test_staff_are_not_throttled_as_a_flood(settings, customer_a, agent):
    settings.INBOUND_FLOOD_PER_HOUR = 1
    ticket = make_ticket(customer_a)
    statuses = {deliver(build_mail(sender=agent.email, subject=f"[{ticket.reference}] {n}")).status for n in range(3)}
    assert statuses == {"processed"}


def permanent_bounce(*, of: str, recipient: str) -> bytes:
    return (
        b"From: MAILER-DAEMON@mx.example.net\r\nTo: support@example.com\r\nSubject: Undelivered\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        + f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n".encode()
        + f"--R\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {of}\r\n\r\n--R--\r\n".encode()
    )


def test_a_bounce_of_our_mail_marks_the_recipient_undeliverable(customer_a, agent):
    ticket = make_ticket(customer_a)
    make_reply(ticket, agent, "Hello", email_message_id="<sb-77@support.example.com>", channel="email")
    inbound = deliver(permanent_bounce(of="<sb-77@support.example.com>", recipient="asha@example.com"))
    assert (inbound.status, inbound.reason) == ("ignored", "bounce")
    assert UndeliverableAddress.objects.get().address == "asha@example.com"


def test_a_bounce_of_an_acknowledgement_marks_the_address_it_went_to(customer_a):
    ack = OutboundEmail.objects.create(
        ticket=make_ticket(customer_a), recipient=customer_a, to_address=customer_a.email,
        template="ticket_opened", message_id_header="<ack-5@support.example.com>",
    )  # fmt: skip
    deliver(permanent_bounce(of=ack.message_id_header, recipient=customer_a.email))
    assert UndeliverableAddress.objects.get().address == customer_a.email


def test_a_bounce_naming_someone_our_mail_did_not_go_to_marks_no_one(customer_a):
    ack = OutboundEmail.objects.create(
        ticket=make_ticket(customer_a), recipient=customer_a, to_address=customer_a.email,
        template="ticket_opened", message_id_header="<ack-6@support.example.com>",
    )  # fmt: skip
    deliver(permanent_bounce(of=ack.message_id_header, recipient="someone.else@example.com"))
    assert not UndeliverableAddress.objects.exists()


def test_a_bounce_of_mail_we_never_sent_marks_no_one(customer_a):
    raw = build_mail(sender="MAILER-DAEMON@mx.example.net", subject="Undelivered")
    assert deliver(raw).reason == "bounce" and not UndeliverableAddress.objects.exists()


def test_two_helpdesks_acknowledging_each_other_stop_after_one_round(settings):
    """The other side's automatic answer carries Auto-Submitted, so it never starts a ticket here.

    Our own mail coming back (a forwarding loop) is recognised by its From address.
    """
    first = deliver(build_mail(sender="help@other-desk.example", subject="Order 55"))
    their_ack = build_mail(
        sender="help@other-desk.example",
        subject=f"Re: [{first.ticket.reference}] Order 55 - we received your request",
        headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
    )
    our_own_mail_back = build_mail(sender="SewaBazaar Support <support@example.com>", subject="[SB-1] ack")
    assert deliver(their_ack).reason == "auto_reply"
    assert deliver(our_own_mail_back).reason == "own_address"
    assert Ticket.objects.count() == 1 and Message.objects.count() == 1 and len(outbox.outbox) == 0


def test_an_out_of_office_reply_to_a_closed_ticket_opens_nothing_and_sends_nothing(customer_a):
    """Lotus Notes says it only in the subject; it used to open a follow-up ticket and get an
    acknowledgement back."""
    first = deliver(build_mail(sender=customer_a.email, subject="Refund for order 91000"))
    ticket = first.ticket
    ticket.status = "closed"
    ticket.save(update_fields=["status"])
    ack = OutboundEmail.objects.get(ticket=ticket, template="ticket_opened")
    outbox.outbox.clear()
    away = build_mail(
        sender=customer_a.email,
        subject=f"Out of Office AutoReply: [{ticket.reference}] Refund for order 91000",
        in_reply_to=ack.message_id_header,
        headers={"X-Mailer": "Lotus Notes Release 9.0.1FP10"},
        text="I am out of the office until 04.01.2027.",
    )
    assert deliver(away).reason == "auto_reply"
    assert Ticket.objects.count() == 1 and ticket.messages.count() == 1 and len(outbox.outbox) == 0


def test_an_autoresponder_without_markers_is_stopped_by_the_flood_limit(settings):
    settings.INBOUND_FLOOD_PER_HOUR = 5
    statuses = [deliver(build_mail(sender="bot@robots.example", subject=f"Re: ticket {n}")).status for n in range(8)]
    assert statuses.count("processed") == 5 and statuses[-1] == "ignored"


def test_a_reply_by_mail_costs_a_fixed_number_of_queries(customer_a, django_assert_num_queries):
    """Lock and read the row; the sender with their mails of the hour (the flood rule); thread;
    lock the ticket (in the reply's savepoint); message; ticket; the staff list (in the notices'
    savepoint); the row; and the test's own savepoint for the transaction. None around the
    apply: a refused apply is redone with one (see the duplicate tests)."""
    deliver(build_mail(message_id="<first@mail.example.com>"))
    reply = store_inbound(build_mail(in_reply_to="<first@mail.example.com>", text="Any news?"), door="raw")
    with django_assert_num_queries(14):
        assert process_stored_mail(str(reply.inbound.pk)) == "processed"


def test_a_new_sender_created_meanwhile_by_another_mail_is_processed_again_and_posted_once():
    """Her account is made without a savepoint: the clash rolls the mail back and it is redone."""
    from support.models import User

    stored = store_inbound(build_mail(sender="Nila <nila@example.com>", subject="New here"), door="raw")
    calls = []

    def meanwhile(mail):  # type: ignore[no-untyped-def]
        calls.append(mail)
        if len(calls) == 1:  # another mail of hers created her account after routing looked
            User.objects.create_user(email="nila@example.com", password=None)
        return extract(mail)

    with mock.patch("mailgateway.ingest.extract", side_effect=meanwhile):
        assert process_stored_mail(str(stored.inbound.pk)) == "processed"
    assert len(calls) == 2 and User.objects.filter(email="nila@example.com").count() == 1
    assert Ticket.objects.get().customer.email == "nila@example.com"
