"""An OAuth 2.0 access token for the IMAP door's XOAUTH2 login, for mailboxes that take no password.

Microsoft 365 turned off passwords for IMAP, and Google Workspace prefers tokens: the poller asks
the tenant's token endpoint for an access token with the app's client credentials (Microsoft's
app-only access), or with a refresh token when one is configured (Google, or a delegated
Microsoft sign-in), and keeps it until a minute before it expires. A token the IMAP server refuses
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
EARLY_SECONDS = 60  # a token is asked for again this long before it expires


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
        """The token URL without its query, for messages."""
        parts = urllib.parse.urlsplit(self.token_url)
        return f"{parts.scheme}://{parts.hostname}{parts.path}"


_tokens: dict[OAuthClient, tuple[str, float]] = {}
_lock = threading.Lock()


def access_token(client: OAuthClient) -> str:
    """A token that is valid for at least another minute: the kept one, or a new one."""
    with _lock:
        kept = _tokens.get(client)
        if kept is not None and kept[1] > time.monotonic():
            return kept[0]
    token, lifetime = _request_token(client)
    with _lock:
        _tokens[client] = (token, time.monotonic() + max(0, lifetime - EARLY_SECONDS))
    return token


def forget_token(client: OAuthClient) -> None:
    """The server refused the token (revoked, or the app lost its permission): ask anew next time."""
    with _lock:
        _tokens.pop(client, None)


def xoauth2_response(user: str, token: str) -> bytes:
    """The client's XOAUTH2 response (Google's and Microsoft's SASL mechanism), before base64."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def _request_token(client: OAuthClient) -> tuple[str, int]:
    request = urllib.request.Request(
        client.token_url,
        data=urllib.parse.urlencode(client.grant()).encode(),
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
        said = body.get("error_description") or body.get("error") or "no access_token in the answer"
        raise TokenError(f"the token endpoint {client.endpoint} refused ({status}): {str(said)[:300]}")
    try:
        lifetime = int(body.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600
    return token, lifetime


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
