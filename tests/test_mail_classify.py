"""Mail that must not become a ticket: each kind is recognised and named (pure checks)."""

from __future__ import annotations

import pytest

from mailgateway.authentication import fails_dmarc, sender_verdicts
from mailgateway.classify import classify
from mailgateway.parsing import parse_email
from tests.mailbuilder import build_mail


def verdict_for(raw: bytes, *, envelope_sender: str | None = None, provider: dict | None = None) -> str | None:
    found = classify(
        parse_email(raw),
        envelope_sender=envelope_sender,
        provider_verdicts=provider or {},
        support_address="support@example.com",
        ignored_senders=["robot@partner.example"],
    )
    return found.reason if found else None


def test_a_person_s_mail_is_not_ignored():
    assert verdict_for(build_mail()) is None


@pytest.mark.parametrize("value", ["auto-replied", "auto-generated", "auto-notified"])
def test_auto_submitted_other_than_no_is_an_auto_reply(value):
    assert verdict_for(build_mail(headers={"Auto-Submitted": value})) == "auto_reply"


def test_auto_submitted_no_is_a_person_s_mail():
    assert verdict_for(build_mail(headers={"Auto-Submitted": "no"})) is None


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office AutoReply: [SB-1028] Refund for order 91000",
        "Abwesenheitsnotiz: Re: [SB-1028] Refund",
        "Auto: [SB-1028] Refund for order 91000",
        "Automatic reply: Re: [SB-1028] Refund",
        "Réponse automatique : [SB-1028] Remboursement",
        "Respuesta automática: [SB-1028] Reembolso",
        "自动回复: [SB-1028] Refund",
        "自动回复\uff1a[SB-1028] Refund",  # a full-width colon (QQ Mail, 163)
        "Automatikus válasz: [SB-1028] Visszatérítés",
        "Automatiskt svar: [SB-1028] Återbetalning",
        "Odpowiedź automatyczna: [SB-1028] Zwrot",
        "Abwesend: [SB-1028] Erstattung",
    ],
)
def test_an_autoresponder_s_subject_on_a_reply_to_our_mail_is_an_auto_reply(subject):
    """Lotus Notes, older Exchange and webmail vacation rules say it only in the subject."""
    raw = build_mail(subject=subject, in_reply_to="<179660179663.9523.1@example.com>")
    assert verdict_for(raw) == "auto_reply"


def test_an_autoresponder_s_subject_with_the_ticket_reference_is_an_auto_reply_without_headers():
    assert verdict_for(build_mail(subject="Out of Office: [SB-1028] Refund for order 91000")) == "auto_reply"


@pytest.mark.parametrize(
    "subject",
    ["Out of office hours support", "Out of office: who answers my ticket?", "Auto insurance claim", "Absence"],
)
def test_a_new_mail_whose_subject_only_sounds_automatic_is_a_person_s(subject):
    assert verdict_for(build_mail(subject=subject)) is None


@pytest.mark.parametrize(
    "subject", ["Auto: [PO-4411] wrong invoice for my car service", "Absence: [INC-2291] technician did not come"]
)
def test_a_new_mail_naming_someone_else_s_reference_is_a_person_s(subject):
    """Only our own references ([SB-...]) make a mail an answer to ours."""
    assert verdict_for(build_mail(subject=subject)) is None


@pytest.mark.parametrize("header", ["in_reply_to", "references"])
def test_an_autoresponder_s_subject_answering_by_either_header_is_an_auto_reply(header):
    raw = build_mail(subject="Out of Office: Refund for order 91000", **{header: "<1.2@example.com>"})
    assert verdict_for(raw) == "auto_reply"


def test_a_reply_that_talks_about_being_away_is_a_person_s():
    raw = build_mail(subject="Re: [SB-1028] Out of office until Monday", in_reply_to="<1.2@example.com>")
    assert verdict_for(raw) is None


@pytest.mark.parametrize(
    "headers",
    [{"X-Autoreply": "yes"}, {"X-Autorespond": "yes"}, {"Precedence": "bulk"}, {"Precedence": "junk"}],
)
def test_autoresponder_markers_are_auto_replies(headers):
    assert verdict_for(build_mail(headers=headers)) == "auto_reply"


def test_an_exchange_out_of_office_is_an_auto_reply():
    raw = build_mail(
        subject="Automatic reply: Plumber did not arrive",
        headers={"X-Auto-Response-Suppress": "All", "X-MS-Exchange-Inbox-Rules-Loop": "asha@example.com"},
    )
    assert verdict_for(raw) == "auto_reply"


@pytest.mark.parametrize("headers", [{"List-Id": "<news.example.com>"}, {"List-Unsubscribe": "<mailto:u@x>"}])
def test_mailing_list_mail_is_ignored(headers):
    assert verdict_for(build_mail(headers=headers)) == "mailing_list"


def test_precedence_list_is_mailing_list_mail():
    assert verdict_for(build_mail(headers={"Precedence": "list"})) == "mailing_list"


@pytest.mark.parametrize("headers", [{"X-Mailman-Version": "2.0.4"}, {"X-BeenThere": "tenants@lists.example.org"}])
def test_mailman_mail_without_list_headers_is_mailing_list_mail(headers):
    # Mailman 2.0 digests (From: tenants-request@...) carry its marks but no List-* header.
    assert verdict_for(build_mail(sender="tenants-request@lists.example.org", headers=headers)) == "mailing_list"


@pytest.mark.parametrize(
    "headers",
    [
        {"Mailing-List": "contact tenants-help@lists.example.org; run by ezmlm"},
        {"Delivered-To": "mailing list tenants@lists.example.org"},
    ],
)
def test_ezmlm_mail_without_list_headers_is_mailing_list_mail(headers):
    assert verdict_for(build_mail(headers=headers)) == "mailing_list"


def test_a_person_s_mail_delivered_to_a_mailbox_is_not_list_mail():
    assert verdict_for(build_mail(headers={"Delivered-To": "support@example.com"})) is None


@pytest.mark.parametrize("header", ["Return-Path", "Sender"])
def test_mail_of_a_list_that_returns_to_its_owner_address_is_mailing_list_mail(header):
    assert verdict_for(build_mail(headers={header: "<owner-tenants@lists.example.org>"})) == "mailing_list"


def test_a_list_owner_s_envelope_sender_is_mailing_list_mail():
    assert verdict_for(build_mail(), envelope_sender="owner-tenants@lists.example.org") == "mailing_list"


def test_a_person_whose_address_starts_with_owner_but_not_owner_dash_is_not_list_mail():
    assert verdict_for(build_mail(sender="ownerhari@example.org", headers={"Sender": "owners@example.org"})) is None


def test_mail_from_mailer_daemon_is_a_bounce():
    assert verdict_for(build_mail(sender="MAILER-DAEMON@mx.example.net")) == "bounce"


def test_an_empty_envelope_sender_is_a_bounce():
    assert verdict_for(build_mail(), envelope_sender="<>") == "bounce"


def test_an_empty_return_path_is_a_bounce():
    assert verdict_for(build_mail(headers={"Return-Path": "<>"})) == "bounce"


@pytest.mark.parametrize(
    "return_path", ["<MAILER-DAEMON@mx.example.net>", "<MAILER-DAEMON>", "<postmaster@example.net>"]
)
def test_a_mail_server_s_return_path_is_a_bounce_whoever_the_from_names(return_path):
    raw = build_mail(sender="Mail Gateway <scanner@example.net>", headers={"Return-Path": return_path})
    assert verdict_for(raw) == "bounce"


def test_a_mail_server_s_envelope_sender_is_a_bounce():
    assert verdict_for(build_mail(), envelope_sender="MAILER-DAEMON@mx.example.net") == "bounce"


def test_a_person_s_return_path_is_not_a_bounce():
    assert verdict_for(build_mail(headers={"Return-Path": "<asha@example.com>"})) is None


def test_a_delivery_report_is_a_bounce():
    raw = build_mail(text=None, html=None).replace(
        b"Subject:", b"Content-Type: multipart/report; report-type=delivery-status; boundary=Z\r\nSubject:", 1
    )
    assert verdict_for(raw + b"\r\n--Z\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--Z--\r\n") == "bounce"


def test_the_provider_s_spam_verdict_is_respected():
    assert verdict_for(build_mail(), provider={"spam_detected": True, "spam_score": 9.1}) == "spam"


def test_the_receiving_server_s_spam_flag_is_respected():
    assert verdict_for(build_mail(headers={"X-Spam-Flag": "YES"})) == "spam"


def test_amazon_ses_s_spam_verdict_in_the_headers_is_respected():
    assert verdict_for(build_mail(headers={"X-SES-Spam-Verdict": "FAIL"})) == "spam"


def test_amazon_ses_s_virus_verdict_in_the_headers_is_respected():
    assert verdict_for(build_mail(headers={"X-SES-Virus-Verdict": "FAIL"})) == "spam"


@pytest.mark.parametrize("value", ["Spam", "Blacklisted", "Virus"])
def test_a_dspam_verdict_in_the_headers_is_respected(value):
    assert verdict_for(build_mail(headers={"X-DSPAM-Result": value, "X-Spam-Status": "No, hits=7.9"})) == "spam"


@pytest.mark.parametrize("value", ["Innocent", "Whitelisted"])
def test_dspam_s_innocent_classes_leave_the_mail_to_a_person(value):
    assert verdict_for(build_mail(headers={"X-DSPAM-Result": value})) is None


@pytest.mark.parametrize("value", ["PASS", "GRAY", "PROCESSING_FAILED"])
def test_amazon_ses_s_other_verdicts_leave_the_mail_to_a_person(value):
    assert verdict_for(build_mail(headers={"X-SES-Spam-Verdict": value, "X-SES-Virus-Verdict": value})) is None


def test_mail_from_our_own_address_is_a_loop():
    assert verdict_for(build_mail(sender="SewaBazaar <support+abc@example.com>")) == "own_address"


def test_an_operator_can_block_a_robot_sender():
    assert verdict_for(build_mail(sender="robot@partner.example")) == "blocked_sender"


def test_authentication_results_give_spf_dkim_and_dmarc():
    raw = build_mail(
        headers={
            "Authentication-Results": "mx.sewabazaar.test; spf=pass smtp.mailfrom=example.com; "
            "dkim=pass header.d=example.com; dmarc=fail (p=reject) header.from=example.com"
        }
    )
    verdicts = sender_verdicts(parse_email(raw).headers)
    assert (verdicts["spf"], verdicts["dkim"], verdicts["dmarc"]) == ("pass", "pass", "fail")
    assert fails_dmarc(verdicts)


def test_only_the_topmost_authentication_results_count():
    # The sender wrote a passing verdict into the mail; our server added its own on top.
    raw = build_mail(headers={"Authentication-Results": "forged.example; dmarc=pass"})
    raw = b"Authentication-Results: mx.ours; dmarc=fail\r\n" + raw
    assert sender_verdicts(parse_email(raw).headers)["dmarc"] == "fail"


def test_authentication_results_from_an_untrusted_server_are_not_believed():
    raw = build_mail(headers={"Authentication-Results": "forged.example; dmarc=pass"})
    assert "dmarc" not in sender_verdicts(parse_email(raw).headers, trusted_servers=["mx.ours"])


def test_the_provider_s_fields_count_when_no_header_says():
    assert sender_verdicts({}, {"spf": "softfail", "dmarc": "fail"}) == {
        "spf": "softfail",
        "dmarc": "fail",
        "source": "the provider",
    }
