"""Error types, one per failure class, each with its HTTP status and stable ``code``.

The core raises them; the API turns them into ``{"error": {"code", "message",
"details"}}`` with the status. ``message`` is a sentence for a human,
``code`` and ``details`` are for programs.
"""

from __future__ import annotations

from typing import Any


def clipped(text: str, limit: int = 40) -> str:
    """Client-given text for an error message, cut short: an answer must not echo a megabyte."""
    return text if len(text) <= limit else text[:limit] + "..."


class ConfigurationError(ValueError):
    """Configuration or an input file is wrong; the message says which and where."""


class RequestError(Exception):
    """A request that cannot be carried out; nothing was changed."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details
        self.headers = headers or {}


class InvalidField(RequestError):
    """One field of the request is wrong; ``details.field`` names it."""

    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", details={"field": field})
        self.field = field


class Unauthorized(RequestError):
    status = 401
    code = "unauthorized"


class Forbidden(RequestError):
    status = 403
    code = "forbidden"


class NotFound(RequestError):
    status = 404
    code = "not_found"


class MethodNotAllowed(RequestError):
    status = 405
    code = "method_not_allowed"


class Conflict(RequestError):
    """The request is valid but the current state refuses it (capacity, duplicates, ...)."""

    status = 409
    code = "conflict"


class StorageUnavailable(RequestError):
    """The reservation database cannot be written now (disk full, read-only, deleted, ...).

    Nothing was changed; reads and enforcement go on, and writes work again
    once the cause is fixed.
    """

    status = 503
    code = "storage_unavailable"
