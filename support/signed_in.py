"""The person behind a request that a login check let through, typed as our `User`.

Django types `request.user` as a user or an anonymous one; past `login_required`, the console's
staff check or the API's permission classes it is always a `User`. Views say so in their
signature (`SignedInRequest`); code that is handed a request asks `signed_in_user()`, which
refuses an anonymous one instead of letting it reach the domain services.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from .models import User


class SignedInRequest(HttpRequest):
    user: User


def signed_in_user(request: Any) -> User:
    """`request.user` of a Django or REST framework request, when it is a signed-in `User`."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return user
