"""The API's sign-in (a JWT pair for an email and password), under the same limits on failed
passwords as the web sign-in (`sign_in_throttle`): one count per address and per client for both
doors, so that neither is a way round the other's lockout."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenObtainPairView

from support import sign_in_throttle
from support.models import User
from support.network import client_address


class SignInLocked(Throttled):
    """429 `rate_limit_exceeded`; Retry-After says the longest wait (the window), and the message
    is ours alone (DRF adds "Expected available in N seconds" when given the wait)."""

    wait: int

    def __init__(self) -> None:
        super().__init__(detail="Too many failed sign-ins. Wait 15 minutes, or reset your password by mail.")
        self.wait = sign_in_throttle.WINDOW_SECONDS


class TokenView(TokenObtainPairView):
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        email = str(request.data.get(User.USERNAME_FIELD, "")) if hasattr(request.data, "get") else ""
        client = client_address(request)
        if sign_in_throttle.is_blocked(client=client, email=email):
            raise SignInLocked()
        try:
            response = super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            sign_in_throttle.note_failure(client=client, email=email)
            raise
        sign_in_throttle.clear(email=email)
        return response
