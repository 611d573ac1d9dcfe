"""visible_text: the person's own words, from small bodies per client and language and from real .eml files."""

from __future__ import annotations

import email
import email.message
import email.policy
import random
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailgateway.quoting import is_forward, visible_text

MAIL_DIR = Path(__file__).parent / "mail"


def body(text: str) -> str:
    """A mail body written indented in the test, without the indent and the first newline."""
    return dedent(text).lstrip("\n")


# Gmail


def test_a_gmail_reply_keeps_only_the_new_text() -> None:
    text = body("""
        Tuesday at 9 works for me.

        On Tue, 3 Mar 2026 at 10:02, SewaBazaar Support <support@example.com> wrote:

        > Hello Asha,
        > When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_gmail_attribution_wrapped_over_two_lines_is_recognised() -> None:
    text = body("""
        Tuesday at 9 works for me.

        On Tue, Mar 3, 2026 at 10:02 AM SewaBazaar Support <support@example.com>
        wrote:

        > When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_gmail_attribution_wrapped_inside_the_address_is_recognised() -> None:
    text = body("""
        Tuesday at 9 works for me.

        On Tue, 3 Mar 2026 at 10:02, SewaBazaar Customer Support Team <
        support@example.com> wrote:

        > When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_gmail_forward_without_own_text_returns_the_whole_forward() -> None:
    text = body("""
        ---------- Forwarded message ---------
        From: Bikash <bikash@example.com>
        Date: Tue, 3 Mar 2026 at 10:02
        Subject: Leak
        To: <asha@example.com>

        The kitchen tap leaks.
    """)
    assert visible_text(text) == text.rstrip("\n")


def test_a_forwarded_mail_is_kept_under_the_text_above_it() -> None:
    # The person sent it to be read: it is not the history of this conversation.
    text = body("""
        Please see what my neighbour wrote.

        ---------- Forwarded message ---------
        From: Bikash <bikash@example.com>
        Date: Tue, 3 Mar 2026 at 10:02
        Subject: Leak

        The pipe under my sink leaks into your flat.
    """)
    assert visible_text(text) == text.strip()


def test_a_forwarded_mail_under_the_persons_signature_is_kept_and_the_signature_dropped() -> None:
    text = body("""
        Could you look at this invoice?
        --\x20
        Asha Rai, Lalitpur

        Begin forwarded message:

        From: Provider <billing@provider.example>
        Subject: Invoice 77

        You owe 200 for the visit of 2 March.
    """)
    kept = body("""
        Could you look at this invoice?

        Begin forwarded message:

        From: Provider <billing@provider.example>
        Subject: Invoice 77

        You owe 200 for the visit of 2 March.
    """)
    assert visible_text(text) == kept.strip()


def test_a_forward_inside_the_history_of_a_signed_reply_stays_dropped() -> None:
    # Yahoo and older Outlook for Mac do not quote the history: the forward under it is old.
    text = body("""
        Thanks, that works for me.
        --\x20
        Ana Lopez

        On Tuesday, March 3, 2026, 10:02:00 AM GMT+5:45, Support <support@example.com> wrote:

        Hello Ana, we checked the invoice below.

        ---------- Forwarded message ---------
        From: Provider <billing@provider.example>

        Invoice 123: NPR 5,000 due.
    """)
    assert visible_text(text) == "Thanks, that works for me."


def test_a_forwarded_mail_under_a_long_company_signature_is_kept() -> None:
    signature = body("""
        Ana Lopez
        Head of Accounts
        Example Ltd

        12 Lake Road
        Kathmandu

        Tel +977 1 4000000
        Mobile +977 9800000000
        www.example.com

        This mail is confidential.
        Please think before printing.
    """)
    forward = "---------- Forwarded message ---------\nFrom: Bank <noreply@bank.example>\nSubject: Payment failed\n\n"
    text = f"Please look at the failed payment below.\n-- \n{signature}\n\n{forward}Your payment of NPR 5000 failed."
    assert visible_text(text).endswith("Your payment of NPR 5000 failed.")


OUTLOOK_FORWARD = body("""
    Please check this invoice.

    ________________________________
    From: Provider <billing@provider.example>
    Sent: Monday, 2 March 2026 10:00
    To: Asha Rai
    Subject: Invoice 77

    You owe 200 for the visit of 2 March.
""")


def test_outlook_history_is_kept_when_the_mail_is_a_forward() -> None:
    assert visible_text(OUTLOOK_FORWARD, forwarded=True) == OUTLOOK_FORWARD.strip()


def test_outlook_history_is_dropped_when_the_mail_is_no_forward() -> None:
    assert visible_text(OUTLOOK_FORWARD) == "Please check this invoice."


def test_a_forward_marker_deep_in_replied_history_does_not_bring_the_history_back() -> None:
    text = body("""
        Thanks, that helps.

        > On Tue, 3 Mar 2026 at 10:02, Support <support@example.com> wrote:
        > ---------- Forwarded message ---------
        > From: Provider <billing@provider.example>
    """)
    assert visible_text(text) == "Thanks, that helps."


@pytest.mark.parametrize("subject", ["Fwd: Invoice", "FW: Invoice", "WG: Rechnung", "TR: Facture", "RV: Factura"])
def test_forward_subjects_are_known(subject: str) -> None:
    assert is_forward(subject)


@pytest.mark.parametrize("subject", ["Re: Fwd: Invoice", "[SB-1042] Fwd: Invoice", "Forward planning", "Invoice"])
def test_replies_and_other_subjects_are_no_forwards(subject: str) -> None:
    assert not is_forward(subject)


# Outlook


def test_an_outlook_header_block_under_a_rule_starts_the_history() -> None:
    text = body("""
        Tuesday at 9 works for me.

        ________________________________
        From: SewaBazaar Support <support@example.com>
        Sent: Tuesday, March 3, 2026 10:02 AM
        To: Asha Gurung <asha@example.com>
        Subject: Re: [SB-1001] Plumber did not arrive

        When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_reply_written_right_above_the_rule_is_kept() -> None:
    text = body("""
        Tuesday at 9 works for me.
        ________________________________
        From: SewaBazaar Support <support@example.com>
        Sent: Tuesday, March 3, 2026 10:02 AM
        Subject: Re: [SB-1001] Plumber did not arrive
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_an_outlook_header_block_without_a_rule_starts_the_history() -> None:
    text = body("""
        Tuesday at 9 works for me.

        From: SewaBazaar Support <support@example.com>
        Sent: Tuesday, 3 March 2026 10:02
        To: Asha Gurung <asha@example.com>
        Cc: Bikash <bikash@example.com>
        Subject: RE: [SB-1001] Plumber did not arrive

        When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_bold_header_labels_as_gmail_renders_them_start_the_history() -> None:
    text = body("""
        Tuesday at 9 works for me.

        *From:* SewaBazaar Support <support@example.com>
        *Sent:* Tuesday, March 3, 2026 10:02 AM
        *To:* Asha Gurung <asha@example.com>
        *Subject:* Re: [SB-1001] Plumber did not arrive
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_an_original_message_separator_starts_the_history() -> None:
    text = body("""
        Tuesday at 9 works for me.

        -----Original Message-----
        From: SewaBazaar Support [mailto:support@example.com]
        Sent: Tuesday, March 03, 2026 10:02 AM
        To: Asha Gurung
        Subject: RE: [SB-1001] Plumber did not arrive
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_new_outlook_reply_from_a_phone_keeps_only_the_new_text() -> None:
    text = body("""
        Tuesday at 9 works for me.

        Get Outlook for iOS<https://aka.ms/o0ukef>
        ________________________________
        From: SewaBazaar Support <support@example.com>
        Sent: Tuesday, March 3, 2026 10:02:11 AM
        To: Asha Gurung <asha@example.com>
        Subject: Re: [SB-1001] Plumber did not arrive
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_header_block_that_starts_with_the_date_starts_the_history() -> None:
    text = body("""
        Tuesday at 9 works for me.

        Date: Tue, 3 Mar 2026 10:02:00 +0545
        From: support@example.com
        To: asha@example.com
        Subject: Re: [SB-1001] Plumber did not arrive

        When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_header_block_that_starts_with_the_subject_starts_the_history() -> None:
    text = body("""
        Tuesday at 9 works for me.

        Subject: Re: [SB-1001] Plumber did not arrive
        From: support@example.com
        Date: Tue, 3 Mar 2026 10:02:00 +0545

        When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_prose_that_starts_with_a_date_label_but_names_no_subject_is_kept() -> None:
    text = "Date: Tuesday the 3rd\nFrom: the airport, by taxi\nThe plumber can come after 5."
    assert visible_text(text) == text


def test_labelled_lines_of_the_reply_above_a_header_block_are_kept() -> None:
    text = body("""
        Tuesday works. Here are the details:
        Date: Tuesday 3 March, 9:00
        Address: 12 Lake Road

        ________________________________
        From: Support <support@example.com>
        Sent: Monday, 2 March 2026 10:00
        To: Asha
        Subject: Re: Booking

        Old text
    """)
    assert (
        visible_text(text) == "Tuesday works. Here are the details:\nDate: Tuesday 3 March, 9:00\nAddress: 12 Lake Road"
    )


def test_a_pasted_header_block_with_an_undated_date_line_keeps_the_text_under_it() -> None:
    text = body("""
        The mail you sent me looks wrong:

        Subject: Your invoice
        From: billing@example.com
        Date: 3 March 2026

        I never ordered anything, please cancel the charge of 200 EUR.
    """)
    assert visible_text(text) == text.rstrip("\n")


def test_a_header_block_introduced_by_a_line_ending_in_a_colon_is_pasted_not_history() -> None:
    text = body("""
        The mail you sent me looks wrong:

        Subject: Your invoice
        From: billing@example.com
        Date: Tue, 3 Mar 2026 10:02:00 +0545

        I never ordered anything, please cancel the charge of 200 EUR.
    """)
    assert visible_text(text) == text.rstrip("\n")


def test_a_booking_in_header_like_lines_without_an_address_is_kept() -> None:
    text = body("""
        Booking request
        Date: 3 March
        From: Kathmandu
        To: Pokhara
        Subject: family of four
        Please confirm by Friday.
    """).rstrip("\n")
    assert visible_text(text) == text


def test_a_subject_line_at_the_top_of_the_reply_is_kept_and_the_history_below_dropped() -> None:
    text = body("""
        Subject: new booking please
        I need a plumber on Friday.

        From: Support <support@example.com>
        Sent: Monday, 2 March 2026 10:00
        To: Asha
        Subject: Re: Booking

        Old text
    """)
    assert visible_text(text) == "Subject: new booking please\nI need a plumber on Friday."


def test_a_header_block_at_the_top_of_the_mail_does_not_hide_the_text_under_it() -> None:
    text = body("""
        Subject: new booking please
        From: Asha <asha@example.com>
        Date: Tue, 3 Mar 2026 10:02
        I need a plumber on Friday.

        From: Support <support@example.com>
        Sent: Monday, 2 March 2026 10:00
        To: Asha
        Subject: Re: Booking

        Old text
    """)
    assert visible_text(text) == (
        "Subject: new booking please\nFrom: Asha <asha@example.com>\nDate: Tue, 3 Mar 2026 10:02\n"
        "I need a plumber on Friday."
    )


def test_a_header_block_whose_to_list_wraps_onto_more_lines_starts_the_history() -> None:
    text = body("""
        Tuesday at 9 works for me.

        Date: Tue, 3 Mar 2026 10:02:00 +0545
        From: support@example.com
        To: Asha Gurung <asha@example.com>; Bikash Thapa <bikash@example.com>; Sita
        Shrestha <sita@example.com>
        Cc: Ram <ram@example.com>
        Subject: Re: [SB-1001] Plumber did not arrive

        When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_prose_that_mentions_from_and_to_is_not_a_header_block() -> None:
    text = body("""
        I need a mover.
        From: Kathmandu
        To: Pokhara
        Date: 5 March
        Thanks
    """)
    assert visible_text(text) == text.rstrip("\n")


def test_prose_in_from_to_date_subject_lines_naming_no_address_and_no_dated_time_is_kept() -> None:
    # Outlook names an address on its From line or dates the Sent line with the year and the time.
    text = body("""
        Hi, details below

        From: Kathmandu
        To: Pokhara
        Date: 3 March 10:00
        Subject: group booking for 5

        Please confirm.
    """)
    assert visible_text(text) == text.rstrip("\n")


def test_a_header_block_with_a_bare_name_on_its_from_line_and_a_dated_time_starts_the_history() -> None:
    text = body("""
        Tuesday at 9 works for me.

        From: SewaBazaar Support
        Sent: 03 March 2026 10:02
        To: Asha Gurung
        Subject: RE: [SB-1001] Plumber did not arrive

        When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


# Apple Mail and Thunderbird


def test_an_apple_mail_reply_drops_the_quote_and_the_iphone_footer() -> None:
    text = body("""
        Tuesday at 9 works for me.

        Sent from my iPhone

        On 3 Mar 2026, at 10:02, SewaBazaar Support <support@example.com> wrote:

        > When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_an_ios_reply_with_a_quoted_attribution_keeps_only_the_new_text() -> None:
    text = body("""
        Tuesday at 9 works for me.

        > On 3 Mar 2026, at 10:02, SewaBazaar Support <support@example.com> wrote:
        >
        > When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_thunderbird_reply_keeps_only_the_new_text() -> None:
    text = body("""
        Tuesday at 9 works for me.

        On 03/03/2026 10:02, SewaBazaar Support wrote:
        > When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_dated_attribution_followed_by_unquoted_history_starts_the_history() -> None:
    text = body("""
        Tuesday at 9 works for me.

        On Tuesday, March 3, 2026, 10:02 AM, SewaBazaar Support <support@example.com> wrote:

        When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_dated_wrote_line_naming_no_address_in_the_persons_text_is_kept() -> None:
    text = body("""
        Also, the second courier:
        On Monday, Dec 7, 2026 at 10:00 AM the courier wrote:
        "Address not found"
        which is also false. Please escalate.

        Ramesh
    """)
    assert visible_text(text) == text.rstrip("\n")


def test_an_undated_wrote_line_followed_by_prose_is_kept() -> None:
    text = body("""
        On the bill the plumber wrote:
        call-out fee 500
    """)
    assert visible_text(text) == text.rstrip("\n")


def test_an_undated_wrote_line_over_a_quote_is_dropped() -> None:
    text = body("""
        Tuesday at 9 works for me.

        SewaBazaar Support wrote:
        > When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


# Quotes and inline answers


def test_a_quoted_block_below_the_reply_is_dropped() -> None:
    assert visible_text("Yes, please.\n\n> Shall we send someone?\n> Support\n") == "Yes, please."


def test_a_nested_quote_is_dropped_whole() -> None:
    text = body("""
        Yes, please.

        > Shall we send someone?
        >
        >> On Mon, 2 Mar 2026 at 09:00, Asha <asha@example.com> wrote:
        >> The plumber did not come.
    """)
    assert visible_text(text) == "Yes, please."


def test_an_inline_reply_keeps_every_line_the_person_wrote() -> None:
    text = body("""
        On Tue, 3 Mar 2026 at 10:02, SewaBazaar Support <support@example.com> wrote:
        > When can the plumber come back?
        Tuesday at 9.

        > Is the address still 12 Lakeside Road?
        Yes, flat 4.

        > Regards, Support
    """)
    assert visible_text(text) == "Tuesday at 9.\n\nYes, flat 4."


def test_a_bottom_posted_reply_keeps_the_text_under_the_quote() -> None:
    text = body("""
        On 03/03/2026 10:02, SewaBazaar Support wrote:
        > When can the plumber come back?

        Tuesday at 9.
    """)
    assert visible_text(text) == "Tuesday at 9."


def test_removing_a_quote_between_paragraphs_leaves_one_blank_line() -> None:
    assert visible_text("First.\n\n> quoted\n\nSecond.") == "First.\n\nSecond."


def test_a_mail_that_is_only_a_quote_returns_the_quote() -> None:
    assert visible_text("> When can the plumber come back?\n> Support\n") == (
        "> When can the plumber come back?\n> Support"
    )


# Signatures and mobile footers


def test_a_signature_after_the_dash_dash_space_line_is_dropped() -> None:
    text = "Tuesday at 9 works for me.\n\n-- \nAsha Gurung\n+977 1 5550100\n"
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_dash_dash_line_whose_space_was_stripped_still_ends_the_text() -> None:
    assert visible_text("Tuesday at 9.\n--\nAsha") == "Tuesday at 9."


def test_a_typed_dash_dash_divider_over_a_list_keeps_the_list() -> None:
    text = "Items I need replaced:\n--\n1. Lid\n2. Gasket\nThat is all."
    assert visible_text(text) == text


def test_a_bare_dash_dash_over_sentences_keeps_the_sentences() -> None:
    text = "The plumber left.\n--\nThe tap still leaks under the sink\nand the floor is wet."
    assert visible_text(text) == text


def test_a_bare_dash_dash_over_a_name_title_phone_link_and_address_ends_the_text() -> None:
    text = body("""
        Tuesday at 9 works for me.
        --
        Asha Gurung
        Head of Accounts, Example Pvt. Ltd.
        +977 1 5550100
        https://example.com
        12 Lake Road, Lalitpur
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_bare_dash_dash_over_a_name_and_a_quote_ends_the_text() -> None:
    text = body("""
        Tuesday at 9 works for me.
        --
        Asha

        On Tue, 3 Mar 2026 at 10:02, SewaBazaar Support <support@example.com> wrote:
        > When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_the_dash_dash_space_separator_ends_the_text_whatever_follows() -> None:
    assert visible_text("Tuesday at 9.\n-- \n1. Asha Gurung\n2. Head of Accounts") == "Tuesday at 9."


def test_a_dash_dash_inside_a_line_is_text() -> None:
    assert visible_text("Tuesday -- or Wednesday -- at 9.") == "Tuesday -- or Wednesday -- at 9."


@pytest.mark.parametrize(
    "footer",
    [
        "Sent from my iPhone",
        "Sent from my Galaxy",
        "Sent from my Samsung Galaxy smartphone.",
        "Get Outlook for Android",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Sent from Yahoo Mail for iPhone",
        "Sent from Mail for Windows",
        "Sent from Mail<https://go.microsoft.com/fwlink/?LinkId=550986> for Windows",
        "Sent from Mail<https://go.microsoft.com/fwlink/?LinkId=550986> for Windows 10",
        "Sent from Yahoo Mail on Android",
        "Sent from Outlook",
        "Sent from Outlook for iOS",
        "Sent from my Surface",
        "Sent from my iPhone 13 mini",
        "Sent from my HUAWEI P30 lite",
        "Sent from my Motorola moto g(7)",
        "Sent from my Sprint Samsung Galaxy S® 5",
        "Sent from my iPhone using Tapatalk",
        "Sent from my Android phone using TouchDown (www.nitrodesk.com)",
        "Sent from my Windows Phone",
        "Sent from my BlackBerry 10 smartphone.",
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPhone",
        "Enviado desde mi iPhone",
        "मेरे iPhone से भेजा गया",
        "Sent from my Samsung Galaxy A52 5G phone",
        "Sent from Mailbox",
        "Sent from Windows Mail",
        "Sent with Airmail",
        "Envoyé depuis mon appareil Galaxy",
        "Diese Nachricht wurde von meinem Android-Gerät mit K-9 Mail gesendet.",
        "從我的 iPhone 傳送",
        "发自我的iPhone",
        "iPhoneから送信",
        "Sent with Proton Mail secure email.",
        "Sent with [Proton Mail](https://proton.me/) secure email.",
        "Sent with Proton Mail (https://proton.me/) secure email.",
        "Get Outlook for iOS (https://aka.ms/o0ukef)",
    ],
)
def test_a_mobile_footer_line_is_dropped(footer: str) -> None:
    assert visible_text(f"Tuesday at 9 works for me.\n\n{footer}\n") == "Tuesday at 9 works for me."


@pytest.mark.parametrize(
    "footer",
    [
        "Sent from my phone, please excuse the brevity.",
        "Sent from my Android device with K-9 Mail. Please excuse my brevity.",
    ],
)
def test_a_mobile_footer_that_asks_to_excuse_brevity_or_typos_is_dropped(footer: str) -> None:
    assert visible_text(f"Tuesday at 9 works for me.\n\n{footer}\n") == "Tuesday at 9 works for me."


def test_a_sentence_from_a_phone_that_asks_for_something_else_is_kept() -> None:
    text = "Sent from my phone, please call me back."
    assert visible_text(text) == text


@pytest.mark.parametrize(
    "footer",
    [
        "Sent from my iPhone. Please excuse typos.",
        "Sent from my phone, please excuse any spelling mistakes.",
        "Sent from my Android phone - please excuse my brevity and any typos.",
    ],
)
def test_a_mobile_footer_with_a_short_apology_in_other_words_is_dropped(footer: str) -> None:
    assert visible_text(f"Tuesday at 9 works for me.\n\n{footer}\n") == "Tuesday at 9 works for me."


def test_a_sentence_after_please_excuse_in_a_footer_line_is_kept() -> None:
    text = "Refund please.\n\nSent from my phone. Please excuse me for writing late, the plumber broke the sink."
    assert visible_text(text) == text


def test_a_footer_line_that_asks_to_excuse_something_besides_brevity_is_kept() -> None:
    text = "Refund please.\n\nSent from my phone, please excuse the delay, the plumber never came and we need a refund."
    assert visible_text(text) == text


def test_a_five_word_sentence_from_my_account_that_names_no_device_is_kept() -> None:
    text = "I paid the deposit.\nSent from my PayPal account on 3 March."
    assert visible_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "I paid the invoice yesterday.\nSent from my bank account.\nPlease check.",
        "I paid the deposit.\nSent from my PayPal account.",
    ],
)
def test_a_short_sentence_from_my_account_that_names_no_device_is_kept(text: str) -> None:
    assert visible_text(text) == text


@pytest.mark.parametrize(
    "sentence",
    [
        "Sent from my mobile banking app.",
        "Sent from my Outlook account to yours.",
        "Sent from my phone number 9841234567.",
        "Sent from my mail account at work.",
    ],
)
def test_a_sentence_that_goes_on_after_naming_a_device_is_kept(sentence: str) -> None:
    text = f"I paid twice.\n{sentence}\nPlease refund one."
    assert visible_text(text) == text


def test_a_names_only_to_list_wrapped_inside_a_name_stays_in_the_header_block() -> None:
    # Outlook wraps plain text at 76 characters, in the middle of "Fatima Khan" here.
    text = body("""
        Thanks, see below.

        From: Ana Lopez
        Sent: Tuesday, March 3, 2026 10:02 AM
        To: Asha Gurung; Bikash Rai; Chandra Shrestha; Dev Gurung; Ekta Thapa; Fatima
        Khan
        Subject: Booking

        Book 5 seats please.
    """)
    assert visible_text(text) == "Thanks, see below."


def test_a_booking_written_between_header_like_lines_is_kept() -> None:
    text = body("""
        Hi, details below

        From: Kathmandu airport
        To: Pokhara
        Please book 5 seats
        for the whole team
        Date: 3/3/2026 10:00
        Subject: urgent

        Thanks
    """)
    assert visible_text(text) == text.strip()


@pytest.mark.parametrize(
    "sentence",
    [
        "Sent from Outlook on my laptop, but it bounced back twice.",
        "Sent from Mail app but the attachment is missing.",
        "Get Outlook for my team, we need five licences.",
        "Sent with Spark but the PDF did not attach.",
        "Sent with Proton Mail secure email, but the PDF did not attach.",
    ],
)
def test_a_sentence_that_goes_on_after_sent_from_outlook_or_mail_is_kept(sentence: str) -> None:
    text = f"I wrote to you on Monday.\n{sentence}"
    assert visible_text(text) == text


@pytest.mark.parametrize(
    "footer",
    ["发自我的华为手机", "发自我的 iPad", "发自我的小米手机", "从我的 iPhone 发送"],
)
def test_a_chinese_mobile_footer_naming_the_device_is_dropped(footer: str) -> None:
    assert visible_text(f"星期二上午九点可以。\n\n{footer}\n") == "星期二上午九点可以。"


@pytest.mark.parametrize("sentence", ["发自我的内心感谢你们每一位", "从我的银行账户发送"])
def test_a_chinese_sentence_that_starts_like_a_footer_is_kept(sentence: str) -> None:
    text = f"请退款。\n{sentence}"
    assert visible_text(text) == text


def test_a_sentence_that_starts_like_a_footer_is_kept() -> None:
    text = "Sent from my office because the phone line at home is down since the storm."
    assert visible_text(text) == text


# Languages


def test_a_german_gmail_reply_keeps_only_the_new_text() -> None:
    text = body("""
        Dienstag um 9 passt.

        Am Di., 3. März 2026 um 10:02 Uhr schrieb SewaBazaar Support <
        support@example.com>:

        > Wann kann der Klempner wiederkommen?
    """)
    assert visible_text(text) == "Dienstag um 9 passt."


def test_a_german_gmail_app_attribution_with_schrieb_am_is_recognised() -> None:
    text = body("""
        Dienstag um 9 passt.

        SewaBazaar Support <support@example.com> schrieb am Di., 3. März 2026, 10:02:

        > Wann kann der Klempner wiederkommen?
    """)
    assert visible_text(text) == "Dienstag um 9 passt."


def test_a_german_thunderbird_reply_keeps_only_the_new_text() -> None:
    text = "Dienstag um 9 passt.\n\nAm 03.03.2026 um 10:02 schrieb SewaBazaar Support:\n> Wann?\n"
    assert visible_text(text) == "Dienstag um 9 passt."


def test_a_german_original_message_separator_starts_the_history() -> None:
    text = body("""
        Dienstag um 9 passt.

        -----Ursprüngliche Nachricht-----
        Von: SewaBazaar Support <support@example.com>
        Gesendet: Dienstag, 3. März 2026 10:02
        An: Asha Gurung <asha@example.com>
        Betreff: AW: [SB-1001] Plumber did not arrive
    """)
    assert visible_text(text) == "Dienstag um 9 passt."


def test_a_gmx_original_nachricht_separator_starts_the_history() -> None:
    # GMX and web.de webmail: five dashes before, four after.
    text = body("""
        Dienstag um 9 passt.

        ----- Original Nachricht ----
        Von:     support@example.com
        An:      asha@example.com
        Datum:   03.03.2026 10:02
        Betreff: Plumber did not arrive
    """)
    assert visible_text(text) == "Dienstag um 9 passt."


def test_a_german_outlook_header_block_starts_the_history() -> None:
    text = body("""
        Dienstag um 9 passt.

        ________________________________
        Von: SewaBazaar Support <support@example.com>
        Gesendet: Dienstag, 3. März 2026 10:02
        An: Asha Gurung <asha@example.com>
        Betreff: AW: [SB-1001] Plumber did not arrive
    """)
    assert visible_text(text) == "Dienstag um 9 passt."


def test_a_french_gmail_reply_keeps_only_the_new_text() -> None:
    attribution = "Le mar. 3 mars 2026 à 10:02, SewaBazaar Support <support@example.com> a écrit\u202f:"
    text = f"Mardi à 9 h me convient.\n\n{attribution}\n\n> Quand le plombier peut-il revenir ?\n"
    assert visible_text(text) == "Mardi à 9 h me convient."


def test_a_french_outlook_header_block_starts_the_history() -> None:
    text = body("""
        Mardi à 9 h me convient.

        ________________________________
        De : SewaBazaar Support <support@example.com>
        Envoyé : mardi 3 mars 2026 10:02
        À : Asha Gurung <asha@example.com>
        Objet : RE: [SB-1001] Plumber did not arrive
    """)
    assert visible_text(text) == "Mardi à 9 h me convient."


def test_a_spanish_gmail_reply_keeps_only_the_new_text() -> None:
    text = body("""
        El martes a las 9 me viene bien.

        El mar, 3 mar 2026 a las 10:02, SewaBazaar Support (<support@example.com>)
        escribió:

        > ¿Cuándo puede volver el fontanero?
    """)
    assert visible_text(text) == "El martes a las 9 me viene bien."


def test_a_spanish_outlook_header_block_starts_the_history() -> None:
    text = body("""
        El martes a las 9 me viene bien.

        ________________________________
        De: SewaBazaar Support <support@example.com>
        Enviado: martes, 3 de marzo de 2026 10:02
        Para: Asha Gurung <asha@example.com>
        Asunto: RE: [SB-1001] Plumber did not arrive
    """)
    assert visible_text(text) == "El martes a las 9 me viene bien."


def test_an_older_spanish_outlook_header_block_with_enviado_el_starts_the_history() -> None:
    text = body("""
        El martes a las 9 me viene bien.

        De: SewaBazaar Support [mailto:support@example.com]
        Enviado el: martes, 3 de marzo de 2026 10:02 a.m.
        Para: Asha Gurung
        Asunto: RE: [SB-1001] Plumber did not arrive

        ¿Cuándo puede volver el fontanero?
    """)
    assert visible_text(text) == "El martes a las 9 me viene bien."


def test_a_hindi_gmail_reply_keeps_only_the_new_text() -> None:
    text = body("""
        मंगलवार सुबह 9 बजे ठीक है।

        मंगल, 3 मार्च 2026, 10:02 am को SewaBazaar Support <support@example.com> ने लिखा:

        > प्लंबर कब दोबारा आ सकता है?
    """)
    assert visible_text(text) == "मंगलवार सुबह 9 बजे ठीक है।"


def test_a_nepali_gmail_reply_keeps_only_the_new_text() -> None:
    text = body("""
        मंगलबार बिहान ९ बजे ठीक छ।

        मङ्गल, मार्च ३, २०२६ १०:०२ पूर्वाह्नमा SewaBazaar Support <support@example.com>
        ले लेख्नुभयो:

        > प्लम्बर फेरि कहिले आउन सक्छ?
    """)
    assert visible_text(text) == "मंगलबार बिहान ९ बजे ठीक छ।"


def test_a_nepali_sentence_ending_in_lekhnubhayo_is_kept() -> None:
    text = "तपाईंले ठेगाना गलत लेख्नुभयो।\nकृपया फेरि पठाउनुहोस्।"
    assert visible_text(text) == text


@pytest.mark.parametrize(
    "attribution",
    [
        "W dniu 7.12.2026 o 05:48, SewaBazaar Support <support@example.com> pisze:",
        "W dniu 7.12.2026 o 05:48, SewaBazaar Support pisze:",
        "pon., 7 gru 2026 o 05:48 SewaBazaar Support napisał(a):",
        "Dne 7. 12. 2026 v 5:48 SewaBazaar Support napsal(a):",
        "2026. 12. 07. 5:48 keltezéssel, SewaBazaar Support írta:",
        "Den 07-12-2026 kl. 05:48 skrev SewaBazaar Support:",
        "SewaBazaar Support kirjoitti 7.12.2026 klo 5.48:",
        "SewaBazaar Support <support@example.com> ezt írta (időpont: 2026. dec. 7., H, 5:48):",
        "Den man. 7. dec. 2026 kl. 05.48 skrev SewaBazaar Support <support@example.com>:",
        "ma 7.12.2026 klo 5.48 SewaBazaar Support (support@example.com) kirjoitti:",
        "SewaBazaar Support skrev:",
        "Am 07.12.26 um 05:48 schrieb asha:",
        "Am 07.12.2026 um 05:48 schrieb María José García López de la Vega <support@example.com>:",
        "SewaBazaar Support <support@example.com> skrev den 7. dec. 2026 kl. 05.48:",
        "SewaBazaar Support <support@example.com> kirjoitti ma 7.12.2026 klo 5.48:",
        "SewaBazaar Support kirjoitti 2026-12-07 05:48:",
    ],
    ids=[
        "polish-address",
        "polish-thunderbird",
        "polish-gmail",
        "czech",
        "hungarian",
        "danish-norwegian",
        "finnish",
        "hungarian-gmail",
        "danish-gmail",
        "finnish-gmail",
        "danish-thunderbird-plain",
        "german-lowercase-name",
        "german-long-name",
        "danish-name-first",
        "finnish-weekday",
        "finnish-iso-date",
    ],
)
def test_an_attribution_in_a_central_or_northern_european_language_is_dropped_over_a_quote(attribution: str) -> None:
    text = f"Tuesday at 9 works.\n\n{attribution}\n> When can the plumber come back?\n> SewaBazaar Support\n"
    assert visible_text(text) == "Tuesday at 9 works."


@pytest.mark.parametrize(
    "text",
    [
        "Hej,\nJeg skrev til support@sewabazaar.dk kl. 10.30 i går om følgende:\nKøleskabet virker ikke.\nAsha",
        "Hei,\nkuten teknikko kirjoitti ohjeissa info@sewa.fi:\nJääkaappi ei toimi.\nTerveisin Asha",
        "Hallo,\nich schrieb Ihnen am 3. März um 10:30 an info@example.de folgendes:\nDer Kühlschrank geht nicht.",
        "Hej,\nSom jeg skrev til jer kl. 10.30:\nKøleskabet virker ikke.",
        "Hallo,\nwie ich Ihnen am Montag um 10:30 an info@sewabazaar.de schrieb:\ndie Lieferung fehlt.",
        "Hallo,\nich (asha@example.com) schrieb Ihnen heute um 10.30:\ndie Lieferung fehlt.",
        "Szia,\nahogy a kollégája (info@sewabazaar.hu) 10:30-kor írta:\na hűtő nem működik.",
        "Hei,\nkuten asiakaspalvelunne (info@sewabazaar.fi) kirjoitti 3.3.2026 klo 10.30:\nJääkaappi ei toimi.",
    ],
    ids=[
        "danish",
        "finnish",
        "german",
        "danish-no-address",
        "german-verb-last",
        "german-parenthesis",
        "hungarian",
        "finnish-date",
    ],
)
def test_a_sentence_of_the_person_s_with_the_verb_of_an_attribution_is_kept(text: str) -> None:
    """Only a sender may follow the verb of an attribution; a sentence goes on in words of its own."""
    assert visible_text(text) == text


# Any other language: a dated line naming an address and ending in a colon


def test_a_wrapped_attribution_in_a_language_without_its_verb_here_is_dropped_over_a_quote() -> None:
    text = body("""
        Во вторник в 9 удобно.

        03.03.2026 10:02 пользователь "SewaBazaar Support" <
        support@example.com> написал:

        > Когда сантехник может прийти снова?
    """)  # noqa: RUF001 (Russian letters)
    assert visible_text(text) == "Во вторник в 9 удобно."  # noqa: RUF001


def test_an_attribution_ending_in_a_full_width_colon_is_dropped_over_a_quote() -> None:
    text = body("""
        火曜日の9時で大丈夫です。

        2026年3月3日(火) 10:02 SewaBazaar Support <support@example.com>\uff1a

        > 配管工はいつ来られますか。
    """)
    assert visible_text(text) == "火曜日の9時で大丈夫です。"


def test_a_dated_attribution_left_last_when_html_lost_its_quote_is_dropped() -> None:
    # The quote was a <blockquote>, which html_to_text leaves out: the attribution ends the text.
    text = 'Tuesday at 9 works.\n\n03.03.2026, 10:02, "SewaBazaar Support" <support@example.com>:\n'
    assert visible_text(text) == "Tuesday at 9 works."


def test_an_older_gmail_attribution_of_a_bare_date_and_sender_over_a_quote_is_dropped() -> None:
    text = body("""
        Tuesday at 9 works for me.


        2026/3/3 SewaBazaar Support <support@example.com>

        > When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_a_line_of_a_date_and_an_address_with_no_quote_under_it_is_kept() -> None:
    text = "Booked as follows:\n2026/3/3 Bikash <bikash@example.com>\nHe brings the washer."
    assert visible_text(text) == text


def test_a_line_of_a_date_and_an_address_over_a_quote_answered_under_it_is_kept() -> None:
    text = (
        "See my answers below.\n2026-03-03 Booked with Bikash <bikash@example.com>\n> Who is coming?\nBikash is coming."
    )
    assert visible_text(text) == (
        "See my answers below.\n2026-03-03 Booked with Bikash <bikash@example.com>\nBikash is coming."
    )


def test_an_older_gmail_date_line_over_a_quote_is_dropped_when_a_signature_ends_the_mail() -> None:
    text = "Fine.\n\n2012/3/3 Bikash <bikash@example.com>\n\n> Who is coming?\n\n-- \nAna"
    assert visible_text(text) == "Fine."


def test_an_older_gmail_date_line_over_a_quote_is_dropped_when_a_mobile_footer_ends_the_mail() -> None:
    text = "Fine.\n\n2012/3/3 Bikash <bikash@example.com>\n\n> Who is coming?\n\nSent from my iPhone"
    assert visible_text(text) == "Fine."


def test_an_undated_line_naming_an_address_over_a_quote_is_kept() -> None:
    text = "Please write to asha@example.com:\n> the old address bounced\n"
    assert visible_text(text) == "Please write to asha@example.com:"


# Normalising


def test_a_mail_without_quotes_loses_nothing() -> None:
    text = "Hello,\n\nThe plumber did not come.\n  - kitchen tap\n  - bathroom\n\nAsha"
    assert visible_text(text) == text


def test_crlf_and_cr_line_endings_are_normalised() -> None:
    assert visible_text("One.\r\nTwo.\rThree.\r\n") == "One.\nTwo.\nThree."


def test_trailing_whitespace_and_blank_lines_at_the_ends_are_trimmed() -> None:
    assert visible_text("\n\n  Indented first line.  \nSecond.\t\n\n\n") == "  Indented first line.\nSecond."


def test_inner_paragraphs_are_kept() -> None:
    assert visible_text("First.\n\n\nSecond.") == "First.\n\n\nSecond."


def test_a_long_run_of_blank_or_invisible_lines_is_cut_to_two_blank_lines() -> None:
    gap = "\n" * 30 + "\u200b\n" + "\u00a0 \n" + "\n" * 30  # a webmailer's empty <div>s, made text
    assert visible_text("Greetings!" + gap + "Thank you.") == "Greetings!\n\n\nThank you."


def test_an_empty_body_stays_empty() -> None:
    assert visible_text("") == ""


def test_a_reply_line_right_above_an_attribution_is_kept() -> None:
    text = "Thanks!\nOn Tue, 3 Mar 2026 at 10:02, SewaBazaar Support <support@example.com> wrote:\n> Hello\n"
    assert visible_text(text) == "Thanks!"


def test_a_foxmail_original_marker_starts_the_history() -> None:
    text = "星期二上午九点可以。\n\n------------------ 原始邮件 ------------------\n发件人: support@example.com\n"
    assert visible_text(text) == "星期二上午九点可以。"


# Hostile input: must finish and not raise (timings are the benchmark's business, not asserted here).


def test_two_megabytes_of_random_text_do_not_raise() -> None:
    rng = random.Random(1001)
    alphabet = "ab :>-_@\n\t0123456789wroteOnAmschriebFromSentSubject"
    text = "".join(rng.choice(alphabet) for _ in range(2_000_000))
    assert isinstance(visible_text(text), str)


def test_a_hundred_thousand_quote_lines_do_not_raise() -> None:
    assert visible_text(">\n" * 100_000).startswith(">")


def test_long_lines_that_almost_look_like_markers_do_not_raise() -> None:
    lines = [
        "On " + "10:02 " * 50_000 + "wrote",
        "Am " + "schrieb " * 50_000 + ":",
        " " + "a écrit " * 50_000,
        "From: " + ":" * 100_000,
        "Sent from my" + " x" * 100_000,
        "-" * 100_000 + "Original Message",
        "_" * 100_000 + "x",
    ]
    assert isinstance(visible_text("\n".join(lines)), str)


def test_many_short_almost_attributions_do_not_raise() -> None:
    text = "On 10:02 @ schrieb a écrit ने लिखा wrote x:\n" * 50_000
    assert isinstance(visible_text(text), str)


@given(st.text())
def test_any_text_gives_text_without_carriage_returns(text: str) -> None:
    result = visible_text(text)
    assert isinstance(result, str)
    assert "\r" not in result


# Real raw mails (tests/mail/README.md says what each imitates).

# Labels that clients put on text written in a wider charset, and the missing label: stdlib decodes
# the label strictly (U+FFFD), the parsing stage decodes the wider charset; these tests do the same.
WIDER_CHARSET = {"gb2312": "gb18030", "ks_c_5601-1987": "cp949", None: "cp1252"}

REPLIES = {
    "gmail_reply.eml": "Tuesday at 9 works for me. Please ask him to ring twice, the doorbell is\nweak.\n\nAsha",
    "outlook_reply.eml": "Tuesday at 9 works for me. The gate code is 4471.\n\nKind regards,\nAsha Gurung",
    "outlook_original_message.eml": (
        "Tuesday at 9 works for me. I will be at home from 8.\n\nBikash Thapa\nFlat 4, 12 Lakeside Road"
    ),
    "apple_mail_reply.eml": "Tuesday at 9 works for me. I\u2019ll leave the side gate open.",
    # format=flowed is not unwrapped by stdlib: the soft break stays a line break here.
    "thunderbird_reply.eml": (
        "Tuesday at 9 works for me. The plumber should use the side entrance, the\nfront gate is locked during the day."
    ),
    "inline_image.eml": "Here is a photo of the leak under the kitchen sink.\n\nRegards,\nAsha",
    "non_utf8_iso2022jp.eml": "火曜日の9時で大丈夫です。\n門は開けておきます。",
    "non_utf8_gb2312.eml": "星期二上午九点可以。我叫王镕，我会在家。",  # noqa: RUF001 (Chinese punctuation)
    "latin1_no_charset.eml": "Dienstag um 9 Uhr passt. Bitte zweimal läuten.\n\nGrüße\nAsha",
    "ks_c_5601.eml": "화요일 오전 9시 괜찮습니다. 똠얌꿍 식당 옆 건물 4층입니다.",
    "german_reply.eml": (
        "Dienstag um 9 Uhr passt mir. Bitte zweimal klingeln, die Klingel ist leise.\n\nViele Grüße\nAsha"
    ),
    "french_reply.eml": (
        "Mardi à 9 h me convient. Merci de sonner deux fois, la sonnette est faible.\n\nCordialement,\nAsha"
    ),
    "spanish_reply.eml": (
        "El martes a las 9 me viene bien. Por favor, que llame dos veces al timbre.\n\nSaludos,\nAsha"
    ),
    "hindi_reply.eml": "मंगलवार सुबह 9 बजे ठीक है। कृपया दो बार घंटी बजाएँ।\n\nधन्यवाद,\nआशा",
    "nepali_reply.eml": "मंगलबार बिहान ९ बजे ठीक छ। कृपया दुई पटक घण्टी बजाउनुहोस्।\n\nधन्यवाद,\nविकास",
    "winmail_dat.eml": "Here is the invoice from the first visit, as you asked.\n\nAsha",
}
NOT_A_PERSONS_REPLY = {"html_only.eml", "dsn_bounce.eml", "exchange_auto_reply.eml"}


def plain_body(name: str) -> str:
    message = email.message_from_bytes((MAIL_DIR / name).read_bytes(), policy=email.policy.default)
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, email.message.EmailMessage)
    charset = part.get_content_charset()
    if charset in WIDER_CHARSET:
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode(WIDER_CHARSET[charset])
    text = part.get_content()
    assert isinstance(text, str)
    return text


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_a_real_reply_keeps_only_what_the_person_wrote(name: str) -> None:
    assert visible_text(plain_body(name)) == REPLIES[name]


def test_every_raw_mail_is_tested_here_and_listed_in_the_readme() -> None:
    names = {path.name for path in MAIL_DIR.glob("*.eml")}
    readme = (MAIL_DIR / "README.md").read_text(encoding="utf-8")
    assert names == set(REPLIES) | NOT_A_PERSONS_REPLY
    assert [name for name in sorted(names) if f"`{name}`" not in readme] == []


# Outlook in the other languages a marketplace meets: the header block and the separator


@pytest.mark.parametrize(
    "block",
    [
        "Van: SewaBazaar Support <support@example.com>\nVerzonden: dinsdag 3 maart 2026 10:02\n"
        "Aan: Asha\nOnderwerp: RE: [SB-1001] Loodgieter",
        "Da: SewaBazaar Support <support@example.com>\nInviato: martedì 3 marzo 2026 10:02\n"
        "A: Asha\nOggetto: R: [SB-1001] Idraulico",
        "De: SewaBazaar Support <support@example.com>\nEnviado: terça-feira, 3 de março de 2026 10:02\n"
        "Para: Asha\nAssunto: RE: [SB-1001] Encanador",
        "От: SewaBazaar Support <support@example.com>\nОтправлено: 3 марта 2026 г. 10:02\n"  # noqa: RUF001
        "Кому: Asha\nТема: RE: [SB-1001] Сантехник",  # noqa: RUF001
        "Od: SewaBazaar Support <support@example.com>\nWysłano: wtorek, 3 marca 2026 10:02\n"
        "Do: Asha\nTemat: RE: [SB-1001] Hydraulik",
        "Från: SewaBazaar Support <support@example.com>\nSkickat: den 3 mars 2026 10:02\n"
        "Till: Asha\nÄmne: SV: [SB-1001] Rörmokare",
        "发件人: SewaBazaar Support <support@example.com>\n发送时间: 2026年3月3日 10:02\n"
        "收件人: Asha\n主题: 回复: [SB-1001] 水管工",
        "差出人\uff1a SewaBazaar Support <support@example.com>\n送信日時\uff1a 2026年3月3日 10:02\n"
        "宛先\uff1a Asha\n件名\uff1a RE: [SB-1001] 配管工",
        "प्रेषक: SewaBazaar Support <support@example.com>\nभेजा गया: मंगलवार, 3 मार्च 2026 10:02\n"
        "प्रति: Asha\nविषय: RE: [SB-1001] प्लंबर",
    ],
    ids=["dutch", "italian", "portuguese", "russian", "polish", "swedish", "chinese", "japanese", "hindi"],
)
def test_an_outlook_header_block_in_another_language_starts_the_history(block: str) -> None:
    text = f"Tuesday at 9 works.\n\n________________________________\n{block}\n\nWhen can the plumber come?\n"
    assert visible_text(text) == "Tuesday at 9 works."


@pytest.mark.parametrize(
    "separator",
    [
        "-----Oorspronkelijk bericht-----",
        "-----Messaggio originale-----",
        "-----Mensagem original-----",
        "-----Исходное сообщение-----",
        "-----Oryginalna wiadomość-----",
        "-----Ursprungligt meddelande-----",
    ],
)
def test_an_original_message_separator_in_another_language_starts_the_history(separator: str) -> None:
    text = f"Tuesday at 9 works.\n\n{separator}\nFrom: support@example.com\nWhen can the plumber come?\n"
    assert visible_text(text) == "Tuesday at 9 works."


def test_a_brazilian_outlook_header_block_with_enviada_em_starts_the_history() -> None:
    text = body("""
        Terça às 9 está ótimo.

        De: SewaBazaar Support <support@example.com>
        Enviada em: terça-feira, 3 de março de 2026 10:02
        Para: Asha Gurung <asha@example.com>
        Assunto: RE: [SB-1001] Encanador

        Quando o encanador pode voltar?
    """)
    assert visible_text(text) == "Terça às 9 está ótimo."


def test_a_traditional_chinese_outlook_header_block_starts_the_history() -> None:
    text = body("""
        星期二上午九點可以。

        寄件者: SewaBazaar Support <support@example.com>
        傳送時間: 2026年3月3日 上午 10:02
        收件者: Asha
        主旨: 回覆: [SB-1001] 水管工

        水管工什麼時候可以再來？
    """)  # noqa: RUF001 (Chinese punctuation)
    assert visible_text(text) == "星期二上午九點可以。"


def test_a_traditional_chinese_header_block_dated_by_its_sent_date_label_starts_the_history() -> None:
    # Outlook in zh-TW labels the date 寄件日期 ("date sent") as well as 傳送時間 ("time sent").
    text = body("""
        星期二上午九點可以。

        寄件者: SewaBazaar Support <support@example.com>
        寄件日期: 2026年3月3日 上午 10:02
        收件者: Asha
        主旨: 回覆: [SB-1001] 水管工
    """)
    assert visible_text(text) == "星期二上午九點可以。"


def test_a_turkish_outlook_header_block_with_a_cc_line_starts_the_history() -> None:
    text = body("""
        Salı saat 9 uygun.

        Kimden: SewaBazaar Support <support@example.com>
        Gönderildi: 3 Mart 2026 Salı 10:02
        Kime: Asha
        Bilgi: Bikash
        Konu: YNT: [SB-1001] Tesisatçı
    """)  # noqa: RUF001 (Turkish dotless i)
    assert visible_text(text) == "Salı saat 9 uygun."  # noqa: RUF001


def test_a_names_only_to_list_whose_last_line_has_no_separator_stays_in_the_header_block() -> None:
    # Exchange writes display names only, joined by "; ", and wraps the list: its last line is a bare name.
    text = body("""
        Tuesday at 9 works for me.

        From: Sita Gurung
        Sent: Tuesday, March 3, 2026 10:02 AM
        To: Ana Lopez; Bikash Rai; Dipesh Shrestha;
        Ekta Thapa
        Subject: Plumber visit

        When can the plumber come back?
    """)
    assert visible_text(text) == "Tuesday at 9 works for me."


def test_italian_prose_that_starts_with_da_is_kept() -> None:
    text = "Da: Kathmandu\nA: Pokhara\nData: domani\nIl volo è in ritardo."
    assert visible_text(text) == text


def test_outlook_s_inline_picture_placeholder_becomes_a_short_image_marker() -> None:
    text = "The crack is here:\n[cid:image002.png@01DA3B2C.5E6F7A80]\nPlease send someone."
    assert visible_text(text) == "The crack is here:\n[image: image002.png]\nPlease send someone."


def test_a_bracketed_word_that_is_not_a_content_id_is_kept() -> None:
    assert visible_text("See [cid: not an id] and [cid:x y@z]") == "See [cid: not an id] and [cid:x y@z]"
