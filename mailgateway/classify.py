"""Mail that must not become a ticket or a message, and why.

Pure. Auto-replies, out-of-office notices, bounces, mailing-list mail, provider spam verdicts
and mail from our own address are recorded and left alone: answering them is how two robots
end up writing to each other forever. Floods are counted in `ingest`, which can read the
database; everything here looks only at the mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from support.references import reference_in_subject

from .addresses import is_support_address, normalize_address
from .parsing import ParsedEmail

_ROBOT_LOCALS = re.compile(
    r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|bounces?|no-?reply|do-?not-?reply)([+-].*)?$"
)
_DAEMON_LOCALS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)$")
_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?(reply|response)|out of (the )?office|abwesenheitsnotiz|"
    r"automatische antwort|réponse automatique|respuesta automática|fuera de la oficina|"
    r"undeliverable|undelivered mail|delivery status notification|mail delivery failed|"
    r"returned mail|failure notice)\b",
    re.IGNORECASE,
)
# What autoresponders put before the subject of the mail they answer ("Out of Office AutoReply:
# <subject>"), in the languages of SewaBazaar's people and the usual mail clients. Only followed by
# a colon (full-width in Chinese and Japanese clients), and only on a mail that answers another
# (`_answers_a_mail`): a person may well open a ticket titled "Out of office hours", but never
# writes "Automatic reply: Re: [SB-1042] ..." by hand.
_AUTO_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:automatic|auto)[- ]?(?:reply|response|answer)|autoreply|auto|"
    r"out of (?:the )?office(?: auto ?reply| reply)?|abwesenheitsnotiz|abwesend|automatische antwort|"
    r"r[ée]ponse automatique|absence|respuesta autom[áa]tica|fuera de la oficina|risposta automatica|"
    r"resposta autom[áa]tica|automatisch antwoord|afwezig|autosvar|automatiskt svar|automatisk svar|"
    r"automaattinen vastaus|automatyczna odpowied[źz]|odpowied[źz] automatyczna|"
    r"automatick[áa] odpov[ěe][ďd]|automatikus v[áa]lasz|otomatik yan[\u0131i]t|автоответ|"
    r"автоматический ответ|自动回复|自動回覆|自動応答|自動返信|स्वतः उत्तर|स्वचालित उत्तर)\s*[:\uff1a]",
    re.IGNORECASE,
)

# DSPAM's classes that are verdicts (Innocent and Whitelisted leave the mail to a person).
_DSPAM_VERDICTS = {"spam", "blacklisted", "virus"}


@dataclass(frozen=True)
class Ignore:
    reason: str  # auto_reply, bounce, mailing_list, spam, own_address, blocked_sender
    detail: str


def classify(
    mail: ParsedEmail,
    *,
    envelope_sender: str | None,
    provider_verdicts: Mapping[str, Any],
    support_address: str,
    ignored_senders: Iterable[str] = (),
) -> Ignore | None:
    """Why this mail is not for a ticket, or None when a person wrote it to us."""
    for check in (_own_address, _bounce, _auto_reply, _mailing_list, _spam):
        verdict = check(mail, envelope_sender, provider_verdicts, support_address)
        if verdict is not None:
            return verdict
    blocked = {normalize_address(a) for a in ignored_senders} - {""}
    if mail.from_address in blocked:
        return Ignore("blocked_sender", f"{mail.from_address} is in INBOUND_IGNORE_SENDERS.")
    return None


def _own_address(mail: ParsedEmail, envelope_sender: str | None, verdicts: Any, support: str) -> Ignore | None:
    if is_support_address(mail.from_address, support_address=support) or mail.header("x-sewabazaar-helpdesk"):
        return Ignore("own_address", "The mail comes from the helpdesk itself (a loop).")
    return None


def _bounce(mail: ParsedEmail, envelope_sender: str | None, verdicts: Any, support: str) -> Ignore | None:
    if mail.report is not None:
        failed = ", ".join(mail.report.failed_recipients) or "no recipient named"
        return Ignore("bounce", f"A delivery report ({failed}).")
    if _is_daemon(mail.from_address):
        return Ignore("bounce", f"Sent by {mail.from_address}.")
    if (envelope_sender or "").strip() == "<>":
        return Ignore("bounce", "The envelope sender is empty (<>), as on delivery reports.")
    return_path = mail.header("return-path").strip()
    if return_path == "<>":
        return Ignore("bounce", "The Return-Path is empty (<>), as on delivery reports.")
    # Sendmail and others write the empty sender of a bounce as <MAILER-DAEMON> or
    # <MAILER-DAEMON@their.host>, while the From names a gateway or a scanner.
    for path in (return_path, envelope_sender or ""):
        if _is_daemon(path):
            return Ignore("bounce", f"The return path is a mail server's ({path}).")
    if mail.header("x-failed-recipients"):
        return Ignore("bounce", "The mail names failed recipients (X-Failed-Recipients).")
    return None


def _is_daemon(address: str) -> bool:
    """MAILER-DAEMON, postmaster and the like, with or without angle brackets and a domain."""
    return _DAEMON_LOCALS.match(address.strip().strip("<>").partition("@")[0].lower()) is not None


def _auto_reply(mail: ParsedEmail, envelope_sender: str | None, verdicts: Any, support: str) -> Ignore | None:
    auto_submitted = mail.header("auto-submitted").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return Ignore("auto_reply", f"Auto-Submitted: {auto_submitted} (RFC 3834).")
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-autogenerated", "x-auto-response"):
        if mail.header(name):
            return Ignore("auto_reply", f"The mail carries {name}.")
    precedence = mail.header("precedence").strip().lower()
    if precedence in ("bulk", "junk", "auto_reply", "auto-reply"):
        return Ignore("auto_reply", f"Precedence: {precedence}.")
    suppress = mail.header("x-auto-response-suppress").lower()
    if mail.header("x-ms-exchange-inbox-rules-loop") or mail.header("x-ms-exchange-generated-message-source"):
        return Ignore("auto_reply", "Exchange generated this mail from a rule (an automatic reply).")
    if suppress and _AUTO_SUBJECT.match(mail.subject):
        return Ignore("auto_reply", f"An automatic reply ({mail.subject[:80]!r}).")
    if _ROBOT_LOCALS.match(mail.from_address.partition("@")[0]) and _AUTO_SUBJECT.match(mail.subject):
        return Ignore("auto_reply", f"An automatic message from {mail.from_address}.")
    if _AUTO_REPLY_PREFIX.match(mail.subject) and _answers_a_mail(mail):
        # Lotus Notes, older Exchange, webmail vacation rules: no header says it, the subject does.
        return Ignore("auto_reply", f"An automatic reply to a mail ({mail.subject[:80]!r}).")
    return None


def _answers_a_mail(mail: ParsedEmail) -> bool:
    return bool(mail.in_reply_to or mail.references or reference_in_subject(mail.subject))


def _mailing_list(mail: ParsedEmail, envelope_sender: str | None, verdicts: Any, support: str) -> Ignore | None:
    if mail.header("list-id") or mail.header("list-post") or mail.header("list-unsubscribe"):
        return Ignore("mailing_list", "Mailing-list mail (List-* headers).")
    if mail.header("precedence").strip().lower() == "list":
        return Ignore("mailing_list", "Precedence: list.")
    # ezmlm marks each post with a Mailing-List header ("contact x-help@...; run by ezmlm") and a
    # "Delivered-To: mailing list x@..." line, and adds no List-* header of its own.
    if mail.header("mailing-list"):
        return Ignore("mailing_list", "Mailing-list mail (ezmlm's Mailing-List header).")
    if any(value.lower().startswith("mailing list ") for value in mail.headers.get("delivered-to", ())):
        return Ignore("mailing_list", "Mailing-list mail (Delivered-To: mailing list).")
    # Mailman marks every mail it sends so; its 2.0 digests and older posts carry no List-* header.
    for name in ("x-mailman-version", "x-beenthere"):
        if mail.header(name):
            return Ignore("mailing_list", f"Mailing-list mail (Mailman's {name}).")
    # Majordomo and LISTSERV add no List-* header: their mail comes back to `owner-<list>@`.
    for path in (mail.header("return-path"), mail.header("sender"), envelope_sender or ""):
        local = path.strip().strip("<>").partition("@")[0].lower()
        if local.startswith("owner-") and len(local) > len("owner-"):
            return Ignore("mailing_list", f"Mailing-list mail (its list owner {path.strip()[:120]}).")
    return None


def _spam(mail: ParsedEmail, envelope_sender: str | None, verdicts: Any, support: str) -> Ignore | None:
    if verdicts.get("spam_detected") is True:
        score = verdicts.get("spam_score")
        return Ignore("spam", f"The provider marked it as spam{f' (score {score})' if score is not None else ''}.")
    if mail.header("x-spam-flag").strip().lower() == "yes" or mail.header("x-spam-status").lower().startswith("yes"):
        return Ignore("spam", "The receiving server marked it as spam (X-Spam-Flag/X-Spam-Status).")
    # Amazon SES receiving writes its scans into the mail it stores in S3 or hands to a mailbox
    # (the raw door, IMAP and the MTA pipe see only these headers): PASS, FAIL, GRAY or
    # PROCESSING_FAILED. Only FAIL is a verdict; the others leave the mail to a person.
    for name, what in (("X-SES-Spam-Verdict", "spam"), ("X-SES-Virus-Verdict", "a virus")):
        if mail.header(name).strip().upper() == "FAIL":
            return Ignore("spam", f"Amazon SES found {what} in it ({name}: FAIL).")
    # DSPAM (and the Maia/amavis setups that run it) writes its class into X-DSPAM-Result:
    # Innocent or Whitelisted leave the mail to a person; Spam, Blacklisted (an RBL hit) and
    # Virus are verdicts.
    dspam = mail.header("x-dspam-result").strip().lower()
    if dspam in _DSPAM_VERDICTS:
        return Ignore("spam", f"The receiving server's DSPAM filter classed it as {dspam} (X-DSPAM-Result).")
    return None
