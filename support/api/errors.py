"""One error body for every API error: `{"error", "message", "details"}`.

DRF's exceptions, the domain's refusals, Django's own 404/500 and anything unexpected all come
out in this shape, so a client needs one parser. Unexpected errors are logged and answered 500
without internals.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from support.errors import DomainError

logger = logging.getLogger("support.api")

API_PREFIX = "/api/"

_CODES: dict[type[Exception], tuple[str, int]] = {
    exceptions.NotAuthenticated: ("not_authenticated", 401),
    exceptions.AuthenticationFailed: ("not_authenticated", 401),
    exceptions.PermissionDenied: ("permission_denied", 403),
    exceptions.MethodNotAllowed: ("method_not_allowed", 405),
    exceptions.NotAcceptable: ("not_acceptable", 406),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", 415),
    exceptions.Throttled: ("rate_limit_exceeded", 429),
    exceptions.ParseError: ("validation_error", 400),
    exceptions.ValidationError: ("validation_error", 400),
}


class TicketNotFound(exceptions.NotFound):
    default_detail = "No ticket with this id is visible to you."
    default_code = "ticket_not_found"


class ApiNotFound(exceptions.NotFound):
    default_detail = "Nothing is here."
    default_code = "not_found"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details or {}}


def flatten_details(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as `{"field": ["sentence", ...]}` (nested fields dotted)."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_details(value, name))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            flat.update(flatten_details(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "non_field_errors": [str(detail)]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DomainError):
        code = exc.code
        http: int = status.HTTP_403_FORBIDDEN if code == "permission_denied" else status.HTTP_400_BAD_REQUEST
        return Response(error_body(code, exc.message, exc.details), status=http)
    if isinstance(exc, Http404):
        exc = ApiNotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        code, http = _code_for(exc)
        headers = {}
        wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
        if wait is not None:
            headers["Retry-After"] = str(int(wait))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if isinstance(exc, exceptions.ValidationError):
            return Response(error_body(code, "The request is not valid.", flatten_details(exc.detail)), status=http)
        message = _message_of(exc.detail)
        return Response(error_body(code, message), status=http, headers=headers)
    logger.exception("Unexpected error in the API", exc_info=exc)
    return Response(error_body("server_error", "Something went wrong on our side; it has been logged."), status=500)


def _code_for(exc: exceptions.APIException) -> tuple[str, int]:
    if isinstance(exc, exceptions.NotFound):
        return str(exc.default_code), 404
    for cls in type(exc).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return str(exc.default_code), int(exc.status_code)


def _message_of(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return str(detail[0])
    if isinstance(detail, dict) and detail:
        return _message_of(next(iter(detail.values())))
    return str(detail)


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def json_error(code: str, message: str, http: int, details: dict[str, Any] | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=http)


@csrf_exempt  # it changes nothing; without this a POST without a CSRF token got Django's HTML 403
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Not a redirect for a missing slash: a client would repeat a POST as a GET. It says so instead."""
    # Resolved without the prefix the site may be served under (SCRIPT_NAME), shown with it.
    if not request.path_info.endswith("/") and _resolves_elsewhere(request.path_info + "/"):
        return json_error("not_found", f"Nothing is here. Every API address ends in a slash: {request.path}/", 404)
    return json_error("not_found", "Nothing is here.", 404)


def _resolves_elsewhere(path: str) -> bool:
    try:
        return resolve(path).func is not api_not_found
    except Resolver404:
        return False


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return json_error("not_found", "Nothing is here.", 404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Http404())


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        return json_error("server_error", "Something went wrong on our side; it has been logged.", 500)
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return json_error("validation_error", "The request is not valid.", 400)
    from django.views.defaults import bad_request

    return bad_request(request, exception or Exception())


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_request(request):
        return json_error("permission_denied", "You may not do this.", 403)
    from django.views.defaults import permission_denied

    return permission_denied(request, exception or DjangoPermissionDenied())
