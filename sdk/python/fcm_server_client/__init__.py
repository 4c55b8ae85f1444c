"""fcm_server_client: a standard-library-only Python client for fcm-server's HTTP API (see docs/python.md)."""

from .client import EventStream, FcmServerClient
from .errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServiceUnavailableError,
    ValidationError,
)
from .webhooks import WebhookVerificationError, verify_webhook

__all__ = [
    "ApiError",
    "AuthenticationError",
    "ConflictError",
    "EventStream",
    "FcmServerClient",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServiceUnavailableError",
    "ValidationError",
    "WebhookVerificationError",
    "verify_webhook",
]
