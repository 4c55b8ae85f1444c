/**
 * API clients and their credentials: the admin API (create, list, update, rotate, revoke), the distinct
 * authentication failures, scopes, IP allowlists behind trusted proxies, and the audit log of every change.
 */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { query } from '../src/db/client.ts';
import { CLIENT_CACHE_MS, createClient, forgetClients } from '../src/services/clients.service.ts';
import { errorOf, ManualClock, startTestServer, type Tenant, type TestServer } from './helpers.ts';

let server: TestServer;
let tenant: Tenant;
let adminHeaders: Record<string, string>;
let adminId: string;

beforeAll(async () => {
  server = await startTestServer();
  tenant = await server.tenant('clients-tenant');
  const admin = await createClient(server.runtime.deps, { name: 'ops', scopes: ['admin'] });
  adminId = admin.clientId;
  adminHeaders = { authorization: `Bearer ${admin.clientToken}` };
});
afterAll(() => server?.close());

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
const call = (
  method: Method,
  url: string,
  options: { payload?: unknown; headers?: Record<string, string>; remoteAddress?: string } = {},
  app: FastifyInstance = server.app,
) =>
  app.inject({
    method,
    url,
    headers: options.headers ?? tenant.headers,
    ...(options.payload === undefined ? {} : { payload: options.payload as InjectOptions['payload'] }),
    ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
  });
const asAdmin = (method: Method, url: string, payload?: unknown) =>
  call(method, url, { payload, headers: adminHeaders });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface Issued {
  id: string;
  client_token: string;
  [key: string]: unknown;
}

let clientCounter = 0;
async function newClient(body: Record<string, unknown> = {}): Promise<Issued> {
  clientCounter += 1;
  const response = await asAdmin('POST', '/api/v1/admin/clients', { name: `app-${clientCounter}`, ...body });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

/** A cheap authenticated call: 200 when the credentials work, the error otherwise. */
const whoAmI = (headers: Record<string, string>, remoteAddress?: string) =>
  call('GET', '/api/v1/clients/me', { headers, ...(remoteAddress ? { remoteAddress } : {}) });

async function auditRows(): Promise<
  { action: string; api_client_id: string | null; actor_client_id: string | null; target_id: string | null }[]
> {
  return query(
    server.runtime.deps.db,
    sql`select action, api_client_id, actor_client_id, target_id, target_type, ip, request_id, details
        from audit_logs order by id`,
  );
}

describe('tokens', () => {
  it('are fcms_ + 256 random bits, shown once, stored only as a SHA-256 digest', async () => {
    const created = await newClient({ scopes: ['read'] });
    expect(created.client_token).toMatch(/^fcms_[A-Za-z0-9_-]{43}$/);
    const [row] = await query<Record<string, unknown>>(
      server.runtime.deps.db,
      sql`select * from api_clients where id = ${created.id}`,
    );
    expect(row!.token_hash).toBe(createHash('sha256').update(created.client_token).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(created.client_token);

    const views = [
      (await asAdmin('GET', `/api/v1/admin/clients/${created.id}`)).body,
      (await asAdmin('GET', '/api/v1/admin/clients?limit=200')).body,
      (await whoAmI(bearer(created.client_token))).body,
      (await asAdmin('PUT', `/api/v1/admin/clients/${created.id}`, { name: 'renamed' })).body,
      (await asAdmin('POST', `/api/v1/admin/clients/${created.id}/revoke`)).body,
    ];
    for (const body of views) {
      expect(body).not.toContain(created.client_token);
      expect(body).not.toContain(row!.token_hash as string);
      expect(body).not.toMatch(/token_hash|client_token/);
    }
  });

  it('authenticates with Client-ID + Client-Token or Bearer, and fails with distinct codes', async () => {
    const created = await newClient({ scopes: ['read'] });
    const pair = { 'client-id': created.id, 'client-token': created.client_token };
    expect((await whoAmI(pair)).statusCode).toBe(200);
    expect((await whoAmI(bearer(created.client_token))).json()).toMatchObject({ id: created.id });

    const failures = async (headers: Record<string, string>[]) =>
      Promise.all(headers.map(async (h) => errorOf(await whoAmI(h)).code));

    expect(
      await failures([
        { 'client-id': created.id, 'client-token': `${created.client_token}x` },
        { 'client-id': tenant.clientId, 'client-token': created.client_token },
        bearer('fcms_unknown'),
      ]),
    ).toEqual(['invalid_credentials', 'invalid_credentials', 'invalid_credentials']);

    await asAdmin('PUT', `/api/v1/admin/clients/${created.id}`, { is_active: false });
    expect(await failures([pair, bearer(created.client_token)])).toEqual([
      'client_disabled',
      'client_disabled',
    ]);
    expect((await asAdmin('GET', `/api/v1/admin/clients/${created.id}`)).json().status).toBe('disabled');

    await asAdmin('PUT', `/api/v1/admin/clients/${created.id}`, {
      is_active: true,
      expires_at: new Date(Date.now() - 1000).toISOString(),
    });
    const expired = await whoAmI(pair);
    expect(expired.statusCode).toBe(401);
    expect(errorOf(expired).code).toBe('token_expired');
    expect((await asAdmin('GET', `/api/v1/admin/clients/${created.id}`)).json().status).toBe('expired');

    await asAdmin('PUT', `/api/v1/admin/clients/${created.id}`, { expires_at: null });
    expect((await whoAmI(pair)).statusCode).toBe(200);
  });
});

describe('admin API', () => {
  it('creates a client with scopes, allowlist, rate limits and expiry, lists with a cursor, updates', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const created = await newClient({
      scopes: ['send', 'read', 'send'],
      ip_allowlist: ['203.0.113.0/24', '2001:DB8::/32', '198.51.100.7'],
      rate_limits: { send: 500, bulk: 5 },
      expires_at: expiresAt,
    });
    expect(created).toMatchObject({
      scopes: ['send', 'read'],
      status: 'active',
      is_active: true,
      expires_at: expiresAt,
      revoked_at: null,
      previous_token_expires_at: null,
      ip_allowlist: ['203.0.113.0/24', '2001:db8::/32', '198.51.100.7/32'],
      rate_limits: { send: 500, bulk: 5 },
    });

    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const url = `/api/v1/admin/clients?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const response = await asAdmin('GET', url);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.items.length).toBeLessThanOrEqual(2);
      ids.push(...body.items.map((c: { id: string }) => c.id));
      cursor = body.next_cursor;
    } while (cursor);
    expect(ids).toContain(created.id);
    expect(ids).toContain(tenant.clientId);
    expect(new Set(ids).size).toBe(ids.length);

    const updated = await asAdmin('PUT', `/api/v1/admin/clients/${created.id}`, {
      name: 'shop',
      scopes: ['manage'],
      ip_allowlist: [],
      rate_limits: {},
    });
    expect(updated.json()).toMatchObject({
      name: 'shop',
      scopes: ['manage'],
      ip_allowlist: [],
      rate_limits: {},
      expires_at: expiresAt,
    });
    const disabled = (await asAdmin('GET', '/api/v1/admin/clients?active=false&limit=200')).json();
    expect(disabled.items.map((c: { id: string }) => c.id)).not.toContain(created.id);
  });

  it('rejects bad settings with 422 naming the field, and unknown clients with 404', async () => {
    const bad = async (body: Record<string, unknown>) => {
      const response = await asAdmin('POST', '/api/v1/admin/clients', { name: 'bad', ...body });
      expect(response.statusCode).toBe(422);
      return errorOf(response).details.map((d) => (d as { field?: string }).field);
    };
    expect(await bad({ ip_allowlist: ['10.0.0.0/8', '10.0.0.0/33', 'example.com'] })).toEqual([
      'ip_allowlist[1]',
      'ip_allowlist[2]',
    ]);
    expect((await bad({ rate_limits: { send: 0 } }))[0]).toMatch(/rate_limits/);
    expect((await bad({ rate_limits: { everything: 10 } }))[0]).toMatch(/rate_limits/);
    expect((await bad({ scopes: ['root'] }))[0]).toMatch(/scopes/);
    expect((await bad({ scopes: [] }))[0]).toMatch(/scopes/);
    expect(await bad({ expires_at: new Date(Date.now() - 1000).toISOString() })).toEqual(['expires_at']);
    expect((await bad({ token_hash: 'x' }))[0]).toBeDefined();

    const unknown = '0193e1b2-7c4a-7d1e-9a51-000000000000';
    expect((await asAdmin('GET', `/api/v1/admin/clients/${unknown}`)).statusCode).toBe(404);
    expect((await asAdmin('PUT', `/api/v1/admin/clients/${unknown}`, { name: 'x' })).statusCode).toBe(404);
    expect((await asAdmin('POST', `/api/v1/admin/clients/${unknown}/rotate`, {})).statusCode).toBe(404);
    expect((await asAdmin('POST', `/api/v1/admin/clients/${unknown}/revoke`)).statusCode).toBe(404);
  });

  it('applies the rate limits an admin sets on a client (the limiter and the admin API share the groups)', async () => {
    const limited = await newClient({ scopes: ['read'], rate_limits: { default: 2 } });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      codes.push(
        (await call('GET', '/api/v1/clients/me', { headers: bearer(limited.client_token) })).statusCode,
      );
    }
    expect(codes).toEqual([200, 200, 429]);
    const unknownGroup = await asAdmin('POST', '/api/v1/admin/clients', {
      name: 'x',
      rate_limits: { devices: 10 },
    });
    expect(unknownGroup.statusCode).toBe(422);
  });
});

describe('scopes', () => {
  it('are enforced: read-only cannot send, non-admins cannot reach /admin, admin implies nothing else', async () => {
    const reader = await newClient({ scopes: ['read'] });
    const asReader = bearer(reader.client_token);
    expect((await call('GET', '/api/v1/devices/', { headers: asReader })).statusCode).toBe(200);
    const send = await call('POST', '/api/v1/notify/', {
      headers: asReader,
      payload: { external_id: 'x', title: 'x' },
    });
    expect(send.statusCode).toBe(403);
    expect(errorOf(send).code).toBe('insufficient_scope');

    for (const headers of [tenant.headers, asReader]) {
      const response = await call('GET', '/api/v1/admin/clients', { headers });
      expect(response.statusCode).toBe(403);
      expect(errorOf(response).code).toBe('insufficient_scope');
      expect((await call('GET', '/api/v1/admin/audit-logs', { headers })).statusCode).toBe(403);
    }

    expect((await asAdmin('GET', '/api/v1/devices/')).statusCode).toBe(403);
    expect((await asAdmin('POST', '/api/v1/notify/', { external_id: 'x', title: 'x' })).statusCode).toBe(403);
    const both = await newClient({ scopes: ['admin', 'read'] });
    expect((await call('GET', '/api/v1/devices/', { headers: bearer(both.client_token) })).statusCode).toBe(
      200,
    );
  });
});

describe('rotation', () => {
  it('keeps the old token working for the grace period, then answers token_expired', async () => {
    const created = await newClient({ scopes: ['read'] });
    const rotated = await asAdmin('POST', `/api/v1/admin/clients/${created.id}/rotate`, {
      grace_seconds: 3600,
    });
    expect(rotated.statusCode).toBe(200);
    expect(rotated.headers['cache-control']).toBe('no-store');
    const body = rotated.json();
    expect(body.client_token).toMatch(/^fcms_/);
    expect(body.client_token).not.toBe(created.client_token);
    expect(Date.parse(body.previous_token_expires_at) - Date.now()).toBeGreaterThan(3500_000);

    expect((await whoAmI(bearer(created.client_token))).statusCode).toBe(200);
    expect((await whoAmI({ 'client-id': created.id, 'client-token': created.client_token })).statusCode).toBe(
      200,
    );
    expect((await whoAmI(bearer(body.client_token))).statusCode).toBe(200);

    await query(
      server.runtime.deps.db,
      sql`update api_clients set previous_token_expires_at = now() - interval '1 second' where id = ${created.id}`,
    );
    // Written behind the server's back, so seen after CLIENT_CACHE_MS (tested below): forget now instead.
    forgetClients(server.runtime.deps);
    const old = await whoAmI(bearer(created.client_token));
    expect(old.statusCode).toBe(401);
    expect(errorOf(old).code).toBe('token_expired');
    expect((await whoAmI(bearer(body.client_token))).statusCode).toBe(200);
    expect(
      (await asAdmin('GET', `/api/v1/admin/clients/${created.id}`)).json().previous_token_expires_at,
    ).toBe(null);
  });

  it('ends a one-second grace period on time', async () => {
    const created = await newClient({ scopes: ['read'] });
    const rotated = (
      await asAdmin('POST', `/api/v1/admin/clients/${created.id}/rotate`, { grace_seconds: 1 })
    ).json();
    expect((await whoAmI(bearer(created.client_token))).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(errorOf(await whoAmI(bearer(created.client_token))).code).toBe('token_expired');
    expect((await whoAmI(bearer(rotated.client_token))).statusCode).toBe(200);
  });

  it('defaults to 24 hours, stops the old token at once with grace 0, and refuses more than 30 days', async () => {
    const created = await newClient({ scopes: ['read'] });
    const first = (await asAdmin('POST', `/api/v1/admin/clients/${created.id}/rotate`)).json();
    const grace = Date.parse(first.previous_token_expires_at) - Date.now();
    expect(grace).toBeGreaterThan(86_300_000);
    expect(grace).toBeLessThanOrEqual(86_400_000);

    // A second rotation drops the older token at once, whatever its grace period had left.
    const second = (
      await asAdmin('POST', `/api/v1/admin/clients/${created.id}/rotate`, { grace_seconds: 0 })
    ).json();
    expect(second.previous_token_expires_at).toBeNull();
    expect(errorOf(await whoAmI(bearer(created.client_token))).code).toBe('invalid_credentials');
    expect(errorOf(await whoAmI(bearer(first.client_token))).code).toBe('invalid_credentials');
    expect((await whoAmI(bearer(second.client_token))).statusCode).toBe(200);

    const tooLong = await asAdmin('POST', `/api/v1/admin/clients/${created.id}/rotate`, {
      grace_seconds: 30 * 86_400 + 1,
    });
    expect(tooLong.statusCode).toBe(422);
    expect((await whoAmI(bearer(second.client_token))).statusCode).toBe(200);
  });

  it('lets a client rotate its own token, with the current token only', async () => {
    const created = await newClient({ scopes: ['send'] });
    const own = await call('POST', '/api/v1/clients/me/rotate', {
      headers: bearer(created.client_token),
      payload: { grace_seconds: 600 },
    });
    expect(own.statusCode).toBe(200);
    const { client_token: fresh } = own.json();

    // The old token still works for the grace period, but cannot take the new credential over.
    expect((await whoAmI(bearer(created.client_token))).statusCode).toBe(200);
    const hijack = await call('POST', '/api/v1/clients/me/rotate', {
      headers: bearer(created.client_token),
      payload: { grace_seconds: 0 },
    });
    expect(hijack.statusCode).toBe(403);
    expect(errorOf(hijack).code).toBe('current_token_required');

    const leaked = await call('POST', '/api/v1/clients/me/rotate', {
      headers: bearer(fresh),
      payload: { grace_seconds: 0 },
    });
    expect(leaked.statusCode).toBe(200);
    expect(errorOf(await whoAmI(bearer(fresh))).code).toBe('invalid_credentials');
    expect((await whoAmI(bearer(leaked.json().client_token))).statusCode).toBe(200);
  });

  it('revokes both tokens at once; a rotation then issues a fresh credential', async () => {
    const created = await newClient({ scopes: ['read'] });
    const rotated = (
      await asAdmin('POST', `/api/v1/admin/clients/${created.id}/rotate`, { grace_seconds: 3600 })
    ).json();
    const revoked = await asAdmin('POST', `/api/v1/admin/clients/${created.id}/revoke`);
    expect(revoked.json()).toMatchObject({ status: 'revoked', revoked_at: expect.any(String) });
    expect(errorOf(await whoAmI(bearer(created.client_token))).code).toBe('token_revoked');
    expect(errorOf(await whoAmI(bearer(rotated.client_token))).code).toBe('token_revoked');

    const again = (await asAdmin('POST', `/api/v1/admin/clients/${created.id}/revoke`)).json();
    expect(again.revoked_at).toBe(revoked.json().revoked_at);

    const reissued = (
      await asAdmin('POST', `/api/v1/admin/clients/${created.id}/rotate`, { grace_seconds: 3600 })
    ).json();
    expect(reissued).toMatchObject({ status: 'active', revoked_at: null, previous_token_expires_at: null });
    expect((await whoAmI(bearer(reissued.client_token))).statusCode).toBe(200);
    expect(errorOf(await whoAmI(bearer(rotated.client_token))).code).toBe('invalid_credentials');
  });
});

describe('the client cache', () => {
  it("refuses a token revoked behind the server's back within CLIENT_CACHE_MS, and one revoked through it at once", async () => {
    const clock = new ManualClock();
    const own = await startTestServer({}, { worker: false, clock });
    try {
      const created = await createClient(own.runtime.deps, { name: 'cached', scopes: ['read'] });
      const headers = { 'client-id': created.clientId, 'client-token': created.clientToken };
      const me = () => own.app.inject({ method: 'GET', url: '/api/v1/clients/me', headers });
      const viaBearer = () =>
        own.app.inject({ method: 'GET', url: '/api/v1/clients/me', headers: bearer(created.clientToken) });
      expect((await me()).statusCode).toBe(200);
      expect((await viaBearer()).statusCode).toBe(200);

      // As another server process (or an operator's SQL) would: the row changes, this process is not told.
      await query(
        own.runtime.deps.db,
        sql`update api_clients set revoked_at = now() where id = ${created.clientId}`,
      );
      clock.advance(CLIENT_CACHE_MS - 1);
      expect((await me()).statusCode).toBe(200);
      clock.advance(1);
      expect(errorOf(await me()).code).toBe('token_revoked');
      expect(errorOf(await viaBearer()).code).toBe('token_revoked');

      // A rotation through this process: the old token stops at the next request, the clock standing still.
      const other = await createClient(own.runtime.deps, { name: 'rotated', scopes: ['read', 'admin'] });
      const otherHeaders = { 'client-id': other.clientId, 'client-token': other.clientToken };
      expect(
        (await own.app.inject({ method: 'GET', url: '/api/v1/clients/me', headers: otherHeaders }))
          .statusCode,
      ).toBe(200);
      const rotated = await own.app.inject({
        method: 'POST',
        url: '/api/v1/clients/me/rotate',
        headers: otherHeaders,
        payload: { grace_seconds: 0 },
      });
      expect(rotated.statusCode, rotated.body).toBe(200);
      const stale = await own.app.inject({ method: 'GET', url: '/api/v1/clients/me', headers: otherHeaders });
      expect(errorOf(stale).code).toBe('invalid_credentials');
    } finally {
      await own.close();
    }
  });
});

describe('IP allowlist', () => {
  let allowed: Record<string, string>;

  beforeAll(async () => {
    const created = await newClient({ scopes: ['read'], ip_allowlist: ['203.0.113.0/24', '2001:db8::/32'] });
    allowed = bearer(created.client_token);
  });

  it('admits IPv4 and IPv6 addresses inside the ranges and refuses the rest with 403 ip_not_allowed', async () => {
    for (const ip of ['203.0.113.9', '::ffff:203.0.113.9', '2001:db8::1', '2001:db8:ffff::abcd']) {
      expect((await whoAmI(allowed, ip)).statusCode, ip).toBe(200);
    }
    for (const ip of ['198.51.100.1', '203.0.114.1', '2001:db9::1', '::1']) {
      const response = await whoAmI(allowed, ip);
      expect(response.statusCode, ip).toBe(403);
      expect(errorOf(response).code).toBe('ip_not_allowed');
    }
  });

  it('ignores X-Forwarded-For unless the peer is a trusted proxy', async () => {
    const forwarded = (remoteAddress: string, xff: string, app: FastifyInstance) =>
      call(
        'GET',
        '/api/v1/clients/me',
        { headers: { ...allowed, 'x-forwarded-for': xff }, remoteAddress },
        app,
      );

    // TRUSTED_PROXIES unset: the header is the client's word, not evidence.
    expect((await forwarded('10.0.0.1', '203.0.113.9', server.app)).statusCode).toBe(403);

    const behindProxy = await buildApp({
      ...server.runtime.deps,
      config: { ...server.runtime.deps.config, trustedProxies: ['10.0.0.1/32', 'fd00::/8'] },
    });
    try {
      expect((await forwarded('10.0.0.1', '203.0.113.9', behindProxy)).statusCode).toBe(200);
      expect((await forwarded('fd00::7', '2001:db8::5', behindProxy)).statusCode).toBe(200);
      expect((await forwarded('10.0.0.1', '198.51.100.1', behindProxy)).statusCode).toBe(403);
      // A spoofed hop before the proxy's does not help: the proxy appends the real peer.
      expect((await forwarded('10.0.0.1', '203.0.113.9, 198.51.100.1', behindProxy)).statusCode).toBe(403);
      expect((await forwarded('10.0.0.2', '203.0.113.9', behindProxy)).statusCode).toBe(403);
    } finally {
      await behindProxy.close();
    }
  });
});

describe('audit log', () => {
  it('records successful changes with actor, tenant, target, IP and request id, and no secrets', async () => {
    const before = (await auditRows()).length;
    const profile = await call('POST', '/api/v1/profiles/', {
      payload: { external_id: 'audit-1', name: 'Secret Name' },
      headers: { ...tenant.headers, 'x-request-id': 'audit-req-1' },
      remoteAddress: '198.51.100.23',
    });
    expect(profile.statusCode).toBe(201);
    const profileId = profile.json().id;
    await call('PUT', `/api/v1/profiles/${profileId}`, { payload: { name: 'Other' } });
    const device = await call('POST', '/api/v1/devices/', {
      payload: { platform: 'android', token: 'audit-device-token-1', profile_id: profileId },
    });
    await call('DELETE', `/api/v1/devices/${device.json().id}`);
    const sent = await call('POST', '/api/v1/notify/', { payload: { profile_id: profileId, title: 'Hi' } });
    expect(sent.statusCode).toBe(202);
    const created = await newClient({ scopes: ['read'] });
    await asAdmin('POST', `/api/v1/admin/clients/${created.id}/rotate`, { grace_seconds: 0 });

    const rows = (await auditRows()).slice(before);
    expect(rows.map((r) => r.action)).toEqual([
      'profile.create',
      'profile.update',
      'device.create',
      'device.delete',
      'notification.send',
      'client.create',
      'client.rotate',
    ]);
    expect(rows[0]).toMatchObject({
      api_client_id: tenant.clientId,
      actor_client_id: tenant.clientId,
      target_type: 'profile',
      target_id: profileId,
      ip: '198.51.100.23',
      request_id: 'audit-req-1',
      details: { status: 201, fields: ['external_id', 'name'] },
    });
    expect(rows[3]).toMatchObject({ target_id: device.json().id, details: { status: 204 } });
    expect(rows[4]).toMatchObject({ target_type: 'notification', target_id: sent.json().notification_id });
    // An admin acting on a client: the client is the tenant, the admin the actor.
    expect(rows[5]).toMatchObject({
      api_client_id: created.id,
      actor_client_id: adminId,
      target_id: created.id,
    });
    expect(rows[6]).toMatchObject({
      api_client_id: created.id,
      actor_client_id: adminId,
      action: 'client.rotate',
    });
    const text = JSON.stringify(rows);
    expect(text).not.toContain('Secret Name');
    expect(text).not.toContain('audit-device-token-1');
    expect(text).not.toContain(created.client_token);
  });

  it('records nothing for reads, failures and idempotent replays', async () => {
    const before = (await auditRows()).length;
    await call('GET', '/api/v1/profiles/');
    await call('POST', '/api/v1/profiles/', { payload: { name: 'no key' } });
    await call('PUT', '/api/v1/profiles/0193e1b2-7c4a-7d1e-9a51-000000000000', { payload: { name: 'x' } });
    await call('DELETE', '/api/v1/devices/0193e1b2-7c4a-7d1e-9a51-000000000000');
    await call('POST', '/api/v1/profiles/', { payload: { external_id: 'x' }, headers: bearer('fcms_nope') });
    await asAdmin('POST', '/api/v1/admin/clients', { name: 'bad', scopes: ['root'] });
    const reader = await newClient({ scopes: ['read'] });
    await call('POST', '/api/v1/profiles/', {
      payload: { external_id: 'x' },
      headers: bearer(reader.client_token),
    });
    const templates = await call('POST', '/api/v1/templates/', {
      payload: { name: 'audit-preview', title: 'Hi {{name}}' },
    });
    expect((await auditRows()).length).toBe(before + 2); // client.create for the reader, template.create

    await call('POST', `/api/v1/templates/${templates.json().id}/preview`, {
      payload: { variables: { name: 'x' } },
    });
    const headers = { ...tenant.headers, 'idempotency-key': 'audit-replay-1' };
    const first = await call('POST', '/api/v1/profiles/', { payload: { external_id: 'replayed' }, headers });
    const replay = await call('POST', '/api/v1/profiles/', { payload: { external_id: 'replayed' }, headers });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json().id).toBe(first.json().id);
    const rows = (await auditRows()).slice(before + 2);
    expect(rows.map((r) => r.action)).toEqual(['profile.create']);
  });

  it('a failing audit write never fails the request', async () => {
    const db = server.runtime.deps.db;
    await query(
      db,
      sql`alter table audit_logs add constraint audit_test_block check (action <> 'profile.create') not valid`,
    );
    try {
      const response = await call('POST', '/api/v1/profiles/', { payload: { external_id: 'audit-blocked' } });
      expect(response.statusCode).toBe(201);
      expect(response.json()).toMatchObject({ external_id: 'audit-blocked' });
    } finally {
      await query(db, sql`alter table audit_logs drop constraint audit_test_block`);
    }
  });

  it('is queryable by admins across tenants and by each tenant for its own data', async () => {
    const other = await server.tenant('clients-other');
    const otherProfile = await call('POST', '/api/v1/profiles/', {
      payload: { external_id: 'other-1' },
      headers: other.headers,
    });
    await call('DELETE', `/api/v1/profiles/${otherProfile.json().id}`, { headers: other.headers });

    const mine = (await call('GET', '/api/v1/audit-logs?limit=200')).json();
    expect(mine.items.length).toBeGreaterThan(0);
    expect(new Set(mine.items.map((r: { client_id: string }) => r.client_id))).toEqual(
      new Set([tenant.clientId]),
    );
    const theirs = (await call('GET', '/api/v1/audit-logs', { headers: other.headers })).json();
    expect(theirs.items.map((r: { action: string }) => r.action)).toEqual([
      'profile.delete',
      'profile.create',
      'firebase_project.create',
    ]);

    const filtered = async (query: string) =>
      (await asAdmin('GET', `/api/v1/admin/audit-logs?${query}`)).json().items as {
        action: string;
        client_id: string;
        target_id: string;
      }[];
    expect((await filtered(`client_id=${other.clientId}&action=profile.*`)).map((r) => r.action)).toEqual([
      'profile.delete',
      'profile.create',
    ]);
    expect(await filtered(`target_id=${otherProfile.json().id}&action=profile.delete`)).toHaveLength(1);
    expect(await filtered(`actor_id=${other.clientId}&target_type=firebase_project`)).toHaveLength(1);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(await filtered(`created_from=${encodeURIComponent(future)}`)).toEqual([]);
    expect(
      (await filtered(`client_id=${other.clientId}&created_to=${encodeURIComponent(future)}`)).length,
    ).toBe(3);

    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await asAdmin(
        'GET',
        `/api/v1/admin/audit-logs?client_id=${other.clientId}&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      const body = response.json();
      pages.push(...body.items.map((r: { action: string }) => r.action));
      cursor = body.next_cursor;
    } while (cursor);
    expect(pages).toEqual(['profile.delete', 'profile.create', 'firebase_project.create']);
    expect((await asAdmin('GET', '/api/v1/admin/audit-logs?cursor=bogus')).statusCode).toBe(400);
  });
});
