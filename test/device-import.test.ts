/**
 * Device import, the story of a team moving from another push service: thousands of devices with their
 * profiles in one request (JSON or NDJSON), a result per line, bad lines refused alone, the same file imported
 * twice without duplicates, one rate-limit unit per request, tenants kept apart, and FCM dry runs only when
 * asked for.
 */
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { errorOf, startTestServer, type Tenant, type TestServer } from './helpers.ts';

let server: TestServer;
let shop: Tenant;
let other: Tenant;

beforeAll(async () => {
  server = await startTestServer({ RATE_LIMITS: 'device_import=3,device_registration=1' }, { worker: false });
  shop = await server.tenant('import-shop');
  other = await server.tenant('import-other');
}, 60_000);

afterAll(async () => {
  await server?.close();
});

const ndjson = (lines: unknown[]) =>
  lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');

function importAs(tenant: Tenant, body: string | object, query = '') {
  const isText = typeof body === 'string';
  return server.app.inject({
    method: 'POST',
    url: `/api/v1/devices/import${query}`,
    headers: { ...tenant.headers, 'content-type': isText ? 'application/x-ndjson' : 'application/json' },
    payload: body,
  });
}

async function deviceCount(tenant: Tenant): Promise<number> {
  const [row] = await query<{ n: number }>(
    server.runtime.deps.db,
    sql`select count(*)::int as n from devices where api_client_id = ${tenant.clientId}`,
  );
  return row!.n;
}

describe('POST /devices/import', () => {
  it('imports devices with their profiles, reports each line, and refuses bad lines alone', async () => {
    const body = ndjson([
      {
        platform: 'android',
        token: 'import-token-0001',
        phone_number: '+255712340001',
        app_version: '2.3.1',
        timezone: 'Africa/Dar_es_Salaam',
        locale: 'sw-TZ',
        tags: ['imported', 'beta', 'imported'],
      },
      { platform: 'ios', token: 'import-token-0002', external_id: 'crm-42', locale: 'en-GB' },
      '{"platform": "web", "token": ',
      '',
      { platform: 'pager', token: 'import-token-0005' },
      { platform: 'android', token: 'import-token-0001' },
      { platform: 'android', token: 'import-token-0007', phone_number: '0712' },
      { platform: 'android', token: 'import-token-0008', profile_id: '0193e1b3-0a11-7c55-9e01-77aa88bb99cc' },
      { platform: 'android', token: 'import-token-0009', model: 'bad\u0000model' },
      { platform: 'web', token: 'import-token-0010', phone_number: '+255712340001' },
    ]);
    const response = await importAs(shop, `${body}\n`);
    expect(response.statusCode).toBe(200);
    const result = response.json();
    expect(result).toMatchObject({ created: 3, updated: 0, rejected: 7 });
    expect(result.results.map((r: { status: string }) => r.status)).toEqual([
      'created',
      'created',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'created',
    ]);
    const codes = result.results.map((r: { error: { code: string } | null }) => r.error?.code ?? null);
    expect(codes).toEqual([
      null,
      null,
      'malformed_json',
      'malformed_json',
      'validation_error',
      'duplicate_token',
      'validation_error',
      'not_found',
      'invalid_text',
      null,
    ]);
    expect(result.results[4].error.details[0]).toMatchObject({ field: 'platform' });
    expect(result.results[5].error.details[0]).toMatchObject({ line: 1 });

    const first = await server.as(shop, 'GET', `/api/v1/devices/${result.results[0].device_id}/`);
    expect(first.json()).toMatchObject({
      platform: 'android',
      token_suffix: 'ken-0001',
      app_version: '2.3.1',
      timezone: 'Africa/Dar_es_Salaam',
      locale: 'sw-TZ',
      tags: ['imported', 'beta'],
      is_active: true,
    });
    // The same phone number on two lines: one profile, both devices on it.
    const last = await server.as(shop, 'GET', `/api/v1/devices/${result.results[9].device_id}/`);
    expect(last.json().profile_id).toBe(first.json().profile_id);
    const profile = await server.as(shop, 'GET', `/api/v1/profiles/${first.json().profile_id}/`);
    expect(profile.json().phone_number).toBe('+255712340001');
    const crm = await server.as(shop, 'GET', '/api/v1/profiles/?external_id=crm-42');
    expect(crm.json().items).toHaveLength(1);

    // Stored like a registration: encrypted, found by the blind index (a registration updates the same row).
    const [stored] = await query<{ token_ciphertext: string; token_hash: string }>(
      server.runtime.deps.db,
      sql`select token_ciphertext, token_hash from devices where id = ${result.results[0].device_id}`,
    );
    expect(stored!.token_ciphertext).not.toContain('import-token-0001');
    expect(stored!.token_hash).toBe(server.runtime.deps.cipher.blindIndex('import-token-0001'));
  });

  it('imports the same devices again as updates, without duplicates, and keeps tenants apart', async () => {
    const devices = Array.from({ length: 2500 }, (_, i) => ({
      platform: i % 2 ? 'ios' : 'android',
      token: `bulk-token-${String(i).padStart(6, '0')}`,
      external_id: `user-${i % 1000}`,
      app_version: '1.0.0',
    }));
    const firstRun = await importAs(shop, { devices });
    expect(firstRun.json()).toMatchObject({ created: 2500, updated: 0, rejected: 0 });
    const before = await deviceCount(shop);

    const again = await importAs(shop, ndjson(devices.map((d) => ({ ...d, app_version: '1.1.0' }))));
    expect(again.json()).toMatchObject({ created: 0, updated: 2500, rejected: 0 });
    expect(again.json().results[7].device_id).toBe(firstRun.json().results[7].device_id);
    expect(await deviceCount(shop)).toBe(before);
    const [versions] = await query<{ n: number }>(
      server.runtime.deps.db,
      sql`select count(*)::int as n from devices where api_client_id = ${shop.clientId} and app_version = '1.1.0'`,
    );
    expect(versions!.n).toBe(2500);
    const profiles = await query<{ n: number }>(
      server.runtime.deps.db,
      sql`select count(*)::int as n from profiles where api_client_id = ${shop.clientId} and external_id like 'user-%'`,
    );
    expect(profiles[0]!.n).toBe(1000);

    // Another tenant importing the same tokens gets its own devices; the first tenant's are untouched.
    const theirs = await importAs(other, { devices: devices.slice(0, 10) });
    expect(theirs.json()).toMatchObject({ created: 10, updated: 0 });
    expect(theirs.json().results[0].device_id).not.toBe(firstRun.json().results[0].device_id);
    expect(await deviceCount(shop)).toBe(before);
  });

  it('counts one rate-limit unit per request, in its own group', async () => {
    // device_import=3: this tenant's two imports above and the one in the first test used all three.
    const limited = await importAs(shop, { devices: [{ platform: 'android', token: 'over-the-limit-1' }] });
    expect(limited.statusCode).toBe(429);
    expect(errorOf(limited).details[0]).toMatchObject({ group: 'device_import', limit: 3 });
    // The registration budget (device_registration=1) is separate and still unused by the imports.
    const registered = await server.as(shop, 'POST', '/api/v1/devices/', {
      platform: 'android',
      token: 'registered-after-import',
    });
    expect(registered.statusCode).toBe(201);
  });
});

describe('limits and hostile input', () => {
  let open: TestServer;
  let tenant: Tenant;

  beforeAll(async () => {
    open = await startTestServer(
      { RATE_LIMIT_ENABLED: 'false', VALIDATE_TOKENS_ON_REGISTER: 'true' },
      { worker: false },
    );
    tenant = await open.tenant('import-limits');
  }, 60_000);

  afterAll(async () => {
    await open?.close();
  });

  const send = (payload: string | object, contentType: string, search = '') =>
    open.app.inject({
      method: 'POST',
      url: `/api/v1/devices/import${search}`,
      headers: { ...tenant.headers, 'content-type': contentType },
      payload,
    });

  it('takes 10,000 devices in one request and refuses 10,001', async () => {
    const lines = Array.from({ length: 10_001 }, (_, i) => ({ platform: 'web', token: `limit-token-${i}` }));
    const tooMany = await send({ devices: lines }, 'application/json');
    expect(tooMany.statusCode).toBe(422);
    expect(errorOf(tooMany).code).toBe('validation_error');
    const full = await send(ndjson(lines.slice(0, 10_000)), 'application/x-ndjson');
    expect(full.statusCode).toBe(200);
    expect(full.json()).toMatchObject({ created: 10_000, rejected: 0 });
  }, 120_000);

  it('refuses an oversized body with 413 and an empty one with 422', async () => {
    const huge = `${JSON.stringify({ platform: 'web', token: 'x'.repeat(4000) })}\n`.repeat(6000);
    const response = await send(huge, 'application/x-ndjson');
    expect(response.statusCode).toBe(413);
    expect(errorOf(response).code).toBe('payload_too_large');
    expect((await send({ devices: [] }, 'application/json')).statusCode).toBe(422);
  });

  it('names both media types it reads when refusing another one with 415', async () => {
    const response = await send('platform,token\nweb,csv-token', 'text/csv');
    expect(response.statusCode).toBe(415);
    expect(errorOf(response)).toMatchObject({
      code: 'unsupported_media_type',
      message: 'send the request body as application/json or application/x-ndjson',
    });
  });

  it('skips the FCM dry run unless validate=true, which refuses the tokens FCM calls invalid', async () => {
    open.emulator.setFaults({ tokens: { 'dead-import-token-1': 'UNREGISTERED' } });
    const lines = [
      { platform: 'android', token: 'dead-import-token-1' },
      { platform: 'android', token: 'live-import-token-1' },
    ];
    const dryRunsBefore = open.emulator.received().filter((r) => r.validateOnly).length;
    const unchecked = await send({ devices: lines }, 'application/json');
    expect(unchecked.json()).toMatchObject({ created: 2, rejected: 0 });
    expect(open.emulator.received().filter((r) => r.validateOnly).length).toBe(dryRunsBefore);

    const checked = await send(
      { devices: [{ platform: 'android', token: 'dead-import-token-2' }, ...lines.slice(1)] },
      'application/json',
      '?validate=true',
    );
    open.emulator.setFaults({ tokens: { 'dead-import-token-2': 'UNREGISTERED' } });
    const rechecked = await send(
      { devices: [{ platform: 'android', token: 'dead-import-token-2' }, ...lines.slice(1)] },
      'application/json',
      '?validate=true',
    );
    open.emulator.setFaults({});
    expect(checked.json()).toMatchObject({ created: 1, updated: 1, rejected: 0 });
    expect(rechecked.json()).toMatchObject({ updated: 1, rejected: 1 });
    expect(rechecked.json().results[0].error.code).toBe('invalid_token');
  });

  it('never answers 5xx, whatever the lines hold', async () => {
    const anything = fc.oneof(
      fc.anything(),
      fc.record(
        {
          platform: fc.constantFrom('android', 'ios', 'web', 'x'),
          token: fc.string({ minLength: 0, maxLength: 40 }),
          phone_number: fc.string(),
          external_id: fc.string(),
          profile_id: fc.uuid(),
          app_version: fc.string(),
          timezone: fc.string(),
          locale: fc.string(),
          tags: fc.array(fc.string()),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(anything, { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        async (lines, asText) => {
          const response = asText
            ? await send(
                lines.map((l) => JSON.stringify(l) ?? 'undefined').join('\n'),
                'application/x-ndjson',
              )
            : await send({ devices: lines }, 'application/json');
          expect(response.statusCode, response.body).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});
