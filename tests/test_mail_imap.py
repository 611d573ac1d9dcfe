"""The IMAP door against a real Dovecot: a mail is stored first and only then marked seen or moved.

The session starts one Dovecot (Debian's `dovecot-imapd`) on two free ports of 127.0.0.1: IMAPS
and a plain port that requires STARTTLS before login, with a certificate from a CA made for the
session. Mail goes into the mailbox by IMAP APPEND, as a mail server would deliver it.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from mailgateway.imap import ImapError, poll_mailbox
from mailgateway.models import Door, InboundEmail
from mailgateway.tasks import poll_imap

DOVECOT = Path("/usr/sbin/dovecot")
if not DOVECOT.exists():
    pytest.skip(
        "needs Dovecot: apt-get install dovecot-imapd (.ci/run installs it when missing)", allow_module_level=True
    )
if os.geteuid() != 0:
    pytest.skip("the Dovecot fixture runs as root (auth and mail as Debian's dovecot users)", allow_module_level=True)
if shutil.which("openssl") is None:
    pytest.skip("needs the openssl command to make the test certificates", allow_module_level=True)

USER = "support@example.com"
PASSWORD = "imap-test-secret-7f3a"


@dataclass(frozen=True)
class Dovecot:
    imaps_port: int
    starttls_port: int
    ca_file: str
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    home = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    home.chmod(0o755)  # Dovecot's auth and mail processes run as its own users and must reach their files
    try:
        server = _start_dovecot(home)
        try:
            yield server
        finally:
            _stop(server)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _start_dovecot(home: Path) -> Dovecot:
    ca_file = _make_certificates(home)
    passwd = home / "passwd"
    passwd.write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    passwd.chmod(0o644)
    mail_user = pwd.getpwnam("dovecot")
    (home / "mail").mkdir()
    os.chown(home / "mail", mail_user.pw_uid, mail_user.pw_gid)
    imaps_port, starttls_port = _free_port(), _free_port()
    conf = home / "dovecot.conf"
    conf.write_text(_config(home, imaps_port=imaps_port, starttls_port=starttls_port, mail_user=mail_user))
    log = home / "dovecot.log"
    with log.open("ab") as early_errors:  # what dovecot says before its own log is open
        process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=early_errors
        )
    server = Dovecot(imaps_port, starttls_port, ca_file=str(ca_file), log=log, process=process)
    for port in (imaps_port, starttls_port):
        _wait_for_port(port, server)
    return server


def _config(home: Path, *, imaps_port: int, starttls_port: int, mail_user: pwd.struct_passwd) -> str:
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {home}/run
state_dir = {home}/state
log_path = {home}/dovecot.log
default_internal_user = dovecot
default_internal_group = {grp.getgrgid(mail_user.pw_gid).gr_name}
default_login_user = dovenull
ssl = required
ssl_cert = <{home}/server.pem
ssl_key = <{home}/server.key
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = {mail_user.pw_uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {home}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={home}/mail/%u
}}
mail_location = maildir:~/Maildir
# A socket nobody may open turns off the growing per-IP delay after failed logins, which would make
# every login after the wrong-password tests wait seconds.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {starttls_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
"""


def _make_certificates(home: Path) -> Path:
    """A CA made for this session and a server certificate for 127.0.0.1 and localhost signed by it."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=home, check=True, capture_output=True)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=Helpdesk test CA", "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", *ec, "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
    (home / "server.ext").write_text(
        "subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n"
        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "server.ext", "-out", "server.pem",
    )  # fmt: skip
    return home / "ca.pem"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, server: Dovecot) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            _stop(server)
            pytest.fail(f"dovecot exited with {server.process.returncode}:\n{server.log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    _stop(server)
    pytest.fail(f"dovecot did not answer on port {port}:\n{server.log.read_text(errors='replace')}")


def _stop(server: Dovecot) -> None:
    if server.process.poll() is not None:
        return
    server.process.terminate()  # the master stops its children and closes its ports
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


class Mailbox:
    """The test's own view of the mailbox, as a mail server and a person with a mail client see it."""

    def __init__(self, server: Dovecot) -> None:
        context = ssl.create_default_context(cafile=server.ca_file)
        self.conn = imaplib.IMAP4_SSL("127.0.0.1", server.imaps_port, ssl_context=context, timeout=10)
        self.conn.login(USER, PASSWORD)

    def deliver(self, raw: bytes, *, seen: bool = False) -> None:
        typ, data = self.conn.append("INBOX", r"(\Seen)" if seen else None, None, raw)
        assert typ == "OK", data

    def uids(self, folder: str = "INBOX", criterion: str = "ALL") -> list[str]:
        typ, data = self.conn.select(f'"{folder}"', readonly=True)
        assert typ == "OK", data
        typ, data = self.conn.uid("SEARCH", None, criterion)
        assert typ == "OK", data
        return data[0].decode().split()

    def empty(self) -> None:
        """Each test starts with an empty INBOX and no other folder."""
        _, folders = self.conn.list()
        for line in folders:
            name = line.decode().rsplit(' "." ', 1)[1]
            if name.strip('"') != "INBOX":
                self.conn.delete(name)
        self.conn.select("INBOX")
        if self.conn.search(None, "ALL")[1][0]:  # "1:*" is an error in an empty folder
            self.conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
            self.conn.expunge()
        self.conn.close()

    def logout(self) -> None:
        self.conn.logout()


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
    imap.IMAP_PORT = _free_port()

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
    imap.IMAP_PORT = _free_port()  # the server is down for now
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
