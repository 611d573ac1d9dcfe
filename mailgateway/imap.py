"""The IMAP door: poll a plain mailbox, store each unseen mail, and only then let the mailbox forget it.

In: the folder named by the IMAP_* settings. Out: a `PollResult` with counts. Touches: the mailbox
(flags, moves) and `InboundEmail` through `store_inbound()` only; the store queues processing on
commit. The order is the point: a mail is marked seen (or moved) after its row is committed, so a
crash in between means the mail is fetched again next poll and recognized as a duplicate, never lost.
A mail that cannot be stored stays unseen and is tried again next poll; it never blocks the others.
"""

from __future__ import annotations

import base64
import imaplib
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from .imap_oauth import (
    OAuthClient,
    TokenError,
    access_token,
    default_scope,
    forget_token,
    token_url_problem,
    xoauth2_response,
)
from .models import Door
from .store import store_inbound

logger = logging.getLogger("mailgateway")

TIMEOUT_SECONDS = 30
_LOST = (imaplib.IMAP4.abort, OSError)  # the connection is gone (ssl.SSLError and timeouts are OSErrors)


class ImapError(Exception):
    """The mailbox cannot be reached, secured, logged into or opened."""


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    security: str
    user: str
    password: str = field(repr=False)
    folder: str
    processed_folder: str
    ca_file: str
    oauth: OAuthClient | None = None  # IMAP_AUTH=oauth2: an XOAUTH2 login with a token, no password

    @classmethod
    def from_settings(cls) -> ImapConfig:
        """Read and check the IMAP_* settings once, naming the one that is wrong."""
        auth = settings.IMAP_AUTH.strip().lower()
        if auth not in ("password", "oauth2"):
            raise ImproperlyConfigured(f"IMAP_AUTH must be 'password' or 'oauth2', not {settings.IMAP_AUTH!r}.")
        needed = ["IMAP_HOST", "IMAP_USER"]
        if auth == "password":
            needed.append("IMAP_PASSWORD")
        else:
            needed += ["IMAP_OAUTH_TOKEN_URL", "IMAP_OAUTH_CLIENT_ID"]
            if not settings.IMAP_OAUTH_REFRESH_TOKEN:  # client credentials: the app's own secret
                needed.append("IMAP_OAUTH_CLIENT_SECRET")
        missing = [name for name in needed if not getattr(settings, name, "")]
        if missing:
            raise ImproperlyConfigured(f"The IMAP door needs {', '.join(missing)} in the environment.")
        problem = token_url_problem(settings.IMAP_OAUTH_TOKEN_URL) if auth == "oauth2" else ""
        if problem:
            raise ImproperlyConfigured(problem)
        security = settings.IMAP_SECURITY.strip().lower()
        if security not in ("ssl", "starttls"):
            raise ImproperlyConfigured(f"IMAP_SECURITY must be 'ssl' or 'starttls', not {settings.IMAP_SECURITY!r}.")
        return cls(
            host=settings.IMAP_HOST,
            port=settings.IMAP_PORT,
            security=security,
            user=settings.IMAP_USER,
            password=settings.IMAP_PASSWORD,
            folder=settings.IMAP_FOLDER or "INBOX",
            processed_folder=settings.IMAP_PROCESSED_FOLDER,
            ca_file=settings.IMAP_CA_FILE,
            oauth=_oauth_client() if auth == "oauth2" else None,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _oauth_client() -> OAuthClient:
    return OAuthClient(
        token_url=settings.IMAP_OAUTH_TOKEN_URL,
        client_id=settings.IMAP_OAUTH_CLIENT_ID,
        client_secret=settings.IMAP_OAUTH_CLIENT_SECRET,
        refresh_token=settings.IMAP_OAUTH_REFRESH_TOKEN,
        scope=settings.IMAP_OAUTH_SCOPE or default_scope(settings.IMAP_OAUTH_TOKEN_URL),
    )


@dataclass(frozen=True)
class PollResult:
    fetched: int = 0
    stored_new: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: tuple[str, ...] = ()

    def summary(self) -> str:
        return f"fetched={self.fetched} new={self.stored_new} duplicates={self.duplicates} failed={self.failed}" + (
            f" errors={len(self.errors)}" if self.errors else ""
        )


@dataclass
class _Tally:
    fetched: int = 0
    stored_new: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def freeze(self) -> PollResult:
        return PollResult(self.fetched, self.stored_new, self.duplicates, self.failed, tuple(self.errors))


@dataclass(frozen=True)
class _Session:
    """One logged-in connection with the folder selected, and what the server can do."""

    conn: imaplib.IMAP4
    config: ImapConfig
    uidvalidity: str
    capabilities: frozenset[str]

    def provider_id(self, uid: str) -> str:
        # UIDs are unique only within one UIDVALIDITY of one folder of one server (RFC 3501 2.3.1.1).
        return f"{self.config.host}/{self.config.folder}/{self.uidvalidity}/{uid}"


def poll_mailbox(*, limit: int | None = None) -> PollResult:
    """Store every unseen mail of IMAP_FOLDER, oldest first and at most `limit` of them.

    Raises `ImproperlyConfigured` for missing settings and `ImapError` when the mailbox cannot be
    reached, logged into or opened; a single mail's failure is counted in the result instead.
    """
    if transaction.get_connection().in_atomic_block:
        # Inside an outer transaction "committed" would be a promise, and the mail already marked seen.
        raise RuntimeError("poll_mailbox() must run outside a transaction: mail is marked seen after its commit.")
    config = ImapConfig.from_settings()
    conn = connect(config)
    tally = _Tally()
    try:
        capabilities = _capabilities(conn)
        session = _Session(conn, config, uidvalidity=_select(conn, config), capabilities=capabilities)
        uids = _unseen_uids(conn, config)[:limit]
        if uids and config.processed_folder:
            _ensure_folder(conn, config)
        for uid in uids:
            try:
                _take(session, uid, tally)
            except _LOST as exc:
                tally.errors.append(f"uid {uid}: connection lost: {_text(exc)}")
                logger.warning("imap %s: connection lost at uid %s: %s", config.address, uid, _text(exc))
                break
            except imaplib.IMAP4.error as exc:  # the server refused to hand out this one mail
                tally.failed += 1
                tally.errors.append(f"uid {uid}: fetch refused: {_text(exc)}")
                logger.warning("imap %s: fetching uid %s refused: %s", config.address, uid, _text(exc))
    finally:
        _logout(conn)
    result = tally.freeze()
    logger.info("imap %s/%s: %s", config.address, config.folder, result.summary())
    return result


def connect(config: ImapConfig) -> imaplib.IMAP4:
    """A logged-in connection over TLS verified against the system's CAs or IMAP_CA_FILE; never plain text."""
    try:
        context = ssl.create_default_context(cafile=config.ca_file or None)
    except OSError as exc:
        raise ImproperlyConfigured(f"IMAP_CA_FILE {config.ca_file!r} cannot be read: {exc}") from exc
    conn = _open(config, context)
    try:
        _log_in(conn, config)
    except TokenError as exc:
        _logout(conn)
        raise ImapError(f"no access token for the IMAP login of {config.user!r}: {exc}") from exc
    except _LOST as exc:
        _logout(conn)
        raise ImapError(f"IMAP server {config.address} dropped the connection at login: {_text(exc)}") from exc
    except imaplib.IMAP4.error as exc:
        _logout(conn)
        raise ImapError(f"IMAP server {config.address} refused the login of {config.user!r}: {_text(exc)}") from exc
    return conn


def _log_in(conn: imaplib.IMAP4, config: ImapConfig) -> None:
    if config.oauth is None:
        conn.login(config.user, config.password)
        return
    response = xoauth2_response(config.user, access_token(config.oauth))
    answered = False

    def answer(challenge: bytes) -> bytes:
        # The first continuation asks for the token; a second one carries the server's error,
        # which the client acknowledges with an empty response (RFC 7628), and the login fails.
        nonlocal answered
        first, answered = not answered, True
        return response if first else b""

    try:
        conn.authenticate("XOAUTH2", answer)
    except imaplib.IMAP4.error:
        forget_token(config.oauth)
        raise


def _open(config: ImapConfig, context: ssl.SSLContext) -> imaplib.IMAP4:
    how = "IMAPS" if config.security == "ssl" else "IMAP with STARTTLS"
    conn: imaplib.IMAP4 | None = None
    try:
        if config.security == "ssl":
            return imaplib.IMAP4_SSL(config.host, config.port, ssl_context=context, timeout=TIMEOUT_SECONDS)
        conn = imaplib.IMAP4(config.host, config.port, timeout=TIMEOUT_SECONDS)
        conn.starttls(ssl_context=context)  # raises when the server offers no STARTTLS: we never log in in clear
        return conn
    except ssl.SSLCertVerificationError as exc:
        _shutdown(conn)
        raise ImapError(
            f"IMAP server {config.address} ({how}) presented a certificate that is not trusted: "
            f"{exc.verify_message}. For a private CA set IMAP_CA_FILE."
        ) from exc
    except (OSError, imaplib.IMAP4.error) as exc:
        _shutdown(conn)
        raise ImapError(f"cannot connect to IMAP server {config.address} ({how}): {_text(exc)}") from exc


def _take(session: _Session, uid: str, tally: _Tally) -> None:
    """Fetch, store and commit one mail, then mark it done; a store failure leaves it unseen."""
    config = session.config
    raw = _fetch(session.conn, uid)
    if raw is None:  # expunged by another client since the search
        return
    tally.fetched += 1
    try:
        with transaction.atomic():
            stored = store_inbound(
                raw,
                door=Door.IMAP,
                provider="imap",
                provider_message_id=session.provider_id(uid),
                envelope_recipient=config.user,
            )
    except Exception as exc:  # any fault storing this mail: it stays unseen, the next poll tries again
        tally.failed += 1
        tally.errors.append(f"uid {uid}: not stored: {exc}")
        logger.exception("imap %s: storing uid %s failed; it stays unseen", config.address, uid)
        return
    if stored.created:
        tally.stored_new += 1
    else:
        tally.duplicates += 1
    logger.debug("imap %s: uid %s stored as %s (new=%s)", config.address, uid, stored.inbound.pk, stored.created)
    try:
        _mark_done(session, uid)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:  # stored and safe: next poll finds it again as a duplicate
        tally.errors.append(f"uid {uid}: stored, but not marked done: {_text(exc)}")
        logger.warning("imap %s: uid %s stored but not marked done: %s", config.address, uid, _text(exc))


def _fetch(conn: imaplib.IMAP4, uid: str) -> bytes | None:
    # BODY.PEEK[] rather than RFC822 / BODY[]: fetching must not set \Seen before the row is committed.
    typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    _check(typ, data, f"UID FETCH {uid}")
    for part in data:
        if isinstance(part, tuple) and b"BODY[]" in part[0].upper():
            return bytes(part[1])
    return None


def _mark_done(session: _Session, uid: str) -> None:
    # Seen first, also when moving: the processed folder then reads as handled to a person browsing it.
    conn, folder = session.conn, session.config.processed_folder
    typ, data = conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen)")
    _check(typ, data, f"UID STORE {uid} \\Seen")
    if not folder:
        return
    target = _mailbox_name(folder)
    if "MOVE" in session.capabilities:  # RFC 6851: atomic, and no \Deleted copy left for other clients to see
        typ, data = conn.uid("MOVE", uid, target)
        _check(typ, data, f"UID MOVE {uid}")
        return
    typ, data = conn.uid("COPY", uid, target)
    _check(typ, data, f"UID COPY {uid}")
    typ, data = conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
    _check(typ, data, f"UID STORE {uid} \\Deleted")
    # UID EXPUNGE (RFC 4315) removes only this mail; plain EXPUNGE also removes others' \Deleted mail.
    typ, data = conn.uid("EXPUNGE", uid) if "UIDPLUS" in session.capabilities else conn.expunge()
    _check(typ, data, "EXPUNGE")


def _capabilities(conn: imaplib.IMAP4) -> frozenset[str]:
    # Asked again after login: servers announce MOVE, UIDPLUS and the like only to a logged-in user.
    typ, data = conn.capability()
    _check(typ, data, "CAPABILITY")
    return frozenset(
        b" ".join(part for part in data if isinstance(part, bytes)).decode("ascii", "replace").upper().split()
    )


def _select(conn: imaplib.IMAP4, config: ImapConfig) -> str:
    try:
        typ, data = conn.select(_mailbox_name(config.folder))
        _check(typ, data, "SELECT")
    except imaplib.IMAP4.error as exc:
        raise ImapError(f"IMAP server {config.address}: cannot open folder {config.folder!r}: {_text(exc)}") from exc
    _, values = conn.response("UIDVALIDITY")
    return values[0].decode("ascii", "replace") if values and values[0] else "0"


def _unseen_uids(conn: imaplib.IMAP4, config: ImapConfig) -> list[str]:
    try:
        typ, data = conn.uid("SEARCH", None, "UNSEEN")  # type: ignore[arg-type]  # no charset: the stubs want one
        _check(typ, data, "UID SEARCH UNSEEN")
    except imaplib.IMAP4.error as exc:
        raise ImapError(f"IMAP server {config.address}: cannot search {config.folder!r}: {_text(exc)}") from exc
    uids = b" ".join(part for part in data if isinstance(part, bytes)).decode("ascii").split()
    return sorted(uids, key=int)


def _ensure_folder(conn: imaplib.IMAP4, config: ImapConfig) -> None:
    name = _mailbox_name(config.processed_folder)
    typ, data = conn.list('""', name)
    if typ == "OK" and any(data):
        return
    typ, data = conn.create(name)
    _check(typ, data, f"CREATE {config.processed_folder!r}")
    logger.info("imap %s: created folder %r", config.address, config.processed_folder)


def _mailbox_name(name: str) -> str:
    """A quoted IMAP mailbox name, non-ASCII in modified UTF-7 (RFC 3501 section 5.1.3)."""
    encoded: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            chunk = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            encoded.append("&" + chunk.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            encoded.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return '"' + "".join(encoded).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(typ: str, data: Sequence[object], what: str) -> None:
    if typ != "OK":
        detail = b" ".join(part for part in data if isinstance(part, bytes)).decode("utf-8", "replace")
        raise imaplib.IMAP4.error(f"{what}: {typ} {detail}".strip())


def _text(exc: BaseException) -> str:
    # imaplib puts the server's bytes in args[0]; an OSError's args[0] is only its errno.
    if exc.args and isinstance(exc.args[0], bytes):
        return exc.args[0].decode("utf-8", "replace")
    return str(exc)


def _logout(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (*_LOST, imaplib.IMAP4.error):  # already closed: nothing left to release
        _shutdown(conn)


def _shutdown(conn: imaplib.IMAP4 | None) -> None:
    if conn is None:
        return
    try:
        conn.shutdown()
    except OSError:
        logger.debug("imap: socket already closed")
