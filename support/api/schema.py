"""Makes the OpenAPI schema say what the server really does: errors, rate-limit headers, and
the bodies it refuses.

Every operation can answer 406 (an `Accept` header JSON does not satisfy) and 429, and carries
the `X-RateLimit-*` headers (the middleware runs for all of /api/); operations with a body can
fail validation (400, a too-large body too) or carry an unsupported content type (415); unsafe
methods can be refused (403: permissions or CSRF); anything with a path or query parameter can
be 400/404. All errors share one body. A request body takes no field but its own.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension

from .filters import SEARCH_MAX_LENGTH

ERROR_REF = {"$ref": "#/components/schemas/Error"}
_TICKET_PATH = "/api/support/tickets/{id}/"
_RATE_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed in the current window.",
    "X-RateLimit-Remaining": "Requests left in the current window.",
    "X-RateLimit-Reset": "Unix time at which the window ends.",
}
_DESCRIPTIONS = {
    "400": "Invalid input, or a body too large (`validation_error`, `file_too_large`, `invalid_file_type`).",
    "401": "No or invalid credentials (`not_authenticated`).",
    "403": "Not allowed (`permission_denied`).",
    "404": "Not found (`ticket_not_found`, `not_found`).",
    "405": "Method not allowed (`method_not_allowed`).",
    "406": "No answer in a type the `Accept` header allows: the API answers JSON (`not_acceptable`).",
    "415": "Unsupported content type (`unsupported_media_type`).",
    "429": "Rate limit exceeded (`rate_limit_exceeded`).",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).setdefault("Error", _error_schema())
    header_defs = components.setdefault("headers", {})
    for name, description in _RATE_HEADERS.items():
        header_defs[name] = {"description": description, "schema": {"type": "integer"}, "required": True}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            for status in _statuses_for(path, method, operation):
                operation["responses"].setdefault(
                    status,
                    {"description": _DESCRIPTIONS[status], "content": {"application/json": {"schema": ERROR_REF}}},
                )
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter["name"] == "search":
                    parameter["schema"]["maxLength"] = SEARCH_MAX_LENGTH  # django-filter's limit, unsaid
                if parameter.get("in") == "path" and parameter["name"] == "id" and path.startswith(_TICKET_PATH):
                    parameter.setdefault("description", "The ticket's id (a UUID) or its reference, e.g. `SB-1042`.")
            for response in operation["responses"].values():
                response.setdefault("headers", {}).update(
                    {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_HEADERS}
                )
    return result


def _statuses_for(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    statuses = ["401", "406", "429"]
    parameters = operation.get("parameters", [])
    if operation.get("requestBody") or method in {"post", "put", "patch"}:
        statuses += ["400", "415"]
    if method != "get":
        statuses.append("403")
    if any(p.get("in") == "query" for p in parameters):
        statuses += ["400", "404"]  # 404: a page number past the end
    if "{" in path:
        statuses.append("404")
    return statuses


class RefusesUnknownFields(OpenApiSerializerExtension):
    """A `StrictSerializer`'s body takes no other field (the server answers `validation_error`
    naming it), and the schema says so, for clients generated from it."""

    target_class = "support.api.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error", "message", "details"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "details": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        },
    }
