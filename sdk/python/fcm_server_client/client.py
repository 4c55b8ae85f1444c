"""The HTTP client: one method per API operation, on the standard library only (urllib.request, json).

What it adds to raw HTTP: the auth headers, an Idempotency-Key on every send (generated unless given),
retries of 429 and 503 that honour Retry-After, typed errors (errors.py), iteration over cursor lists
(`paginate`), device import (JSON or NDJSON) and the live event stream (a minimal WebSocket reader).
"""

import base64
import json
import os
import socket
import ssl
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Callable, Dict, Iterable, Iterator, Mapping, Optional

from .errors import ApiError, error_for

_RETRIED_STATUSES = (429, 503)


def _q(value: str) -> str:
    """A path segment, percent-encoded."""
    return urllib.parse.quote(str(value), safe="")


def _query_string(query: Optional[Mapping[str, Any]]) -> str:
    if not query:
        return ""
    pairs = []
    for key, value in query.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        pairs.append((key, str(value)))
    return "?" + urllib.parse.urlencode(pairs) if pairs else ""


class FcmServerClient:
    """A client of one fcm-server, as one API client (Client-ID + Client-Token)."""

    def __init__(
        self,
        base_url: str,
        client_id: Optional[str] = None,
        client_token: Optional[str] = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        user_agent: str = "fcm-server-client-python/0.1",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_token = client_token
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.user_agent = user_agent

    # -- plumbing ---------------------------------------------------------------------------------------------

    def auth_headers(self) -> Dict[str, str]:
        """The credentials as headers: Client-ID and Client-Token, or a bearer token without a client id."""
        if self.client_token is None:
            return {}
        if self.client_id is None:
            return {"Authorization": f"Bearer {self.client_token}"}
        return {"Client-ID": self.client_id, "Client-Token": self.client_token}

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Optional[Mapping[str, Any]] = None,
        idempotency_key: Optional[str] = None,
        raw_body: Optional[bytes] = None,
        content_type: str = "application/json",
        accept_text: bool = False,
    ) -> Any:
        """One API call with retries; returns the decoded JSON (None for 204), or raises an ApiError."""
        url = self.base_url + path + _query_string(query)
        headers = {"Accept": "application/json", "User-Agent": self.user_agent, **self.auth_headers()}
        data: Optional[bytes] = raw_body
        if data is None and body is not None:
            data = json.dumps(body).encode("utf-8")
        if data is not None:
            headers["Content-Type"] = content_type
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        attempt = 0
        while True:
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = response.read()
                    if accept_text:
                        return payload.decode("utf-8")
                    return json.loads(payload) if payload else None
            except urllib.error.HTTPError as failure:
                payload = failure.read()
                retry_after = _retry_after(failure.headers.get("Retry-After"))
                if failure.code in _RETRIED_STATUSES and attempt < self.max_retries:
                    attempt += 1
                    time.sleep(min(self.max_retry_wait, retry_after if retry_after is not None else 2**attempt))
                    continue
                try:
                    decoded: Any = json.loads(payload) if payload else None
                except ValueError:
                    decoded = payload.decode("utf-8", "replace")
                raise error_for(failure.code, decoded, failure.headers.get("X-Request-ID"), retry_after) from None

    # -- helpers ----------------------------------------------------------------------------------------------

    def paginate(self, list_method: Callable[..., Any], *args: Any, **query: Any) -> Iterator[Any]:
        """Every item of a cursor list, page after page: `for d in client.paginate(client.list_devices)`."""
        cursor = query.pop("cursor", None)
        while True:
            page = list_method(*args, **query, **({"cursor": cursor} if cursor else {}))
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def import_devices(self, devices: Iterable[Mapping[str, Any]], validate: bool = False) -> Any:
        """POST /api/v1/devices/import (JSON): up to 10,000 devices; a result per device, in order."""
        query = "?validate=true" if validate else ""
        return self._request("POST", "/api/v1/devices/import" + query, body={"devices": list(devices)})

    def import_devices_ndjson(self, lines: Iterable[str], validate: bool = False) -> Any:
        """POST /api/v1/devices/import as NDJSON: each item one line of JSON text, sent as it is."""
        query = "?validate=true" if validate else ""
        data = "".join(line.rstrip("\n") + "\n" for line in lines).encode("utf-8")
        return self._request(
            "POST", "/api/v1/devices/import" + query, raw_body=data, content_type="application/x-ndjson"
        )

    def get_metrics(self) -> str:
        """GET /metrics: the Prometheus text (loopback callers only, unless METRICS_TOKEN is set)."""
        return self._request("GET", "/metrics", accept_text=True)

    def stream_events(self, **query: Any) -> "EventStream":
        """GET /api/v1/events/stream (WebSocket): the live events; iterate it, close it when done.
        Resume after a disconnection with `after=<the last event id>`."""
        return EventStream(self, "/api/v1/events/stream" + _query_string(query))

    # -- the operations ---------------------------------------------------------------------------------------

    def get_health(self, **query: Any) -> Any:
        """GET /api/v1/health: Liveness: 200 while the process runs (checks no dependency)"""
        return self._request("GET", "/api/v1/health", query=query)

    def get_readiness(self, **query: Any) -> Any:
        """GET /api/v1/health/ready: Readiness: database, queue, Redis and FCM, each with its latency"""
        return self._request("GET", "/api/v1/health/ready", query=query)

    def create_firebase_project(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/firebase-projects: Register a Firebase service account (a known project_id replaces its key)"""
        return self._request("POST", "/api/v1/firebase-projects", body=body)

    def list_firebase_projects(self, **query: Any) -> Any:
        """GET /api/v1/firebase-projects: List Firebase projects"""
        return self._request("GET", "/api/v1/firebase-projects", query=query)

    def get_firebase_project(self, id: str, **query: Any) -> Any:
        """GET /api/v1/firebase-projects/{id}: Get a Firebase project"""
        return self._request("GET", f"/api/v1/firebase-projects/{_q(id)}", query=query)

    def delete_firebase_project(self, id: str) -> Any:
        """DELETE /api/v1/firebase-projects/{id}: Remove a Firebase project and its credentials"""
        return self._request("DELETE", f"/api/v1/firebase-projects/{_q(id)}")

    def set_default_firebase_project(self, id: str) -> Any:
        """POST /api/v1/firebase-projects/{id}/default: Make this the default project for sends"""
        return self._request("POST", f"/api/v1/firebase-projects/{_q(id)}/default")

    def create_profile(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/profiles: Create a profile"""
        return self._request("POST", "/api/v1/profiles", body=body)

    def list_profiles(self, **query: Any) -> Any:
        """GET /api/v1/profiles: List profiles"""
        return self._request("GET", "/api/v1/profiles", query=query)

    def get_profile(self, id: str, **query: Any) -> Any:
        """GET /api/v1/profiles/{id}: Get a profile"""
        return self._request("GET", f"/api/v1/profiles/{_q(id)}", query=query)

    def update_profile(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """PUT /api/v1/profiles/{id}: Update a profile (fields not sent are kept)"""
        return self._request("PUT", f"/api/v1/profiles/{_q(id)}", body=body)

    def delete_profile(self, id: str) -> Any:
        """DELETE /api/v1/profiles/{id}: Delete a profile (soft delete; its devices are deactivated)"""
        return self._request("DELETE", f"/api/v1/profiles/{_q(id)}")

    def restore_profile(self, id: str) -> Any:
        """POST /api/v1/profiles/{id}/restore: Restore a deleted profile, and the devices its deletion deactivated"""
        return self._request("POST", f"/api/v1/profiles/{_q(id)}/restore")

    def create_topic(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/topics: Create a topic"""
        return self._request("POST", "/api/v1/topics", body=body)

    def list_topics(self, **query: Any) -> Any:
        """GET /api/v1/topics: List topics"""
        return self._request("GET", "/api/v1/topics", query=query)

    def get_topic(self, id: str, **query: Any) -> Any:
        """GET /api/v1/topics/{id}: Get a topic"""
        return self._request("GET", f"/api/v1/topics/{_q(id)}", query=query)

    def update_topic(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """PUT /api/v1/topics/{id}: Replace a topic (a description not sent is cleared)"""
        return self._request("PUT", f"/api/v1/topics/{_q(id)}", body=body)

    def delete_topic(self, id: str) -> Any:
        """DELETE /api/v1/topics/{id}: Delete a topic and its subscriptions"""
        return self._request("DELETE", f"/api/v1/topics/{_q(id)}")

    def subscribe_to_topic(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/topics/{id}/subscribe: Subscribe devices, and the active devices of profiles, to a topic"""
        return self._request("POST", f"/api/v1/topics/{_q(id)}/subscribe", body=body)

    def unsubscribe_from_topic(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/topics/{id}/unsubscribe: Unsubscribe devices, and all devices of profiles, from a topic"""
        return self._request("POST", f"/api/v1/topics/{_q(id)}/unsubscribe", body=body)

    def list_topic_subscribers(self, id: str, **query: Any) -> Any:
        """GET /api/v1/topics/{id}/subscribers: List the active devices subscribed to a topic"""
        return self._request("GET", f"/api/v1/topics/{_q(id)}/subscribers", query=query)

    def register_device(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/devices: Register a device (re-registering a known token updates that device)"""
        return self._request("POST", "/api/v1/devices", body=body)

    def create_registration_token(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/registration-tokens: mint a short-lived token with which one user's app registers its device"""
        return self._request("POST", "/api/v1/registration-tokens", body=body)

    def register_app_device(self, registration_token: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/app/devices: what the app does with a registration token (never with a client token)"""
        app = FcmServerClient(self.base_url, client_token=registration_token, timeout=self.timeout, max_retries=0)
        return app._request("POST", "/api/v1/app/devices", body=body)

    def list_devices(self, **query: Any) -> Any:
        """GET /api/v1/devices: List devices"""
        return self._request("GET", "/api/v1/devices", query=query)

    def get_device(self, id: str, **query: Any) -> Any:
        """GET /api/v1/devices/{id}: Get a device"""
        return self._request("GET", f"/api/v1/devices/{_q(id)}", query=query)

    def list_device_deliveries(self, id: str, **query: Any) -> Any:
        """GET /api/v1/devices/{id}/deliveries: A device's deliveries, newest first"""
        return self._request("GET", f"/api/v1/devices/{_q(id)}/deliveries", query=query)

    def update_device(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """PUT /api/v1/devices/{id}: Update a device (fields not sent are kept)"""
        return self._request("PUT", f"/api/v1/devices/{_q(id)}", body=body)

    def delete_device(self, id: str) -> Any:
        """DELETE /api/v1/devices/{id}: Delete a device: it is deactivated at once and can be restored during the retention period"""
        return self._request("DELETE", f"/api/v1/devices/{_q(id)}")

    def restore_device(self, id: str) -> Any:
        """POST /api/v1/devices/{id}/restore: Restore a deleted device"""
        return self._request("POST", f"/api/v1/devices/{_q(id)}/restore")

    def mark_device_seen(self, id: str) -> Any:
        """POST /api/v1/devices/{id}/seen: Check a device in: it was seen now (moves last_seen_at), 204 without a body"""
        return self._request("POST", f"/api/v1/devices/{_q(id)}/seen")

    def create_frequency_cap(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/frequency-caps: Create a frequency cap"""
        return self._request("POST", "/api/v1/frequency-caps", body=body)

    def list_frequency_caps(self, **query: Any) -> Any:
        """GET /api/v1/frequency-caps: List frequency caps"""
        return self._request("GET", "/api/v1/frequency-caps", query=query)

    def get_frequency_cap(self, id: str, **query: Any) -> Any:
        """GET /api/v1/frequency-caps/{id}: Get a frequency cap"""
        return self._request("GET", f"/api/v1/frequency-caps/{_q(id)}", query=query)

    def update_frequency_cap(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """PATCH /api/v1/frequency-caps/{id}: Change a frequency cap (only the fields given; null clears topic or template)"""
        return self._request("PATCH", f"/api/v1/frequency-caps/{_q(id)}", body=body)

    def delete_frequency_cap(self, id: str) -> Any:
        """DELETE /api/v1/frequency-caps/{id}: Delete a frequency cap"""
        return self._request("DELETE", f"/api/v1/frequency-caps/{_q(id)}")

    def send_notification(self, body: Optional[Mapping[str, Any]] = None, idempotency_key: Optional[str] = None) -> Any:
        """POST /api/v1/notify: Send a notification to a profile, devices, a topic or all devices (optionally filtered)"""
        return self._request("POST", "/api/v1/notify", body=body, idempotency_key=idempotency_key or str(uuid.uuid4()))

    def send_to_topic(self, topic_name: str, body: Optional[Mapping[str, Any]] = None, idempotency_key: Optional[str] = None) -> Any:
        """POST /api/v1/notify/topic/{topic_name}: Send to every active device subscribed to a topic"""
        return self._request("POST", f"/api/v1/notify/topic/{_q(topic_name)}", body=body, idempotency_key=idempotency_key or str(uuid.uuid4()))

    def send_bulk(self, body: Optional[Mapping[str, Any]] = None, idempotency_key: Optional[str] = None) -> Any:
        """POST /api/v1/notify/bulk: Send one notification to up to 10,000 targets"""
        return self._request("POST", "/api/v1/notify/bulk", body=body, idempotency_key=idempotency_key or str(uuid.uuid4()))

    def list_notifications(self, **query: Any) -> Any:
        """GET /api/v1/notifications: List notifications, newest first"""
        return self._request("GET", "/api/v1/notifications", query=query)

    def preview_notification(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/notify/preview: the FCM message per platform that a send would make; nothing is sent"""
        return self._request("POST", "/api/v1/notify/preview", body=body)

    def cancel_notification(self, id: str) -> Any:
        """POST /api/v1/notifications/{id}/cancel: stop what has not been sent yet; answers how many were cancelled"""
        return self._request("POST", f"/api/v1/notifications/{_q(id)}/cancel")

    def get_notification(self, id: str, **query: Any) -> Any:
        """GET /api/v1/notifications/{id}: Get a notification"""
        return self._request("GET", f"/api/v1/notifications/{_q(id)}", query=query)

    def get_notification_status(self, id: str, **query: Any) -> Any:
        """GET /api/v1/notifications/{id}/status: Delivery status: counts by status and platform, and the deliveries (paginated)"""
        return self._request("GET", f"/api/v1/notifications/{_q(id)}/status", query=query)

    def list_notification_webhook_attempts(self, id: str, **query: Any) -> Any:
        """GET /api/v1/notifications/{id}/webhook-attempts: the attempts to deliver its events to your webhooks"""
        return self._request("GET", f"/api/v1/notifications/{_q(id)}/webhook-attempts", query=query)

    def list_dead_letters(self, **query: Any) -> Any:
        """GET /api/v1/dead-letters: List dead letters (deliveries that failed every attempt), newest first"""
        return self._request("GET", "/api/v1/dead-letters", query=query)

    def get_dead_letter(self, id: str, **query: Any) -> Any:
        """GET /api/v1/dead-letters/{id}: Get a dead letter"""
        return self._request("GET", f"/api/v1/dead-letters/{_q(id)}", query=query)

    def requeue_dead_letters(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/dead-letters/requeue: Send dead letters again through the normal send path"""
        return self._request("POST", "/api/v1/dead-letters/requeue", body=body)

    def discard_dead_letters(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/dead-letters/discard: Give dead letters up: they become failed, with their error kept"""
        return self._request("POST", "/api/v1/dead-letters/discard", body=body)

    def schedule_notification(self, body: Optional[Mapping[str, Any]] = None, idempotency_key: Optional[str] = None) -> Any:
        """POST /api/v1/notify/schedule: Schedule a send, once or recurring"""
        return self._request("POST", "/api/v1/notify/schedule", body=body, idempotency_key=idempotency_key or str(uuid.uuid4()))

    def list_schedules(self, **query: Any) -> Any:
        """GET /api/v1/schedules: List schedules, oldest first"""
        return self._request("GET", "/api/v1/schedules", query=query)

    def get_schedule(self, id: str, **query: Any) -> Any:
        """GET /api/v1/schedules/{id}: Get a schedule"""
        return self._request("GET", f"/api/v1/schedules/{_q(id)}", query=query)

    def pause_schedule(self, id: str) -> Any:
        """POST /api/v1/schedules/{id}/pause: Pause a schedule (nothing fires until it is resumed)"""
        return self._request("POST", f"/api/v1/schedules/{_q(id)}/pause")

    def resume_schedule(self, id: str) -> Any:
        """POST /api/v1/schedules/{id}/resume: Resume a paused schedule (missed occurrences are handled per its misfire_policy)"""
        return self._request("POST", f"/api/v1/schedules/{_q(id)}/resume")

    def cancel_schedule(self, id: str) -> Any:
        """POST /api/v1/schedules/{id}/cancel: Cancel a schedule for good (it stays readable)"""
        return self._request("POST", f"/api/v1/schedules/{_q(id)}/cancel")

    def get_settings(self, **query: Any) -> Any:
        """GET /api/v1/settings: The caller's tenant settings (defaults of local-time delivery, quiet hours, throttle)"""
        return self._request("GET", "/api/v1/settings", query=query)

    def update_settings(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """PATCH /api/v1/settings: Change the caller's tenant settings (fields not sent are kept; null clears one)"""
        return self._request("PATCH", "/api/v1/settings", body=body)

    def record_receipt(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/receipts: Report a delivery as delivered or read"""
        return self._request("POST", "/api/v1/receipts", body=body)

    def create_template(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/templates: Create a template"""
        return self._request("POST", "/api/v1/templates", body=body)

    def list_templates(self, **query: Any) -> Any:
        """GET /api/v1/templates: List templates"""
        return self._request("GET", "/api/v1/templates", query=query)

    def get_template(self, id: str, **query: Any) -> Any:
        """GET /api/v1/templates/{id}: Get a template"""
        return self._request("GET", f"/api/v1/templates/{_q(id)}", query=query)

    def update_template(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """PUT /api/v1/templates/{id}: Replace a template (fields not sent are cleared)"""
        return self._request("PUT", f"/api/v1/templates/{_q(id)}", body=body)

    def delete_template(self, id: str) -> Any:
        """DELETE /api/v1/templates/{id}: Delete a template"""
        return self._request("DELETE", f"/api/v1/templates/{_q(id)}")

    def preview_template(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/templates/{id}/preview: Render a template with variables, as a device with the given locale would get it"""
        return self._request("POST", f"/api/v1/templates/{_q(id)}/preview", body=body)

    def get_analytics(self, **query: Any) -> Any:
        """GET /api/v1/analytics: Totals over a date range, per platform and per topic"""
        return self._request("GET", "/api/v1/analytics", query=query)

    def get_daily_analytics(self, **query: Any) -> Any:
        """GET /api/v1/analytics/daily: Numbers per day (UTC), zero-filled"""
        return self._request("GET", "/api/v1/analytics/daily", query=query)

    def get_weekly_analytics(self, **query: Any) -> Any:
        """GET /api/v1/analytics/weekly: Numbers per ISO week (Monday start), zero-filled"""
        return self._request("GET", "/api/v1/analytics/weekly", query=query)

    def get_monthly_analytics(self, **query: Any) -> Any:
        """GET /api/v1/analytics/monthly: Numbers per calendar month, zero-filled"""
        return self._request("GET", "/api/v1/analytics/monthly", query=query)

    def create_webhook(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/webhooks: Register a webhook endpoint (the reply holds its signing secret, shown once)"""
        return self._request("POST", "/api/v1/webhooks", body=body)

    def list_webhooks(self, **query: Any) -> Any:
        """GET /api/v1/webhooks: List webhook endpoints"""
        return self._request("GET", "/api/v1/webhooks", query=query)

    def get_webhook(self, id: str, **query: Any) -> Any:
        """GET /api/v1/webhooks/{id}: Get a webhook endpoint"""
        return self._request("GET", f"/api/v1/webhooks/{_q(id)}", query=query)

    def update_webhook(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """PUT /api/v1/webhooks/{id}: Update a webhook endpoint (fields not sent are kept; is_active true resets the failure count)"""
        return self._request("PUT", f"/api/v1/webhooks/{_q(id)}", body=body)

    def delete_webhook(self, id: str) -> Any:
        """DELETE /api/v1/webhooks/{id}: Delete a webhook endpoint and its attempt log"""
        return self._request("DELETE", f"/api/v1/webhooks/{_q(id)}")

    def rotate_webhook_secret(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/webhooks/{id}/rotate-secret: Replace the signing secret; the old one keeps signing alongside it for the grace period"""
        return self._request("POST", f"/api/v1/webhooks/{_q(id)}/rotate-secret", body=body)

    def test_webhook(self, id: str) -> Any:
        """POST /api/v1/webhooks/{id}/test: Send a webhook.test event to this endpoint now (delivered and retried like any event)"""
        return self._request("POST", f"/api/v1/webhooks/{_q(id)}/test")

    def list_webhook_deliveries(self, id: str, **query: Any) -> Any:
        """GET /api/v1/webhooks/{id}/deliveries: The delivery attempts to this endpoint, newest first"""
        return self._request("GET", f"/api/v1/webhooks/{_q(id)}/deliveries", query=query)

    def create_client(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/admin/clients: Create an API client (a tenant); its token is in this response only"""
        return self._request("POST", "/api/v1/admin/clients", body=body)

    def list_clients(self, **query: Any) -> Any:
        """GET /api/v1/admin/clients: List API clients"""
        return self._request("GET", "/api/v1/admin/clients", query=query)

    def get_client(self, id: str, **query: Any) -> Any:
        """GET /api/v1/admin/clients/{id}: Get an API client"""
        return self._request("GET", f"/api/v1/admin/clients/{_q(id)}", query=query)

    def update_client(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """PUT /api/v1/admin/clients/{id}: Update an API client (fields not sent are kept; expires_at null removes the expiry)"""
        return self._request("PUT", f"/api/v1/admin/clients/{_q(id)}", body=body)

    def rotate_client_token(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/admin/clients/{id}/rotate: Issue a new token; the old one keeps working for grace_seconds"""
        return self._request("POST", f"/api/v1/admin/clients/{_q(id)}/rotate", body=body)

    def revoke_client(self, id: str) -> Any:
        """POST /api/v1/admin/clients/{id}/revoke: Revoke the client’s tokens now (current and previous): 401 token_revoked"""
        return self._request("POST", f"/api/v1/admin/clients/{_q(id)}/revoke")

    def get_own_client(self, **query: Any) -> Any:
        """GET /api/v1/clients/me: The calling client: scopes, expiry, allowlist, rate limits"""
        return self._request("GET", "/api/v1/clients/me", query=query)

    def rotate_own_client_token(self, body: Optional[Mapping[str, Any]] = None) -> Any:
        """POST /api/v1/clients/me/rotate: Rotate your own token (use grace_seconds 0 when it leaked)"""
        return self._request("POST", "/api/v1/clients/me/rotate", body=body)

    def list_all_audit_logs(self, **query: Any) -> Any:
        """GET /api/v1/admin/audit-logs: The audit log of every tenant (filters: client, actor, action, target, dates)"""
        return self._request("GET", "/api/v1/admin/audit-logs", query=query)

    def list_audit_logs(self, **query: Any) -> Any:
        """GET /api/v1/audit-logs: Your audit log: every change made to your data, by you or an admin"""
        return self._request("GET", "/api/v1/audit-logs", query=query)

    def list_sandbox_messages(self, **query: Any) -> Any:
        """GET /api/v1/sandbox/messages: what the in-process FCM emulator received (sandbox mode only)"""
        return self._request("GET", "/api/v1/sandbox/messages", query=query)

    def set_sandbox_fault(self, id: str, body: Optional[Mapping[str, Any]] = None) -> Any:
        """PUT /api/v1/sandbox/devices/{id}/fault: make the sandbox emulator fail a device's sends (sandbox only)"""
        return self._request("PUT", f"/api/v1/sandbox/devices/{_q(id)}/fault", body=body)


def _retry_after(value: Optional[str]) -> Optional[float]:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class EventStream:
    """A minimal WebSocket client (RFC 6455) for the event stream: yields each event as a dict."""

    def __init__(self, client: FcmServerClient, path: str) -> None:
        target = urllib.parse.urlsplit(client.base_url + path)
        secure = target.scheme == "https"
        port = target.port or (443 if secure else 80)
        raw = socket.create_connection((target.hostname, port), timeout=client.timeout)
        self._sock = ssl.create_default_context().wrap_socket(raw, server_hostname=target.hostname) if secure else raw
        key = base64.b64encode(os.urandom(16)).decode()
        resource = target.path + (f"?{target.query}" if target.query else "")
        lines = [
            f"GET {resource} HTTP/1.1",
            f"Host: {target.netloc}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *[f"{k}: {v}" for k, v in client.auth_headers().items()],
        ]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self._sock.recv(4096)
            if not chunk:
                raise ConnectionError("the server closed the connection during the WebSocket handshake")
            head += chunk
        head, _, self._buffer = head.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ")[1])
        if status != 101:
            body = self._buffer.decode("utf-8", "replace")
            try:
                decoded: Any = json.loads(body)
            except ValueError:
                decoded = body
            request_id = next(
                (h.split(":", 1)[1].strip() for h in header_lines if h.lower().startswith("x-request-id:")), None
            )
            raise error_for(status, decoded, request_id, None)

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("the event stream closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        length = len(payload)
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length) if length < 126 else struct.pack(
            "!BBH", 0x80 | opcode, 0x80 | 126, length
        )
        self._sock.sendall(header + mask + masked)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        message = b""
        while True:
            first, second = self._read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read(8))
            payload = self._read(length)
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                return
            elif opcode in (0x0, 0x1):
                message += payload
                if first & 0x80:
                    yield json.loads(message)
                    message = b""

    def close(self) -> None:
        try:
            self._send(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self._sock.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["FcmServerClient", "EventStream", "ApiError"]
