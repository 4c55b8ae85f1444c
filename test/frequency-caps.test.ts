/**
 * Frequency caps and last_seen through the HTTP API, with the FCM emulator and a clock the test moves forward:
 * a capped profile gets no fourth notification in 24 hours while a transactional send still arrives, and one
 * again once the window has passed; topic-scoped and device-scoped caps; concurrent sends; the skipped reason
 * in the status, analytics and events; last_seen moved by receipts and check-ins, at most once per 5 minutes.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { fanOut, startFanoutJob } from '../src/jobs/fanout.job.ts';
import { QUEUES } from '../src/queue/contract.ts';
import { deactivateStaleDevices } from '../src/services/maintenance.service.ts';
import {
  errorOf,
  ManualClock,
  startTestServer,
  type Tenant,
  type TestServer,
  waitForNotification,
} from './helpers.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let server: TestServer;
const clock = new ManualClock();

beforeAll(async () => {
  // The clock moves months forward; the server's own age limit of a send (SEND_MAX_AGE_SECONDS) would otherwise
  // judge a send made now by the database's creation time as too old. Batches of 2 make fan-out pages of 20
  // devices, so that a profile can span several pages.
  server = await startTestServer(
    { RATE_LIMIT_ENABLED: 'false', SEND_MAX_AGE_SECONDS: String(400 * 86_400), SEND_BATCH_SIZE: '2' },
    { clock },
  );
});
afterAll(() => server?.close());

let tokenCounter = 0;
const newToken = (prefix: string) => `${prefix}-${++tokenCounter}-token-0123456789abcdef`;

/** Registers a device (of the profile with this external id, when given); returns its id and token. */
async function device(tenant: Tenant, externalId?: string): Promise<{ id: string; token: string }> {
  const token = newToken('cap');
  const response = await server.as(tenant, 'POST', '/api/v1/devices/', {
    platform: 'android',
    token,
    ...(externalId ? { external_id: externalId } : {}),
  });
  expect(response.statusCode).toBe(201);
  return { id: response.json().id, token };
}

/** Sends, waits for the notification to settle, and returns it (status and counts). */
async function send(tenant: Tenant, body: Record<string, unknown>, url = '/api/v1/notify/') {
  const response = await server.as(tenant, 'POST', url, { title: 'Hello', ...body });
  expect(response.statusCode, response.body).toBe(202);
  return waitForNotification(server, tenant, response.json().notification_id);
}

/** How many pushes the emulator accepted for a device token. */
const pushesTo = (token: string) =>
  server.emulator.received().filter((r) => !r.validateOnly && r.message.token === token).length;

async function createCap(tenant: Tenant, body: Record<string, unknown>) {
  const response = await server.as(tenant, 'POST', '/api/v1/frequency-caps/', body);
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { id: string };
}

describe('frequency caps: the resource', () => {
  it('is created, listed, read, changed and deleted by its tenant only', async () => {
    const shop = await server.tenant('caps-crud');
    const other = await server.tenant('caps-crud-other');
    const created = await server.as(shop, 'POST', '/api/v1/frequency-caps/', { max: 3, per: '24h' });
    expect(created.statusCode).toBe(201);
    const cap = created.json();
    expect(cap).toMatchObject({ max: 3, per: '24h', scope: 'profile', topic: null, template: null });

    expect((await server.as(shop, 'GET', '/api/v1/frequency-caps/')).json().items).toEqual([cap]);
    expect((await server.as(other, 'GET', '/api/v1/frequency-caps/')).json().items).toEqual([]);
    for (const [method, payload] of [
      ['GET', undefined],
      ['PATCH', { max: 9 }],
      ['DELETE', undefined],
    ] as const) {
      const response = await server.as(other, method, `/api/v1/frequency-caps/${cap.id}`, payload);
      expect(response.statusCode).toBe(404);
    }

    const changed = await server.as(shop, 'PATCH', `/api/v1/frequency-caps/${cap.id}`, {
      max: 5,
      scope: 'device',
      topic: 'promotions',
    });
    expect(changed.json()).toMatchObject({ max: 5, per: '24h', scope: 'device', topic: 'promotions' });
    const cleared = await server.as(shop, 'PATCH', `/api/v1/frequency-caps/${cap.id}`, { topic: null });
    expect(cleared.json()).toMatchObject({ max: 5, topic: null });
    expect((await server.as(shop, 'GET', `/api/v1/frequency-caps/${cap.id}`)).json().max).toBe(5);
    expect((await server.as(shop, 'DELETE', `/api/v1/frequency-caps/${cap.id}`)).statusCode).toBe(204);
    expect((await server.as(shop, 'GET', `/api/v1/frequency-caps/${cap.id}`)).statusCode).toBe(404);
  });

  it('refuses invalid caps with 422, naming the field', async () => {
    const shop = await server.tenant('caps-invalid');
    for (const [body, field] of [
      [{ max: 0, per: '24h' }, 'max'],
      [{ max: 3, per: '24 hours' }, 'per'],
      [{ max: 3, per: '31d' }, 'per'],
      [{ max: 3, per: '0m' }, 'per'],
      [{ max: 3, per: '1h', scope: 'user' }, 'scope'],
      [{ max: 3, per: '1h', topic: 'no spaces' }, 'topic'],
      [{ max: 3, per: '1h', window: '1h' }, 'window'],
      [{ per: '1h' }, 'max'],
    ] as const) {
      const response = await server.as(shop, 'POST', '/api/v1/frequency-caps/', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(422);
      expect(JSON.stringify(errorOf(response).details)).toContain(field);
    }
    const notify = await server.as(shop, 'POST', '/api/v1/notify/', {
      all_devices: true,
      title: 'x',
      bypass_frequency_cap: 'yes',
    });
    expect(notify.statusCode).toBe(422);
  });
});

describe('frequency caps: applied to sends', () => {
  it('3 per 24h per profile: no fourth in 24 hours, a transactional send still arrives, then one again', async () => {
    const shop = await server.tenant('caps-profile');
    const phone = await device(shop, 'user-1');
    const tablet = await device(shop, 'user-1');
    await createCap(shop, { max: 3, per: '24h', scope: 'profile' });

    for (let i = 0; i < 3; i++) {
      const sent = await send(shop, { external_id: 'user-1', title: `Offer ${i}` });
      expect(sent.counts).toMatchObject({ total: 2, sent: 2, skipped: 0 });
      clock.advance(HOUR);
    }
    expect([pushesTo(phone.token), pushesTo(tablet.token)]).toEqual([3, 3]);

    const fourth = await send(shop, { external_id: 'user-1', title: 'One offer too many' });
    expect(fourth.status).toBe('completed');
    expect(fourth.counts).toMatchObject({ total: 2, sent: 0, failed: 0, skipped: 2 });
    const status = (await server.as(shop, 'GET', `/api/v1/notifications/${fourth.id}/status/`)).json();
    expect(status.by_status).toEqual({ skipped: 2 });
    for (const d of status.deliveries)
      expect(d).toMatchObject({ status: 'skipped', error_code: 'frequency_cap' });
    const events = await query<{
      type: string;
      payload: { count: number; deliveries: { error_code: string }[] };
    }>(
      server.runtime.deps.db,
      sql`select type, payload from events where notification_id = ${fourth.id} order by id`,
    );
    expect(events.map((e) => e.type)).toEqual(['notification.skipped', 'notification.completed']);
    expect(events[0]!.payload.count).toBe(2);
    expect(events[0]!.payload.deliveries.map((d) => d.error_code)).toEqual([
      'frequency_cap',
      'frequency_cap',
    ]);
    const analytics = (await server.as(shop, 'GET', '/api/v1/analytics/')).json();
    expect(analytics.totals).toMatchObject({ sent: 6, skipped: 2 });

    const otp = await send(shop, {
      external_id: 'user-1',
      title: 'Your code is 123456',
      bypass_frequency_cap: true,
    });
    expect(otp.counts).toMatchObject({ sent: 2, skipped: 0 });
    expect(otp.bypass_frequency_cap).toBe(true);
    expect([pushesTo(phone.token), pushesTo(tablet.token)]).toEqual([4, 4]);
    // The transactional send does not count either: still capped (3 in the window), not 4.
    expect((await send(shop, { external_id: 'user-1' })).counts.skipped).toBe(2);

    // 24 hours after the first send it leaves the window: one more fits, and only one.
    clock.advance(21 * HOUR + MINUTE);
    expect((await send(shop, { external_id: 'user-1', title: 'A new day' })).counts).toMatchObject({
      sent: 2,
    });
    expect((await send(shop, { external_id: 'user-1' })).counts).toMatchObject({ sent: 0, skipped: 2 });
    expect([pushesTo(phone.token), pushesTo(tablet.token)]).toEqual([5, 5]);
  });

  it('a topic cap counts and caps only sends to that topic', async () => {
    const shop = await server.tenant('caps-topic');
    const reader = await device(shop);
    const topic = await server.as(shop, 'POST', '/api/v1/topics/', { name: 'promotions' });
    await server.as(shop, 'POST', `/api/v1/topics/${topic.json().id}/subscribe`, { device_ids: [reader.id] });
    await createCap(shop, { max: 1, per: '1h', scope: 'device', topic: 'promotions' });

    expect((await send(shop, {}, '/api/v1/notify/topic/promotions')).counts.sent).toBe(1);
    expect((await send(shop, {}, '/api/v1/notify/topic/promotions')).counts.skipped).toBe(1);
    expect((await send(shop, { topic: 'promotions' })).counts.skipped).toBe(1);
    // Other sends neither count towards nor are held by the promotions cap.
    expect((await send(shop, { device_ids: [reader.id] })).counts.sent).toBe(1);
    expect((await send(shop, { device_ids: [reader.id] })).counts.sent).toBe(1);
    clock.advance(HOUR + MINUTE);
    expect((await send(shop, {}, '/api/v1/notify/topic/promotions')).counts.sent).toBe(1);
    expect(pushesTo(reader.token)).toBe(4);
  });

  it('a template cap counts and caps only sends with that template', async () => {
    const shop = await server.tenant('caps-template');
    const reader = await device(shop);
    const template = await server.as(shop, 'POST', '/api/v1/templates/', {
      name: 'digest',
      title: 'Your digest',
    });
    expect(template.statusCode).toBe(201);
    await createCap(shop, { max: 1, per: '1d', template: 'digest' });

    expect((await send(shop, { device_ids: [reader.id], template: 'digest' })).counts.sent).toBe(1);
    expect((await send(shop, { device_ids: [reader.id], template: 'digest' })).counts.skipped).toBe(1);
    expect((await send(shop, { device_ids: [reader.id], title: 'Not a digest' })).counts.sent).toBe(1);
    expect(pushesTo(reader.token)).toBe(2);
  });

  it('a profile spanning several fan-out pages gets the whole send: a send does not count against itself', async () => {
    const shop = await server.tenant('caps-pages');
    for (let i = 0; i < 45; i++) await device(shop, 'user-pages');
    await createCap(shop, { max: 1, per: '1d' });
    expect((await send(shop, { external_id: 'user-pages' })).counts).toMatchObject({ total: 45, sent: 45 });
    expect((await send(shop, { external_id: 'user-pages' })).counts).toMatchObject({
      total: 45,
      skipped: 45,
    });
  });

  it('a device cap counts each device alone', async () => {
    const shop = await server.tenant('caps-device');
    const phone = await device(shop, 'user-2');
    const laptop = await device(shop, 'user-2');
    await createCap(shop, { max: 1, per: '1d', scope: 'device' });

    expect((await send(shop, { device_ids: [phone.id] })).counts.sent).toBe(1);
    const both = await send(shop, { external_id: 'user-2' });
    expect(both.counts).toMatchObject({ total: 2, sent: 1, skipped: 1 });
    const status = (await server.as(shop, 'GET', `/api/v1/notifications/${both.id}/status/`)).json();
    const byDevice = Object.fromEntries(
      status.deliveries.map((d: { device_id: string; status: string }) => [d.device_id, d.status]),
    );
    expect(byDevice).toEqual({ [phone.id]: 'skipped', [laptop.id]: 'sent' });
  });

  it('sends fanned out at once to one profile never exceed its cap', async () => {
    const shop = await server.tenant('caps-race');
    await device(shop, 'user-3');
    await device(shop, 'user-3');
    await createCap(shop, { max: 2, per: '1h' });
    const { deps } = server.runtime;
    // The fan-outs run here, all at once (each in its own transaction on PostgreSQL), not one by one in the worker.
    await deps.queue.stopWork(QUEUES.fanout);
    try {
      const accepted = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          server.as(shop, 'POST', '/api/v1/notify/', { external_id: 'user-3', title: `Race ${i}` }),
        ),
      );
      const ids: string[] = accepted.map((r) => r.json().notification_id);
      await Promise.all(ids.map((notificationId) => fanOut(deps, { notificationId })));
      const done = await Promise.all(ids.map((id) => waitForNotification(server, shop, id)));
      const reached = done.filter((n) => n.counts.sent > 0);
      expect(reached.map((n) => n.counts)).toEqual([
        expect.objectContaining({ sent: 2, skipped: 0 }),
        expect.objectContaining({ sent: 2, skipped: 0 }),
      ]);
      expect(done.map((n) => n.counts.skipped).reduce((a, b) => a + b, 0)).toBe(12);
    } finally {
      await startFanoutJob(deps);
    }
  });
});

describe('last_seen', () => {
  /** The stored last_seen_at and the row version (xmin changes on every write of the row). */
  async function seen(deviceId: string): Promise<{ at: string; version: string }> {
    const [row] = await query<{ at: Date; version: string }>(
      server.runtime.deps.db,
      sql`select last_seen_at as at, xmin::text as version from devices where id = ${deviceId}`,
    );
    return { at: new Date(row!.at).toISOString(), version: row!.version };
  }

  it('moves on receipts, at most one write per device per 5 minutes however many come', async () => {
    const shop = await server.tenant('seen-receipts');
    const phone = await device(shop);
    clock.advance(HOUR);
    const sent = await send(shop, { device_ids: [phone.id] });
    const [delivery] = (await server.as(shop, 'GET', `/api/v1/notifications/${sent.id}/status/`)).json()
      .deliveries;
    const receipt = {
      delivery_id: delivery.id,
      receipt_token: server.runtime.deps.cipher.receiptToken(delivery.id),
    };

    const receive = await server.as({}, 'POST', '/api/v1/receipts/', { ...receipt, status: 'delivered' });
    expect(receive.statusCode).toBe(200);
    const first = await seen(phone.id);
    expect(first.at).toBe(clock.now().toISOString());

    clock.advance(4 * MINUTE);
    const storm = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        server.as({}, 'POST', '/api/v1/receipts/', { ...receipt, status: i % 2 ? 'read' : 'delivered' }),
      ),
    );
    expect(storm.every((r) => r.statusCode === 200)).toBe(true);
    expect(await seen(phone.id)).toEqual(first);

    clock.advance(2 * MINUTE);
    await server.as({}, 'POST', '/api/v1/receipts/', { ...receipt, status: 'read' });
    expect((await seen(phone.id)).at).toBe(clock.now().toISOString());
    const view = (await server.as(shop, 'GET', `/api/v1/devices/${phone.id}/`)).json();
    expect(view.last_seen_at).toBe(clock.now().toISOString());
  });

  it('moves on a check-in (204, tenant-scoped), and the segment filter and the stale sweep go by it', async () => {
    const shop = await server.tenant('seen-check-in');
    const other = await server.tenant('seen-other');
    const active = await device(shop);
    const idle = await device(shop);

    clock.advance(HOUR);
    const checkIn = await server.as(shop, 'POST', `/api/v1/devices/${active.id}/seen`);
    expect(checkIn.statusCode).toBe(204);
    expect(checkIn.body).toBe('');
    const after = await seen(active.id);
    expect(after.at).toBe(clock.now().toISOString());
    for (let i = 0; i < 10; i++) await server.as(shop, 'POST', `/api/v1/devices/${active.id}/seen`);
    expect(await seen(active.id)).toEqual(after);

    expect((await server.as(other, 'POST', `/api/v1/devices/${active.id}/seen`)).statusCode).toBe(404);
    const unknown = '0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b';
    expect((await server.as(shop, 'POST', `/api/v1/devices/${unknown}/seen`)).statusCode).toBe(404);

    // The idle device was last seen at its registration, over 30 days ago by the database's clock.
    await server.runtime.deps.db.execute(
      sql`update devices set last_seen_at = now() - interval '40 days' where id = ${idle.id}`,
    );
    const recent = await send(shop, { all_devices: true, filters: { last_seen_within: '30d' } });
    expect(recent.counts).toMatchObject({ total: 1, sent: 1 });
    expect(pushesTo(active.token)).toBe(1);
    expect(pushesTo(idle.token)).toBe(0);

    // 271 days on, only a device that checked in since is kept by the stale sweep (STALE_DEVICE_DAYS 270).
    clock.advance(271 * 24 * HOUR);
    await server.as(shop, 'POST', `/api/v1/devices/${active.id}/seen`);
    await deactivateStaleDevices(server.runtime.deps);
    expect((await server.as(shop, 'GET', `/api/v1/devices/${active.id}/`)).json().is_active).toBe(true);
    expect((await server.as(shop, 'GET', `/api/v1/devices/${idle.id}/`)).json()).toMatchObject({
      is_active: false,
      deactivated_reason: 'stale',
    });
  });

  it('moves on re-registration of the token', async () => {
    const shop = await server.tenant('seen-register');
    const phone = await device(shop);
    clock.advance(HOUR);
    const again = await server.as(shop, 'POST', '/api/v1/devices/', {
      platform: 'android',
      token: phone.token,
    });
    expect(again.statusCode).toBe(200);
    expect(again.json().last_seen_at).toBe(clock.now().toISOString());
  });
});
