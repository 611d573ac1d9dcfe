"""Makes the OpenAPI schema say what the server really does for errors and rate-limit headers.

Every operation can answer 429 and carries the `X-RateLimit-*` headers (the middleware runs
for all of /api/); operations with a body can fail validation (400), carry a too-large body
(413) or an unsupported content type (415); unsafe methods can be refused (403: permissions or
CSRF); anything with a path or query parameter can be 400/404. All errors share one body.
"""

from __future__ import annotations

from typing import Any

ERROR_REF = {"$ref": "#/components/schemas/Error"}
_RATE_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed in the current window.",
    "X-RateLimit-Remaining": "Requests left in the current window.",
    "X-RateLimit-Reset": "Unix time at which the window ends.",
}
_DESCRIPTIONS = {
    "400": "Invalid input (`validation_error`, `file_too_large`, `invalid_file_type`).",
    "401": "No or invalid credentials (`not_authenticated`).",
    "403": "Not allowed (`permission_denied`).",
    "404": "Not found (`ticket_not_found`, `not_found`).",
    "405": "Method not allowed (`method_not_allowed`).",
    "413": "Request body too large (`file_too_large`).",
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
            for response in operation["responses"].values():
                response.setdefault("headers", {}).update(
                    {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_HEADERS}
                )
    return result


def _statuses_for(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    statuses = ["401", "429"]
    parameters = operation.get("parameters", [])
    if operation.get("requestBody") or method in {"post", "put", "patch"}:
        statuses += ["400", "413", "415"]
    if method != "get":
        statuses.append("403")
    if any(p.get("in") == "query" for p in parameters):
        statuses += ["400", "404"]  # 404: a page number past the end
    if "{" in path:
        statuses.append("404")
    return statuses


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
