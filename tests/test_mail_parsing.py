"""Reading raw mail: charsets that lie, encoded headers, inline images, winmail.dat, reports."""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import quopri
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from mailgateway.addresses import parse_address_list
from mailgateway.parsing import decode_text, message_ids, parse_email
from tests.builders import PDF_HEAD, PNG_1PX
from tests.mailbuilder import build_mail, tnef_with_file


def raw_text_mail(body: bytes, content_type: str, *, subject: str = "Hello", encoding: str = "8bit") -> bytes:
    head = (
        f"From: Asha <asha@example.com>\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <p1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n"
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    return head.encode("ascii") + body


def test_8bit_headers_not_in_utf8_are_read_in_the_charset_of_the_body():
    head = "From: Иван Петров <ivan@example.ru>\r\nTo: support@example.com\r\nSubject: Привет, нужна помощь\r\n"
    body = "Content-Type: text/plain; charset=windows-1251\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    mail = parse_email((head + body + "Добрый день").encode("cp1251"))
    assert (mail.from_name, mail.subject) == ("Иван Петров", "Привет, нужна помощь")
    assert mail.text.strip() == "Добрый день"
    utf8_head = "From: Håvard <hw@example.no>\r\nTo: support@example.com\r\nSubject: Grüße\r\n"  # RFC 6532
    latin1_body = b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n" + "Grüße".encode("latin-1")
    mail = parse_email(utf8_head.encode() + latin1_body)
    assert (mail.from_name, mail.subject) == ("Håvard", "Grüße")


@pytest.mark.parametrize("body_charset", ["utf-16", "cp500"])
def test_8bit_headers_are_not_read_in_a_body_charset_that_does_not_keep_ascii(body_charset):
    head = "From: José Gurung <jose@example.com>\r\nTo: support@example.com\r\nSubject: Olá\r\n".encode("latin-1")
    body = f"Content-Type: text/plain; charset={body_charset}\r\n\r\n".encode() + "Hi".encode(body_charset)
    mail = parse_email(head + body)
    assert (mail.from_name, mail.from_address, mail.subject) == ("José Gurung", "jose@example.com", "Olá")


@pytest.mark.parametrize("body_charset", ["windows-1251", "gb2312", "iso-2022-jp"])
def test_a_latin1_header_in_a_mail_whose_body_is_cyrillic_or_cjk_is_read_as_latin1(body_charset):
    head = "From: Jörg Müller <jm@example.com>\r\nSubject: Grüße\r\n".encode("latin-1")
    body = f"Content-Type: text/plain; charset={body_charset}\r\n\r\nhi\r\n".encode()
    mail = parse_email(head + body)
    assert (mail.from_name, mail.subject) == ("Jörg Müller", "Grüße")


def test_gb2312_text_with_a_gb18030_character_is_read_as_gb18030():
    raw = raw_text_mail("朱镕基 说 你好".encode("gb18030"), "text/plain; charset=gb2312")
    assert parse_email(raw).text.strip() == "朱镕基 说 你好"


def test_ks_c_5601_is_read_as_cp949():
    raw = raw_text_mail("똠방각하 안녕하세요".encode("cp949"), 'text/plain; charset="ks_c_5601-1987"')
    assert parse_email(raw).text.strip() == "똠방각하 안녕하세요"


def test_iso_2022_jp_with_extended_characters_is_read():
    text = "ｱｲｳ 予約の件です"  # half-width katakana are outside plain iso-2022-jp
    raw = raw_text_mail(text.encode("iso2022_jp_ext"), "text/plain; charset=iso-2022-jp", encoding="7bit")
    assert parse_email(raw).text.strip() == text


def test_eight_bit_text_without_a_charset_keeps_its_letters():
    raw = raw_text_mail("Viele Grüße aus München".encode("latin-1"), "text/plain")
    assert parse_email(raw).text.strip() == "Viele Grüße aus München"


@pytest.mark.parametrize("label", ["iso-8859-1", "windows-1252", "iso-8859-15"])
def test_utf8_text_under_a_latin1_label_is_read_as_utf8(label):
    raw = raw_text_mail("Grüße aus München, Ramón".encode(), f"text/plain; charset={label}")
    assert parse_email(raw).text.strip() == "Grüße aus München, Ramón"


RUSSIAN = "Здравствуйте, мастер не пришёл, прошу вернуть предоплату."
GREEK = "Καλημέρα, ο υδραυλικός δεν ήρθε, παρακαλώ επιστρέψτε την προκαταβολή."  # noqa: RUF001
RUSSIAN_CAPITALS = "Договор с ООО «ГАЗПРОМ» расторгнут, мастер ПРИШЁЛ поздно."  # noqa: RUF001
UKRAINIAN = "Вітаю, майстер не прийшов, прошу повернути гроші."
ARABIC = "مرحبا، السباك لم يأت، أرجو استرداد المبلغ؟"
HEBREW = "שלום, האינסטלטור לא הגיע, בבקשה להחזיר את הכסף."


@pytest.mark.parametrize(
    ("text", "codec", "content_type"),
    [
        (RUSSIAN, "cp1251", "text/plain; charset=us-ascii"),
        (RUSSIAN, "cp1251", "text/plain"),
        (RUSSIAN, "koi8-r", "text/plain; charset=iso-8859-1"),
        (GREEK, "cp1253", "text/plain; charset=us-ascii"),
        # Some byte pairs of these happen to be valid UTF-8: still not UTF-8 text.
        (UKRAINIAN, "cp1251", "text/plain"),
        (RUSSIAN_CAPITALS, "cp1251", "text/plain; charset=us-ascii"),
        (RUSSIAN, "koi8-r", "text/plain"),
        (ARABIC, "cp1256", "text/plain; charset=us-ascii"),
        (HEBREW, "cp1255", "text/plain"),
    ],
    ids=[
        "cp1251-as-us-ascii",
        "cp1251-unlabelled",
        "koi8-r-as-latin-1",
        "greek-as-us-ascii",
        "ukrainian-unlabelled",
        "cp1251-with-utf8-like-pairs",
        "koi8-r-unlabelled",
        "arabic-as-us-ascii",
        "hebrew-unlabelled",
    ],
)
def test_a_non_latin_text_in_its_legacy_charset_under_a_latin_or_no_label_keeps_its_letters(text, codec, content_type):
    mail = parse_email(raw_text_mail(text.encode(codec), content_type))
    assert mail.text.strip() == text


@pytest.mark.parametrize(
    "text",
    [
        "À bientôt : où est passé le plombier ? Déjà réglé, à côté de l'église.",
        "Þú átt að fá endurgreiðslu fyrir þjónustuna, því miður kom pípari ekki.",
        "ÉÀÈ ÖÄÜ ÑÇ Å",  # a few capitals alone are too little to judge: left as Latin-1
        # Lists of letters (a form that refuses them) are no language's words.
        "Umlaute: ÄÖÜäöüß ÄÖÜäöüß",
        "Test: ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏ",
        "éèêëàâäôöûüç",
        "ÆØÅ æøå ÆØÅ æøå ÆØÅ",
    ],
    ids=["french", "icelandic", "capitals", "umlauts", "alphabet", "accents", "nordic"],
)
def test_latin_text_with_many_accents_is_not_taken_for_another_script(text):
    assert parse_email(raw_text_mail(text.encode("cp1252"), "text/plain")).text.strip() == text


@pytest.mark.parametrize(
    "text",
    ["PRIORITÉ\xa0! Le plombier n'est pas venu.", "JOSÉ\u2019S ORDER", "Ø°C in the boiler", "Viele Grüße, Gruß…"],
    ids=[
        "capital-before-no-break-space",
        "capital-before-curly-quote",
        "capital-before-degree",
        "eszett-before-ellipsis",
    ],
)
def test_latin1_text_that_happens_to_be_valid_utf8_stays_latin1(text):
    raw = raw_text_mail(text.encode("cp1252"), "text/plain; charset=iso-8859-1")
    assert parse_email(raw).text.strip() == text


def test_cyrillic_labelled_windows_1252_is_read_in_its_own_charset():
    raw = raw_text_mail(RUSSIAN.encode("cp1251"), "text/plain; charset=windows-1252")
    assert parse_email(raw).text.strip() == RUSSIAN


@pytest.mark.parametrize("text", ["Dosis: 5μg täglich, 10kΩ Widerstand", "Please reﬂect on the H₂O bill"])
def test_utf8_under_a_latin1_label_with_greek_letters_or_ligatures_in_its_words_is_utf8(text):
    raw = raw_text_mail(text.encode(), "text/plain; charset=iso-8859-1")
    assert parse_email(raw).text.strip() == text


def test_a_utf8_reply_under_a_longer_latin1_disclaimer_keeps_both_readable():
    reply = "Danke schön, es geht wieder.\n"
    disclaimer = (
        "Diese Nachricht ist vertraulich. Wenn Sie nicht der Empfänger sind, löschen Sie sie. Grüße aus Köln.\n"
    )
    raw = raw_text_mail(reply.encode() + disclaimer.encode("latin-1"), "text/plain")
    assert parse_email(raw).text == reply + disclaimer


def test_unlabelled_latin1_whose_letter_and_no_break_space_happen_to_be_utf8_stays_latin1():
    # French puts a no-break space inside its quotes and before "!": "é" and it are a valid UTF-8 pair.
    text = "J'ai commandé un «\xa0café\xa0» hier. URGENT\xa0!"
    assert parse_email(raw_text_mail(text.encode("cp1252"), "text/plain")).text.strip() == text


def test_a_vietnamese_utf8_text_with_a_latin1_line_pasted_in_keeps_both_readable():
    text = "Chào bạn, tôi muốn đổi sản phẩm này được không?\n"
    footer = "Société Générale, succursale de Hanoï\n"
    raw = raw_text_mail(text.encode() + footer.encode("latin-1"), "text/plain")
    assert parse_email(raw).text == text + footer


def test_an_encoded_word_of_accented_letters_stays_latin1():
    subject = "=?iso-8859-1?Q?Umlaute_=C4=D6=DC=E4=F6=FC=DF_=C4=D6=DC=E4=F6=FC=DF?="
    assert parse_email(raw_text_mail(b"hi", "text/plain", subject=subject)).subject == "Umlaute ÄÖÜäöüß ÄÖÜäöüß"


def test_an_unknown_charset_name_does_not_lose_the_text():
    raw = raw_text_mail("café ok".encode(), "text/plain; charset=x-no-such-charset")
    assert parse_email(raw).text.strip() == "café ok"


def test_a_charset_that_cannot_decode_the_bytes_still_gives_text():
    raw = raw_text_mail(b"abc \xff\xfe\xfd def", "text/plain; charset=utf-8")
    assert parse_email(raw).text.startswith("abc") and "def" in parse_email(raw).text


def test_encoded_word_subjects_in_aliased_charsets_are_decoded():
    subject = "=?gb2312?B?" + __import__("base64").b64encode("镕 预订".encode("gb18030")).decode() + "?="
    raw = raw_text_mail(b"hi", "text/plain", subject=subject)
    assert parse_email(raw).subject == "镕 预订"


def test_a_subject_with_encoded_line_breaks_becomes_one_line():
    raw = raw_text_mail(b"hi", "text/plain", subject="=?utf-8?q?Hello=0D=0ABcc=3A_eve=40evil=2Eexample?=")
    parsed = parse_email(raw)
    assert "\n" not in parsed.subject and "\r" not in parsed.subject
    assert parsed.cc == ()


def test_a_utf8_body_with_a_latin1_disclaimer_pasted_in_keeps_both_readable():
    # A mail gateway appended its Latin-1 disclaimer to a UTF-8 body: neither part turns to mojibake.
    body = "Atención: la cañería gotea.\n".encode() + "Esta mensagem é confidencial.\n".encode("latin-1")
    text = parse_email(raw_text_mail(body, "text/plain; charset=utf-8")).text
    assert text.strip() == "Atención: la cañería gotea.\nEsta mensagem é confidencial."


def test_decode_text_reports_the_codec_that_worked():
    assert decode_text("Grüße".encode("cp1252"), "us-ascii") == ("Grüße", "cp1252")


def test_addresses_are_lower_cased_and_display_names_kept():
    parsed = parse_email(build_mail(sender="Asha Rai <Asha@Example.COM>", cc="Bikash <BIKASH@example.com>, bad"))
    assert (parsed.from_name, parsed.from_address) == ("Asha Rai", "asha@example.com")
    assert parsed.cc == (("Bikash", "bikash@example.com"),)


def test_thread_headers_are_read_as_message_ids():
    parsed = parse_email(build_mail(in_reply_to="<a@x>", references="<r1@x> <r2@x> junk <a@x>"))
    assert parsed.in_reply_to == ("<a@x>",) and parsed.references == ("<r1@x>", "<r2@x>", "<a@x>")


def test_a_bare_message_id_without_brackets_is_still_an_id():
    assert message_ids("abc@mail.example.com") == ("<abc@mail.example.com>",)


def test_text_and_html_parts_are_both_kept():
    parsed = parse_email(build_mail(text="plain words", html="<p>html words</p>"))
    assert parsed.text.strip() == "plain words" and "html words" in parsed.html


def test_an_inline_image_without_content_disposition_is_an_inline_attachment():
    raw = (
        b"From: asha@example.com\r\nTo: support@example.com\r\nSubject: pic\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/related; boundary="B"\r\n\r\n--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n'
        b'<p>see <img src="cid:img1@x"></p>\r\n--B\r\nContent-Type: image/png\r\nContent-ID: <img1@x>\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + __import__("base64").b64encode(PNG_1PX) + b"\r\n--B--\r\n"
    )
    (image,) = parse_email(raw).attachments
    assert (image.content_id, image.inline, image.data) == ("img1@x", True, PNG_1PX)


def test_attached_files_keep_their_names_and_bytes():
    parsed = parse_email(build_mail(files=[("invoice.pdf", PDF_HEAD, "application/pdf")]))
    (pdf,) = parsed.attachments
    assert (pdf.filename, pdf.data, pdf.inline) == ("invoice.pdf", PDF_HEAD, False)


def test_winmail_dat_is_unpacked_into_the_files_inside():
    winmail = tnef_with_file("invoice.pdf", PDF_HEAD)
    parsed = parse_email(build_mail(files=[("winmail.dat", winmail, "application/ms-tnef")]))
    assert [(a.filename, a.data) for a in parsed.attachments] == [("invoice.pdf", PDF_HEAD)]


def test_a_winmail_dat_file_name_in_the_outlook_code_page_is_read_in_it():
    """Outlook without Unicode writes the names in the mail's code page (here Windows-1252), which
    tnefparse reads as UTF-8 and fails on: the whole mail was quarantined as malformed."""
    winmail = tnef_with_file("Rechnung März.pdf".encode("cp1252"), PDF_HEAD, codepage=1252)
    parsed = parse_email(
        build_mail(text="Die Rechnung anbei.", files=[("winmail.dat", winmail, "application/ms-tnef")])
    )
    assert [(a.filename, a.data) for a in parsed.attachments] == [("Rechnung März.pdf", PDF_HEAD)]
    assert parsed.text.strip() == "Die Rechnung anbei."


def test_a_winmail_dat_file_name_in_no_known_code_page_still_keeps_the_file():
    winmail = tnef_with_file(b"Rechnung M\xe4rz.pdf", PDF_HEAD)  # no code page said: Windows-1252 is Outlook's
    parsed = parse_email(build_mail(files=[("winmail.dat", winmail, "application/ms-tnef")]))
    assert [(a.filename, a.data) for a in parsed.attachments] == [("Rechnung März.pdf", PDF_HEAD)]


def test_a_broken_winmail_dat_is_kept_as_the_file_it_is():
    parsed = parse_email(build_mail(files=[("winmail.dat", b"not tnef at all", "application/ms-tnef")]))
    assert [a.filename for a in parsed.attachments] == ["winmail.dat"]
    assert "winmail.dat could not be unpacked" in parsed.defects


def test_a_delivery_report_names_the_failed_recipient_and_our_message():
    raw = (
        b"From: MAILER-DAEMON@mx.example.net\r\nTo: support@example.com\r\nSubject: Undelivered Mail\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        b"--R\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
        b"Final-Recipient: rfc822; Gone@Example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--R\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <sb-1@support.example.com>\r\n"
        b"Subject: [SB-1001] hello\r\n\r\n--R--\r\n"
    )
    report = parse_email(raw).report
    assert report is not None
    assert (report.failed_recipients, report.original_message_id, report.permanent) == (
        ("gone@example.net",),
        "<sb-1@support.example.com>",
        True,
    )


def test_nul_bytes_in_the_body_do_not_reach_the_text():
    raw = raw_text_mail(b"hello\x00 world\x00", "text/plain; charset=utf-8")
    assert "\x00" not in parse_email(raw).text


def test_a_mail_without_headers_parses_to_an_empty_sender():
    parsed = parse_email(b"just some words\r\nand more\r\n")
    assert parsed.from_address == "" and parsed.message_id == ""


def test_a_mail_fed_in_small_pieces_parses_as_the_whole(monkeypatch):
    raw = build_mail(
        subject="Ünïcode subject",
        text="Line one\r\nline two\r\n" * 40,
        html="<p>Hello</p>" * 30,
        files=[("invoice.pdf", PDF_HEAD + b"x" * 3000, "application/pdf")],
    )
    whole = parse_email(raw)
    monkeypatch.setattr("mailgateway.parsing._FEED_BYTES", 7)  # cuts fall inside headers, CRLFs, base64
    pieces = parse_email(raw)
    assert pieces == whole and pieces.attachments[0].data == whole.attachments[0].data


def test_an_html_only_mail_without_a_charset_parameter_is_read_in_its_meta_charset():
    html = "<html><head><meta charset='windows-1251'></head><body><p>Привет, мир</p></body></html>"
    raw = raw_text_mail(html.encode("cp1251"), "text/html")
    assert "Привет, мир" in parse_email(raw).html


def test_the_http_equiv_form_of_the_meta_charset_counts_too():
    html = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-2"></head>'
    raw = raw_text_mail((html + "<body>Dzień dobry, żółw</body></html>").encode("iso-8859-2"), "text/html")
    assert "Dzień dobry, żółw" in parse_email(raw).html


def test_a_display_name_with_a_comma_inside_an_encoded_word_stays_whole():
    raw = (
        b"From: =?utf-8?b?U2hhcm1hLCBBc2hh?= <Asha.Sharma@Example.COM>\r\nTo: support@example.com\r\n"
        b"Cc: =?utf-8?q?Gurung=2C_Bikash?= <bikash@example.com>, Ram <ram@example.com>\r\n"
        b"Subject: Hi\r\nMessage-ID: <dn@example.com>\r\n\r\nHello\r\n"
    )
    mail = parse_email(raw)
    assert (mail.from_name, mail.from_address) == ("Sharma, Asha", "asha.sharma@example.com")
    assert mail.cc == (("Gurung, Bikash", "bikash@example.com"), ("Ram", "ram@example.com"))


def test_a_literal_comma_inside_a_q_encoded_display_name_does_not_split_the_person():
    # RFC 2047 forbids a bare comma in an encoded word of a phrase; Apple Mail writes one anyway.
    raw = (
        b"From: =?iso-8859-1?Q?Gurung,=20R=E4m?= <ram@example.com>\r\nTo: support@example.com\r\n"
        b"Subject: Hi\r\nMessage-ID: <qc@example.com>\r\n\r\nHello\r\n"
    )
    mail = parse_email(raw)
    assert (mail.from_name, mail.from_address) == ("Gurung, R\u00e4m", "ram@example.com")


def test_a_sender_written_as_name_and_address_without_brackets_is_read():
    # A fax gateway writes "From: Fax Service fax@example.com": no angle brackets around the address.
    raw = (
        b"From: Fax Service fax@example.com\r\nTo: support@example.com\r\n"
        b"Subject: Fax\r\nMessage-ID: <fx@example.com>\r\n\r\nA new fax.\r\n"
    )
    mail = parse_email(raw)
    assert (mail.from_name, mail.from_address) == ("Fax Service", "fax@example.com")


def test_a_display_name_written_as_an_address_is_a_name_and_the_bracketed_mailbox_the_sender():
    # Some forms and clients write `From: rita@example.org <desk@shop.example>`: an unquoted name with an "@".
    mail = parse_email(build_mail(sender="rita@example.org <desk@shop.example>"))
    assert (mail.from_name, mail.from_address) == ("rita@example.org", "desk@shop.example")


def test_a_long_header_of_at_signs_before_an_unclosed_bracket_is_read_in_one_pass():
    # Each "@" used to be a place to backtrack to: 64 KB of them took 20 s and more, not a tenth of one.
    header = "a@" * 32768 + " x <, Asha <asha@example.com>"
    started = time.perf_counter()
    people = parse_address_list([header])
    assert time.perf_counter() - started < 1.0
    assert people[-1] == ("Asha", "asha@example.com")


def test_a_content_type_with_a_long_tail_of_letters_is_read_in_one_pass():
    raw = raw_text_mail(b"The pipe burst.", "text/plain x" + "a" * 80_000)
    started = time.perf_counter()
    parsed = parse_email(raw)
    assert time.perf_counter() - started < 1.0  # 15 s before: each letter was a start to try again
    assert parsed.text.strip() == "The pipe burst."


def with_base64_labelled_mail(body: bytes) -> bytes:
    """A mail forwarding another as `message/rfc822` under `Content-Transfer-Encoding: base64`."""
    return (
        b"From: asha@example.com\r\nSubject: Fw\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nSee the attached mail.\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n--b--\r\n"
    )


@pytest.mark.parametrize(
    "slip",
    [
        lambda text: text.replace(b"=", b""),
        lambda text: text.replace(b"\n", b"  \r\n"),
        lambda text: text + b"--\n",
        lambda text: text.replace(b"\n", b"\xa0\n", 1),
    ],
    ids=["no-padding", "spaces-and-crlf", "trailing-dashes", "no-break-space"],
)
def test_an_attached_mail_in_sloppy_base64_is_still_the_mail_it_encodes(slip):
    inner = "From: b@example.com\r\nSubject: Rechnung\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n"
    raw = with_base64_labelled_mail(slip(base64.encodebytes(inner.encode())))
    (attached,) = parse_email(raw).attachments
    mail = email.message_from_bytes(attached.data, policy=email.policy.default)
    assert (mail["Subject"], mail.get_content().strip()) == ("Rechnung", "Grüße")


def test_an_attached_mail_in_base64_with_a_stray_last_character_is_still_the_mail_it_encodes():
    inner = "From: b@example.com\r\nSubject: Rechnung\r\n\r\nThe invoice.\r\n"
    inner += " " * (-len(inner) % 3)  # base64 without padding: the stray character makes 4n + 1
    encoded = base64.encodebytes(inner.encode()).rstrip(b"\n") + b"A\n"
    raw = with_base64_labelled_mail(encoded)
    (attached,) = parse_email(raw).attachments
    assert email.message_from_bytes(attached.data)["Subject"] == "Rechnung"


def test_an_attached_mail_labelled_base64_but_sent_as_8bit_keeps_its_letters():
    inner = (
        "From: b@example.com\r\nSubject: Rechnung\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße aus Köln\r\n"
    )
    raw = with_base64_labelled_mail(inner.encode())  # the label says base64; the body is not
    (attached,) = parse_email(raw).attachments
    mail = email.message_from_bytes(attached.data, policy=email.policy.default)
    assert mail.get_content().strip() == "Grüße aus Köln"


def test_an_unencoded_utf8_display_name_is_read():
    raw = "From: Jürgen Müller <j@example.de>\r\nTo: support@example.com\r\nSubject: Hi\r\n\r\nHallo\r\n".encode()
    assert parse_email(raw).from_name == "Jürgen Müller"


def test_a_signature_part_of_a_signed_mail_is_not_an_attachment():
    raw = (
        b"From: s@example.org\r\nTo: support@example.com\r\nSubject: signed\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSigned hello\r\n"
        b"--b1\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=smime.p7s\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n--b1--\r\n"
    )
    mail = parse_email(raw)
    assert mail.text.strip() == "Signed hello" and mail.attachments == ()


def test_a_forwarded_mail_is_kept_as_an_eml_file_named_after_its_subject():
    inner, outer = EmailMessage(), EmailMessage()
    inner["From"], inner["Subject"] = "shop@example.net", "Your booking"
    inner.set_content("Booking 123 confirmed.")
    outer["From"], outer["To"], outer["Subject"] = "ram@example.org", "support@example.com", "Fwd: Your booking"
    outer.set_content("See below.")
    outer.add_attachment(inner)  # as mail clients forward "as attachment": message/rfc822
    (forwarded,) = parse_email(outer.as_bytes(policy=SMTP)).attachments
    assert forwarded.filename == "Your booking.eml" and b"Booking 123 confirmed." in forwarded.data


def test_a_forwarded_mail_keeps_the_file_name_its_sender_gave_it():
    inner, outer = EmailMessage(), EmailMessage()
    inner["From"], inner["Subject"] = "shop@example.net", "Your booking"
    inner.set_content("Booking 123 confirmed.")
    outer["From"], outer["To"], outer["Subject"] = "ram@example.org", "support@example.com", "Fwd: Your booking"
    outer.set_content("See below.")
    outer.add_attachment(inner, filename="booking-123.eml")
    (forwarded,) = parse_email(outer.as_bytes(policy=SMTP)).attachments
    assert forwarded.filename == "booking-123.eml" and b"Booking 123 confirmed." in forwarded.data


def test_a_forwarded_mail_sent_base64_encoded_is_kept_as_the_mail_it_encodes():
    booking = build_mail(sender="shop@example.net", subject="Your booking", text="Booking 123 confirmed.")
    raw = build_mail(text="See the mail below.", files=[("booking.eml", booking, "message/rfc822")])
    assert b"Content-Transfer-Encoding: base64" in raw  # as Gmail forwards a mail as a file
    (forwarded,) = parse_email(raw).attachments
    assert forwarded.filename == "booking.eml"
    assert b"Subject: Your booking" in forwarded.data and b"Booking 123 confirmed." in forwarded.data


def test_a_forwarded_mail_sent_quoted_printable_keeps_a_subject_that_the_encoding_broke_across_lines():
    subject = "Your booking 123 for the flat on Hill Road is confirmed, with the plumber on 3 March at 9am"
    booking = (
        f"From: shop@example.net\r\nSubject: {subject}\r\nMessage-ID: <booking-123@example.net>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nBooking 123 confirmed.\r\n"
    ).encode()
    encoded = quopri.encodestring(booking)
    assert b"=\r\n" in encoded.split(b"Message-ID")[0]  # a soft line break inside the Subject
    raw = (
        b"From: Asha <asha@example.com>\r\nTo: support@example.com\r\nSubject: Fwd: booking\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain\r\n\r\nSee the mail below.\r\n"
        b"--b1\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: quoted-printable\r\n"
        b'Content-Disposition: attachment; filename="booking.eml"\r\n\r\n' + encoded + b"\r\n--b1--\r\n"
    )
    (forwarded,) = parse_email(raw).attachments
    kept = message_from_bytes(forwarded.data)
    assert (kept["Subject"], kept["Message-ID"]) == (subject, "<booking-123@example.net>")
    assert kept.get_payload().strip() == "Booking 123 confirmed."


def test_a_mail_forwarded_without_a_disposition_is_an_eml_file_not_the_senders_text():
    inner, outer = EmailMessage(), EmailMessage()
    inner["From"], inner["Subject"] = "shop@example.net", "Your booking"
    inner.set_content("Booking 123 confirmed.")
    inner.add_alternative("<p>Booking 123 confirmed.</p>", subtype="html")
    outer["From"], outer["To"], outer["Subject"] = "ram@example.org", "support@example.com", "Fwd: Your booking"
    outer.set_content("See below.")
    outer.add_attachment(inner)
    del outer.get_payload()[1]["Content-Disposition"]  # as Pine and MIME digests send it
    mail = parse_email(outer.as_bytes(policy=SMTP))
    assert "Booking 123" not in mail.text and mail.html == ""
    assert [a.filename for a in mail.attachments] == ["Your booking.eml"]
    assert b"Booking 123 confirmed." in mail.attachments[0].data


def test_a_mail_forwarded_inline_is_an_eml_file_not_the_senders_text():
    inner, outer = EmailMessage(), EmailMessage()
    inner["From"], inner["Subject"] = "shop@example.net", "Your booking"
    inner.set_content("Booking 123 confirmed.")
    inner.add_alternative("<p>Booking 123 confirmed.</p>", subtype="html")
    outer["From"], outer["To"], outer["Subject"] = "ram@example.org", "support@example.com", "Fwd: Your booking"
    outer.set_content("See below.")
    outer.add_attachment(inner, disposition="inline")  # as mutt forwards a mail
    mail = parse_email(outer.as_bytes(policy=SMTP))
    assert "Booking 123" not in mail.text and mail.html == ""
    assert [a.filename for a in mail.attachments] == ["Your booking.eml"]
    assert b"Booking 123 confirmed." in mail.attachments[0].data


def test_a_text_part_with_a_file_name_is_a_file_and_not_body_text():
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "asha@example.com", "support@example.com", "Backup failed"
    mail.set_content("The backup failed again, log attached.")
    mail.add_attachment("\ufeffERROR: disk full\n".encode(), maintype="text", subtype="plain", disposition="inline")
    mail.get_payload()[1].set_param("name", "log.txt")  # named on Content-Type only
    mail.add_attachment(b"<p>Report</p>", maintype="text", subtype="html", filename="report.html", disposition="inline")
    parsed = parse_email(mail.as_bytes(policy=SMTP))
    assert parsed.text.strip() == "The backup failed again, log attached." and parsed.html == ""
    assert [(a.filename, a.data) for a in parsed.attachments] == [
        ("log.txt", "\ufeffERROR: disk full\n".encode()),
        ("report.html", b"<p>Report</p>"),
    ]


def test_unnamed_text_parts_around_an_inline_picture_stay_the_body():
    mail = EmailMessage()  # as Apple Mail splits a body around a picture
    mail["From"], mail["To"], mail["Subject"] = "asha@example.com", "support@example.com", "The leak"
    mail.set_content("Here is the leak:")
    mail.add_attachment(PNG_1PX, maintype="image", subtype="png", filename="leak.png", disposition="inline")
    mail.add_attachment("It is getting worse.", disposition="inline")
    parsed = parse_email(mail.as_bytes(policy=SMTP))
    assert parsed.text.split() == ["Here", "is", "the", "leak:", "It", "is", "getting", "worse."]
    assert [a.filename for a in parsed.attachments] == ["leak.png"]


def test_a_named_html_body_with_its_pictures_stays_the_body():
    mail = EmailMessage()  # as SAP's web forms send a purchase order: the related root is named
    mail["From"], mail["To"], mail["Subject"] = "erp@example.com", "support@example.com", "PO 4711"
    mail.set_content('<p>Purchase order 4711 is attached.</p><img src="cid:logo@x">', subtype="html")
    mail.add_related(PNG_1PX, maintype="image", subtype="png", cid="<logo@x>")
    root = mail.get_payload()[0]
    root["Content-Disposition"] = 'inline; filename="sapwebform.htm"'
    parsed = parse_email(mail.as_bytes(policy=SMTP))
    assert "Purchase order 4711 is attached." in parsed.html
    assert [a.content_id for a in parsed.attachments] == ["logo@x"]


def test_a_mail_whose_only_text_part_is_named_keeps_it_as_the_body():
    mail = EmailMessage()  # as scanners and ERP systems send: body.txt beside the file
    mail["From"], mail["To"], mail["Subject"] = "scanner@example.com", "support@example.com", "Scan"
    mail.set_content("Scanned on floor 3.", disposition="inline", filename="body.txt")
    mail.add_attachment(PDF_HEAD, maintype="application", subtype="pdf", filename="scan.pdf")
    parsed = parse_email(mail.as_bytes(policy=SMTP))
    assert parsed.text.strip() == "Scanned on floor 3."
    assert [a.filename for a in parsed.attachments] == ["scan.pdf"]


def test_an_html_copy_of_the_text_beside_it_in_a_mixed_mail_does_not_double_the_text():
    mail = EmailMessage()  # Python's MIMEMultipart() is mixed by default; scripts attach both copies
    mail["From"], mail["To"], mail["Subject"] = "shop@example.com", "support@example.com", "Order"
    mail.set_content("Your order 88 was shipped.")
    mail.add_attachment("<p>Your order 88 was shipped.</p>", subtype="html", disposition="inline")
    del mail.get_payload()[1]["Content-Disposition"]
    assert parse_email(mail.as_bytes(policy=SMTP)).text.count("was shipped") == 1


def test_a_file_named_only_by_a_filename_parameter_of_its_content_type_keeps_that_name():
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "asha@example.com", "support@example.com", "The leak"
    mail.set_content("Photo below.")
    mail.add_alternative('<p>Photo:</p><img src="cid:leak@x">', subtype="html")
    mail.get_payload()[1].add_related(PNG_1PX, maintype="image", subtype="png", cid="<leak@x>")
    picture = mail.get_payload()[1].get_payload()[1]
    del picture["Content-Disposition"]
    picture.set_param("filename", "leak.png")  # on Content-Type, as some Outlook versions write it
    (found,) = parse_email(mail.as_bytes(policy=SMTP)).attachments
    assert (found.filename, found.content_id, found.data) == ("leak.png", "leak@x", PNG_1PX)


def test_an_inline_picture_with_neither_a_name_nor_a_content_id_is_kept_as_a_file():
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "asha@example.com", "support@example.com", "The leak"
    mail.set_content("Photo of the leak below.")
    mail.add_attachment(PNG_1PX, maintype="image", subtype="png", disposition="inline")
    (picture,) = parse_email(mail.as_bytes(policy=SMTP)).attachments
    assert (picture.filename, picture.content_type, picture.data) == ("attachment-1.png", "image/png", PNG_1PX)


def test_files_that_came_without_a_name_get_made_up_names_no_two_alike():
    # One known only by its Content-ID, one filed as an attachment, one inline with neither.
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "asha@example.com", "support@example.com", "The leak"
    mail.set_content("Three photos of the leak.")
    mail.add_attachment(PNG_1PX, maintype="image", subtype="png", cid="<leak@x>")
    del mail.get_payload()[1]["Content-Disposition"]
    mail.add_attachment(PNG_1PX, maintype="image", subtype="png", disposition="attachment")
    mail.add_attachment(PNG_1PX, maintype="image", subtype="png", disposition="inline")
    names = sorted(found.filename for found in parse_email(mail.as_bytes(policy=SMTP)).attachments)
    assert names == ["attachment-1.png", "attachment-2.png", "attachment-3.png"]


def test_the_parts_of_an_attached_mail_are_not_files_of_their_own():
    inner, outer = EmailMessage(), EmailMessage()
    inner["From"], inner["Subject"] = "shop@example.net", "Your receipt"
    inner.set_content("Receipt attached.")
    inner.add_attachment(PNG_1PX, maintype="image", subtype="png", disposition="inline")
    outer["From"], outer["To"], outer["Subject"] = "ram@example.org", "support@example.com", "Fwd: Your receipt"
    outer.set_content("See below.")
    outer.add_attachment(inner)
    assert [a.filename for a in parse_email(outer.as_bytes(policy=SMTP)).attachments] == ["Your receipt.eml"]


def test_a_calendar_invitation_is_kept_as_an_ics_file():
    raw = raw_text_mail(b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nSUMMARY:Call\r\nEND:VCALENDAR\r\n", "text/calendar")
    (invite,) = parse_email(raw).attachments
    assert (invite.filename, invite.content_type) == ("invite.ics", "text/calendar")
    assert b"SUMMARY:Call" in invite.data


def test_an_attachment_with_one_base64_character_too_many_is_still_read():
    head = "From: a@example.com\r\nTo: support@example.com\r\nSubject: CV\r\nMIME-Version: 1.0\r\n"
    raw = (
        head + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nMy CV.\r\n'
        "--b\r\nContent-Type: application/pdf; name=cv.pdf\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=cv.pdf\r\n\r\nJVBERi0xLjQK" + "A\r\n--b--\r\n"
    ).encode("ascii")
    mail = parse_email(raw)
    assert mail.text.strip() == "My CV."
    assert [(a.filename, a.data) for a in mail.attachments] == [("cv.pdf", b"%PDF-1.4\n")]


def test_the_text_and_html_of_an_attached_mail_are_not_the_body():
    inner, outer = EmailMessage(), EmailMessage()
    inner["From"], inner["Subject"] = "shop@example.net", "Your order"
    inner.set_content("Order 77 shipped.")
    inner.add_alternative("<h1>Order 77 shipped.</h1>", subtype="html")
    outer["From"], outer["To"], outer["Subject"] = "ram@example.org", "support@example.com", "Fwd: Your order"
    outer.set_content("It never arrived.")
    outer.add_attachment(inner)
    mail = parse_email(outer.as_bytes(policy=SMTP))
    assert (mail.text.strip(), mail.html) == ("It never arrived.", "")
    assert b"Order 77 shipped." in mail.attachments[0].data


def uuencoded(name: str, data: bytes) -> str:
    lines = "".join(binascii.b2a_uu(data[i : i + 45]).decode("ascii") for i in range(0, len(data), 45))
    return f"begin 644 {name}\n{lines}`\nend\n"


def test_a_uuencoded_block_in_the_text_becomes_an_attachment_with_its_name():
    data = b"id;name\n" + b"1;Asha Gurung;Kathmandu\n" * 4  # more than one 45-byte line
    (report,) = parse_email(build_mail(text=uuencoded("report.csv", data))).attachments
    assert (report.filename, report.data) == ("report.csv", data)


def test_the_text_around_a_uuencoded_block_is_kept_without_the_block():
    text = "Nightly report attached.\n\n" + uuencoded("report.csv", b"1;ok\n") + "\n-- \ncron\n"
    mail = parse_email(build_mail(text=text))
    assert mail.text.split() == ["Nightly", "report", "attached.", "--", "cron"]


def test_a_uuencoded_block_with_a_line_that_does_not_decode_stays_text():
    broken = uuencoded("report.csv", b"1;ok\n").replace("`\nend", "not uuencoded at all\n`\nend")
    mail = parse_email(build_mail(text=broken))
    assert mail.attachments == () and "begin 644 report.csv" in mail.text


def test_a_uuencoded_block_without_its_end_line_stays_text():
    unfinished = uuencoded("report.csv", b"1;ok\n").replace("end\n", "")
    mail = parse_email(build_mail(text=unfinished))
    assert mail.attachments == () and "begin 644 report.csv" in mail.text


def test_a_uuencoded_file_name_with_a_path_is_reduced_to_a_safe_name():
    (kept,) = parse_email(build_mail(text=uuencoded("../../etc/passwd", b"root:x:0:0\n"))).attachments
    assert kept.filename == "passwd"


def test_an_x_uuencode_attachment_without_a_begin_line_is_decoded():
    head = "From: a@example.com\r\nTo: support@example.com\r\nSubject: Notes\r\nMIME-Version: 1.0\r\n"
    raw = (
        head + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nNotes.\r\n'
        "--b\r\nContent-Type: text/plain; name=notes.txt\r\nContent-Transfer-Encoding: x-uuencode\r\n"
        "Content-Disposition: attachment; filename=notes.txt\r\n\r\n"
        + binascii.b2a_uu(b"Meter read on Monday.").decode("ascii").replace("\n", "\r\n")
        + "`\r\n--b--\r\n"
    ).encode("ascii")
    assert [(a.filename, a.data) for a in parse_email(raw).attachments] == [("notes.txt", b"Meter read on Monday.")]


def _mixed(*parts: tuple[str, str]) -> bytes:
    """A multipart/mixed of unnamed body parts shown one after the other: (subtype, content)."""
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "asha@example.com", "support@example.com", "The leak"
    mail.make_mixed()
    for subtype, content in parts:
        part = EmailMessage()
        part.set_content(content, subtype=subtype)
        del part["MIME-Version"]
        mail.attach(part)
    return mail.as_bytes(policy=SMTP)


def test_an_html_mail_with_a_plain_text_footer_keeps_the_persons_words_in_the_text():
    # a server appends its disclaimer as a text part after the HTML the person wrote
    parsed = parse_email(_mixed(("html", "<p>The pipe <b>burst</b> again.</p>"), ("plain", "Scanned by MailGuard.")))
    assert parsed.text.split() == ["The", "pipe", "burst", "again.", "Scanned", "by", "MailGuard."]
    assert "burst" in parsed.html and parsed.attachments == ()


def test_html_with_its_own_text_alternative_gets_no_second_text():
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "asha@example.com", "support@example.com", "The leak"
    mail.set_content("The pipe burst.")
    mail.add_alternative("<p>The pipe <b>burst</b>.</p>", subtype="html")
    mail.add_attachment("Scanned by MailGuard.", disposition="inline")
    parsed = parse_email(mail.as_bytes(policy=SMTP))
    assert parsed.text.split() == ["The", "pipe", "burst.", "Scanned", "by", "MailGuard."]


def test_a_mail_labelled_multipart_without_its_boundary_is_read_as_its_text():
    raw = (
        b"From: asha@example.com\r\nTo: support@example.com\r\nSubject: Leak\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="never-written"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"The pipe in the k=FCche burst.\r\n"
    )
    parsed = parse_email(raw)
    assert parsed.text.strip() == "The pipe in the küche burst." and parsed.attachments == ()


def multipart_body(boundary: str) -> bytes:
    pdf = base64.b64encode(PDF_HEAD).decode()
    return (
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe pipe burst.\r\n"
        f'--{boundary}\r\nContent-Type: application/pdf; name="plan.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{pdf}\r\n--{boundary}--\r\n"
    ).encode()


def test_a_multipart_whose_boundary_lines_differ_from_its_parameter_is_read_by_its_lines():
    head = b'From: asha@example.com\r\nSubject: Leak\r\nContent-Type: multipart/mixed; boundary="Part-Boundary"\r\n\r\n'
    parsed = parse_email(head + multipart_body("part-boundary"))
    assert parsed.text.strip() == "The pipe burst."
    assert [(a.filename, a.data) for a in parsed.attachments] == [("plan.pdf", PDF_HEAD)]


def test_a_multipart_read_by_its_lines_keeps_the_non_ascii_letters_of_its_parts():
    head = b'From: asha@example.com\r\nSubject: Leak\r\nContent-Type: multipart/mixed; boundary="Part-Boundary"\r\n\r\n'
    body = multipart_body("part-boundary").replace(b"The pipe burst.", "Grüße, the pipe burst.".encode())
    assert parse_email(head + body).text.strip() == "Grüße, the pipe burst."


def test_a_multipart_body_under_a_one_part_label_with_a_boundary_is_read_as_its_parts():
    # PHP scripts and bulk mailers write `Content-Type: text/html; boundary=...` over a body of parts.
    raw = build_mail(text=None, html="<p>The boiler is leaking.</p>", files=[("plan.pdf", PDF_HEAD, "application/pdf")])
    parsed = parse_email(raw.replace(b"Content-Type: multipart/mixed;", b"Content-Type: text/html;", 1))
    assert parsed.html.strip() == "<p>The boiler is leaking.</p>"
    assert [(a.filename, a.data) for a in parsed.attachments] == [("plan.pdf", PDF_HEAD)]


def test_a_multipart_body_under_a_one_part_label_keeps_the_non_ascii_letters_of_its_parts():
    pdf = ("plan.pdf", PDF_HEAD, "application/pdf")
    raw = build_mail(text=None, html="<p>Grüße, my order failed.</p>", files=[pdf])
    assert "Content-Transfer-Encoding: 8bit" in raw.decode()  # the letters travel as raw UTF-8 bytes
    parsed = parse_email(raw.replace(b"Content-Type: multipart/mixed;", b"Content-Type: text/html;", 1))
    assert parsed.html.strip() == "<p>Grüße, my order failed.</p>"
    assert [(a.filename, a.data) for a in parsed.attachments] == [("plan.pdf", PDF_HEAD)]


def test_a_one_part_text_that_opens_with_its_boundary_and_a_line_that_is_no_part_header_stays_text():
    body = b"--XYZ\r\nNote: this is my text, not a part.\r\nThanks\r\n"
    parsed = parse_email(raw_text_mail(body, 'text/plain; boundary="XYZ"'))
    assert parsed.text.strip() == "--XYZ\nNote: this is my text, not a part.\nThanks"


def test_a_base64_encoded_multipart_is_read_as_its_parts():
    head = (
        b'From: asha@example.com\r\nSubject: Leak\r\nContent-Type: multipart/mixed; boundary="b1"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    parsed = parse_email(head + base64.encodebytes(multipart_body("b1")))
    assert parsed.text.strip() == "The pipe burst." and [a.filename for a in parsed.attachments] == ["plan.pdf"]


@pytest.mark.parametrize("declared", ["", "; charset=us-ascii", "; charset=iso-2022-jp"])
def test_a_japanese_text_file_keeps_its_bytes(declared):
    data = "お問い合わせの件".encode("iso2022_jp")
    raw = (
        b"From: asha@example.com\r\nSubject: Files\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
        b"--b1\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n"
        b"--b1\r\nContent-Type: text/plain" + declared.encode() + b"\r\n"
        b'Content-Disposition: attachment; filename="data.txt"\r\n\r\n' + data + b"\r\n--b1--\r\n"
    )
    (found,) = parse_email(raw).attachments
    assert (found.filename, found.data.strip()) == ("data.txt", data)


def test_iso_2022_jp_with_the_windows_characters_japanese_clients_write_is_read():
    # "①号室の水漏れ" as Outlook writes it: the circled one is NEC row 13, which strict ISO-2022-JP lacks
    body = b"\x1b$B-!" + "号室の水漏れ".encode("iso2022_jp")[3:]
    raw = (
        b"From: asha@example.com\r\nTo: support@example.com\r\nSubject: Leak\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=ISO-2022-JP\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" + body + b"\r\n"
    )
    assert parse_email(raw).text.strip() == "①号室の水漏れ"
    assert decode_text(b"\x1b(I\x31\x32\x1b(B", "iso-2022-jp")[0] == "ｱｲ"  # half-width katakana


def test_japanese_text_sent_without_a_charset_is_read_as_iso_2022_jp():
    raw = (
        b"From: asha@example.com\r\nTo: support@example.com\r\nSubject: Leak\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain;\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        + "水漏れがあります。\r\n".encode("iso2022_jp")
    )
    assert parse_email(raw).text.strip() == "水漏れがあります。"
    assert decode_text("水漏れ".encode("iso2022_jp"), "us-ascii")[0] == "水漏れ"
    assert decode_text(b"plain words", None) == ("plain words", "utf-8")


def test_shift_jis_headers_of_a_mail_in_iso_2022_jp_are_read_as_shift_jis():
    # a Windows mailer: an encoded word labelled ISO-2022-JP holding Shift_JIS, and a raw Shift_JIS subject
    name = base64.b64encode("水道課".encode("cp932")).decode()
    raw = (
        f"From: =?ISO-2022-JP?B?{name}?= <asha@example.com>\r\nTo: support@example.com\r\n".encode()
        + b"Subject: "
        + "水漏れ".encode("cp932")
        + b"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n"
        + "至急お願いします。\r\n".encode("iso2022_jp")
    )
    parsed = parse_email(raw)
    assert (parsed.from_name, parsed.subject) == ("水道課", "水漏れ")
    assert parsed.text.strip() == "至急お願いします。"


def test_empty_lines_before_the_headers_do_not_hide_the_sender():
    raw = b"\r\n\r\n" + build_mail(sender="Asha Gurung <asha@example.com>", subject="Tap is leaking")
    mail = parse_email(raw)
    assert (mail.from_address, mail.subject) == ("asha@example.com", "Tap is leaking")
    assert mail.text.strip() == "The plumber did not come at 9am."


def test_a_mail_without_headers_stays_a_mail_without_a_sender():
    mail = parse_email(b"\r\nHello, is anyone there?\r\n")
    assert mail.from_address == "" and "Hello, is anyone there?" in mail.text


def test_a_banner_line_above_the_headers_does_not_hide_the_sender():
    raw = b"==== Saved message ====\r\n" + build_mail(sender="Asha Gurung <asha@example.com>", subject="Tap")
    mail = parse_email(raw)
    assert (mail.from_address, mail.subject) == ("asha@example.com", "Tap")
    assert mail.text.strip() == "The plumber did not come at 9am."


def test_unindented_continuation_lines_in_the_headers_do_not_hide_the_sender():
    raw = (
        b"Received: from relay.example.net ([192.0.2.7])\r\nby mx.example.org with ESMTP\r\n"
        b"for help@example.org; Mon, 6 Jan 2025 10:00:00 +0100\r\n"
        b"To: help@example.org\r\nSubject: Formular\r\nFrom: asha@example.com\r\n"
        b"Content-Type: text/plain; charset=windows-1250\r\n\r\n" + "Dobrý den, garáž".encode("cp1250")
    )
    mail = parse_email(raw)
    assert (mail.from_address, mail.subject) == ("asha@example.com", "Formular")
    assert mail.text.strip() == "Dobrý den, garáž"


def test_a_header_written_with_a_space_before_its_colon_does_not_hide_the_sender():
    raw = b"X-Campaign : 6236073\r\n" + build_mail(sender="Asha Gurung <asha@example.com>", subject="Tap")
    mail = parse_email(raw)
    assert (mail.from_address, mail.subject) == ("asha@example.com", "Tap")
    assert mail.header("x-campaign") == "6236073"
    assert mail.text.strip() == "The plumber did not come at 9am."


def test_a_body_that_follows_the_headers_without_an_empty_line_keeps_its_sender():
    mail = parse_email(b"From: asha@example.com\r\nSubject: Hi\r\nthe tap leaks\r\n")
    assert (mail.from_address, mail.subject) == ("asha@example.com", "Hi")


def file_named_in_8bit(name: bytes) -> bytes:
    head = (
        b"From: asha@example.com\r\nTo: support@example.com\r\nSubject: Photo\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nSiehe Foto.\r\n"
        b'--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename="' + name + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head + base64.b64encode(PNG_1PX) + b"\r\n--b--\r\n"


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8"])
def test_a_file_name_written_in_8bit_bytes_keeps_its_letters(encoding):
    mail = parse_email(file_named_in_8bit("Schäden am Gerät.png".encode(encoding)))
    assert [a.filename for a in mail.attachments] == ["Schäden am Gerät.png"]


def test_an_attached_mail_named_in_8bit_bytes_keeps_its_letters():
    inner = build_mail(sender="Ram <ram@example.com>", subject="Booking", text="Booked for Tuesday.")
    raw = file_named_in_8bit("Weitergeleitet über Outlook.eml".encode("latin-1"))
    raw = raw.replace(b"Content-Type: image/png", b"Content-Type: message/rfc822").replace(
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(PNG_1PX), b"\r\n" + inner
    )
    assert [a.filename for a in parse_email(raw).attachments] == ["Weitergeleitet über Outlook.eml"]


def test_a_body_whose_content_type_runs_into_the_next_header_is_still_read():
    raw = build_mail(text=None, html="<p>Please reset my password.</p>")
    run_together = b"Content-Type: text/html Content-Transfer-Encoding: 8bit"
    mail = parse_email(raw.replace(b'Content-Type: text/html; charset="utf-8"', run_together))
    assert mail.content_type == "text/html"
    assert "Please reset my password." in mail.html


def test_a_file_attached_without_a_name_gets_a_made_up_name_of_its_type():
    raw = build_mail(files=[("plan.pdf", PDF_HEAD, "application/pdf")])
    raw = raw.replace(b'Content-Disposition: attachment; filename="plan.pdf"', b"Content-Disposition: attachment")
    (plan,) = parse_email(raw).attachments
    assert (plan.filename, plan.content_type, plan.data) == ("attachment-1.pdf", "application/pdf", PDF_HEAD)


def test_an_8bit_big5_subject_with_latin_letters_inside_a_word_is_read_as_big5():
    head = "From: 陳小明 <chen@example.tw>\r\nTo: support@example.com\r\nSubject: 我的Gmail帳號無法登入\r\n"
    body = "Content-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: 8bit\r\n\r\n請幫忙"
    mail = parse_email((head + body).encode("big5"))
    assert (mail.from_name, mail.subject) == ("陳小明", "我的Gmail帳號無法登入")


def test_a_file_name_written_in_raw_gbk_by_a_chinese_client_is_read_as_chinese():
    mail = parse_email(
        file_named_in_8bit("季度 报告.doc".encode("gbk")).replace(b"charset=iso-8859-1", b"charset=us-ascii")
    )
    assert [a.filename for a in mail.attachments] == ["季度 报告.doc"]


@pytest.mark.parametrize("name", ["ÇÃO.png", "Grüße.png", "Übersicht ÄÖ.png"])
def test_a_latin1_file_name_whose_bytes_could_pass_for_gbk_stays_latin(name):
    mail = parse_email(file_named_in_8bit(name.encode("latin-1")).replace(b"charset=iso-8859-1", b"charset=us-ascii"))
    assert [a.filename for a in mail.attachments] == [name]


def text_labelled_base64(body: bytes) -> bytes:
    return (
        b"From: asha@example.com\r\nTo: support@example.com\r\nSubject: Boiler\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body
    )


def test_a_text_labelled_base64_that_is_written_in_words_is_read_as_words():
    words = b"The boiler stopped again this morning.\r\nCould someone come before Friday?\r\n"
    assert parse_email(text_labelled_base64(words)).text.strip() == words.decode().replace("\r\n", "\n").strip()


def test_a_text_in_real_base64_is_still_decoded():
    words = "Die Heizung ist wieder aus, bitte kommen Sie vor Freitag. " * 3
    encoded = base64.encodebytes(words.encode()).replace(b"\n", b"\r\n")
    assert parse_email(text_labelled_base64(encoded)).text.strip() == words.strip()


def test_a_first_header_with_a_long_name_is_a_header_not_a_banner():
    name = "X-" + "Long" * 20
    mail = parse_email(f"{name}: 1\r\n".encode() + build_mail(sender="Asha Gurung <asha@example.com>"))
    assert mail.header(name) == "1" and mail.from_address == "asha@example.com" and not mail.headers_repaired
