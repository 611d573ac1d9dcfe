"""The thread block every notification shows: the carried message in full, the one before quoted."""

from __future__ import annotations

from datetime import UTC, datetime

from mailgateway.outbound_reads import Entry
from mailgateway.quoted_thread import thread_html, thread_text

AT = datetime(2026, 12, 2, 9, 15, tzinfo=UTC)


def entry(text: str, author: str = "Asha Rai", *, is_internal: bool = False) -> Entry:
    return Entry(pk=1, message_id="<1@example.com>", text=text, author=author, created_at=AT, is_internal=is_internal)


def test_the_carried_message_comes_in_full_under_its_author_and_date():
    text = thread_text(entry("The cleaner did not come.\n\nPlease call."), None)
    assert text.startswith("Asha Rai wrote on 2 Dec 2026, ")
    assert "\n\nThe cleaner did not come.\n\nPlease call.\n" in text


def test_the_message_before_it_is_quoted_line_by_line_under_an_attribution():
    text = thread_text(entry("Sorry about that."), entry("First line\n\nThird line", "Sita"))
    assert "\nOn 2 Dec 2026, " in text
    assert ", Sita wrote:\n> First line\n>\n> Third line\n" in text


def test_an_internal_note_says_so_in_text_and_html():
    note = entry("The cleaner is sick.", "Sita", is_internal=True)
    assert thread_text(note, None).startswith("Sita wrote (internal note) on ")
    assert "<strong>Sita</strong> wrote <em>(internal note)</em> on " in thread_html(note, None)
    assert "Sita wrote (internal note):" in thread_html(entry("Reply."), note)


def test_html_escapes_what_people_wrote_and_their_names():
    html = thread_html(entry("<script>alert(1)</script> & more", "<b>Mallory</b>"), entry("<img src=x>", "O'Brien"))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in html and "O&#x27;Brien" in html and "&lt;img src=x&gt;" in html


def test_the_html_quotes_the_previous_message_in_a_blockquote_and_keeps_line_breaks():
    html = thread_html(entry("Reply."), entry("Line one\nLine two"))
    assert (
        '<div dir="auto" style="white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word">Reply.</div>' in html
    )
    # <br>: Outlook for Windows does not keep line breaks for white-space:pre-wrap
    assert html.count("<blockquote") == 1 and ">Line one<br>Line two</blockquote>" in html


def test_a_mail_that_carries_no_message_shows_only_the_one_before():
    previous = entry("Earlier words.")
    assert thread_text(None, previous).strip().startswith("On 2 Dec 2026, ")
    assert "<strong>" not in thread_html(None, previous) and "Earlier words." in thread_html(None, previous)


def test_no_messages_make_an_empty_block():
    assert thread_text(None, None).strip() == "" and thread_html(None, None).strip() == ""


def test_the_block_is_exactly_what_mail_clients_are_shown():
    reply, asked = entry("Sorry <3", "Sita"), entry("Where is\nthe cleaner?", is_internal=True)
    assert thread_text(reply, asked) == (
        "Sita wrote on 2 Dec 2026, 09:15:\n\nSorry <3\n\nOn 2 Dec 2026, 09:15, Asha Rai wrote (internal note):\n"
        "> Where is\n> the cleaner?\n\n"
    )
    assert thread_html(reply, asked) == (
        "<p><strong>Sita</strong> wrote on 2 Dec 2026, 09:15:</p>\n"
        '<div dir="auto" style="white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word">Sorry &lt;3</div>\n'
        '<p style="color:#666">On 2 Dec 2026, 09:15, Asha Rai wrote (internal note):</p>\n'
        '<blockquote dir="auto" style="margin:0 0 0 .8ex;border-left:2px solid #ccc;padding-left:1ex;color:#666;'
        'white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word">Where is<br>the cleaner?</blockquote>\n'
    )


def test_every_kind_of_line_break_is_a_line_break_in_the_html():
    assert ">One<br>two<br>three</div>" in thread_html(entry("One\r\ntwo\rthree"), None)
