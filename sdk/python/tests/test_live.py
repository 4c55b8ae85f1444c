"""The SDK against a live server: every operation at least once, and the helpers (retries, idempotency keys,
pagination, typed errors, webhook signatures, the event stream).

Environment (test/python-sdk.test.ts sets it): FCM_SERVER_URL, FCM_CLIENT_ID, FCM_CLIENT_TOKEN (a client with
every tenant scope), FCM_ADMIN_ID, FCM_ADMIN_TOKEN (an admin client), FCM_EMULATOR_URL (the FCM emulator the server
sends to) and FCM_SERVICE_ACCOUNT (a service account, JSON, that emulator trusts).
"""

import datetime
import http.server
import json
import os
import threading
import time
import unittest
import urllib.request
import uuid

from fcm_server_client import (
    AuthenticationError,
    FcmServerClient,
    NotFoundError,
    RateLimitedError,
    ValidationError,
    WebhookVerificationError,
    verify_webhook,
)

ENV = os.environ
RUN = uuid.uuid4().hex[:8]


def wait_for(check, timeout=30.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def emulator(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        ENV["FCM_EMULATOR_URL"] + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as response:
        payload = response.read()
        return json.loads(payload) if payload else None


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver on loopback: keeps every request's headers and raw body."""

    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"] or 0))
        Receiver.received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 429 with Retry-After, then 503, then 200: what the retry helper must ride out."""

    answers = []

    def do_GET(self):
        status = Flaky.answers.pop(0) if Flaky.answers else 200
        body = json.dumps({"status": "ok"} if status == 200 else {"error": {"code": "x", "message": "wait"}})
        self.send_response(status)
        if status != 200:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class LiveServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = FcmServerClient(ENV["FCM_SERVER_URL"], ENV["FCM_CLIENT_ID"], ENV["FCM_CLIENT_TOKEN"])
        cls.admin = FcmServerClient(ENV["FCM_SERVER_URL"], ENV["FCM_ADMIN_ID"], ENV["FCM_ADMIN_TOKEN"])

    def test_health_metrics_and_own_client(self):
        self.assertEqual(self.api.get_health()["status"], "ok")
        self.assertIn("checks", self.api.get_readiness())
        self.assertIn("# HELP", self.api.get_metrics())
        self.assertEqual(self.api.get_own_client()["id"], ENV["FCM_CLIENT_ID"])

    def test_errors_are_typed_with_code_and_request_id(self):
        with self.assertRaises(NotFoundError) as caught:
            self.api.get_device(str(uuid.uuid4()))
        self.assertEqual(caught.exception.code, "not_found")
        self.assertTrue(caught.exception.request_id)
        with self.assertRaises(ValidationError) as invalid:
            self.api.register_device({"platform": "pager", "token": "x"})
        self.assertEqual(invalid.exception.status, 422)
        self.assertTrue(invalid.exception.details)

    def test_retries_429_and_503_honouring_retry_after(self):
        server = serve(Flaky)
        try:
            Flaky.answers = [429, 503]
            client = FcmServerClient(f"http://127.0.0.1:{server.server_port}", "id", "token", max_retries=2)
            self.assertEqual(client.get_health(), {"status": "ok"})
            Flaky.answers = [429, 429, 429]
            with self.assertRaises(RateLimitedError) as caught:
                client.get_health()
            self.assertEqual(caught.exception.retry_after, 0)
        finally:
            server.shutdown()

    def test_every_operation(self):
        api, admin = self.api, self.admin

        # Firebase projects: a second one, made the default, then the first one removed.
        account = json.loads(ENV["FCM_SERVICE_ACCOUNT"])
        project = api.create_firebase_project({"service_account": account})
        self.assertEqual(api.get_firebase_project(project["id"])["id"], project["id"])
        api.set_default_firebase_project(project["id"])
        others = [p for p in api.paginate(api.list_firebase_projects) if p["id"] != project["id"]]
        for other in others:
            api.delete_firebase_project(other["id"])

        # Profiles.
        phone = "+2557" + str(int(RUN, 16) % 10**8).zfill(8)
        profile = api.create_profile({"phone_number": phone, "name": "Asha"})
        self.assertEqual(api.get_profile(profile["id"])["name"], "Asha")
        api.update_profile(profile["id"], {"phone_number": phone, "name": "Asha Mwangi"})
        self.assertEqual(api.list_profiles(phone_number=phone)["items"][0]["name"], "Asha Mwangi")
        api.delete_profile(profile["id"])
        api.restore_profile(profile["id"])

        # Devices, imports included, and cursor iteration.
        device = api.register_device({"platform": "android", "token": f"py-{RUN}-0001", "phone_number": phone})
        self.assertEqual(api.get_device(device["id"])["profile_id"], profile["id"])
        api.update_device(device["id"], {"app_version": "2.4.0", "tags": ["vip"]})
        imported = api.import_devices(
            [{"platform": "ios", "token": f"py-{RUN}-{i:04d}"} for i in range(2, 7)] + [{"platform": "x"}]
        )
        self.assertEqual((imported["created"], imported["rejected"]), (5, 1))
        again = api.import_devices_ndjson(
            [json.dumps({"platform": "ios", "token": f"py-{RUN}-0002"}), "{not json"], validate=True
        )
        self.assertEqual([r["status"] for r in again["results"]], ["updated", "rejected"])
        tokens = [d["id"] for d in api.paginate(api.list_devices, limit=2)]
        self.assertGreaterEqual(len(tokens), 6)
        self.assertEqual(len(set(tokens)), len(tokens))
        self.assertEqual(api.list_devices(tag="vip")["items"][0]["id"], device["id"])
        self.assertEqual(api.list_devices(token_suffix=device["token_suffix"])["items"][0]["id"], device["id"])
        spare = imported["results"][4]["device_id"]
        api.delete_device(spare)
        api.restore_device(spare)
        self.assertIsNone(api.mark_device_seen(device["id"]))

        # Frequency caps.
        cap = api.create_frequency_cap({"max": 3, "per": "24h", "topic": f"py.{RUN}"})
        self.assertEqual(api.get_frequency_cap(cap["id"])["scope"], "profile")
        self.assertEqual(api.update_frequency_cap(cap["id"], {"max": 5})["max"], 5)
        self.assertTrue(any(c["id"] == cap["id"] for c in api.paginate(api.list_frequency_caps)))
        api.delete_frequency_cap(cap["id"])

        # Topics.
        topic = api.create_topic({"name": f"py.{RUN}"})
        api.get_topic(topic["id"])
        api.update_topic(topic["id"], {"name": f"py.{RUN}", "description": "Python SDK"})
        api.subscribe_to_topic(topic["id"], {"device_ids": [device["id"], spare]})
        self.assertEqual(len(api.list_topic_subscribers(topic["id"])["items"]), 2)
        api.unsubscribe_from_topic(topic["id"], {"device_ids": [spare]})
        self.assertTrue(any(t["id"] == topic["id"] for t in api.paginate(api.list_topics)))

        # Templates.
        template = api.create_template({"name": f"py_{RUN}", "title": "Hi {{name}}", "body": "Order {{order}}"})
        api.get_template(template["id"])
        api.update_template(template["id"], {"name": f"py_{RUN}", "title": "Hello {{name}}", "body": "#{{order}}"})
        preview = api.preview_template(template["id"], {"variables": {"name": "Asha", "order": "7"}})
        self.assertEqual(preview["rendered"]["title"], "Hello Asha")
        self.assertTrue(api.list_templates()["items"])

        # Webhooks, with a signature checked by the SDK's verifier.
        receiver = serve(Receiver)
        try:
            hook = api.create_webhook({"url": f"http://127.0.0.1:{receiver.server_port}/hooks"})
            api.get_webhook(hook["id"])
            self.assertTrue(api.list_webhooks()["items"])
            api.update_webhook(hook["id"], {"description": "python"})
            api.test_webhook(hook["id"])
            headers, body = wait_for(lambda: Receiver.received and Receiver.received[0], what="a webhook")
            event = verify_webhook(hook["secret"], body, headers)
            self.assertIn("type", event)
            with self.assertRaises(WebhookVerificationError):
                verify_webhook(hook["secret"], body + b" ", headers)
            wait_for(lambda: api.list_webhook_deliveries(hook["id"])["items"], what="a webhook attempt")
            rotated = api.rotate_webhook_secret(hook["id"], {"grace_seconds": 0})
            self.assertNotEqual(rotated["secret"], hook["secret"])
            api.delete_webhook(hook["id"])
        finally:
            receiver.shutdown()

        # Sends, with the live event stream watching, and a receipt as the device would post it.
        with api.stream_events(types="notification.completed") as stream:
            sent = api.send_notification({"device_ids": [device["id"]], "title": "Hello"})
            first = next(iter(stream))
            self.assertIn(sent["notification_id"], json.dumps(first))
        key = str(uuid.uuid4())
        once = api.send_to_topic(f"py.{RUN}", {"title": "Topic"}, idempotency_key=key)
        twice = api.send_to_topic(f"py.{RUN}", {"title": "Topic"}, idempotency_key=key)
        self.assertEqual(once["notification_id"], twice["notification_id"])
        bulk = api.send_bulk(
            {"template": f"py_{RUN}", "targets": [{"device_id": device["id"], "variables": {"name": "A", "order": "1"}}]}
        )
        self.assertIn("notification_id", bulk)
        done = wait_for(
            lambda: api.get_notification(sent["notification_id"])["status"] == "completed", what="the send"
        )
        self.assertTrue(done)
        self.assertEqual(api.cancel_notification(sent["notification_id"])["cancelled"], 0)
        preview = api.preview_notification({"title": "Preview", "body": "Not sent"})
        self.assertIn("Preview", json.dumps(preview))
        minted = api.create_registration_token({"external_id": f"py-app-{RUN}", "ttl_seconds": 120})
        app_device = api.register_app_device(
            minted["registration_token"], {"platform": "web", "token": f"py-{RUN}-app-web"}
        )
        self.assertIn("id", app_device)
        with self.assertRaises(AuthenticationError):
            api.register_app_device(api.client_token, {"platform": "web", "token": f"py-{RUN}-app-2"})
        status = api.get_notification_status(sent["notification_id"])
        history = api.list_device_deliveries(status["deliveries"][0]["device_id"], limit=200)
        self.assertIn(sent["notification_id"], [d["notification_id"] for d in history["items"]])
        self.assertIn("items", api.list_notification_webhook_attempts(sent["notification_id"]))
        delivery = status["deliveries"][0]
        pushed = wait_for(
            lambda: [
                m for m in emulator("GET", "/__emulator/messages")["messages"]
                if m.get("message", {}).get("data", {}).get("fcms_delivery_id") == delivery["id"]
            ],
            what="the push in the emulator",
        )
        data = pushed[0]["message"]["data"]
        receipt = api.record_receipt(
            {"delivery_id": data["fcms_delivery_id"], "receipt_token": data["fcms_receipt"], "status": "read"}
        )
        self.assertEqual(receipt["status"], "read")
        self.assertTrue(api.list_notifications(limit=5)["items"])

        # Tenant settings: the defaults of local-time delivery, quiet hours and throttle.
        settings = api.update_settings({"default_time_zone": "Africa/Dar_es_Salaam", "throttle_per_minute": 1000})
        self.assertEqual(settings["default_time_zone"], "Africa/Dar_es_Salaam")
        self.assertEqual(api.get_settings()["throttle_per_minute"], 1000)
        api.update_settings({"default_time_zone": None, "throttle_per_minute": None})

        # Schedules.
        later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).isoformat()
        schedule = api.schedule_notification({"device_ids": [device["id"]], "title": "Later", "scheduled_at": later})
        schedule_id = schedule["id"]
        api.get_schedule(schedule_id)
        self.assertTrue(api.list_schedules()["items"])
        api.pause_schedule(schedule_id)
        api.resume_schedule(schedule_id)
        api.cancel_schedule(schedule_id)

        # Dead letters: a delivery the emulator refuses until retries run out.
        doomed = api.register_device({"platform": "android", "token": f"py-{RUN}-doomed"})
        emulator("PUT", "/__emulator/faults", {"tokens": {f"py-{RUN}-doomed": "UNAVAILABLE"}})
        failed = api.send_notification({"device_ids": [doomed["id"]], "title": "Doomed"})
        letters = wait_for(
            lambda: api.list_dead_letters(notification_id=failed["notification_id"])["items"],
            timeout=60,
            what="a dead letter",
        )
        emulator("PUT", "/__emulator/faults", {})
        api.get_dead_letter(letters[0]["id"])
        api.requeue_dead_letters({"ids": [letters[0]["id"]]})
        api.discard_dead_letters({"notification_id": failed["notification_id"]})

        # Analytics and the audit log.
        today = datetime.date.today().isoformat()
        reports = (api.get_analytics, api.get_daily_analytics, api.get_weekly_analytics, api.get_monthly_analytics)
        for report in reports:
            self.assertIsInstance(report(**{"from": today, "to": today}), dict)
        self.assertTrue(api.list_audit_logs(limit=5)["items"])

        # Clean-up of what is left.
        api.delete_topic(topic["id"])
        api.delete_template(template["id"])

        # Admin: clients and everyone's audit log; a new client rotates its own token.
        created = admin.create_client({"name": f"py-{RUN}", "scopes": ["send", "read"]})
        client_id = created["id"]
        admin.get_client(client_id)
        admin.update_client(client_id, {"scopes": ["send", "read", "manage"]})
        self.assertTrue(admin.list_clients()["items"])
        rotated = admin.rotate_client_token(client_id, {"grace_seconds": 0})
        own = FcmServerClient(ENV["FCM_SERVER_URL"], client_id, rotated["client_token"])
        self.assertIn("client_token", own.rotate_own_client_token({"grace_seconds": 0}))
        admin.revoke_client(client_id)
        self.assertTrue(admin.list_all_audit_logs(limit=5)["items"])


if __name__ == "__main__":
    unittest.main()
