"""Standard Webhooks (https://www.standardwebhooks.com) signature verification for the webhooks we send."""

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Mapping, Optional, Union

TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(Exception):
    """The request is not a webhook signed with this secret (or is too old or too new to trust)."""


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"missing header {name}")


def verify_webhook(
    secret: str,
    body: Union[bytes, str],
    headers: Mapping[str, str],
    now: Optional[float] = None,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> Any:
    """Checks webhook-id, webhook-timestamp and webhook-signature against the `whsec_` secret and returns the
    parsed JSON body; raises WebhookVerificationError otherwise. Pass the raw body, before any JSON parsing."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    message_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError as error:
        raise WebhookVerificationError("webhook-timestamp is not a number") from error
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + raw
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in signatures.split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return json.loads(raw)
    raise WebhookVerificationError("no matching signature")
