/**
 * Timing controls through the HTTP API, on this run's database with the FCM emulator and a clock the test moves
 * forward (no waiting for hours): tenant settings, local-time delivery across a DST change, quiet hours (hold,
 * drop, a profile's own window) and throttling (docs/delivery-controls.md).
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import {
  errorOf,
  ManualClock,
  seedDevices,
  startTestServer,
  type Tenant,
  type TestServer,
  waitFor,
  waitForNotification,
} from './helpers.ts';

const MINUTE = 60_000;
/** The release poll's interval here: a negative check waits a few of them. */
const POLL_MS = 100;

let server: TestServer;
const clock = new ManualClock('2026-03-07T20:00:00Z');

beforeAll(async () => {
  server = await startTestServer(
    { RATE_LIMIT_ENABLED: 'false', SCHEDULER_INTERVAL_MS: String(POLL_MS) },
    { clock },
  );
});
afterAll(() => server?.close());

const call = (tenant: Tenant, method: 'GET' | 'POST' | 'PATCH' | 'PUT', url: string, payload?: unknown) =>
  server.as(tenant, method, url, payload);

async function register(
  tenant: Tenant,
  token: string,
  fields: Record<string, unknown> = {},
): Promise<string> {
  const response = await call(tenant, 'POST', '/api/v1/devices/', {
    platform: 'android',
    token: `${token}-token-0123456789`,
    ...fields,
  });
  expect(response.statusCode).toBe(201);
  return response.json().id;
}

async function send(tenant: Tenant, body: Record<string, unknown>): Promise<string> {
  const response = await call(tenant, 'POST', '/api/v1/notify/', body);
  expect(response.statusCode, response.body).toBe(202);
  return response.json().notification_id;
}

/** Each delivery of a notification, by device. */
async function deliveriesOf(notificationId: string) {
  const rows = await query<{
    device_id: string;
    status: string;
    not_before: Date | null;
    error_code: string | null;
  }>(
    server.runtime.deps.db,
    sql`select device_id, status, not_before, error_code from deliveries where notification_id = ${notificationId}`,
  );
  return new Map(rows.map((r) => [r.device_id, r]));
}

/** Waits until the fan-out made every delivery (the notification's total is known). */
async function fannedOut(tenant: Tenant, id: string, total: number) {
  return waitFor(
    async () => {
      const status = (await call(tenant, 'GET', `/api/v1/notifications/${id}/status/?limit=100`)).json();
      const made = Object.values(status.by_status as Record<string, number>).reduce((a, b) => a + b, 0);
      return made === total ? status : undefined;
    },
    20_000,
    `the fan-out of ${id}`,
  );
}

/** Waits until nothing of the notification is due and unsent: every due delivery released and sent. */
async function settledAt(id: string): Promise<void> {
  await waitFor(
    async () => {
      const [row] = await query<{ open: number }>(
        server.runtime.deps.db,
        sql`select count(*)::int as open from deliveries where notification_id = ${id}
          and (status in ('pending', 'retrying')
            or (status = 'waiting' and not_before <= ${clock.now().toISOString()}::timestamptz))`,
      );
      return row?.open === 0 ? true : undefined;
    },
    20_000,
    'the due deliveries to be sent',
  );
}

/** A few release rounds pass (for checks that something did NOT happen). */
/** An error detail about this field (request-body fields are reported as body.<field>). */
const about = (field: string) =>
  expect.objectContaining({
    field: expect.stringMatching(new RegExp(`^(body\\.)?${field.replace('.', '\\.')}$`)),
  });

const fewRounds = () => new Promise((resolve) => setTimeout(resolve, POLL_MS * 5));

describe('settings', () => {
  it('reads defaults, changes fields one by one, and refuses bad values with 422', async () => {
    const tenant = await server.tenant('settings');
    const empty = await call(tenant, 'GET', '/api/v1/settings');
    expect(empty.statusCode).toBe(200);
    expect(empty.json()).toEqual({
      default_time_zone: null,
      quiet_hours: null,
      throttle_per_minute: null,
      updated_at: null,
    });
    const changed = await call(tenant, 'PATCH', '/api/v1/settings', {
      default_time_zone: 'Europe/Berlin',
      quiet_hours: { start: '22:00', end: '08:00' },
    });
    expect(changed.statusCode).toBe(200);
    const partly = await call(tenant, 'PATCH', '/api/v1/settings', { throttle_per_minute: 1000 });
    expect(partly.json()).toMatchObject({
      default_time_zone: 'Europe/Berlin',
      quiet_hours: { start: '22:00', end: '08:00' },
      throttle_per_minute: 1000,
    });
    const cleared = await call(tenant, 'PATCH', '/api/v1/settings', { quiet_hours: null });
    expect(cleared.json().quiet_hours).toBeNull();

    const bad = [
      [{ default_time_zone: 'Mars/Olympus' }, 'default_time_zone'],
      [{ quiet_hours: { start: '22:00', end: '25:00' } }, 'quiet_hours.end'],
      [{ quiet_hours: { start: '08:00', end: '08:00' } }, 'quiet_hours.end'],
      [{ throttle_per_minute: 0 }, 'throttle_per_minute'],
      [{ unknown: 1 }, undefined],
    ] as const;
    for (const [body, field] of bad) {
      const response = await call(tenant, 'PATCH', '/api/v1/settings', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(422);
      const error = errorOf(response);
      expect(error.code).toBe('validation_error');
      if (field) expect(error.details).toContainEqual(about(field));
    }
    // Another tenant's settings are its own.
    const other = await server.tenant('settings-other');
    expect((await call(other, 'GET', '/api/v1/settings')).json().default_time_zone).toBeNull();
  });
});

describe('validation of the timing fields', () => {
  it('refuses bad times, dates, zones and conflicting options with 422 naming the field', async () => {
    const tenant = await server.tenant('timing-validation');
    const device = await register(tenant, 'validation');
    const cases = [
      [{ deliver_at_local: '9:00' }, 'deliver_at_local'],
      [{ deliver_at_local: '24:00' }, 'deliver_at_local'],
      [{ deliver_at_local: '09:00', deliver_on: '2026-02-30' }, 'deliver_on'],
      [{ deliver_on: '2026-03-20' }, 'deliver_on'],
      [{ deliver_at_local: '09:00', deliver_on: '2026-03-01' }, 'deliver_on'],
      [{ respect_quiet_hours: false, quiet_hours_action: 'drop' }, 'quiet_hours_action'],
      [{ quiet_hours_action: 'later' }, 'quiet_hours_action'],
      [{ throttle_per_minute: 0 }, 'throttle_per_minute'],
    ] as const;
    for (const [fields, field] of cases) {
      const response = await call(tenant, 'POST', '/api/v1/notify/', {
        device_ids: [device],
        title: 'Hi',
        ...fields,
      });
      expect(response.statusCode, JSON.stringify(fields)).toBe(422);
      expect(errorOf(response).details).toContainEqual(about(field));
    }
    const profile = await call(tenant, 'POST', '/api/v1/profiles', {
      external_id: 'bad-quiet',
      quiet_hours: { start: '22:00' },
    });
    expect(profile.statusCode).toBe(422);
  });
});

describe('local-time delivery', () => {
  it("reaches devices in three zones (and one on the tenant's default) at their own 09:00 across New York's DST change", async () => {
    clock.set('2026-03-07T20:00:00Z');
    const tenant = await server.tenant('local-time');
    await call(tenant, 'PATCH', '/api/v1/settings', { default_time_zone: 'Asia/Tokyo' });
    const newYork = await register(tenant, 'ny', { timezone: 'America/New_York' });
    const london = await register(tenant, 'london', { timezone: 'Europe/London' });
    const kolkata = await register(tenant, 'kolkata', { timezone: 'Asia/Kolkata' });
    const noZone = await register(tenant, 'nozone');
    const id = await send(tenant, {
      device_ids: [newYork, london, kolkata, noZone],
      title: 'Good morning',
      deliver_at_local: '09:00',
    });
    const status = await fannedOut(tenant, id, 4);
    expect(status.by_status).toEqual({ waiting: 4 });
    // New York springs forward at 02:00 on 2026-03-08: its 09:00 that day is EDT (UTC-4), not EST.
    const expected = new Map([
      [noZone, '2026-03-08T00:00:00.000Z'],
      [kolkata, '2026-03-08T03:30:00.000Z'],
      [london, '2026-03-08T09:00:00.000Z'],
      [newYork, '2026-03-08T13:00:00.000Z'],
    ]);
    const rows = await deliveriesOf(id);
    for (const [device, at] of expected)
      expect(new Date(rows.get(device)!.not_before!).toISOString()).toBe(at);
    expect(status.expected_completion_at).toBe('2026-03-08T13:00:00.000Z');

    const sentSoFar = new Set<string>();
    for (const [device, at] of expected) {
      clock.set(new Date(Date.parse(at) - 1000));
      await fewRounds();
      expect((await deliveriesOf(id)).get(device)!.status, `${at} minus 1 s`).toBe('waiting');
      clock.set(at);
      await settledAt(id);
      sentSoFar.add(device);
      const now = await deliveriesOf(id);
      for (const [d, row] of now) expect(row.status).toBe(sentSoFar.has(d) ? 'sent' : 'waiting');
    }
    const done = await waitForNotification(server, tenant, id);
    expect(done).toMatchObject({ status: 'completed', counts: { total: 4, sent: 4 } });
  });

  it('sends at once to a zone whose deliver_on time has passed, and holds the others', async () => {
    clock.set('2026-03-08T12:00:00Z');
    const tenant = await server.tenant('local-time-date');
    const tokyo = await register(tenant, 'tokyo-date', { timezone: 'Asia/Tokyo' });
    const la = await register(tenant, 'la-date', { timezone: 'America/Los_Angeles' });
    const id = await send(tenant, {
      device_ids: [tokyo, la],
      title: 'Sunday brunch',
      deliver_at_local: '10:00',
      deliver_on: '2026-03-08',
    });
    await fannedOut(tenant, id, 2);
    await settledAt(id);
    const rows = await deliveriesOf(id);
    expect(rows.get(tokyo)!.status).toBe('sent');
    expect(rows.get(la)!.status).toBe('waiting');
    // 10:00 PDT (DST began that morning) is 17:00Z.
    expect(new Date(rows.get(la)!.not_before!).toISOString()).toBe('2026-03-08T17:00:00.000Z');
    const cancel = await call(tenant, 'POST', `/api/v1/notifications/${id}/cancel`);
    expect(cancel.json()).toMatchObject({ cancelled: 1, notification: { status: 'cancelled' } });
  });
});

describe('quiet hours', () => {
  it('holds a send until the window ends, drops with "drop", lets high-priority and silent sends through, and takes a profile\'s own window', async () => {
    clock.set('2026-03-09T23:00:00Z');
    const tenant = await server.tenant('quiet');
    await call(tenant, 'PATCH', '/api/v1/settings', { quiet_hours: { start: '22:00', end: '08:00' } });
    const device = await register(tenant, 'quiet-utc', { timezone: 'UTC' });
    const night = await call(tenant, 'POST', '/api/v1/profiles', {
      external_id: 'night-owl',
      quiet_hours: { start: '23:30', end: '06:00' },
    });
    expect(night.statusCode).toBe(201);
    expect(night.json().quiet_hours).toEqual({ start: '23:30', end: '06:00' });
    const owl = await register(tenant, 'quiet-owl', { timezone: 'UTC', external_id: 'night-owl' });

    const held = await send(tenant, { device_ids: [device, owl], title: 'Weekly digest' });
    const dropped = await send(tenant, {
      device_ids: [device],
      title: 'Flash sale',
      quiet_hours_action: 'drop',
    });
    const urgent = await send(tenant, { device_ids: [device], title: 'Your code is 1234', priority: 'high' });
    const silent = await send(tenant, { device_ids: [device], silent: true, data: { sync: '1' } });
    const asked = await send(tenant, {
      device_ids: [device],
      silent: true,
      data: { sync: '2' },
      respect_quiet_hours: true,
    });

    for (const id of [urgent, silent]) {
      expect((await waitForNotification(server, tenant, id)).counts).toMatchObject({ sent: 1 });
    }
    const drop = await waitForNotification(server, tenant, dropped);
    expect(drop).toMatchObject({ status: 'completed', counts: { total: 1, sent: 0, skipped: 1 } });
    const dropStatus = (await call(tenant, 'GET', `/api/v1/notifications/${dropped}/status/`)).json();
    expect(dropStatus.by_status).toEqual({ skipped: 1 });
    expect(dropStatus.deliveries[0]).toMatchObject({ status: 'skipped', error_code: 'quiet_hours' });
    const [event] = await query<{ payload: Record<string, unknown> }>(
      server.runtime.deps.db,
      sql`select payload from events where notification_id = ${dropped} and type = 'notification.skipped'`,
    );
    expect(event?.payload).toMatchObject({
      reason: 'quiet_hours',
      count: 1,
      deliveries: [{ device_id: device, status: 'skipped', error_code: 'quiet_hours' }],
    });

    await fannedOut(tenant, held, 2);
    await fannedOut(tenant, asked, 1);
    await settledAt(held);
    const rows = await deliveriesOf(held);
    // 23:00 is inside the tenant's 22:00-08:00, not inside the profile's own 23:30-06:00.
    expect(rows.get(owl)!.status).toBe('sent');
    expect(rows.get(device)).toMatchObject({ status: 'waiting' });
    expect(new Date(rows.get(device)!.not_before!).toISOString()).toBe('2026-03-10T08:00:00.000Z');
    expect((await deliveriesOf(asked)).get(device)!.status).toBe('waiting');

    clock.set('2026-03-10T07:59:00Z');
    await fewRounds();
    expect((await deliveriesOf(held)).get(device)!.status).toBe('waiting');
    clock.set('2026-03-10T08:00:00Z');
    const released = await waitForNotification(server, tenant, held);
    expect(released).toMatchObject({ status: 'completed', counts: { total: 2, sent: 2 } });
    expect((await waitForNotification(server, tenant, asked)).counts.sent).toBe(1);
  });
});

describe('throttling', () => {
  it('spreads a send at throttle_per_minute: every minute within ±10% of the rate, and a cancel stops the rest', async () => {
    clock.set('2026-03-11T10:00:00Z');
    const tenant = await server.tenant('throttle');
    const devices = 1200;
    const rate = 200;
    await seedDevices(server, tenant, 'throttle', devices);
    const received = () => server.emulator.received({ projectId: tenant.account.project_id }).length;
    const start = clock.now().getTime();
    const id = await send(tenant, { all_devices: true, title: 'Spread out', throttle_per_minute: rate });
    const status = await fannedOut(tenant, id, devices);
    // The last slot: rank 1200 at 1199 / 200 minutes after the start.
    expect(status.expected_completion_at).toBe(new Date(start + (1199 / rate) * MINUTE).toISOString());
    await settledAt(id);
    let before = received();
    expect(before).toBe(1); // rank 1's slot is the start itself
    const perMinute: number[] = [];
    for (let minute = 1; minute <= 6; minute++) {
      clock.set(new Date(start + minute * MINUTE));
      await settledAt(id);
      const now = received();
      perMinute.push(now - before);
      before = now;
    }
    for (const count of perMinute) {
      expect(count, `per minute: ${perMinute.join(', ')}`).toBeGreaterThanOrEqual(rate * 0.9);
      expect(count).toBeLessThanOrEqual(rate * 1.1);
    }
    expect((await waitForNotification(server, tenant, id)).counts).toMatchObject({
      total: devices,
      sent: devices,
    });

    // A second throttled send cancelled after its first minute: the waiting rest is cancelled, none sent twice.
    const second = await send(tenant, { all_devices: true, title: 'Stopped', throttle_per_minute: rate });
    await fannedOut(tenant, second, devices);
    clock.set(new Date(start + 7 * MINUTE));
    await settledAt(second);
    const cancel = await call(tenant, 'POST', `/api/v1/notifications/${second}/cancel`);
    expect(cancel.statusCode).toBe(200);
    const done = await waitForNotification(server, tenant, second);
    expect(done.status).toBe('cancelled');
    expect(done.counts.sent + done.counts.cancelled).toBe(devices);
    expect(done.counts.sent).toBeGreaterThanOrEqual(rate);
    expect(done.counts.sent).toBeLessThanOrEqual(rate * 1.1 + 1);
    const [bad] = await query<{ n: number }>(
      server.runtime.deps.db,
      sql`select count(*)::int as n from deliveries where notification_id = ${second}
        and status = 'cancelled' and (sent_at is not null or fcm_message_id is not null)`,
    );
    expect(bad?.n).toBe(0);
  });

  it("uses the tenant's throttle_per_minute when the send sets none", async () => {
    clock.set('2026-03-12T10:00:00Z');
    const tenant = await server.tenant('throttle-default');
    await call(tenant, 'PATCH', '/api/v1/settings', { throttle_per_minute: 60 });
    await seedDevices(server, tenant, 'throttle-default', 120);
    const id = await send(tenant, { all_devices: true, title: 'Default pace' });
    const status = await fannedOut(tenant, id, 120);
    expect(status.expected_completion_at).toBe(new Date(clock.now().getTime() + 119_000).toISOString());
  });
});

describe('the timing fields in every kind of send', () => {
  it('bulk, topic and a schedule (its stored request, at each occurrence) time their deliveries the same way', async () => {
    clock.set('2026-03-13T10:00:00Z');
    const tenant = await server.tenant('timing-everywhere');
    const device = await register(tenant, 'everywhere', { timezone: 'UTC' });
    const nextNine = '2026-03-14T09:00:00.000Z';

    const bulk = await call(tenant, 'POST', '/api/v1/notify/bulk/', {
      targets: [{ device_id: device }],
      title: 'Bulk at nine',
      deliver_at_local: '09:00',
    });
    expect(bulk.statusCode, bulk.body).toBe(202);
    const bulkId = bulk.json().notification_id;
    await fannedOut(tenant, bulkId, 1);
    expect(new Date((await deliveriesOf(bulkId)).get(device)!.not_before!).toISOString()).toBe(nextNine);

    const created = await call(tenant, 'POST', '/api/v1/topics/', { name: 'news' });
    expect(created.statusCode).toBe(201);
    const subscribe = await call(tenant, 'POST', `/api/v1/topics/${created.json().id}/subscribe`, {
      device_ids: [device],
    });
    expect(subscribe.statusCode, subscribe.body).toBeLessThan(300);
    const topic = await call(tenant, 'POST', '/api/v1/notify/topic/news/', {
      title: 'Topic at nine',
      deliver_at_local: '09:00',
    });
    expect(topic.statusCode, topic.body).toBe(202);
    const topicId = topic.json().notification_id;
    await fannedOut(tenant, topicId, 1);
    expect((await deliveriesOf(topicId)).get(device)!.status).toBe('waiting');

    // The scheduler fires by the real clock; the occurrence's timing is read by the server's clock.
    const schedule = await call(tenant, 'POST', '/api/v1/notify/schedule/', {
      device_ids: [device],
      title: 'Scheduled, delivered at nine',
      deliver_at_local: '09:00',
      scheduled_at: new Date(Date.now() + 500).toISOString(),
    });
    expect(schedule.statusCode, schedule.body).toBe(201);
    const occurrence = await waitFor(async () => {
      const list = await call(tenant, 'GET', `/api/v1/notifications/?schedule_id=${schedule.json().id}`);
      return list.json().items[0]?.id as string | undefined;
    });
    await fannedOut(tenant, occurrence, 1);
    expect(new Date((await deliveriesOf(occurrence)).get(device)!.not_before!).toISOString()).toBe(nextNine);

    const bad = await call(tenant, 'POST', '/api/v1/notify/schedule/', {
      device_ids: [device],
      title: 'Conflicting',
      deliver_on: '2026-03-20',
      scheduled_at: new Date(Date.now() + 60_000).toISOString(),
    });
    expect(bad.statusCode).toBe(422);
    expect(errorOf(bad).details).toContainEqual(about('deliver_on'));
  });
});
