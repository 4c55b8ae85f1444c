/**
 * Topics: CRUD with tenant-unique FCM-style names, cursor pagination, subscribing and unsubscribing devices and
 * profiles (unknown, foreign and deactivated ids reported, never subscribed), subscriber counts and lists, bad
 * input that writes nothing, and isolation between tenants.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { uuidv7 } from '../src/lib/ids.ts';
import { errorOf, type Method, startTestServer, type Tenant, type TestServer } from './helpers.ts';

let server: TestServer;
let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  server = await startTestServer();
  a = await server.tenant('topics-a');
  b = await server.tenant('topics-b');
});
afterAll(() => server?.close());

const asA = (method: Method, url: string, payload?: unknown) => server.as(a, method, url, payload);

let tokenCounter = 0;
async function registerDevice(tenant: Tenant, profileId?: string): Promise<string> {
  tokenCounter += 1;
  const response = await server.as(tenant, 'POST', '/api/v1/devices/', {
    platform: tokenCounter % 2 ? 'android' : 'ios',
    token: `topic-token-${tokenCounter}-${Date.now()}`,
    ...(profileId ? { profile_id: profileId } : {}),
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}

/** Deactivates a device as a dead token reported by FCM does (DELETE would soft-delete it instead). */
async function deactivate(deviceId: string): Promise<void> {
  await query(
    server.runtime.deps.db,
    sql`update devices set is_active = false, deactivated_reason = 'unregistered', deactivated_at = now()
        where id = ${deviceId}`,
  );
}

async function createProfile(tenant: Tenant): Promise<string> {
  tokenCounter += 1;
  const response = await server.as(tenant, 'POST', '/api/v1/profiles/', {
    external_id: `topic-user-${tokenCounter}`,
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}

async function createTopic(tenant: Tenant, name: string, description?: string): Promise<string> {
  const response = await server.as(tenant, 'POST', '/api/v1/topics/', { name, description });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}

async function rowCounts(): Promise<{ topics: number; subscriptions: number }> {
  const [row] = await query<{ topics: number; subscriptions: number }>(
    server.runtime.deps.db,
    sql`select (select count(*)::int from topics) as topics,
      (select count(*)::int from topic_subscriptions) as subscriptions`,
  );
  return row!;
}

const subscriptionsOf = async (topicId: string) =>
  (
    await query<{ device_id: string }>(
      server.runtime.deps.db,
      sql`select device_id from topic_subscriptions where topic_id = ${topicId} order by device_id`,
    )
  ).map((r) => r.device_id);

describe('topic CRUD', () => {
  it('creates, reads, renames, replaces and deletes', async () => {
    const created = await asA('POST', '/api/v1/topics/', {
      name: 'news.sports',
      description: 'Scores',
    });
    expect(created.statusCode).toBe(201);
    const topic = created.json();
    expect(topic).toEqual({
      id: expect.any(String),
      name: 'news.sports',
      description: 'Scores',
      subscriber_count: 0,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect((await asA('GET', `/api/v1/topics/${topic.id}/`)).json()).toEqual(topic);

    const duplicate = await asA('POST', '/api/v1/topics/', { name: 'news.sports' });
    expect(duplicate.statusCode).toBe(409);
    expect(errorOf(duplicate)).toMatchObject({ code: 'topic_exists', details: [{ field: 'name' }] });

    // PUT replaces: a description not sent is cleared.
    const renamed = await asA('PUT', `/api/v1/topics/${topic.id}`, { name: 'news.football' });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({ id: topic.id, name: 'news.football', description: null });

    await createTopic(a, 'news.weather');
    const clash = await asA('PUT', `/api/v1/topics/${topic.id}/`, { name: 'news.weather' });
    expect(clash.statusCode).toBe(409);
    expect(errorOf(clash).code).toBe('topic_exists');
    expect((await asA('GET', `/api/v1/topics/${topic.id}/`)).json().name).toBe('news.football');
    // Keeping its own name is not a clash.
    const same = await asA('PUT', `/api/v1/topics/${topic.id}/`, { name: 'news.football', description: 'x' });
    expect(same.json()).toMatchObject({ name: 'news.football', description: 'x' });

    expect((await asA('DELETE', `/api/v1/topics/${topic.id}/`)).statusCode).toBe(204);
    expect((await asA('GET', `/api/v1/topics/${topic.id}/`)).statusCode).toBe(404);
    expect((await asA('PUT', `/api/v1/topics/${topic.id}/`, { name: 'gone' })).statusCode).toBe(404);
    expect((await asA('DELETE', `/api/v1/topics/${topic.id}/`)).statusCode).toBe(404);
    // The name is free again.
    await createTopic(a, 'news.football');
  });

  it('accepts the whole FCM topic-name alphabet', async () => {
    const name = 'Az09-_.~%';
    const response = await asA('POST', '/api/v1/topics/', { name });
    expect(response.statusCode).toBe(201);
    expect(response.json().name).toBe(name);
  });

  it('paginates with a stable cursor and filters by literal name prefix', async () => {
    for (let i = 0; i < 5; i++) await createTopic(a, `page-${i}`);
    await createTopic(a, 'pagination');
    const seen: { id: string; name: string }[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/v1/topics/?limit=2&name_prefix=page-${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await asA('GET', url);
      expect(response.statusCode).toBe(200);
      const page = response.json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    // Ordered by id; topics created within one millisecond have ids in random order, so compare names as a set.
    expect(seen.map((t) => t.name).sort()).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    const ids = seen.map((t) => t.id);
    expect(ids).toEqual([...ids].sort());

    // "_" and "%" are topic-name characters, not wildcards.
    await createTopic(a, 'ab_c');
    await createTopic(a, 'abxc');
    const literal = (await asA('GET', '/api/v1/topics/?name_prefix=ab_')).json();
    expect(literal.items.map((t: { name: string }) => t.name)).toEqual(['ab_c']);

    const all = (await asA('GET', '/api/v1/topics/?limit=200')).json();
    expect(all.items.length).toBeGreaterThanOrEqual(8);
    expect(all.next_cursor).toBeNull();

    const bad = await asA('GET', '/api/v1/topics/?cursor=bm9wZQ');
    expect(bad.statusCode).toBe(400);
    expect(errorOf(bad).code).toBe('invalid_cursor');
  });
});

describe('bad input is a 422 (400 for queries) and writes nothing', () => {
  const manyIds = (n: number) => Array.from({ length: n }, () => uuidv7());
  let topicId: string;
  beforeAll(async () => {
    topicId = await createTopic(a, 'validation');
  });

  const cases: [string, Method, string, unknown, number][] = [
    ['empty name', 'POST', '/api/v1/topics/', { name: '' }, 422],
    ['name with a space', 'POST', '/api/v1/topics/', { name: 'a b' }, 422],
    ['name with a slash', 'POST', '/api/v1/topics/', { name: '/topics/news' }, 422],
    ['name with a non-ASCII letter', 'POST', '/api/v1/topics/', { name: 'café' }, 422],
    ['name too long', 'POST', '/api/v1/topics/', { name: 'x'.repeat(256) }, 422],
    ['no name', 'POST', '/api/v1/topics/', { description: 'x' }, 422],
    ['unknown field', 'POST', '/api/v1/topics/', { name: 'ok', colour: 'red' }, 422],
    ['bad rename', 'PUT', 'TOPIC', { name: 'a b' }, 422],
    ['unknown field on subscribe', 'POST', 'TOPIC/subscribe', { device_ids: [uuidv7()], all: true }, 422],
    ['no ids', 'POST', 'TOPIC/subscribe', {}, 422],
    ['empty id lists', 'POST', 'TOPIC/subscribe', { device_ids: [], profile_ids: [] }, 422],
    ['not a uuid', 'POST', 'TOPIC/subscribe', { device_ids: ['device-1'] }, 422],
    ['1,001 device ids', 'POST', 'TOPIC/subscribe', { device_ids: manyIds(1001) }, 422],
    [
      '1,001 ids together',
      'POST',
      'TOPIC/subscribe',
      { device_ids: manyIds(500), profile_ids: manyIds(501) },
      422,
    ],
    ['1,001 ids to unsubscribe', 'POST', 'TOPIC/unsubscribe', { profile_ids: manyIds(1001) }, 422],
    ['bad name prefix', 'GET', '/api/v1/topics/?name_prefix=a%20b', undefined, 400],
    ['unknown query', 'GET', '/api/v1/topics/?sort=name', undefined, 400],
    ['bad subscribers limit', 'GET', 'TOPIC/subscribers?limit=0', undefined, 400],
  ];

  it.each(cases)('%s', async (_name, method, url, payload, status) => {
    const before = await rowCounts();
    const response = await asA(method, url.replace('TOPIC', `/api/v1/topics/${topicId}/`), payload);
    expect(response.statusCode, response.body).toBe(status);
    expect(errorOf(response).code).toBe(status === 422 ? 'validation_error' : 'invalid_query');
    expect(await rowCounts()).toEqual(before);
  });

  it('1,000 ids together are accepted (and reported as not found)', async () => {
    const response = await asA('POST', `/api/v1/topics/${topicId}/subscribe`, {
      device_ids: manyIds(600),
      profile_ids: manyIds(400),
    });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ subscribed: 0, already_subscribed: 0 });
    expect(body.not_found.device_ids).toHaveLength(600);
    expect(body.not_found.profile_ids).toHaveLength(400);
  });
});

describe('subscriptions', () => {
  it('subscribes devices and profiles, idempotently, and reports what it could not', async () => {
    const topicId = await createTopic(a, 'offers');
    const profile = await createProfile(a);
    const profileDevice = await registerDevice(a, profile);
    const profileDeviceOff = await registerDevice(a, profile);
    await deactivate(profileDeviceOff);
    const direct = await registerDevice(a);
    const directOff = await registerDevice(a);
    await deactivate(directOff);
    const emptyProfile = await createProfile(a);
    const unknownDevice = uuidv7();
    const unknownProfile = uuidv7();

    const first = await asA('POST', `/api/v1/topics/${topicId}/subscribe`, {
      device_ids: [direct, direct, unknownDevice, directOff, profileDevice],
      profile_ids: [profile, unknownProfile, emptyProfile],
    });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toEqual({
      subscribed: 2,
      already_subscribed: 0,
      not_found: { device_ids: [unknownDevice], profile_ids: [unknownProfile] },
      inactive_device_ids: [directOff],
    });
    expect(await subscriptionsOf(topicId)).toEqual([profileDevice, direct].sort());

    const again = await asA('POST', `/api/v1/topics/${topicId}/subscribe/`, { profile_ids: [profile] });
    expect(again.json()).toEqual({
      subscribed: 0,
      already_subscribed: 1,
      not_found: { device_ids: [], profile_ids: [] },
      inactive_device_ids: [],
    });
    expect((await asA('GET', `/api/v1/topics/${topicId}/`)).json().subscriber_count).toBe(2);

    // A deactivated device stays subscribed but is not counted or listed.
    await deactivate(direct);
    expect((await asA('GET', `/api/v1/topics/${topicId}/`)).json().subscriber_count).toBe(1);
    const subscribers = (await asA('GET', `/api/v1/topics/${topicId}/subscribers`)).json();
    expect(subscribers).toEqual({
      items: [
        {
          device_id: profileDevice,
          profile_id: profile,
          platform: expect.stringMatching(/^(ios|android)$/),
          subscribed_at: expect.any(String),
        },
      ],
      next_cursor: null,
    });

    // Unsubscribing a profile removes all its devices; a deactivated device can be unsubscribed by id.
    const byProfile = await asA('POST', `/api/v1/topics/${topicId}/unsubscribe`, { profile_ids: [profile] });
    expect(byProfile.json()).toEqual({
      unsubscribed: 1,
      not_subscribed: 1,
      not_found: { device_ids: [], profile_ids: [] },
    });
    const byDevice = await asA('POST', `/api/v1/topics/${topicId}/unsubscribe/`, {
      device_ids: [direct, unknownDevice],
    });
    expect(byDevice.json()).toEqual({
      unsubscribed: 1,
      not_subscribed: 0,
      not_found: { device_ids: [unknownDevice], profile_ids: [] },
    });
    expect(await subscriptionsOf(topicId)).toEqual([]);
    expect((await asA('GET', `/api/v1/topics/${topicId}/`)).json().subscriber_count).toBe(0);
  });

  it('counts subscribers per topic in lists, pages subscribers, and deleting a topic removes its subscriptions', async () => {
    const big = await createTopic(a, 'count-big');
    const small = await createTopic(a, 'count-small');
    await createTopic(a, 'count-none');
    const devices: string[] = [];
    for (let i = 0; i < 3; i++) devices.push(await registerDevice(a));
    await asA('POST', `/api/v1/topics/${big}/subscribe`, { device_ids: devices });
    await asA('POST', `/api/v1/topics/${small}/subscribe`, { device_ids: [devices[0]] });

    const list = (await asA('GET', '/api/v1/topics/?name_prefix=count-')).json();
    expect(
      Object.fromEntries(
        list.items.map((t: { name: string; subscriber_count: number }) => [t.name, t.subscriber_count]),
      ),
    ).toEqual({ 'count-big': 3, 'count-small': 1, 'count-none': 0 });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/v1/topics/${big}/subscribers?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await asA('GET', url)).json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((s: { device_id: string }) => s.device_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...devices].sort());
    expect((await asA('GET', `/api/v1/topics/${big}/subscribers?cursor=bm9wZQ`)).statusCode).toBe(400);

    expect((await asA('DELETE', `/api/v1/topics/${big}/`)).statusCode).toBe(204);
    expect(await subscriptionsOf(big)).toEqual([]);
    expect(await subscriptionsOf(small)).toEqual([devices[0]]);
    expect((await asA('GET', `/api/v1/topics/${big}/subscribers`)).statusCode).toBe(404);
  });

  it('a read-only client can list topics but not change them', async () => {
    const { createClient } = await import('../src/services/clients.service.ts');
    const reader = await createClient(server.runtime.deps, { name: 'reader', scopes: ['read'] });
    const headers = { 'client-id': reader.clientId, 'client-token': reader.clientToken };
    const read = await server.app.inject({ method: 'GET', url: '/api/v1/topics/', headers });
    expect(read.statusCode).toBe(200);
    const write = await server.app.inject({
      method: 'POST',
      url: '/api/v1/topics/',
      headers,
      payload: { name: 'nope' },
    });
    expect(write.statusCode).toBe(403);
  });
});

describe('tenant isolation', () => {
  it("tenant B cannot see, change, subscribe into or delete A's topic", async () => {
    const topicId = await createTopic(a, 'a-private');
    const aDevice = await registerDevice(a);
    await asA('POST', `/api/v1/topics/${topicId}/subscribe`, { device_ids: [aDevice] });
    const bDevice = await registerDevice(b);
    const before = await rowCounts();

    for (const [method, url, payload] of [
      ['GET', `/api/v1/topics/${topicId}/`, undefined],
      ['GET', `/api/v1/topics/${topicId}/subscribers`, undefined],
      ['PUT', `/api/v1/topics/${topicId}/`, { name: 'hacked' }],
      ['DELETE', `/api/v1/topics/${topicId}/`, undefined],
      ['POST', `/api/v1/topics/${topicId}/subscribe`, { device_ids: [bDevice] }],
      ['POST', `/api/v1/topics/${topicId}/unsubscribe`, { device_ids: [aDevice] }],
    ] as const) {
      const response = await server.as(b, method, url, payload);
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(errorOf(response).code).toBe('not_found');
    }
    expect(await rowCounts()).toEqual(before);
    expect((await server.as(b, 'GET', '/api/v1/topics/?limit=200')).body).not.toContain(topicId);
    expect((await asA('GET', `/api/v1/topics/${topicId}/`)).json()).toMatchObject({
      name: 'a-private',
      subscriber_count: 1,
    });
  });

  it("tenant B cannot subscribe A's devices or profiles into its own topic", async () => {
    const aProfile = await createProfile(a);
    const aDevice = await registerDevice(a, aProfile);
    // Names are unique per tenant only.
    await createTopic(a, 'shared-name');
    const bTopic = await createTopic(b, 'shared-name');

    const response = await server.as(b, 'POST', `/api/v1/topics/${bTopic}/subscribe`, {
      device_ids: [aDevice],
      profile_ids: [aProfile],
    });
    expect(response.json()).toEqual({
      subscribed: 0,
      already_subscribed: 0,
      not_found: { device_ids: [aDevice], profile_ids: [aProfile] },
      inactive_device_ids: [],
    });
    expect(await subscriptionsOf(bTopic)).toEqual([]);
  });
});
