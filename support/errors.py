"""The domain's refusals. Each door turns them into its own answer (an API error body, a form
error, a quarantine reason); the code is the API's documented error code."""

from __future__ import annotations


class DomainError(Exception):
    code = "validation_error"

    def __init__(self, message: str, details: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(DomainError):
    code = "validation_error"


class NotAllowed(DomainError):
    code = "permission_denied"


class FileTooLarge(DomainError):
    code = "file_too_large"


class InvalidFileType(DomainError):
    code = "invalid_file_type"
