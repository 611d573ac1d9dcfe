"""The IMAP door against a real Dovecot: a mail is stored first and only then marked seen or moved.

The session starts one Dovecot (`tests/imap_server.py`) that takes a password or an XOAUTH2 token
checked with the session's token server. Mail goes into the mailbox by IMAP APPEND, as a mail
server would deliver it.
"""

from __future__ import annotations

import imaplib
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from mailgateway.imap import ImapConfig, ImapError, poll_mailbox
from mailgateway.models import Door, InboundEmail
from mailgateway.tasks import poll_imap
from tests.imap_server import DOVECOT, PASSWORD, USER, Dovecot, Mailbox, TokenServer, free_port, start_dovecot, stop

if not DOVECOT.exists():
    pytest.skip(
        "needs Dovecot: apt-get install dovecot-imapd (.ci/run installs it when missing)", allow_module_level=True
    )
if os.geteuid() != 0:
    pytest.skip("the Dovecot fixture runs as root (auth and mail as Debian's dovecot users)", allow_module_level=True)
if shutil.which("openssl") is None:
    pytest.skip("needs the openssl command to make the test certificates", allow_module_level=True)


@pytest.fixture(scope="session")
def token_server() -> Iterator[TokenServer]:
    server = TokenServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def dovecot(token_server: TokenServer) -> Iterator[Dovecot]:
    home = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    home.chmod(0o755)  # Dovecot's auth and mail processes run as its own users and must reach their files
    try:
        server = start_dovecot(home, introspection_url=f"{token_server.url}/introspect")
        try:
            yield server
        finally:
            stop(server)
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Iterator[Mailbox]:
    box = Mailbox(dovecot)
    box.empty()
    yield box
    box.logout()


@pytest.fixture
def imap(settings: Any, dovecot: Dovecot) -> Any:
    """The door pointed at the test server over IMAPS, trusting the session's CA."""
    settings.IMAP_HOST = "127.0.0.1"
    settings.IMAP_PORT = dovecot.imaps_port
    settings.IMAP_SECURITY = "ssl"
    settings.IMAP_USER = USER
    settings.IMAP_PASSWORD = PASSWORD
    settings.IMAP_FOLDER = "INBOX"
    settings.IMAP_PROCESSED_FOLDER = ""
    settings.IMAP_CA_FILE = dovecot.ca_file
    return settings


@pytest.fixture(autouse=True)
def queued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`_enqueue` is the edge to the task queue: recorded here, so that these tests end at the store."""
    calls: list[str] = []
    monkeypatch.setattr("mailgateway.store._enqueue", lambda inbound_id: calls.append(str(inbound_id)))
    return calls


def mail(subject: str = "The plumber did not come", *, message_id: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "Asha Rai <asha@example.com>"
    message["To"] = USER
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="mail.example.com")
    message.set_content(f"{subject}.\n")
    return message.as_bytes()


@pytest.mark.django_db(transaction=True)
def test_unseen_mail_is_stored_and_then_marked_seen(imap, mailbox, queued):
    mailbox.deliver(mail("First"))
    mailbox.deliver(mail("Second"))

    result = poll_mailbox()

    assert (result.fetched, result.stored_new, result.duplicates, result.failed) == (2, 2, 0, 0)
    assert mailbox.uids(criterion="UNSEEN") == []
    assert len(mailbox.uids(criterion="SEEN")) == 2
    rows = InboundEmail.objects.all()
    assert {(row.door, row.provider, row.envelope_recipient) for row in rows} == {(Door.IMAP, "imap", USER)}
    assert all(row.provider_message_id.startswith("127.0.0.1/INBOX/") for row in rows)
    assert len(queued) == 2  # processing was queued on commit, once per mail


@pytest.mark.django_db(transaction=True)
def test_mail_already_seen_is_not_fetched(imap, mailbox):
    mailbox.deliver(mail("Read by a person"), seen=True)

    result = poll_mailbox()

    assert result.fetched == 0
    assert not InboundEmail.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_limit_bounds_the_mails_fetched_per_poll(imap, mailbox):
    for number in range(3):
        mailbox.deliver(mail(f"Mail {number}"))

    assert poll_mailbox(limit=2).fetched == 2
    assert len(mailbox.uids(criterion="UNSEEN")) == 1


@pytest.mark.django_db(transaction=True)
def test_with_a_processed_folder_the_mail_is_moved_there(imap, mailbox):
    imap.IMAP_PROCESSED_FOLDER = "Traité"  # created on first use; a non-ASCII name in modified UTF-7

    mailbox.deliver(mail())

    assert poll_mailbox().stored_new == 1
    assert mailbox.uids("INBOX") == []
    assert len(mailbox.uids("Trait&AOk-", criterion="SEEN")) == 1


@pytest.mark.django_db(transaction=True)
def test_without_the_move_capability_the_mail_is_copied_and_expunged(imap, mailbox, monkeypatch):
    from mailgateway import imap as door

    real = door._capabilities
    monkeypatch.setattr(door, "_capabilities", lambda conn: real(conn) - {"MOVE"})  # an older server
    imap.IMAP_PROCESSED_FOLDER = "Processed"
    mailbox.deliver(mail())

    assert poll_mailbox().stored_new == 1
    assert mailbox.uids("INBOX") == []
    assert len(mailbox.uids("Processed")) == 1


@pytest.mark.django_db(transaction=True)
def test_a_mail_that_cannot_be_stored_stays_unseen_and_the_others_go_on(imap, mailbox, monkeypatch):
    from mailgateway import imap as door

    real_store = door.store_inbound

    def store_or_fail(raw: bytes, **kwargs: Any) -> Any:
        if b"Subject: Broken" in raw:
            raise RuntimeError("disk full")
        return real_store(raw, **kwargs)

    monkeypatch.setattr(door, "store_inbound", store_or_fail)
    for subject in ("Before", "Broken", "After"):
        mailbox.deliver(mail(subject))

    result = poll_mailbox()

    assert (result.fetched, result.stored_new, result.failed) == (3, 2, 1)
    assert "disk full" in result.errors[0]
    assert len(mailbox.uids(criterion="UNSEEN")) == 1
    assert InboundEmail.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_polling_twice_stores_each_mail_once_and_a_redelivery_is_a_duplicate_marked_seen(imap, mailbox, queued):
    raw = mail(message_id="<same-mail@mail.example.com>")
    mailbox.deliver(raw)
    first = poll_mailbox()
    nothing_new = poll_mailbox()
    mailbox.deliver(raw)  # the same mail delivered again (a second copy, a new UID)
    again = poll_mailbox()

    assert (first.stored_new, nothing_new.fetched, again.duplicates) == (1, 0, 1)
    assert InboundEmail.objects.count() == 1 and len(queued) == 1
    assert mailbox.uids(criterion="UNSEEN") == []


@pytest.mark.django_db(transaction=True)
def test_starttls_works_as_well_as_imaps(imap, mailbox, dovecot, monkeypatch):
    upgrades: list[ssl.SSLContext | None] = []
    real_starttls = imaplib.IMAP4.starttls

    def spy(self: imaplib.IMAP4, ssl_context: ssl.SSLContext | None = None) -> Any:
        upgrades.append(ssl_context)
        return real_starttls(self, ssl_context=ssl_context)

    monkeypatch.setattr(imaplib.IMAP4, "starttls", spy)
    imap.IMAP_SECURITY = "starttls"
    imap.IMAP_PORT = dovecot.starttls_port
    mailbox.deliver(mail())

    assert poll_mailbox().stored_new == 1
    assert len(upgrades) == 1 and upgrades[0] is not None and upgrades[0].verify_mode == ssl.CERT_REQUIRED


def test_a_wrong_password_is_a_clear_error_that_does_not_show_the_password(imap, mailbox, caplog):
    imap.IMAP_PASSWORD = "wrong-password-9c1e"

    with pytest.raises(ImapError, match=r"refused the login of 'support@example.com'.*AUTHENTICATIONFAILED") as exc:
        poll_mailbox()

    assert "wrong-password-9c1e" not in str(exc.value) and "wrong-password-9c1e" not in caplog.text


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_a_server_with_an_untrusted_certificate_is_refused(imap, dovecot, security):
    imap.IMAP_SECURITY = security
    imap.IMAP_PORT = dovecot.imaps_port if security == "ssl" else dovecot.starttls_port
    imap.IMAP_CA_FILE = ""  # the system's CAs do not know the session's CA

    with pytest.raises(ImapError, match=r"127\.0\.0\.1:\d+ .*certificate that is not trusted.*IMAP_CA_FILE"):
        poll_mailbox()


def test_a_closed_port_is_an_error_naming_host_and_port(imap):
    imap.IMAP_PORT = free_port()

    with pytest.raises(ImapError, match=rf"cannot connect to IMAP server 127\.0\.0\.1:{imap.IMAP_PORT} .*refused"):
        poll_mailbox()


def test_missing_settings_are_named(settings):
    settings.IMAP_HOST = "imap.example.com"
    settings.IMAP_USER = ""
    settings.IMAP_PASSWORD = ""

    with pytest.raises(ImproperlyConfigured, match="IMAP_USER, IMAP_PASSWORD"):
        poll_mailbox()


@pytest.mark.django_db(transaction=True)
def test_poll_imap_command_prints_the_summary(imap, mailbox):
    mailbox.deliver(mail())
    out = StringIO()

    call_command("poll_imap", stdout=out)

    assert out.getvalue().strip() == "fetched=1 new=1 duplicates=0 failed=0"


def test_poll_imap_command_fails_when_the_mailbox_cannot_be_logged_into(imap):
    imap.IMAP_PASSWORD = "wrong-password-9c1e"

    with pytest.raises(CommandError, match="refused the login"):
        call_command("poll_imap", stdout=StringIO())


def test_the_celery_task_does_nothing_without_imap_host(settings, monkeypatch):
    settings.IMAP_HOST = ""
    monkeypatch.setattr("mailgateway.imap.poll_mailbox", lambda **kwargs: pytest.fail("polled"))

    outcome = poll_imap.apply()  # runs the task here, as a worker would, whatever CELERY_TASK_ALWAYS_EAGER says

    assert outcome.successful() and outcome.result is None


def test_poll_imap_loop_reports_a_failed_poll_and_keeps_going_until_interrupted(imap, monkeypatch):
    imap.IMAP_PORT = free_port()  # the server is down for now
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("mailgateway.management.commands.poll_imap.time.sleep", sleep)
    out, err = StringIO(), StringIO()

    call_command("poll_imap", "--loop", stdout=out, stderr=err)

    assert err.getvalue().count("cannot connect to IMAP server") == 2
    assert naps == [60, 60] and out.getvalue().strip() == "stopped"


# -- an XOAUTH2 login with a token (Microsoft 365, Google Workspace) ------------------------------


@pytest.fixture
def imap_oauth(imap: Any, token_server: TokenServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The door logging in with tokens for the app's client credentials, as for Microsoft 365."""
    token_server.reset()
    monkeypatch.setattr("mailgateway.imap_oauth._tokens", {})  # no token kept from another test
    monkeypatch.setattr("mailgateway.imap_oauth._refresh_tokens", {})
    imap.IMAP_AUTH = "oauth2"
    imap.IMAP_PASSWORD = ""
    imap.IMAP_OAUTH_TOKEN_URL = f"{token_server.url}/token"
    imap.IMAP_OAUTH_CLIENT_ID = TokenServer.CLIENT_ID
    imap.IMAP_OAUTH_CLIENT_SECRET = TokenServer.CLIENT_SECRET
    imap.IMAP_OAUTH_REFRESH_TOKEN = ""
    imap.IMAP_OAUTH_SCOPE = "https://outlook.office365.com/.default"
    return imap


@pytest.mark.django_db(transaction=True)
def test_an_oauth2_mailbox_is_polled_with_a_token_for_the_client_credentials(imap_oauth, mailbox, token_server):
    mailbox.deliver(mail())

    assert poll_mailbox().stored_new == 1
    assert mailbox.uids(criterion="UNSEEN") == []
    assert token_server.forms == [
        {
            "client_id": TokenServer.CLIENT_ID,
            "client_secret": TokenServer.CLIENT_SECRET,
            "grant_type": "client_credentials",
            "scope": "https://outlook.office365.com/.default",
        }
    ]


@pytest.mark.django_db(transaction=True)
def test_a_refresh_token_is_exchanged_when_one_is_configured(imap_oauth, mailbox, token_server):
    imap_oauth.IMAP_OAUTH_CLIENT_SECRET = ""  # a public client: the refresh token is the proof
    imap_oauth.IMAP_OAUTH_REFRESH_TOKEN = TokenServer.REFRESH_TOKEN
    mailbox.deliver(mail())

    assert poll_mailbox().stored_new == 1
    (form,) = token_server.forms
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == TokenServer.REFRESH_TOKEN
    assert "client_secret" not in form


@pytest.mark.django_db(transaction=True)
def test_the_token_is_kept_for_the_next_polls(imap_oauth, mailbox, token_server):
    poll_mailbox()
    poll_mailbox()

    assert len(token_server.forms) == 1


@pytest.mark.django_db(transaction=True)
def test_a_token_about_to_expire_is_not_used_again(imap_oauth, mailbox, token_server):
    token_server.lifetime = 30  # less than the minute kept in hand

    poll_mailbox()
    poll_mailbox()

    assert len(token_server.forms) == 2


@pytest.mark.django_db(transaction=True)
def test_a_token_the_server_refuses_is_replaced_on_the_next_poll(imap_oauth, mailbox, token_server):
    poll_mailbox()
    token_server.active.clear()  # revoked by the tenant's admin
    mailbox.deliver(mail())

    with pytest.raises(ImapError, match=r"refused the login of 'support@example\.com'"):
        poll_mailbox()
    assert mailbox.uids(criterion="UNSEEN") != []  # nothing was taken
    assert poll_mailbox().stored_new == 1
    assert len(token_server.forms) == 2


@pytest.mark.django_db(transaction=True)
def test_the_refresh_token_handed_back_is_used_for_the_next_token(imap_oauth, mailbox, token_server):
    imap_oauth.IMAP_OAUTH_CLIENT_SECRET = ""
    imap_oauth.IMAP_OAUTH_REFRESH_TOKEN = TokenServer.REFRESH_TOKEN
    token_server.lifetime = 30  # asked for again at every poll

    poll_mailbox()
    token_server.refresh_tokens.discard(TokenServer.REFRESH_TOKEN)  # the configured one has expired
    poll_mailbox()

    first, second = (form["refresh_token"] for form in token_server.forms)
    assert first == TokenServer.REFRESH_TOKEN
    assert second != first and second in token_server.refresh_tokens  # the one handed back


def test_an_expired_refresh_token_is_an_error_that_names_its_setting(imap_oauth, token_server):
    imap_oauth.IMAP_OAUTH_REFRESH_TOKEN = "refresh-token-long-gone"

    with pytest.raises(ImapError, match=r"invalid_grant|not valid.*IMAP_OAUTH_REFRESH_TOKEN has expired"):
        poll_mailbox()


def test_a_token_endpoint_that_refuses_is_a_clear_error_without_the_secret(imap_oauth, token_server, caplog):
    token_server.refusal = (401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid secret."})

    with pytest.raises(ImapError, match=r"no access token .* refused \(401\): AADSTS7000215") as exc:
        poll_mailbox()

    assert TokenServer.CLIENT_SECRET not in str(exc.value) and TokenServer.CLIENT_SECRET not in caplog.text


def test_an_unreachable_token_endpoint_is_a_clear_error(imap_oauth):
    port = free_port()
    imap_oauth.IMAP_OAUTH_TOKEN_URL = f"http://127.0.0.1:{port}/token"

    with pytest.raises(ImapError, match=rf"cannot reach the token endpoint http://127\.0\.0\.1:{port}/token"):
        poll_mailbox()


def test_missing_oauth2_settings_are_named_and_no_password_is_needed(settings):
    settings.IMAP_HOST, settings.IMAP_USER, settings.IMAP_PASSWORD = "outlook.office365.com", USER, ""
    settings.IMAP_AUTH = "oauth2"
    settings.IMAP_OAUTH_TOKEN_URL = settings.IMAP_OAUTH_CLIENT_ID = settings.IMAP_OAUTH_CLIENT_SECRET = ""
    settings.IMAP_OAUTH_REFRESH_TOKEN = ""

    with pytest.raises(
        ImproperlyConfigured, match="needs IMAP_OAUTH_TOKEN_URL, IMAP_OAUTH_CLIENT_ID, IMAP_OAUTH_CLIENT"
    ):
        poll_mailbox()


def test_a_token_url_in_clear_text_to_another_machine_is_refused(settings):
    settings.IMAP_HOST, settings.IMAP_USER, settings.IMAP_AUTH = "outlook.office365.com", USER, "oauth2"
    settings.IMAP_OAUTH_TOKEN_URL = "http://login.example.com/token"
    settings.IMAP_OAUTH_CLIENT_ID, settings.IMAP_OAUTH_CLIENT_SECRET = "app", "secret"

    with pytest.raises(ImproperlyConfigured, match="IMAP_OAUTH_TOKEN_URL must be an https:// URL"):
        poll_mailbox()


def test_microsofts_token_endpoint_is_asked_for_the_imap_scope_when_none_is_set(settings):
    settings.IMAP_HOST, settings.IMAP_USER, settings.IMAP_AUTH = "outlook.office365.com", USER, "oauth2"
    settings.IMAP_OAUTH_TOKEN_URL = "https://login.microsoftonline.com/tenant-id/oauth2/v2.0/token"
    settings.IMAP_OAUTH_CLIENT_ID, settings.IMAP_OAUTH_CLIENT_SECRET = "app", "secret"
    settings.IMAP_OAUTH_SCOPE = ""

    oauth = ImapConfig.from_settings().oauth

    assert oauth is not None and oauth.scope == "https://outlook.office365.com/.default"


def test_an_unknown_imap_auth_is_refused(settings):
    settings.IMAP_AUTH = "kerberos"

    with pytest.raises(ImproperlyConfigured, match="IMAP_AUTH must be 'password' or 'oauth2'"):
        poll_mailbox()
