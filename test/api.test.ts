/**
 * The v1 API's contract: CRUD of profiles, devices and Firebase projects, pagination, authentication, the one
 * error format for bad input (with nothing written), and the OpenAPI document.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { errorOf, startTestServer, type Tenant, type TestServer } from './helpers.ts';

let server: TestServer;
let tenant: Tenant;

beforeAll(async () => {
  server = await startTestServer();
  tenant = await server.tenant('api');
});
afterAll(() => server?.close());

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
const call = (
  method: Method,
  url: string,
  payload?: unknown,
  headers: Record<string, string> = tenant.headers,
) =>
  server.app.inject({
    method,
    url,
    headers,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

async function rowCounts(): Promise<Record<string, number>> {
  const [row] = await query<Record<string, number>>(
    server.runtime.deps.db,
    sql`select (select count(*)::int from profiles) as profiles, (select count(*)::int from devices) as devices,
      (select count(*)::int from notifications) as notifications, (select count(*)::int from firebase_projects) as projects,
      (select count(*)::int from idempotency_keys) as keys`,
  );
  return row!;
}

describe('authentication', () => {
  it('rejects missing, wrong and malformed credentials with 401 in the error format', async () => {
    const missing = await call('GET', '/api/v1/devices/', undefined, {});
    expect(missing.statusCode).toBe(401);
    expect(errorOf(missing)).toMatchObject({ code: 'missing_credentials', request_id: expect.any(String) });

    const wrong = await call('GET', '/api/v1/devices/', undefined, {
      'client-id': tenant.clientId,
      'client-token': 'fcms_nope',
    });
    expect(errorOf(wrong).code).toBe('invalid_credentials');
    const notUuid = await call('GET', '/api/v1/devices/', undefined, {
      'client-id': 'x',
      'client-token': tenant.token,
    });
    expect(notUuid.statusCode).toBe(401);
    const badScheme = await call('GET', '/api/v1/devices/', undefined, { authorization: 'Basic abc' });
    expect(badScheme.statusCode).toBe(401);
  });

  it('accepts Authorization: Bearer with the token alone', async () => {
    const response = await call('GET', '/api/v1/devices/', undefined, {
      authorization: `Bearer ${tenant.token}`,
    });
    expect(response.statusCode).toBe(200);
  });

  it('echoes a valid X-Request-ID and generates one otherwise', async () => {
    const given = await call('GET', '/api/v1/health/', undefined, { 'x-request-id': 'req-123' });
    expect(given.headers['x-request-id']).toBe('req-123');
    const hostile = await call('GET', '/api/v1/health/', undefined, { 'x-request-id': 'a b\u00e9' });
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('profiles', () => {
  it('CRUD with E.164 normalization, uniqueness and soft delete', async () => {
    const created = await call('POST', '/api/v1/profiles/', {
      phone_number: '+44 20 7946 0958',
      external_id: 'crm-1',
      name: 'Ada',
    });
    expect(created.statusCode).toBe(201);
    const profile = created.json();
    expect(profile.phone_number).toBe('+442079460958');

    const duplicate = await call('POST', '/api/v1/profiles/', { phone_number: '+442079460958' });
    expect(duplicate.statusCode).toBe(409);
    expect(errorOf(duplicate).details).toEqual([expect.objectContaining({ field: 'phone_number' })]);

    const updated = await call('PUT', `/api/v1/profiles/${profile.id}/`, { name: 'Ada L.' });
    expect(updated.json()).toMatchObject({
      name: 'Ada L.',
      external_id: 'crm-1',
      phone_number: '+442079460958',
    });
    expect((await call('GET', `/api/v1/profiles/${profile.id}/`)).json().name).toBe('Ada L.');

    expect((await call('DELETE', `/api/v1/profiles/${profile.id}/`)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/profiles/${profile.id}/`)).statusCode).toBe(404);
    expect((await call('DELETE', `/api/v1/profiles/${profile.id}/`)).statusCode).toBe(404);
    // The phone number is free again after deletion.
    expect((await call('POST', '/api/v1/profiles/', { phone_number: '+442079460958' })).statusCode).toBe(201);
  });

  it('paginates with a stable cursor', async () => {
    for (let i = 0; i < 5; i++) await call('POST', '/api/v1/profiles/', { external_id: `page-${i}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/v1/profiles/?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await call('GET', url)).json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((p: { id: string }) => p.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort());
    const bad = await call('GET', '/api/v1/profiles/?cursor=bm9wZQ');
    expect(bad.statusCode).toBe(400);
    expect(errorOf(bad).code).toBe('invalid_cursor');
  });
});

describe('devices', () => {
  it('registers, filters, updates, deletes and restores', async () => {
    const created = await call('POST', '/api/v1/devices/', {
      platform: 'web',
      token: `web-${Date.now()}`,
      tags: ['beta', 'beta'],
    });
    expect(created.statusCode).toBe(201);
    const device = created.json();
    expect(device.tags).toEqual(['beta']);

    const filtered = (await call('GET', '/api/v1/devices/?platform=web&tag=beta&active=true')).json();
    expect(filtered.items.map((d: { id: string }) => d.id)).toContain(device.id);
    expect((await call('GET', '/api/v1/devices/?platform=ios&tag=beta')).json().items).toHaveLength(0);

    const updated = await call('PUT', `/api/v1/devices/${device.id}/`, {
      app_version: '3.0.0',
      external_id: 'owner-9',
    });
    expect(updated.json()).toMatchObject({ app_version: '3.0.0', profile_id: expect.any(String) });

    // DELETE is a soft delete: gone from the API until restored.
    expect((await call('DELETE', `/api/v1/devices/${device.id}/`)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/devices/${device.id}/`)).statusCode).toBe(404);
    expect((await call('POST', `/api/v1/devices/${device.id}/restore`)).json()).toMatchObject({
      is_active: true,
      deactivated_reason: null,
    });
  });

  it('refuses moving a token onto a second device', async () => {
    const a = (
      await call('POST', '/api/v1/devices/', { platform: 'android', token: `a-${Date.now()}` })
    ).json();
    const bToken = `b-${Date.now()}`;
    await call('POST', '/api/v1/devices/', { platform: 'android', token: bToken });
    const clash = await call('PUT', `/api/v1/devices/${a.id}/`, { token: bToken });
    expect(clash.statusCode).toBe(409);
  });
});

describe('firebase projects', () => {
  it('stores the service account encrypted and never returns the key', async () => {
    const list = await call('GET', '/api/v1/firebase-projects/');
    const [project] = list.json().items;
    expect(project).toMatchObject({ project_id: tenant.account.project_id, is_default: true });
    expect(list.body).not.toContain('PRIVATE KEY');
    const [stored] = await query<{ credentials_ciphertext: string }>(
      server.runtime.deps.db,
      sql`select credentials_ciphertext from firebase_projects where id = ${project.id}`,
    );
    expect(stored!.credentials_ciphertext).not.toContain('PRIVATE KEY');
    expect(stored!.credentials_ciphertext).toMatch(/^v1:/);
  });

  it('validates the JSON, naming each bad field', async () => {
    const response = await call('POST', '/api/v1/firebase-projects/', {
      service_account: { type: 'user', project_id: 'x', client_email: 'nope', private_key: 'not a key' },
    });
    expect(response.statusCode).toBe(422);
    const fields = (errorOf(response).details as { field: string }[]).map((d) => d.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'service_account.type',
        'service_account.project_id',
        'service_account.client_email',
        'service_account.private_key',
      ]),
    );
  });

  it('a second project can become the default, and can be removed', async () => {
    const { account } = createTestServiceAccount({
      projectId: `second-${Date.now()}`,
      tokenUri: server.emulator.tokenUri,
    });
    const created = await call('POST', '/api/v1/firebase-projects/', { service_account: account });
    expect(created.json().is_default).toBe(false);
    const made = await call('POST', `/api/v1/firebase-projects/${created.json().id}/default/`);
    expect(made.json().is_default).toBe(true);
    expect(
      (await call('GET', `/api/v1/firebase-projects/${tenant.firebaseProjectId}/`)).json().is_default,
    ).toBe(false);
    await call('POST', `/api/v1/firebase-projects/${tenant.firebaseProjectId}/default/`);
    expect((await call('DELETE', `/api/v1/firebase-projects/${created.json().id}/`)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/firebase-projects/${created.json().id}/`)).statusCode).toBe(404);
  });
});

describe('bad input gets the error format, the right status, and writes nothing', () => {
  const cases: [string, Method, string, unknown, number, string][] = [
    [
      'wrong type',
      'POST',
      '/api/v1/notify/',
      { phone_number: '+255712345678', title: 5 },
      422,
      'validation_error',
    ],
    [
      'unknown field',
      'POST',
      '/api/v1/notify/',
      { phone_number: '+255712345678', title: 'x', colour: 'red' },
      422,
      'validation_error',
    ],
    ['no target', 'POST', '/api/v1/notify/', { title: 'x' }, 422, 'validation_error'],
    [
      'two targets',
      'POST',
      '/api/v1/notify/',
      { phone_number: '+255712345678', external_id: 'a', title: 'x' },
      422,
      'validation_error',
    ],
    ['no title or body', 'POST', '/api/v1/notify/', { external_id: 'nobody' }, 422, 'validation_error'],
    [
      'silent without data',
      'POST',
      '/api/v1/notify/',
      { external_id: 'nobody', silent: true },
      422,
      'validation_error',
    ],
    [
      'non-string data',
      'POST',
      '/api/v1/notify/',
      { external_id: 'x', title: 'x', data: { n: 1 } },
      422,
      'validation_error',
    ],
    [
      'reserved data key',
      'POST',
      '/api/v1/notify/',
      { external_id: 'x', title: 'x', data: { from: 'me' } },
      422,
      'validation_error',
    ],
    [
      'too large for FCM',
      'POST',
      '/api/v1/notify/',
      { external_id: 'x', title: 'x', body: 'é'.repeat(2100) },
      413,
      'payload_too_large',
    ],
    [
      'http image',
      'POST',
      '/api/v1/notify/',
      { external_id: 'x', title: 'x', image_url: 'http://a.b/c.png' },
      422,
      'validation_error',
    ],
    ['bad phone', 'POST', '/api/v1/notify/', { phone_number: '12345', title: 'x' }, 422, 'validation_error'],
    [
      'unknown phone',
      'POST',
      '/api/v1/notify/',
      { phone_number: '+14155552671', title: 'x' },
      404,
      'not_found',
    ],
    [
      'too many device ids',
      'POST',
      '/api/v1/notify/',
      { device_ids: Array(1001).fill('01a212bb-37a6-777f-9db8-f27ee71d0fe4'), title: 'x' },
      422,
      'validation_error',
    ],
    [
      'negative ttl',
      'POST',
      '/api/v1/notify/',
      { external_id: 'x', title: 'x', ttl_seconds: -1 },
      422,
      'validation_error',
    ],
    [
      'bad platform',
      'POST',
      '/api/v1/devices/',
      { platform: 'symbian', token: 'abcdefghij' },
      422,
      'validation_error',
    ],
    [
      'token with spaces',
      'POST',
      '/api/v1/devices/',
      { platform: 'ios', token: 'abc def ghi' },
      422,
      'validation_error',
    ],
    [
      'bad timezone',
      'POST',
      '/api/v1/devices/',
      { platform: 'ios', token: 'abcdefghij', timezone: 'Mars/Olympus' },
      422,
      'validation_error',
    ],
    [
      'unknown profile',
      'POST',
      '/api/v1/devices/',
      { platform: 'ios', token: 'abcdefghij', profile_id: '01a212bb-37a6-777f-9db8-f27ee71d0fe4' },
      404,
      'not_found',
    ],
    [
      'two owners',
      'POST',
      '/api/v1/devices/',
      { platform: 'ios', token: 'abcdefghij', external_id: 'a', phone_number: '+255712345678' },
      422,
      'validation_error',
    ],
    ['profile without keys', 'POST', '/api/v1/profiles/', { name: 'x' }, 422, 'validation_error'],
    [
      'NUL in text',
      'POST',
      '/api/v1/profiles/',
      { external_id: 'nul', name: 'a\u0000b' },
      422,
      'invalid_text',
    ],
    [
      'NUL in JSON',
      'POST',
      '/api/v1/profiles/',
      { external_id: 'nul', metadata: { k: '\u0000' } },
      422,
      'invalid_text',
    ],
    ['NUL in a filter', 'GET', '/api/v1/profiles/?external_id=a%00b', undefined, 422, 'invalid_text'],
    ['array body', 'POST', '/api/v1/profiles/', [1, 2], 422, 'validation_error'],
    ['bad limit', 'GET', '/api/v1/devices/?limit=0', undefined, 400, 'invalid_query'],
    ['unknown query', 'GET', '/api/v1/devices/?sort=desc', undefined, 400, 'invalid_query'],
    ['bad id', 'GET', '/api/v1/devices/not-a-uuid/', undefined, 404, 'not_found'],
    [
      'unknown id',
      'GET',
      '/api/v1/notifications/01a212bb-37a6-777f-9db8-f27ee71d0fe4/',
      undefined,
      404,
      'not_found',
    ],
    ['unknown route', 'GET', '/api/v1/nothing-here/', undefined, 404, 'not_found'],
    [
      'bad receipt',
      'POST',
      '/api/v1/receipts/',
      { delivery_id: 'abc', receipt_token: 'x', status: 'read' },
      422,
      'validation_error',
    ],
  ];

  it.each(cases)('%s', async (_name, method, url, payload, status, code) => {
    const before = await rowCounts();
    const response = await call(method, url, payload);
    expect(response.statusCode, response.body).toBe(status);
    expect(errorOf(response)).toMatchObject({
      code,
      message: expect.any(String),
      request_id: response.headers['x-request-id'],
    });
    expect(await rowCounts()).toEqual(before);
  });

  it('malformed JSON is 400, a non-JSON content type 415, an oversized body 413', async () => {
    const malformed = await server.app.inject({
      method: 'POST',
      url: '/api/v1/notify/',
      headers: { ...tenant.headers, 'content-type': 'application/json' },
      payload: '{"title": ',
    });
    expect(malformed.statusCode).toBe(400);
    expect(errorOf(malformed).code).toBe('malformed_json');
    const text = await server.app.inject({
      method: 'POST',
      url: '/api/v1/notify/',
      headers: { ...tenant.headers, 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(text.statusCode).toBe(415);
    expect(errorOf(text).code).toBe('unsupported_media_type');
    const huge = await server.app.inject({
      method: 'POST',
      url: '/api/v1/profiles/',
      headers: { ...tenant.headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(3_000_000) }),
    });
    expect(huge.statusCode).toBe(413);
  });

  it('an invalid Idempotency-Key is a 400', async () => {
    const response = await call(
      'POST',
      '/api/v1/profiles/',
      { external_id: 'idem' },
      { ...tenant.headers, 'idempotency-key': 'ä' },
    );
    expect(response.statusCode).toBe(400);
    expect(errorOf(response).code).toBe('invalid_idempotency_key');
  });
});

describe('scopes', () => {
  it('a read-only client cannot send or change anything', async () => {
    const { createClient } = await import('../src/services/clients.service.ts');
    const reader = await createClient(server.runtime.deps, { name: 'reader', scopes: ['read'] });
    const headers = { 'client-id': reader.clientId, 'client-token': reader.clientToken };
    expect((await call('GET', '/api/v1/devices/', undefined, headers)).statusCode).toBe(200);
    const send = await call('POST', '/api/v1/notify/', { external_id: 'x', title: 'x' }, headers);
    expect(send.statusCode).toBe(403);
    expect(errorOf(send).code).toBe('insufficient_scope');
    expect(
      (await call('POST', '/api/v1/devices/', { platform: 'ios', token: 'abcdefghij' }, headers)).statusCode,
    ).toBe(403);
  });
});

describe('documentation', () => {
  it('serves OpenAPI 3.1 where every route has response schemas, and the docs UI', async () => {
    const doc = (await call('GET', '/openapi.json', undefined, {})).json();
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.entries(
      doc.paths as Record<string, Record<string, { responses?: object }>>,
    ).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    expect(operations.length).toBeGreaterThanOrEqual(20);
    for (const { path, method, op } of operations) {
      expect(Object.keys(op.responses ?? {}), `${method} ${path}`).not.toHaveLength(0);
    }
    expect(doc.paths['/api/v1/notify/'] ?? doc.paths['/api/v1/notify']).toBeDefined();
    const ui = await call('GET', '/docs/', undefined, {});
    expect(ui.statusCode).toBe(200);
  });

  it('health answers without credentials', async () => {
    const health = await call('GET', '/api/v1/health/', undefined, {});
    expect(health.json()).toMatchObject({ status: 'ok' });
    const ready = await call('GET', '/api/v1/health/ready/', undefined, {});
    expect(ready.json()).toMatchObject({ status: 'ok', checks: { database: { status: 'ok' } } });
  });
});
