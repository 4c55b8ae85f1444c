/**
 * Who a send reaches: segment filters (platform, app version ranges, last seen, tags, time zone, locale) over
 * all devices, profiles and topics; bulk sends with per-target resolution; and the topic fan-out. Each case
 * asserts on the reply, the stored rows and what the FCM emulator received.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { errorOf, startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

let server: TestServer;
let tenant: Tenant;

beforeAll(async () => {
  server = await startTestServer();
  tenant = await server.tenant('audience');
});
afterAll(() => server?.close());

const post = (url: string, payload: unknown, headers = tenant.headers) =>
  server.as(headers, 'POST', url, payload);

let seq = 0;
interface DeviceSpec {
  platform?: 'ios' | 'android' | 'web';
  app_version?: string;
  tags?: string[];
  timezone?: string;
  locale?: string;
  phone_number?: string;
  external_id?: string;
}

/** Registers a device through the API; returns its id and token. */
async function device(spec: DeviceSpec = {}, who: Tenant = tenant): Promise<{ id: string; token: string }> {
  seq += 1;
  const token = `aud-${seq}-${Date.now()}`;
  const response = await post('/api/v1/devices/', { platform: 'android', ...spec, token }, who.headers);
  expect(response.statusCode, response.body).toBe(201);
  return { id: response.json().id, token };
}

/** The tokens the emulator received for this tenant's project. */
const receivedTokens = (who: Tenant = tenant) =>
  new Set(
    server.emulator
      .received({ projectId: who.account.project_id })
      .filter((r) => r.status === 200)
      .map((r) => r.message.token as string),
  );

const messagesTo = (token: string) =>
  server.emulator.received().filter((r) => r.message.token === token && r.status === 200);

async function sendAndWait(body: unknown, url = '/api/v1/notify/') {
  const response = await post(url, body);
  expect(response.statusCode, response.body).toBe(202);
  const finished = await waitForNotification(server, tenant, response.json().notification_id);
  return { reply: response.json(), notification: finished };
}

async function count(table: string): Promise<number> {
  const [row] = await query<{ n: number }>(
    server.runtime.deps.db,
    sql.raw(`select count(*)::int as n from ${table}`),
  );
  return row!.n;
}

describe('segments over all devices', () => {
  const fleet: Record<string, { id: string; token: string }> = {};

  beforeAll(async () => {
    fleet.oldAndroid = await device({
      app_version: '2.2.9',
      tags: ['beta'],
      locale: 'en-US',
      timezone: 'UTC',
    });
    fleet.newAndroid = await device({
      app_version: '2.10.0',
      tags: ['beta', 'vip'],
      locale: 'pt-BR',
      timezone: 'America/Sao_Paulo',
    });
    fleet.ios = await device({ platform: 'ios', app_version: '3.0.0', tags: ['vip'], locale: 'pt_PT' });
    fleet.web = await device({
      platform: 'web',
      app_version: 'nightly',
      locale: 'sw-TZ',
      timezone: 'Africa/Dar_es_Salaam',
    });
    fleet.stale = await device({ app_version: '2.5.0', tags: ['beta'] });
    await query(
      server.runtime.deps.db,
      sql`update devices set last_seen_at = now() - interval '40 days' where id = ${fleet.stale.id}`,
    );
  });

  const cases: [string, Record<string, unknown>, string[]][] = [
    ['platform', { platforms: ['ios', 'web'] }, ['ios', 'web']],
    // 2.10.0 > 2.3.0 as versions although "2.10.0" < "2.3.0" as strings; "nightly" never matches a range.
    ['app version range', { app_version: '>=2.3.0 <3' }, ['newAndroid', 'stale']],
    ['exact app version', { app_version: '3' }, ['ios']],
    ['last seen', { last_seen_within: '30d', platforms: ['android'] }, ['oldAndroid', 'newAndroid']],
    ['any tag', { tags_any: ['vip'] }, ['newAndroid', 'ios']],
    ['all tags', { tags_all: ['beta', 'vip'] }, ['newAndroid']],
    ['time zone', { timezones: ['Africa/Dar_es_Salaam', 'America/Sao_Paulo'] }, ['newAndroid', 'web']],
    ['language matches its regions', { locales: ['pt'] }, ['newAndroid', 'ios']],
    ['region matches only itself', { locales: ['pt-BR'] }, ['newAndroid']],
  ];

  it.each(cases)('filters by %s', async (_name, filters, expected) => {
    const before = server.emulator.received().length;
    const { notification } = await sendAndWait({ all_devices: true, title: 'Segment', filters });
    expect(notification.counts.total).toBe(expected.length);
    const got = new Set(
      server.emulator
        .received()
        .slice(before)
        .map((r) => r.message.token as string),
    );
    expect(got).toEqual(new Set(expected.map((name) => fleet[name]!.token)));
  });

  it('combines filters with a profile target', async () => {
    const phone = '+255700000111';
    const android = await device({ phone_number: phone, app_version: '1.0.0' });
    const ios = await device({ phone_number: phone, platform: 'ios', app_version: '1.0.0' });
    const { notification } = await sendAndWait({
      phone_number: phone,
      body: 'iOS only',
      filters: { platforms: ['ios'] },
    });
    expect(notification.counts.total).toBe(1);
    expect(messagesTo(ios.token)).toHaveLength(1);
    expect(messagesTo(android.token)).toHaveLength(0);
  });

  it('fails a send that no device matches as no_active_devices', async () => {
    const { notification } = await sendAndWait({
      all_devices: true,
      title: 'x',
      filters: { app_version: '>=99' },
    });
    expect(notification).toMatchObject({ status: 'failed', counts: { total: 0 } });
  });

  it.each([
    [{ app_version: '>=two' }, 'filters.app_version'],
    [{ platforms: ['windows'] }, 'filters.platforms[0]'],
    [{ last_seen_within: '3 weeks' }, 'filters.last_seen_within'],
    [{ timezones: ['Mars/Olympus'] }, 'filters.timezones[0]'],
    [{ locales: ['english!'] }, 'filters.locales[0]'],
    [{ tags_any: [] }, 'filters.tags_any'],
    [{ colour: 'red' }, 'filters'],
  ])('rejects bad filters %j with 422 and writes nothing', async (filters, field) => {
    const before = await count('notifications');
    const response = await post('/api/v1/notify/', { all_devices: true, title: 'x', filters });
    expect(response.statusCode).toBe(422);
    const error = errorOf(response);
    expect(JSON.stringify(error.details)).toContain(field.split('[')[0]!);
    expect(await count('notifications')).toBe(before);
  });
});

describe('bulk send', () => {
  it('resolves every target on its own and sends one notification to the good ones', async () => {
    const a = await device({ phone_number: '+255711000001' });
    const b = await device({ external_id: 'bulk-user-b', platform: 'ios' });
    const c = await device({ platform: 'web' });
    const emptyProfile = await post('/api/v1/profiles/', { external_id: 'bulk-nobody' });
    const stale = await device({ phone_number: '+255711000002' });
    await query(server.runtime.deps.db, sql`update devices set is_active = false where id = ${stale.id}`);

    const targets = [
      { phone_number: '+255711000001', data: { greeting: 'hi A' } },
      { external_id: 'bulk-user-b' },
      { device_id: c.id },
      { phone_number: 'not a phone' },
      { profile_id: 'nope' },
      { device_id: '018f0000-0000-7000-8000-000000000000' },
      { profile_id: emptyProfile.json().id },
      { phone_number: '+255711000002' },
      { phone_number: '+255711000001', external_id: 'both' },
      { external_id: 'bulk-user-b' },
    ];
    const response = await post('/api/v1/notify/bulk/', { targets, title: 'Bulk', data: { kind: 'bulk' } });
    expect(response.statusCode, response.body).toBe(202);
    const reply = response.json();
    expect(reply.summary).toEqual({
      targets: 10,
      accepted: 4,
      invalid: 3,
      not_found: 1,
      no_devices: 2,
      devices: 4,
    });
    expect(reply.rejected.map((r: { index: number; status: string }) => [r.index, r.status])).toEqual([
      [3, 'invalid'],
      [4, 'invalid'],
      [5, 'not_found'],
      [6, 'no_devices'],
      [7, 'no_devices'],
      [8, 'invalid'],
    ]);
    expect(reply.rejected[0].reason).toMatch(/phone/i);

    const finished = await waitForNotification(server, tenant, reply.notification_id);
    // The duplicate target (index 9) reaches the same device as index 1: one delivery, one message.
    expect(finished).toMatchObject({ status: 'completed', counts: { total: 3, sent: 3 } });
    const toA = messagesTo(a.token);
    expect(toA).toHaveLength(1);
    expect(toA[0]!.message.data).toMatchObject({ kind: 'bulk', greeting: 'hi A' });
    expect(messagesTo(b.token)[0]!.message.data).toMatchObject({ kind: 'bulk' });
    expect(messagesTo(b.token)[0]!.message.data).not.toHaveProperty('greeting');
    expect(messagesTo(c.token)).toHaveLength(1);
    const [stored] = await query<{ n: number }>(
      server.runtime.deps.db,
      sql`select count(*)::int as n from notification_recipients where notification_id = ${reply.notification_id}`,
    );
    expect(stored!.n).toBe(4);
  });

  it('answers 422 and writes nothing when no target can be sent to', async () => {
    const before = await count('notifications');
    const response = await post('/api/v1/notify/bulk/', {
      targets: [{ phone_number: 'x' }, { external_id: 'nobody-at-all' }],
      title: 'x',
    });
    expect(response.statusCode).toBe(422);
    expect(errorOf(response).code).toBe('no_deliverable_targets');
    expect(await count('notifications')).toBe(before);
  });

  it('refuses more than 10,000 targets, unknown fields and a bad shared content as a whole', async () => {
    const before = await count('notifications');
    const many = Array.from({ length: 10_001 }, (_, i) => ({ external_id: `u${i}` }));
    const tooMany = await post('/api/v1/notify/bulk/', { targets: many, title: 'x' });
    expect(tooMany.statusCode).toBe(422);
    const unknown = await post('/api/v1/notify/bulk/', {
      targets: [{ external_id: 'a', colour: 1 }],
      title: 'x',
    });
    expect(unknown.statusCode).toBe(422);
    const empty = await post('/api/v1/notify/bulk/', { targets: [], title: 'x' });
    expect(empty.statusCode).toBe(422);
    const noContent = await post('/api/v1/notify/bulk/', { targets: [{ external_id: 'bulk-user-b' }] });
    expect(noContent.statusCode).toBe(422);
    expect(await count('notifications')).toBe(before);
  });

  it('takes 10,000 targets in one call', async () => {
    const d = await device({ external_id: 'bulk-big-0' });
    const targets = Array.from({ length: 10_000 }, (_, i) => ({ external_id: `bulk-big-${i}` }));
    const response = await post('/api/v1/notify/bulk/', { targets, title: 'Big' });
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json().summary).toMatchObject({ targets: 10_000, accepted: 1, not_found: 9_999 });
    await waitForNotification(server, tenant, response.json().notification_id);
    expect(messagesTo(d.token)).toHaveLength(1);
  });
});

describe('topic send', () => {
  it('fans out to every active subscribed device, page by page, honouring filters', async () => {
    const topic = await post('/api/v1/topics/', { name: 'sports-news' });
    expect(topic.statusCode, topic.body).toBe(201);
    const subscribers = [];
    for (let i = 0; i < 25; i++)
      subscribers.push(await device({ platform: i % 5 === 0 ? 'ios' : 'android' }));
    const outsider = await device();
    const subscribe = await post(`/api/v1/topics/${topic.json().id}/subscribe/`, {
      device_ids: subscribers.map((d) => d.id),
    });
    expect(subscribe.statusCode, subscribe.body).toBe(200);
    await query(
      server.runtime.deps.db,
      sql`update devices set is_active = false where id = ${subscribers[1]!.id}`,
    );

    const { reply, notification } = await sendAndWait(
      { title: 'Goal!' },
      '/api/v1/notify/topic/sports-news/',
    );
    expect(notification).toMatchObject({ status: 'completed', counts: { total: 24 } });
    const got = receivedTokens();
    for (const [i, d] of subscribers.entries()) expect(got.has(d.token)).toBe(i !== 1);
    expect(got.has(outsider.token)).toBe(false);

    const listed = await server.app.inject({
      method: 'GET',
      url: `/api/v1/notifications/?topic_id=${topic.json().id}`,
      headers: tenant.headers,
    });
    expect(listed.json().items.map((n: { id: string }) => n.id)).toEqual([reply.notification_id]);

    const filtered = await sendAndWait(
      { title: 'iOS only', filters: { platforms: ['ios'] } },
      '/api/v1/notify/topic/sports-news/',
    );
    expect(filtered.notification.counts.total).toBe(5);
  });

  it("answers 404 for an unknown or another tenant's topic, 400-class for a bad name, and writes nothing", async () => {
    const other = await server.tenant('audience-other');
    await post('/api/v1/topics/', { name: 'private-topic' }, other.headers);
    const before = await count('notifications');
    const unknown = await post('/api/v1/notify/topic/private-topic/', { title: 'x' });
    expect(unknown.statusCode).toBe(404);
    const badName = await post('/api/v1/notify/topic/bad%20name!/', { title: 'x' });
    expect(badName.statusCode).toBe(404);
    const withTarget = await post('/api/v1/notify/topic/sports-news/', {
      title: 'x',
      phone_number: '+255700000000',
    });
    expect(withTarget.statusCode).toBe(422);
    expect(await count('notifications')).toBe(before);
  });
});
