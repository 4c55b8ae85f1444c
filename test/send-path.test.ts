/**
 * The send path end to end, through the HTTP API, on this run's database (PGlite or PostgreSQL) with the FCM
 * emulator: client → Firebase project → devices on three platforms → send by phone number → exact FCM v1
 * messages at the emulator → status → receipts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

let server: TestServer;
let tenant: Tenant;

beforeAll(async () => {
  server = await startTestServer();
  tenant = await server.tenant('shop');
});
afterAll(() => server?.close());

const post = (url: string, payload: unknown, headers = tenant.headers) =>
  server.as(headers, 'POST', url, payload);
const get = (url: string, headers: Record<string, string> = tenant.headers) =>
  server.app.inject({ method: 'GET', url, headers });

/** The content of the spec's example notification: what is sent, and what the notification then shows. */
const specContent = {
  title: 'Order Confirmed',
  body: 'Your order #1234 has been confirmed.',
  data: { order_id: '1234', screen: 'order_details' },
  priority: 'high',
  image_url: 'https://example.com/image.png',
  collapse_key: 'order_updates',
};

describe('send to a phone number on all three platforms', () => {
  const phone = '+255712345678';
  const tokens = {
    android: `android-token-${Date.now()}`,
    ios: `ios-token-${Date.now()}`,
    web: `web-token-${Date.now()}`,
  };
  let notificationId: string;

  it('registers a device per platform for the phone number (profile created on first use)', async () => {
    for (const platform of ['android', 'ios', 'web'] as const) {
      const response = await post('/api/v1/devices/', {
        platform,
        token: tokens[platform],
        phone_number: phone,
        app_version: '2.3.1',
        locale: 'sw-TZ',
        timezone: 'Africa/Dar_es_Salaam',
      });
      expect(response.statusCode).toBe(201);
      expect(response.json()).toMatchObject({
        platform,
        is_active: true,
        token_suffix: tokens[platform].slice(-8),
      });
      expect(response.body).not.toContain(tokens[platform]);
    }
    const profiles = await get(`/api/v1/profiles/?phone_number=${encodeURIComponent(phone)}`);
    expect(profiles.json().items).toHaveLength(1);
  });

  it('accepts the spec example with 202, a status URL and the Idempotency-Key replay', async () => {
    const body = { phone_number: phone, ...specContent };
    const headers = { ...tenant.headers, 'idempotency-key': 'order-1234-confirmed' };
    const first = await post('/api/v1/notify/', body, headers);
    expect(first.statusCode).toBe(202);
    notificationId = first.json().notification_id;
    expect(first.json().status_url).toBe(`/api/v1/notifications/${notificationId}/status/`);

    const replay = await post('/api/v1/notify/', body, headers);
    expect(replay.statusCode).toBe(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(first.json());

    const conflict = await post('/api/v1/notify/', { ...body, title: 'Something else' }, headers);
    expect(conflict.statusCode).toBe(422);
    expect(errorOf(conflict).code).toBe('idempotency_key_reused');

    const list = await get('/api/v1/notifications/');
    expect(list.json().items.filter((n: { id: string }) => n.id === notificationId)).toHaveLength(1);
    expect(list.json().items).toHaveLength(1);
  });

  it('sends exactly the FCM v1 message each platform expects', async () => {
    const notification = await waitForNotification(server, tenant, notificationId);
    expect(notification.status).toBe('completed');
    expect(notification.counts).toMatchObject({ total: 3, sent: 3, failed: 0 });
    expect(notification.content).toEqual(specContent);

    const received = server.emulator.received({ projectId: tenant.account.project_id });
    expect(received).toHaveLength(3);
    const byToken = new Map(received.map((r) => [r.message.token, r.message]));
    const common = {
      notification: {
        title: 'Order Confirmed',
        body: 'Your order #1234 has been confirmed.',
        image: 'https://example.com/image.png',
      },
    };
    const data = (message: Record<string, unknown>) => message.data as Record<string, string>;

    const android = byToken.get(tokens.android)!;
    expect(android).toMatchObject({
      ...common,
      android: { priority: 'HIGH', collapse_key: 'order_updates' },
    });
    expect(android.apns).toBeUndefined();
    expect(android.webpush).toBeUndefined();

    const ios = byToken.get(tokens.ios)!;
    expect(ios).toMatchObject({
      ...common,
      apns: {
        headers: { 'apns-priority': '10', 'apns-push-type': 'alert', 'apns-collapse-id': 'order_updates' },
        payload: { aps: { 'mutable-content': 1 } },
        fcm_options: { image: 'https://example.com/image.png' },
      },
    });
    expect(ios.android).toBeUndefined();

    const web = byToken.get(tokens.web)!;
    expect(web).toMatchObject({
      ...common,
      webpush: { headers: { Urgency: 'high', Topic: 'order_updates' } },
    });

    for (const message of [android, ios, web]) {
      expect(data(message)).toMatchObject({ order_id: '1234', screen: 'order_details' });
      expect(data(message).fcms_delivery_id).toMatch(/^\d+$/);
      expect(data(message).fcms_receipt).toMatch(/^[A-Za-z0-9_-]{24}$/);
    }
  });

  it('reports per-status and per-platform counts and the deliveries', async () => {
    const status = await get(`/api/v1/notifications/${notificationId}/status/`);
    expect(status.statusCode).toBe(200);
    const report = status.json();
    expect(report.by_status).toEqual({ sent: 3 });
    expect(report.by_platform).toEqual({ android: { sent: 1 }, ios: { sent: 1 }, web: { sent: 1 } });
    expect(report.deliveries).toHaveLength(3);
    for (const delivery of report.deliveries) {
      expect(delivery.fcm_message_id).toMatch(new RegExp(`^projects/${tenant.account.project_id}/messages/`));
      expect(delivery.attempts).toBe(1);
    }
  });

  it('moves deliveries forward on receipts: delivered, then read; never backwards; forged receipts rejected', async () => {
    const [android, ios] = server.emulator
      .received({ projectId: tenant.account.project_id })
      .map((r) => r.message.data as Record<string, string>);
    const receipt = (d: Record<string, string>, status: string, token = d.fcms_receipt) =>
      server.app.inject({
        method: 'POST',
        url: '/api/v1/receipts/',
        payload: { delivery_id: d.fcms_delivery_id, receipt_token: token, status },
      });

    expect((await receipt(android!, 'delivered')).json()).toMatchObject({ status: 'delivered' });
    expect((await receipt(android!, 'read')).json()).toMatchObject({ status: 'read' });
    expect((await receipt(android!, 'delivered')).json()).toMatchObject({ status: 'read' });
    expect((await receipt(ios!, 'read')).json()).toMatchObject({ status: 'read' });

    const forged = await receipt(ios!, 'delivered', 'A'.repeat(24));
    expect(forged.statusCode).toBe(404);
    const otherDelivery = await receipt(
      { fcms_delivery_id: '999999', fcms_receipt: android!.fcms_receipt! },
      'read',
    );
    expect(otherDelivery.statusCode).toBe(404);

    const notification = (await get(`/api/v1/notifications/${notificationId}/`)).json();
    expect(notification.counts).toMatchObject({ delivered: 2, read: 2, sent: 3 });
    const report = (await get(`/api/v1/notifications/${notificationId}/status/`)).json();
    expect(report.by_status).toEqual({ read: 2, sent: 1 });
  });
});

describe('dead tokens', () => {
  it('UNREGISTERED fails the delivery and deactivates the device with the reason', async () => {
    const good = await post('/api/v1/devices/', {
      platform: 'android',
      token: `good-${Date.now()}`,
      external_id: 'user-7',
    });
    await post('/api/v1/devices/', {
      platform: 'web',
      token: `also-good-${Date.now()}`,
      external_id: 'user-7',
    });
    // The emulator answers UNREGISTERED for tokens starting with "unregistered-".
    const deadToken = `unregistered-${Date.now()}`;
    const deadDevice = await post('/api/v1/devices/', {
      platform: 'ios',
      token: deadToken,
      external_id: 'user-7',
    });
    expect(deadDevice.statusCode).toBe(201);

    const accepted = await post('/api/v1/notify/', { external_id: 'user-7', title: 'Hi' });
    expect(accepted.statusCode).toBe(202);
    const notification = await waitForNotification(server, tenant, accepted.json().notification_id);
    expect(notification.status).toBe('partially_failed');
    expect(notification.counts).toMatchObject({ total: 3, sent: 2, failed: 1 });

    const device = (await get(`/api/v1/devices/${deadDevice.json().id}/`)).json();
    expect(device).toMatchObject({ is_active: false, deactivated_reason: 'UNREGISTERED' });
    expect((await get(`/api/v1/devices/${good.json().id}/`)).json().is_active).toBe(true);

    const report = (await get(`/api/v1/notifications/${notification.id}/status/?status=failed`)).json();
    expect(report.deliveries).toHaveLength(1);
    expect(report.deliveries[0]).toMatchObject({
      status: 'failed',
      error_code: 'UNREGISTERED',
      device_id: deadDevice.json().id,
    });

    // Re-registering the token (app reinstalled) reactivates the same device instead of duplicating it.
    const again = await post('/api/v1/devices/', {
      platform: 'ios',
      token: deadToken,
      external_id: 'user-7',
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({
      id: deadDevice.json().id,
      is_active: true,
      deactivated_reason: null,
    });
  });

  it('a profile with no active device gives a failed notification with no_active_devices', async () => {
    const profile = await post('/api/v1/profiles/', { external_id: 'nobody-home' });
    const accepted = await post('/api/v1/notify/', { profile_id: profile.json().id, title: 'Hello?' });
    const notification = await waitForNotification(server, tenant, accepted.json().notification_id);
    expect(notification).toMatchObject({
      status: 'failed',
      error_code: 'no_active_devices',
      counts: { total: 0 },
    });
  });
});

describe('retries', () => {
  it('retries UNAVAILABLE with backoff, honouring Retry-After, then succeeds', async () => {
    const token = `flaky-${Date.now()}`;
    const device = await post('/api/v1/devices/', { platform: 'android', token });
    server.emulator.setFaults({ tokens: { [token]: 'UNAVAILABLE' }, retryAfter: 1 });
    const accepted = await post('/api/v1/notify/', { device_ids: [device.json().id], title: 'Retry me' });
    const id = accepted.json().notification_id;
    // Wait for the first refusal, then let FCM recover.
    const deadline = Date.now() + 10_000;
    while (
      server.emulator
        .received({ projectId: tenant.account.project_id })
        .filter((r) => r.message.token === token).length === 0
    ) {
      if (Date.now() > deadline) throw new Error('first attempt never arrived');
      await new Promise((r) => setTimeout(r, 25));
    }
    server.emulator.setFaults({});
    const notification = await waitForNotification(server, tenant, id);
    expect(notification.status).toBe('completed');
    const attempts = server.emulator
      .received({ projectId: tenant.account.project_id })
      .filter((r) => r.message.token === token);
    expect(attempts.length).toBe(2);
    expect(attempts[1]!.receivedAt - attempts[0]!.receivedAt).toBeGreaterThanOrEqual(1000);
    const report = (await get(`/api/v1/notifications/${id}/status/`)).json();
    expect(report.deliveries[0]).toMatchObject({ status: 'sent', attempts: 2 });
  });
});
