"""Typed errors: every failed call raises ApiError (or a subclass) carrying the server's code and request id."""

from typing import Any, Dict, List, Optional


class ApiError(Exception):
    """A 4xx/5xx answer: `{"error": {"code", "message", "details", "request_id"}}` as attributes."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Optional[List[Dict[str, Any]]] = None,
        request_id: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message} {details or ''} (request {request_id})")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id
        self.retry_after = retry_after


class AuthenticationError(ApiError):
    """401: missing, wrong, expired or revoked credentials."""


class PermissionDeniedError(ApiError):
    """403: the client lacks the scope, or its address is not allowed."""


class NotFoundError(ApiError):
    """404: no such resource for this client."""


class ConflictError(ApiError):
    """409: the request conflicts with the current state (a duplicate, an idempotency key reused)."""


class ValidationError(ApiError):
    """400 or 422: the request is not valid; `details` names the fields."""


class RateLimitedError(ApiError):
    """429: too many requests; `retry_after` is the wait in seconds the server asked for."""


class ServiceUnavailableError(ApiError):
    """503: the server or a dependency is briefly unavailable; retry after `retry_after` seconds."""


_BY_STATUS = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}


def error_for(status: int, body: Any, request_id: Optional[str], retry_after: Optional[float]) -> ApiError:
    """The ApiError subclass for a status, filled from the error body when it has our format."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"code": "http_error", "message": str(body)[:200] if body else f"HTTP {status}"}
    cls = _BY_STATUS.get(status, ApiError)
    return cls(
        status,
        str(error.get("code", "http_error")),
        str(error.get("message", "")),
        error.get("details") if isinstance(error.get("details"), list) else [],
        error.get("request_id") or request_id,
        retry_after,
    )
