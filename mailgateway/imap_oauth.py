"""An OAuth 2.0 access token for the IMAP door's XOAUTH2 login, for mailboxes that take no password.

Microsoft 365 turned off passwords for IMAP, and Google Workspace prefers tokens: the poller asks
the tenant's token endpoint for an access token with the app's client credentials (Microsoft's
app-only access), or with a refresh token when one is configured (Google, or a delegated
Microsoft sign-in), and keeps it until ten minutes before it expires. A token the IMAP server refuses
is forgotten, so the next poll asks for a new one. Secrets and tokens never appear in errors.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

TIMEOUT_SECONDS = 15
# A token is asked for again this long before it expires, so that it outlives a poll: Exchange
# Online ends the session when the token it logged in with expires.
EARLY_SECONDS = 600
MICROSOFT_SCOPE = "https://outlook.office365.com/.default"


class TokenError(Exception):
    """The token endpoint cannot be reached or refused to give a token."""


@dataclass(frozen=True)
class OAuthClient:
    token_url: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    scope: str = ""

    def grant(self) -> dict[str, str]:
        """The token request's form: a refresh-token grant when there is one, else client credentials."""
        form = {"client_id": self.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        if self.refresh_token:
            form.update(grant_type="refresh_token", refresh_token=self.refresh_token)
        else:
            form["grant_type"] = "client_credentials"
        if self.scope:
            form["scope"] = self.scope
        return form

    @property
    def endpoint(self) -> str:
        """The token URL without credentials or query, for messages."""
        parts = urllib.parse.urlsplit(self.token_url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def token_url_problem(url: str) -> str:
    """Why the token URL cannot be used, or "": the secret goes to it, so only over TLS (plain
    http only to this machine, as a local test server)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return ""
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return ""
    return f"IMAP_OAUTH_TOKEN_URL must be an https:// URL, not {url[:200]!r}."


def default_scope(token_url: str) -> str:
    """Microsoft's token endpoint refuses a client-credentials request without a scope; IMAP's is known."""
    host = urllib.parse.urlsplit(token_url).hostname or ""
    return MICROSOFT_SCOPE if host == "login.microsoftonline.com" else ""


_tokens: dict[OAuthClient, tuple[str, float]] = {}
# The refresh token the endpoint last handed back, per client: Microsoft returns a new one with
# every access token, and the configured one expires (90 days) while its successors live on.
_refresh_tokens: dict[OAuthClient, str] = {}
_lock = threading.Lock()


def access_token(client: OAuthClient) -> str:
    """A token valid for at least another EARLY_SECONDS: the kept one, or a new one."""
    with _lock:
        kept = _tokens.get(client)
        if kept is not None and kept[1] > time.monotonic():
            return kept[0]
    with _lock:
        refresh_token = _refresh_tokens.get(client, client.refresh_token)
    token, lifetime, new_refresh_token = _request_token(client, refresh_token)
    with _lock:
        _tokens[client] = (token, time.monotonic() + max(0, lifetime - EARLY_SECONDS))
        if new_refresh_token and client.refresh_token:
            _refresh_tokens[client] = new_refresh_token
    return token


def forget_token(client: OAuthClient) -> None:
    """The server refused the token (revoked, or the app lost its permission): ask anew next time."""
    with _lock:
        _tokens.pop(client, None)


def xoauth2_response(user: str, token: str) -> bytes:
    """The client's XOAUTH2 response (Google's and Microsoft's SASL mechanism), before base64."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def _request_token(client: OAuthClient, refresh_token: str) -> tuple[str, int, str]:
    """(access token, its lifetime in seconds, the refresh token handed back or "")."""
    form = client.grant()
    if refresh_token:
        form["refresh_token"] = refresh_token
    request = urllib.request.Request(
        client.token_url,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, body = response.status, _json(response.read())
    except urllib.error.HTTPError as exc:
        status, body = exc.code, _json(exc.read())
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise TokenError(f"cannot reach the token endpoint {client.endpoint}: {reason}") from exc
    token = body.get("access_token")
    if status != 200 or not isinstance(token, str) or not token:
        said = str(body.get("error_description") or body.get("error") or "no access_token in the answer")[:300]
        if body.get("error") == "invalid_grant" and client.refresh_token:
            said += " (IMAP_OAUTH_REFRESH_TOKEN has expired or was revoked: sign in again for a new one)"
        raise TokenError(f"the token endpoint {client.endpoint} refused ({status}): {said}")
    try:
        lifetime = int(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600
    handed_back = body.get("refresh_token")
    return token, lifetime, handed_back if isinstance(handed_back, str) else ""


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
