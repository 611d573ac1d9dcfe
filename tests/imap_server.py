"""A real IMAP server for the IMAP door's tests, and the OAuth 2.0 server of its mailbox's tenant.

`start_dovecot()` starts Debian's Dovecot on two free ports of 127.0.0.1: IMAPS, and a plain port
that requires STARTTLS before login, with a certificate from a CA made for the session. It takes
passwords, and XOAUTH2 tokens that it checks with the `TokenServer`'s introspection endpoint.
`TokenServer` is the tenant's side that the helpdesk cannot reach in tests (Microsoft's or
Google's): it hands out access tokens for the client's credentials or refresh token.
"""

from __future__ import annotations

import grp
import imaplib
import json
import os
import pwd
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

DOVECOT = Path("/usr/sbin/dovecot")
USER = "support@example.com"
PASSWORD = "imap-test-secret-7f3a"


@dataclass(frozen=True)
class Dovecot:
    imaps_port: int
    starttls_port: int
    ca_file: str
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)


def start_dovecot(home: Path, *, introspection_url: str) -> Dovecot:
    ca_file = _make_certificates(home)
    passwd = home / "passwd"
    passwd.write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    passwd.chmod(0o644)
    mail_user = pwd.getpwnam("dovecot")
    (home / "mail").mkdir()
    os.chown(home / "mail", mail_user.pw_uid, mail_user.pw_gid)
    imaps_port, starttls_port = free_port(), free_port()
    conf = home / "dovecot.conf"
    (home / "oauth2.conf.ext").write_text(_oauth2_config(introspection_url))
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
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
first_valid_uid = {mail_user.pw_uid}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {home}/oauth2.conf.ext
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
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


def _oauth2_config(introspection_url: str) -> str:
    """Dovecot asks the token server whether a token is active and whose it is (RFC 7662)."""
    return f"""
introspection_mode = post
introspection_url = {introspection_url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, server: Dovecot) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            stop(server)
            pytest.fail(f"dovecot exited with {server.process.returncode}:\n{server.log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    stop(server)
    pytest.fail(f"dovecot did not answer on port {port}:\n{server.log.read_text(errors='replace')}")


def stop(server: Dovecot) -> None:
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


class TokenServer:
    """The token endpoint (`/token`) and the introspection endpoint (`/introspect`) of a tenant."""

    CLIENT_ID = "helpdesk-imap"
    CLIENT_SECRET = "client-secret-51d0"
    REFRESH_TOKEN = "refresh-token-9a7c"

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []  # the token requests, as sent
        self.active: set[str] = set()
        self.refresh_tokens = {self.REFRESH_TOKEN}  # each use hands back a new one, as Microsoft does
        self.refusal: tuple[int, dict[str, str]] | None = None
        self.lifetime = 3600
        self._issued = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def reset(self) -> None:
        self.forms.clear()
        self.active.clear()
        self.refresh_tokens = {self.REFRESH_TOKEN}
        self.refusal, self.lifetime = None, 3600

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.forms.append(form)
        if self.refusal is not None:
            return self.refusal
        if form.get("client_id") != self.CLIENT_ID:
            return 401, {"error": "invalid_client", "error_description": "Unknown client."}
        grant = form.get("grant_type")
        if grant == "client_credentials" and form.get("client_secret") == self.CLIENT_SECRET:
            answer: dict[str, Any] = {}
        elif grant == "refresh_token" and form.get("refresh_token") in self.refresh_tokens:
            answer = {"refresh_token": f"refresh-token-{self._issued + 1}"}
            self.refresh_tokens.add(answer["refresh_token"])
        else:
            return 400, {"error": "invalid_grant", "error_description": "The credentials are not valid."}
        self._issued += 1
        token = f"access-token-{self._issued}"
        self.active.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime, **answer}

    def _introspect(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("token") in self.active:
            return 200, {"active": True, "username": USER}
        return 200, {"active": False}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                answer = {"/token": server._token, "/introspect": server._introspect}.get(self.path)
                status, body = answer(form) if answer else (404, {"error": "not_found"})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        return Handler
