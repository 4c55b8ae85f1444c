/**
 * Analytics end to end: a topic send and a direct send whose outcomes the FCM emulator decides (unregistered
 * tokens fail, an UNAVAILABLE token goes dead), receipts posted by "the app", delivery times set to known
 * values; then the overview, filters and daily numbers of today (live), the roll-up job (idempotent), and the
 * same sends moved to past days to check the stored daily, weekly and monthly numbers and their arithmetic.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { dayOf } from '../src/lib/days.ts';
import { QUEUES } from '../src/queue/contract.ts';
import { getOverview, rollUpDays, rollUpRecentDays } from '../src/services/analytics.service.ts';
import { createClient } from '../src/services/clients.service.ts';
import {
  errorOf,
  startTestServer,
  type Tenant,
  type TestServer,
  waitFor,
  waitForNotification,
} from './helpers.ts';

let server: TestServer;
let tenant: Tenant;

beforeAll(async () => {
  // More than the spec's 30 analytics requests a minute for one client (rate limits: test/hardening.test.ts).
  server = await startTestServer({ SEND_MAX_ATTEMPTS: '2', RATE_LIMITS: 'analytics=1000' });
  tenant = await server.tenant('analytics');
});
afterAll(() => server?.close());

const db = () => server.runtime.deps.db;
const post = (url: string, payload: unknown) =>
  server.app.inject({ method: 'POST', url, headers: tenant.headers, payload: payload as object });
const get = (url: string, headers: Record<string, string> = tenant.headers) =>
  server.app.inject({ method: 'GET', url, headers });

const stamp = Date.now();
const token = (name: string) => `${name}-${stamp}`;

/** The numbers of one group, as the API shows them. */
function stats(
  counts: [
    notifications: number,
    deliveries: number,
    sent: number,
    delivered: number,
    read: number,
    failed: number,
  ],
  avg: number | null = null,
  p95: number | null = null,
  p95Exact = true,
) {
  const [notifications, deliveries, sent, delivered, read, failed] = counts;
  return {
    notifications,
    deliveries,
    sent,
    delivered,
    read,
    failed,
    // No delivery control withheld anything in these sends (test/delivery-controls.test.ts covers those).
    skipped: 0,
    expired: 0,
    cancelled: 0,
    delivery_rate: sent === 0 ? null : Math.round((delivered / sent) * 10_000) / 10_000,
    read_rate: delivered === 0 ? null : Math.round((read / delivered) * 10_000) / 10_000,
    avg_delivery_ms: avg,
    p95_delivery_ms: p95,
    p95_exact: p95Exact,
  };
}
const ZERO = stats([0, 0, 0, 0, 0, 0]);

/**
 * Ten devices: six subscribed to topic "news" (one unregistered android), three of profile user-1 (an iOS
 * token FCM keeps refusing with UNAVAILABLE, which goes dead after 2 attempts, and an unregistered web token).
 * Delivered (ms from sent): a1 100, a2 200 (read), i1 300 (read), w1 400 — all news; a4 1000 (read) — user-1.
 */
const sends = { topic: '', direct: '', empty: '' };
let topicId = '';

/** The data keys the app gets with a push (fcms_delivery_id, fcms_receipt), found by device token. */
function pushData(deviceToken: string): Record<string, string> {
  const message = server.emulator
    .received({ projectId: tenant.account.project_id })
    .find((r) => r.message.token === deviceToken && r.status === 200);
  if (!message) throw new Error(`no push reached ${deviceToken}`);
  return message.message.data as Record<string, string>;
}

async function receipt(deviceToken: string, status: 'delivered' | 'read'): Promise<void> {
  const data = pushData(deviceToken);
  const response = await server.app.inject({
    method: 'POST',
    url: '/api/v1/receipts/',
    payload: { delivery_id: data.fcms_delivery_id, receipt_token: data.fcms_receipt, status },
  });
  expect(response.statusCode, response.body).toBe(200);
}

/** Sets a delivered delivery's timestamps: sent at `sentAt` (default: as recorded), delivered `ms` later. */
async function setDeliveryTime(deviceToken: string, ms: number, sentAt?: string): Promise<void> {
  const id = pushData(deviceToken).fcms_delivery_id!;
  await query(
    db(),
    sql`update deliveries set sent_at = coalesce(${sentAt ?? null}::timestamptz, sent_at),
      delivered_at = coalesce(${sentAt ?? null}::timestamptz, sent_at) + make_interval(secs => ${ms / 1000})
      where id = ${id}::bigint`,
  );
}

const latencies: [string, number][] = [
  ['a1', 100],
  ['a2', 200],
  ['i1', 300],
  ['w1', 400],
  ['a4', 1000],
];

async function storedRows(tenantId: string) {
  return query<Record<string, unknown>>(
    db(),
    sql`select day::text as day, topic_key, platform, notifications, deliveries, sent, delivered, read, failed,
        avg_delivery_ms, p95_delivery_ms
      from analytics_daily where api_client_id = ${tenantId} order by day, topic_key, platform`,
  );
}

describe('a controlled send, today', () => {
  it('sends to a topic, to a profile and to a profile without devices; receipts arrive for some', async () => {
    const device = async (platform: string, name: string, extra: object = {}) => {
      const response = await post('/api/v1/devices/', { platform, token: token(name), ...extra });
      expect(response.statusCode, response.body).toBe(201);
      return response.json().id as string;
    };
    const news = [
      await device('android', 'a1'),
      await device('android', 'a2'),
      await device('android', 'unregistered-a3'),
      await device('ios', 'i1'),
      await device('ios', 'i2'),
      await device('web', 'w1'),
    ];
    await device('android', 'a4', { external_id: 'user-1' });
    await device('ios', 'i3', { external_id: 'user-1' });
    await device('web', 'unregistered-w2', { external_id: 'user-1' });
    server.emulator.setFaults({ tokens: { [token('i3')]: 'UNAVAILABLE' } });

    const topic = await post('/api/v1/topics/', { name: 'news' });
    topicId = topic.json().id;
    expect((await post(`/api/v1/topics/${topicId}/subscribe/`, { device_ids: news })).statusCode).toBe(200);

    sends.topic = (await post('/api/v1/notify/topic/news/', { title: 'Headline' })).json().notification_id;
    sends.direct = (
      await post('/api/v1/notify/', { external_id: 'user-1', title: 'Hi' })
    ).json().notification_id;
    const nobody = await post('/api/v1/profiles/', { external_id: 'nobody-home' });
    sends.empty = (
      await post('/api/v1/notify/', { profile_id: nobody.json().id, title: 'Hello?' })
    ).json().notification_id;

    expect((await waitForNotification(server, tenant, sends.topic)).counts).toMatchObject({
      sent: 5,
      failed: 1,
    });
    expect((await waitForNotification(server, tenant, sends.direct)).counts).toMatchObject({
      sent: 1,
      failed: 2,
    });
    expect((await waitForNotification(server, tenant, sends.empty)).error_code).toBe('no_active_devices');
    const [dead] = await query<{ status: string }>(
      db(),
      sql`select status from deliveries where notification_id = ${sends.direct} and platform = 'ios'`,
    );
    expect(dead?.status).toBe('dead');

    await receipt(token('a1'), 'delivered');
    await receipt(token('a2'), 'read');
    await receipt(token('i1'), 'read');
    await receipt(token('w1'), 'delivered');
    await receipt(token('a4'), 'delivered');
    await receipt(token('a4'), 'read');
    for (const [name, ms] of latencies) await setDeliveryTime(token(name), ms);
  });

  it('the overview counts them today, live: totals, per platform, per topic', async () => {
    const response = await get('/api/v1/analytics/');
    expect(response.statusCode, response.body).toBe(200);
    const today = dayOf(new Date());
    // All five delivered: 100 200 300 400 1000 → mean 400, p95 at rank 3.8 = 400 + 0.8 × 600 = 880.
    expect(response.json()).toEqual({
      from: expect.any(String),
      to: today,
      timezone: 'UTC',
      totals: stats([3, 9, 6, 5, 3, 3], 400, 880),
      by_platform: [
        // android: 100 200 1000 → mean 433.3, p95 at rank 1.9 = 200 + 0.9 × 800 = 920.
        { platform: 'android', ...stats([2, 4, 3, 3, 2, 1], 433.3, 920) },
        { platform: 'ios', ...stats([2, 3, 2, 1, 1, 1], 300, 300) },
        { platform: 'web', ...stats([2, 2, 1, 1, 0, 1], 400, 400) },
      ],
      by_topic: [
        { topic_id: null, topic_name: null, ...stats([2, 3, 1, 1, 1, 2], 1000, 1000) },
        // news: 100 200 300 400 → mean 250, p95 at rank 2.85 = 300 + 0.85 × 100 = 385.
        { topic_id: topicId, topic_name: 'news', ...stats([1, 6, 5, 4, 2, 1], 250, 385) },
      ],
    });
  });

  it('filters by platform and by topic, in the totals and the breakdowns', async () => {
    const android = (await get('/api/v1/analytics/?platform=android')).json();
    expect(android.totals).toEqual(stats([2, 4, 3, 3, 2, 1], 433.3, 920));
    expect(android.by_platform).toEqual([{ platform: 'android', ...android.totals }]);
    expect(android.by_topic).toEqual([
      { topic_id: null, topic_name: null, ...stats([1, 1, 1, 1, 1, 0], 1000, 1000) },
      { topic_id: topicId, topic_name: 'news', ...stats([1, 3, 2, 2, 1, 1], 150, 195) },
    ]);

    const news = (await get(`/api/v1/analytics/?topic_id=${topicId}`)).json();
    expect(news.totals).toEqual(stats([1, 6, 5, 4, 2, 1], 250, 385));
    expect(news.by_platform).toEqual([
      { platform: 'android', ...stats([1, 3, 2, 2, 1, 1], 150, 195) },
      { platform: 'ios', ...stats([1, 2, 2, 1, 1, 0], 300, 300) },
      { platform: 'web', ...stats([1, 1, 1, 1, 0, 0], 400, 400) },
    ]);
    expect(news.by_topic).toEqual([{ topic_id: topicId, topic_name: 'news', ...news.totals }]);

    const both = (await get(`/api/v1/analytics/?topic_id=${topicId}&platform=ios`)).json();
    expect(both.totals).toEqual(stats([1, 2, 2, 1, 1, 0], 300, 300));
  });

  it('the daily series shows today live, the other days zero', async () => {
    const today = dayOf(new Date());
    const response = await get('/api/v1/analytics/daily/');
    expect(response.statusCode, response.body).toBe(200);
    const { items } = response.json();
    expect(items).toHaveLength(7);
    expect(items[6]).toEqual({
      period: today,
      start: today,
      end: today,
      ...stats([3, 9, 6, 5, 3, 3], 400, 880),
    });
    for (const item of items.slice(0, 6)) expect(item).toMatchObject(ZERO);
  });

  it('the roll-up job is scheduled every 10 minutes (UTC) and runs from the queue', async () => {
    const { boss } = server.runtime.queue;
    const [schedule] = await boss.getSchedules(QUEUES.analytics);
    expect(schedule).toMatchObject({ name: QUEUES.analytics, cron: '*/10 * * * *' });
    await query(db(), sql`delete from analytics_daily where api_client_id = ${tenant.clientId}`);
    await boss.send(QUEUES.analytics, {});
    await waitFor(
      async () => ((await storedRows(tenant.clientId)).length === 12 ? true : undefined),
      30_000,
      'the roll-up job',
    );
  });

  it('the roll-up job stores the same numbers, and running it again changes nothing', async () => {
    const today = dayOf(new Date());
    const first = await rollUpRecentDays(server.runtime.deps);
    expect(first.days).toEqual([today, dayOf(new Date(Date.now() - 86_400_000))]);
    const rows = await storedRows(tenant.clientId);
    // (no topic, news, all topics) × (android, ios, web, all platforms)
    expect(rows).toHaveLength(12);
    expect(rows.find((r) => r.topic_key === '*' && r.platform === '*')).toEqual({
      day: today,
      topic_key: '*',
      platform: '*',
      notifications: 3,
      deliveries: 9,
      sent: 6,
      delivered: 5,
      read: 3,
      failed: 3,
      avg_delivery_ms: 400,
      p95_delivery_ms: expect.closeTo(880, 6),
    });
    expect(rows.find((r) => r.topic_key === '' && r.platform === '*')).toMatchObject({
      notifications: 2,
      deliveries: 3,
    });

    const second = await rollUpRecentDays(server.runtime.deps);
    expect(second).toMatchObject({ written: first.written, deleted: 0 });
    expect(await storedRows(tenant.clientId)).toEqual(rows);
  });
});

describe('past days, from the roll-up', () => {
  const days = { topic: '2026-03-30', direct: '2026-03-31', empty: '2026-04-06' };

  it('moving the sends to past days and rolling up moves their numbers and deletes today’s rows', async () => {
    const move = async (id: string, at: string) =>
      query(db(), sql`update notifications set created_at = ${at}::timestamptz where id = ${id}`);
    await move(sends.topic, '2026-03-30T10:00:00Z');
    // 01:00 in UTC+2 is still the 31st in UTC: days are UTC days.
    await move(sends.direct, '2026-04-01T01:00:00+02:00');
    await move(sends.empty, '2026-04-06T00:00:00Z');
    for (const [name, ms] of latencies) {
      await setDeliveryTime(token(name), ms, name === 'a4' ? '2026-03-31T23:00:00Z' : '2026-03-30T10:00:01Z');
    }

    const recent = await rollUpRecentDays(server.runtime.deps);
    expect(recent.deleted).toBe(12);
    const past = await rollUpDays(server.runtime.deps, Object.values(days));
    expect(past.tenants).toBeGreaterThanOrEqual(1);
    const rows = await storedRows(tenant.clientId);
    expect(new Set(rows.map((r) => r.day))).toEqual(new Set(Object.values(days)));
    // The send without devices has only all-platform rows: (no topic, all) and (all, all).
    expect(rows.filter((r) => r.day === days.empty).map((r) => [r.topic_key, r.platform])).toEqual([
      ['', '*'],
      ['*', '*'],
    ]);
    const again = await rollUpDays(server.runtime.deps, Object.values(days), tenant.clientId);
    expect(again).toEqual({ tenants: 1, written: past.written, deleted: 0 });
    expect(await storedRows(tenant.clientId)).toEqual(rows);
  });

  it('daily: one row per day, zero-filled, each day exact', async () => {
    const response = await get('/api/v1/analytics/daily/?from=2026-03-29&to=2026-04-07');
    expect(response.statusCode, response.body).toBe(200);
    const byDay = new Map(response.json().items.map((i: { period: string }) => [i.period, i]));
    expect(byDay.size).toBe(10);
    expect(byDay.get(days.topic)).toEqual({
      period: days.topic,
      start: days.topic,
      end: days.topic,
      ...stats([1, 6, 5, 4, 2, 1], 250, 385),
    });
    expect(byDay.get(days.direct)).toMatchObject(stats([1, 3, 1, 1, 1, 2], 1000, 1000));
    expect(byDay.get(days.empty)).toMatchObject(stats([1, 0, 0, 0, 0, 0]));
    expect(byDay.get('2026-03-29')).toMatchObject(ZERO);
    expect(byDay.get('2026-04-07')).toMatchObject(ZERO);
  });

  it('weekly (ISO, Monday start) and monthly roll-ups, cut to the range; p95 of several days is approximate', async () => {
    // W14 holds both sends: mean (4 × 250 + 1 × 1000) / 5 = 400 is exact; p95 (4 × 385 + 1 × 1000) / 5 = 508
    // is the delivered-weighted mean of the two daily percentiles.
    const w14 = stats([2, 9, 6, 5, 3, 3], 400, 508, false);
    const weekly = (await get('/api/v1/analytics/weekly/?from=2026-03-29&to=2026-04-07')).json();
    expect(weekly.items).toEqual([
      { period: '2026-W13', start: '2026-03-29', end: '2026-03-29', ...ZERO },
      { period: '2026-W14', start: '2026-03-30', end: '2026-04-05', ...w14 },
      { period: '2026-W15', start: '2026-04-06', end: '2026-04-07', ...stats([1, 0, 0, 0, 0, 0]) },
    ]);
    const monthly = (await get('/api/v1/analytics/monthly/?from=2026-03-29&to=2026-04-07')).json();
    expect(monthly.items).toEqual([
      { period: '2026-03', start: '2026-03-29', end: '2026-03-31', ...w14 },
      { period: '2026-04', start: '2026-04-01', end: '2026-04-07', ...stats([1, 0, 0, 0, 0, 0]) },
    ]);
    // android: 03-30 mean 150, p95 195 (2 delivered); 03-31 1000 (1) → mean 433.3, p95 (2 × 195 + 1000) / 3.
    const android = (
      await get('/api/v1/analytics/weekly/?from=2026-03-30&to=2026-04-05&platform=android')
    ).json();
    expect(android.items).toEqual([
      {
        period: '2026-W14',
        start: '2026-03-30',
        end: '2026-04-05',
        ...stats([2, 4, 3, 3, 2, 1], 433.3, 463.3, false),
      },
    ]);
  });

  it('the overview of the range adds the days up', async () => {
    const overview = (await get('/api/v1/analytics/?from=2026-03-29&to=2026-04-07')).json();
    expect(overview.totals).toEqual(stats([3, 9, 6, 5, 3, 3], 400, 508, false));
    expect(overview.by_platform.map((p: { platform: string }) => p.platform)).toEqual([
      'android',
      'ios',
      'web',
    ]);
    expect(overview.by_platform[0]).toEqual({
      platform: 'android',
      ...stats([2, 4, 3, 3, 2, 1], 433.3, 463.3, false),
    });
    expect(overview.by_topic).toEqual([
      { topic_id: null, topic_name: null, ...stats([2, 3, 1, 1, 1, 2], 1000, 1000) },
      { topic_id: topicId, topic_name: 'news', ...stats([1, 6, 5, 4, 2, 1], 250, 385) },
    ]);
  });

  it('older days are read from the stored rows; today and yesterday are always computed live', async () => {
    await query(
      db(),
      sql`update analytics_daily set notifications = 99 where api_client_id = ${tenant.clientId} and day = ${days.empty}::date`,
    );
    const stored = (await get(`/api/v1/analytics/daily/?from=${days.empty}&to=${days.empty}`)).json();
    expect(stored.items[0].notifications).toBe(99);

    // On 2026-04-07, the 6th is "yesterday": computed live, the tampered row is not read.
    const asOf = new Date('2026-04-07T12:00:00Z');
    const range = { from: '2026-03-29', to: '2026-04-07' };
    const live = await getOverview(server.runtime.deps, tenant.clientId, range, asOf);
    expect(live.totals.notifications).toBe(3);
    // On 2026-03-31 the two sends' days are both live, and give what the stored rows give.
    const liveDays = await getOverview(
      server.runtime.deps,
      tenant.clientId,
      range,
      new Date('2026-03-31T20:00:00Z'),
    );
    await rollUpDays(server.runtime.deps, [days.empty], tenant.clientId);
    const allStored = await getOverview(server.runtime.deps, tenant.clientId, range);
    expect(liveDays).toEqual(allStored);
    expect(allStored.totals.notifications).toBe(3);
  });

  it('another tenant sees none of it; a client without the read scope is refused', async () => {
    const other = await server.tenant('analytics-other');
    const overview = (await get('/api/v1/analytics/?from=2026-03-29&to=2026-04-07', other.headers)).json();
    expect(overview).toMatchObject({ totals: ZERO, by_platform: [], by_topic: [] });
    const filtered = await get(
      `/api/v1/analytics/?from=2026-03-29&to=2026-04-07&topic_id=${topicId}`,
      other.headers,
    );
    expect(filtered.json().totals).toEqual(ZERO);

    const sender = await createClient(server.runtime.deps, { name: 'send-only', scopes: ['send'] });
    const refused = await get('/api/v1/analytics/daily/', {
      'client-id': sender.clientId,
      'client-token': sender.clientToken,
    });
    expect(refused.statusCode).toBe(403);
    expect((await server.app.inject({ method: 'GET', url: '/api/v1/analytics/' })).statusCode).toBe(401);
  });
});

describe('the range', () => {
  it('defaults to the last 7 days up to today, or the 7 days ending at `to`', async () => {
    const today = dayOf(new Date());
    const daily = (await get('/api/v1/analytics/daily/')).json();
    expect(daily.to).toBe(today);
    expect(daily.items).toHaveLength(7);
    const ending = (await get('/api/v1/analytics/daily/?to=2026-04-07')).json();
    expect(ending).toMatchObject({ from: '2026-04-01', to: '2026-04-07' });
    const starting = (await get(`/api/v1/analytics/weekly/?from=${today}`)).json();
    expect(starting).toMatchObject({ from: today, to: today });
    expect(starting.items).toHaveLength(1);
    const year = await get('/api/v1/analytics/monthly/?from=2025-11-25&to=2026-11-25');
    expect(year.statusCode).toBe(200);
    expect(year.json().items).toHaveLength(13);
  });

  it.each([
    // One rule for the query string: 400 invalid_query, also for what only the service can judge.
    ['from after to', '?from=2026-04-07&to=2026-03-30', 400, 'invalid_query'],
    ['more than 366 days', '?from=2025-11-24&to=2026-11-25', 400, 'invalid_query'],
    ['not a calendar day', '?from=2026-02-30', 400, 'invalid_query'],
    ['not a date', '?to=yesterday', 400, 'invalid_query'],
    ['a timestamp', '?from=2026-03-30T00:00:00Z', 400, 'invalid_query'],
    ['unknown platform', '?platform=blackberry', 400, 'invalid_query'],
    ['bad topic id', '?topic_id=news', 400, 'invalid_query'],
    ['unknown parameter', '?group_by=day', 400, 'invalid_query'],
  ])('rejects %s in our error format', async (_name, search, status, code) => {
    for (const path of ['', 'daily/', 'weekly/', 'monthly/']) {
      const response = await get(`/api/v1/analytics/${path}${search}`);
      expect(response.statusCode, `${path}${search}`).toBe(status);
      expect(errorOf(response).code).toBe(code);
    }
  });
});
