/**
 * Every message option arrives at FCM exactly as FCM v1 expects it, per platform: silent pushes, images, action
 * buttons and deep links, Android channel/sound/click action, priority with TTL and the APNs headers, collapse
 * keys, badge, analytics label and raw platform overrides. What FCM would refuse is refused before queueing.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { errorOf, startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

let server: TestServer;
let tenant: Tenant;
const tokens = {
  android: `opt-android-${Date.now()}`,
  ios: `opt-ios-${Date.now()}`,
  web: `opt-web-${Date.now()}`,
};
const phone = '+255712000999';

beforeAll(async () => {
  server = await startTestServer();
  tenant = await server.tenant('options');
  for (const platform of ['android', 'ios', 'web'] as const) {
    const response = await post('/api/v1/devices/', {
      platform,
      token: tokens[platform],
      phone_number: phone,
    });
    expect(response.statusCode).toBe(201);
  }
});
afterAll(() => server?.close());

function post(url: string, payload: unknown) {
  return server.app.inject({ method: 'POST', url, headers: tenant.headers, payload: payload as object });
}

/** Sends and returns the message each platform's device received, without the receipt fields. */
async function sendAll(body: Record<string, unknown>) {
  const response = await post('/api/v1/notify/', { phone_number: phone, ...body });
  expect(response.statusCode, response.body).toBe(202);
  const id = response.json().notification_id;
  const notification = await waitForNotification(server, tenant, id);
  expect(notification.status).toBe('completed');
  const [{ first } = { first: 0 }] = await query<{ first: number }>(
    server.runtime.deps.db,
    sql`select min(id)::int as first from deliveries where notification_id = ${id}`,
  );
  const byToken = new Map<string, Record<string, unknown>>();
  for (const r of server.emulator.received({ projectId: tenant.account.project_id })) {
    const data = r.message.data as Record<string, string> | undefined;
    if (!data || Number(data.fcms_delivery_id) < first) continue;
    const { fcms_delivery_id: _id, fcms_receipt: _receipt, ...rest } = data;
    const message = { ...r.message };
    if (Object.keys(rest).length > 0) message.data = rest;
    else delete message.data;
    byToken.set(r.message.token as string, message);
  }
  return {
    android: byToken.get(tokens.android)!,
    ios: byToken.get(tokens.ios)!,
    web: byToken.get(tokens.web)!,
  };
}

describe('message options at the emulator', () => {
  it('renders a rich notification with every option on each platform', async () => {
    const before = Math.floor(Date.now() / 1000);
    const got = await sendAll({
      title: 'Sale',
      body: '50% off today',
      data: { sale_id: '42' },
      image_url: 'https://example.com/sale.png',
      priority: 'high',
      ttl_seconds: 3600,
      collapse_key: 'daily-sale',
      sound: 'chime.caf',
      badge: 3,
      android_channel_id: 'promotions',
      click_action: 'OPEN_SALE',
      link: 'https://example.com/sale/42',
      actions: [
        { id: 'buy', title: 'Buy now', link: 'https://example.com/buy/42' },
        { id: 'later', title: 'Later', icon: 'https://example.com/clock.png' },
      ],
      analytics_label: 'sale_2026',
    });
    const actions = JSON.stringify([
      { id: 'buy', title: 'Buy now', link: 'https://example.com/buy/42' },
      { id: 'later', title: 'Later', icon: 'https://example.com/clock.png' },
    ]);
    const notification = { title: 'Sale', body: '50% off today', image: 'https://example.com/sale.png' };
    const data = { sale_id: '42', fcms_actions: actions };
    const fcm_options = { analytics_label: 'sale_2026' };

    expect(got.android).toEqual({
      token: tokens.android,
      notification,
      data,
      android: {
        priority: 'HIGH',
        ttl: '3600s',
        collapse_key: 'daily-sale',
        notification: {
          channel_id: 'promotions',
          sound: 'chime.caf',
          click_action: 'OPEN_SALE',
          image: 'https://example.com/sale.png',
        },
      },
      fcm_options,
    });

    const { apns } = got.ios as { apns: { headers: Record<string, string> } };
    const expiration = Number(apns.headers['apns-expiration']);
    expect(expiration).toBeGreaterThanOrEqual(before + 3600);
    expect(expiration).toBeLessThanOrEqual(before + 3600 + 60);
    expect(got.ios).toEqual({
      token: tokens.ios,
      notification,
      data,
      apns: {
        headers: {
          'apns-priority': '10',
          'apns-push-type': 'alert',
          'apns-collapse-id': 'daily-sale',
          'apns-expiration': String(expiration),
        },
        payload: { aps: { sound: 'chime.caf', badge: 3, 'mutable-content': 1, category: 'OPEN_SALE' } },
        fcm_options: { image: 'https://example.com/sale.png' },
      },
      fcm_options,
    });

    expect(got.web).toEqual({
      token: tokens.web,
      notification,
      data,
      webpush: {
        headers: { Urgency: 'high', TTL: '3600', Topic: 'daily-sale' },
        notification: {
          title: 'Sale',
          body: '50% off today',
          image: 'https://example.com/sale.png',
          actions: [
            { action: 'buy', title: 'Buy now' },
            { action: 'later', title: 'Later', icon: 'https://example.com/clock.png' },
          ],
        },
        fcm_options: { link: 'https://example.com/sale/42' },
      },
      fcm_options,
    });
  });

  it('sends a silent push as data only, with background APNs headers', async () => {
    const got = await sendAll({
      silent: true,
      data: { sync: 'inbox' },
      priority: 'high',
      collapse_key: 'sync',
    });
    expect(got.android).toEqual({
      token: tokens.android,
      data: { sync: 'inbox' },
      android: { priority: 'HIGH', collapse_key: 'sync' },
    });
    expect(got.ios).toEqual({
      token: tokens.ios,
      data: { sync: 'inbox' },
      apns: {
        headers: { 'apns-priority': '5', 'apns-push-type': 'background', 'apns-collapse-id': 'sync' },
        payload: { aps: { 'content-available': 1 } },
      },
    });
    expect(got.web).toEqual({
      token: tokens.web,
      data: { sync: 'inbox' },
      webpush: { headers: { Urgency: 'high', Topic: 'sync' } },
    });
  });

  it('maps normal priority with a zero TTL (deliver now or never)', async () => {
    const got = await sendAll({ body: 'FYI', priority: 'normal', ttl_seconds: 0 });
    expect(got.android.android).toEqual({ priority: 'NORMAL', ttl: '0s' });
    expect((got.ios.apns as { headers: unknown }).headers).toEqual({
      'apns-priority': '5',
      'apns-push-type': 'alert',
      'apns-expiration': '0',
    });
    expect((got.web.webpush as { headers: unknown }).headers).toEqual({ Urgency: 'normal', TTL: '0' });
  });

  it('merges raw platform overrides over the rendered blocks', async () => {
    const got = await sendAll({
      title: 'Custom',
      android_channel_id: 'news',
      platform_overrides: {
        android: { notification: { color: '#ff0000', tag: 'news' }, direct_boot_ok: true },
        apns: { payload: { aps: { 'thread-id': 'news' }, custom: { deep: true } } },
        webpush: { notification: { requireInteraction: true } },
      },
    });
    expect(got.android.android).toEqual({
      priority: 'HIGH',
      direct_boot_ok: true,
      notification: { channel_id: 'news', color: '#ff0000', tag: 'news' },
    });
    expect((got.ios.apns as { payload: unknown }).payload).toEqual({
      aps: { 'thread-id': 'news' },
      custom: { deep: true },
    });
    expect((got.web.webpush as { notification: unknown }).notification).toEqual({
      title: 'Custom',
      requireInteraction: true,
    });
  });
});

describe('what FCM would refuse is refused before anything is queued', () => {
  it.each([
    ['a non-string data value', { title: 'x', data: { n: 1 } }, 422],
    ['a reserved data key', { title: 'x', data: { from: 'me' } }, 422],
    ['a reserved data key prefix', { title: 'x', data: { 'google.x': '1' } }, 422],
    ['a payload over 4096 bytes', { title: 'x', data: { blob: 'x'.repeat(4000) } }, 413],
    ['an http image', { title: 'x', image_url: 'http://example.com/a.png' }, 422],
    [
      'four action buttons',
      { title: 'x', actions: [1, 2, 3, 4].map((i) => ({ id: `a${i}`, title: 't' })) },
      422,
    ],
    [
      'an override field FCM does not know',
      { title: 'x', platform_overrides: { android: { urgency: 'max' } } },
      422,
    ],
    [
      'an override with a bad value',
      { title: 'x', platform_overrides: { android: { priority: 'URGENT' } } },
      422,
    ],
    ['an unknown override platform', { title: 'x', platform_overrides: { huawei: {} } }, 422],
    ['a silent push without data', { silent: true }, 422],
    ['no title or body', { data: { a: 'b' } }, 422],
    ['an unknown priority', { title: 'x', priority: 'urgent' }, 422],
    ['a TTL over 28 days', { title: 'x', ttl_seconds: 2_419_201 }, 422],
    ['a bad analytics label', { title: 'x', analytics_label: 'has spaces' }, 422],
  ])('rejects %s', async (_what, body, status) => {
    const [before] = await query<{ n: number }>(
      server.runtime.deps.db,
      sql`select count(*)::int as n from notifications`,
    );
    const response = await post('/api/v1/notify/', { phone_number: phone, ...body });
    expect(response.statusCode, response.body).toBe(status);
    expect(errorOf(response).message).toBeTruthy();
    const [after] = await query<{ n: number }>(
      server.runtime.deps.db,
      sql`select count(*)::int as n from notifications`,
    );
    expect(after!.n).toBe(before!.n);
  });
});
