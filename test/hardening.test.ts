/**
 * HTTP hardening: per-client, per-group rate limits (in-process and shared through Redis, failing open when
 * Redis is away), CORS, security headers, the /docs CSP, allowed hosts, body limits and JSON-only bodies.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { query } from '../src/db/client.ts';
import { connectRateLimitRedis } from '../src/http/rate-limit.ts';
import { DOCS_CSP, hostAllowed } from '../src/http/security.ts';
import { RATE_LIMIT_DEFAULTS, rateLimitGroupOf } from '../src/lib/rate-limits.ts';
import { createLogger } from '../src/logger.ts';
import { forgetClients } from '../src/services/clients.service.ts';
import { errorOf, startTestServer, type Tenant, type TestServer } from './helpers.ts';

const REDIS_URL = inject('redisUrl') ?? 'redis://127.0.0.1:6379';
const silent = createLogger('silent');

const send = (server: TestServer | FastifyInstance, tenant: Tenant, headers: Record<string, string> = {}) =>
  ('app' in server ? server.app : server).inject({
    method: 'POST',
    url: '/api/v1/notify/',
    headers: { ...tenant.headers, ...headers },
    payload: { external_id: 'nobody', title: 'Hi' },
  });

const count = async (server: TestServer, table: string) =>
  Number(
    (
      await query<{ n: string }>(
        server.runtime.deps.db,
        sql`select count(*) as n from ${sql.identifier(table)}`,
      )
    )[0]!.n,
  );

describe('rate-limit groups', () => {
  it('classifies routes into the spec groups', () => {
    expect(rateLimitGroupOf('POST', '/api/v1/notify')).toBe('send');
    expect(rateLimitGroupOf('POST', '/api/v1/notify/topic/:topic_name')).toBe('send');
    expect(rateLimitGroupOf('POST', '/api/v1/notify/schedule')).toBe('send');
    expect(rateLimitGroupOf('POST', '/api/v1/notify/bulk')).toBe('bulk');
    expect(rateLimitGroupOf('POST', '/api/v1/devices')).toBe('device_registration');
    expect(rateLimitGroupOf('POST', '/api/v1/devices/import')).toBe('device_import');
    expect(rateLimitGroupOf('GET', '/api/v1/devices')).toBe('default');
    expect(rateLimitGroupOf('GET', '/api/v1/analytics/summary')).toBe('analytics');
    expect(rateLimitGroupOf('GET', '/api/v1/analytics')).toBe('analytics');
    expect(rateLimitGroupOf('GET', '/api/v1/notifications/:id')).toBe('default');
    expect(rateLimitGroupOf('POST', '/api/v1/receipts')).toBeUndefined();
    expect(RATE_LIMIT_DEFAULTS).toMatchObject({
      send: 100,
      bulk: 10,
      device_registration: 50,
      analytics: 30,
    });
  });
});

describe('rate limits (in-process)', () => {
  let server: TestServer;
  let a: Tenant;
  let b: Tenant;

  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMITS: 'send=3,bulk=1,device_registration=2,default=40' });
    a = await server.tenant('limited-a');
    b = await server.tenant('limited-b');
  });
  afterAll(() => server?.close());

  it('counts per client and group, and answers 429 in our format with Retry-After and RateLimit headers', async () => {
    const first = await send(server, a);
    expect(first.headers).toMatchObject({
      'ratelimit-limit': '3',
      'ratelimit-remaining': '2',
      'ratelimit-policy': '3;w=60',
    });
    expect(Number(first.headers['ratelimit-reset'])).toBeGreaterThan(0);
    await send(server, a);
    await send(server, a);
    const notificationsBefore = await count(server, 'notifications');

    const limited = await send(server, a, { 'idempotency-key': 'over-the-limit' });
    expect(limited.statusCode).toBe(429);
    const error = errorOf(limited);
    expect(error).toMatchObject({ code: 'rate_limited', request_id: limited.headers['x-request-id'] });
    expect(error.details).toEqual([
      { message: 'rate limit exceeded', group: 'send', limit: 3, window_seconds: 60 },
    ]);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers).toMatchObject({ 'ratelimit-limit': '3', 'ratelimit-remaining': '0' });
    expect(limited.headers['ratelimit-reset']).toBe(limited.headers['retry-after']);
    // Rejected before any work: no notification, no idempotency claim.
    expect(await count(server, 'notifications')).toBe(notificationsBefore);
    const claims = await query(
      server.runtime.deps.db,
      sql`select 1 from idempotency_keys where key = 'over-the-limit'`,
    );
    expect(claims).toHaveLength(0);

    // Other groups of the same client, and the same group of another client, have their own budgets.
    const list = await server.app.inject({ method: 'GET', url: '/api/v1/profiles/', headers: a.headers });
    expect(list.statusCode).toBe(200);
    expect(list.headers['ratelimit-limit']).toBe('40');
    expect((await send(server, b)).statusCode).not.toBe(429);
  });

  it('limits bulk sends and device registrations on their own budgets', async () => {
    const tenant = await server.tenant('groups');
    const bulk = () =>
      server.app.inject({
        method: 'POST',
        url: '/api/v1/notify/bulk/',
        headers: tenant.headers,
        payload: { targets: [{ external_id: 'x' }], title: 'Hi' },
      });
    expect((await bulk()).statusCode).not.toBe(429);
    expect((await bulk()).statusCode).toBe(429);
    const register = (i: number) =>
      server.app.inject({
        method: 'POST',
        url: '/api/v1/devices/',
        headers: tenant.headers,
        payload: { platform: 'android', token: `limit-device-${i}` },
      });
    expect((await register(1)).statusCode).toBe(201);
    expect((await register(2)).statusCode).toBe(201);
    const third = await register(3);
    expect(third.statusCode).toBe(429);
    expect(errorOf(third).details[0]).toMatchObject({ group: 'device_registration', limit: 2 });
    expect((await send(server, tenant)).statusCode).not.toBe(429);
  });

  it('honours the per-client overrides in api_clients.rate_limits', async () => {
    const tenant = await server.tenant('override');
    await query(
      server.runtime.deps.db,
      sql`update api_clients set rate_limits = ${JSON.stringify({ send: 5, bulk: 'lots' })}::jsonb
        where id = ${tenant.clientId}`,
    );
    // Written behind the server's back, seen after CLIENT_CACHE_MS (test/clients.test.ts): forget now instead.
    forgetClients(server.runtime.deps);
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await send(server, tenant)).statusCode);
    expect(statuses.slice(0, 5)).not.toContain(429);
    expect(statuses[5]).toBe(429);
    // A malformed override falls back to the server-wide limit.
    const bulk = await server.app.inject({
      method: 'POST',
      url: '/api/v1/notify/bulk/',
      headers: tenant.headers,
      payload: { targets: [{ external_id: 'x' }], title: 'Hi' },
    });
    expect(bulk.headers['ratelimit-limit']).toBe('1');
  });

  it('counts unauthenticated requests per IP address, authenticated ones per client', async () => {
    const health = (remoteAddress: string) =>
      server.app.inject({ method: 'GET', url: '/api/v1/health', remoteAddress });
    for (let i = 0; i < 40; i++) expect((await health('203.0.113.7')).statusCode).toBe(200);
    const limited = await health('203.0.113.7');
    expect(limited.statusCode).toBe(429);
    expect(errorOf(limited).code).toBe('rate_limited');
    expect((await health('203.0.113.8')).statusCode).toBe(200);
    // Device receipts are not limited: many devices share one address behind NAT or a load balancer.
    const receipt = await server.app.inject({
      method: 'POST',
      url: '/api/v1/receipts/',
      remoteAddress: '203.0.113.7',
      payload: { delivery_id: '1', receipt_token: 'not-a-valid-receipt-token', status: 'delivered' },
    });
    expect(receipt.statusCode).toBe(404);
    expect(receipt.headers['ratelimit-limit']).toBeUndefined();
    const authenticated = await server.app.inject({
      method: 'GET',
      url: '/api/v1/profiles/',
      headers: b.headers,
      remoteAddress: '203.0.113.7',
    });
    expect(authenticated.statusCode).toBe(200);
    // Authentication comes first: bad credentials are a 401, whatever the budget.
    const bad = await server.app.inject({
      method: 'GET',
      url: '/api/v1/profiles/',
      headers: { 'client-id': b.clientId, 'client-token': 'fcms_wrong' },
      remoteAddress: '203.0.113.7',
    });
    expect(bad.statusCode).toBe(401);
  });
});

describe('rate limits with the spec defaults', () => {
  let server: TestServer;
  let tenant: Tenant;
  beforeAll(async () => {
    server = await startTestServer();
    tenant = await server.tenant('defaults');
  });
  afterAll(() => server?.close());

  it('applies 100/min to sends, 10/min to bulk, 50/min to registrations and 600/min elsewhere', async () => {
    expect((await send(server, tenant)).headers['ratelimit-limit']).toBe('100');
    const limitOf = async (method: 'GET' | 'POST', url: string, payload?: object) =>
      (await server.app.inject({ method, url, headers: tenant.headers, ...(payload ? { payload } : {}) }))
        .headers['ratelimit-limit'];
    expect(await limitOf('POST', '/api/v1/notify/bulk/', { targets: [], title: 'x' })).toBe('10');
    expect(await limitOf('POST', '/api/v1/devices/', { platform: 'web', token: 'd' })).toBe('50');
    expect(await limitOf('GET', '/api/v1/devices/')).toBe('600');
  });

  it('can be switched off', async () => {
    const off = await startTestServer({ RATE_LIMIT_ENABLED: 'false' });
    try {
      const response = await off.app.inject({ method: 'GET', url: '/api/v1/health' });
      expect(response.headers['ratelimit-limit']).toBeUndefined();
    } finally {
      await off.close();
    }
  });
});

describe.skipIf(!inject('redisUrl'))('rate limits shared through Redis', () => {
  const prefix = `fcm-test-${process.pid}-${randomBytes(4).toString('hex')}:`;
  let server: TestServer;
  let tenant: Tenant;
  let second: FastifyInstance;
  let secondRedis: Redis;
  let inspector: Redis;

  beforeAll(async () => {
    server = await startTestServer({ REDIS_URL, REDIS_KEY_PREFIX: prefix, RATE_LIMITS: 'send=4' });
    tenant = await server.tenant('shared');
    // A second API process: same database and configuration, its own Redis connection.
    secondRedis = await connectRateLimitRedis(REDIS_URL, silent);
    second = await buildApp({ ...server.runtime.deps, rateLimitRedis: secondRedis });
    await second.ready();
    inspector = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await second?.close();
    secondRedis?.disconnect();
    const keys = await inspector.keys(`${prefix}*`);
    if (keys.length > 0) await inspector.del(...keys);
    inspector?.disconnect();
    await server?.close();
  });

  it('two app instances share one budget, under the configured key prefix', async () => {
    expect((await send(server, tenant)).headers['ratelimit-remaining']).toBe('3');
    expect((await send(second, tenant)).headers['ratelimit-remaining']).toBe('2');
    expect((await send(server, tenant)).headers['ratelimit-remaining']).toBe('1');
    expect((await send(second, tenant)).headers['ratelimit-remaining']).toBe('0');
    const limited = await send(server, tenant);
    expect(limited.statusCode).toBe(429);
    expect(errorOf(limited).code).toBe('rate_limited');
    expect((await send(second, tenant)).statusCode).toBe(429);
    expect(await inspector.keys(`${prefix}rl:send:t:${tenant.clientId}`)).toHaveLength(1);
    const ttl = await inspector.pttl(`${prefix}rl:send:t:${tenant.clientId}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('fails open, without hanging, when Redis goes away mid-flight', async () => {
    const other = await server.tenant('redis-down');
    secondRedis.disconnect();
    const started = Date.now();
    const response = await send(second, other);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(response.statusCode).not.toBe(429);
    expect(response.statusCode).toBeLessThan(500);
    expect(response.headers['ratelimit-limit']).toBeUndefined();
  });
});

describe('rate limits when Redis does not answer', () => {
  let blackHole: Server;
  let server: TestServer;
  let tenant: Tenant;
  let app: FastifyInstance;
  let redis: Redis;
  const lines: string[] = [];

  beforeAll(async () => {
    // Completes the connection handshake (HELLO, CLIENT SETINFO, the INFO readiness check), then never
    // answers again: what a wedged Redis looks like to the limiter.
    blackHole = createServer((socket) => {
      socket.on('data', (chunk) => {
        for (const [, name] of chunk.toString().matchAll(/\*\d+\r\n\$\d+\r\n(\w+)/g)) {
          const command = name!.toLowerCase();
          if (command === 'hello') socket.write('%1\r\n$5\r\nproto\r\n:3\r\n');
          else if (command === 'client') socket.write('+OK\r\n');
          else if (command === 'info') socket.write('$11\r\nloading:0\r\n\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const port = (blackHole.address() as { port: number }).port;
    server = await startTestServer();
    tenant = await server.tenant('black-hole');
    redis = await connectRateLimitRedis(`redis://127.0.0.1:${port}`, silent);
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
    app = await buildApp({ ...server.runtime.deps, logger, rateLimitRedis: redis });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    redis?.disconnect();
    await server?.close();
    blackHole?.close();
  });

  it('times the counter out quickly and lets the request through', async () => {
    expect(redis.status).toBe('ready');
    const started = Date.now();
    const response = await send(app, tenant);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(response.statusCode).toBeLessThan(500);
    expect(response.statusCode).not.toBe(429);
    expect(response.headers['ratelimit-limit']).toBeUndefined();
    const warnings = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40);
    expect(warnings).toEqual([
      expect.objectContaining({ msg: 'rate limiter unavailable: request allowed without a limit' }),
    ]);
  });

  it('starts, and fails open, when Redis is not there at all', async () => {
    const unreachable = await connectRateLimitRedis('redis://127.0.0.1:1', silent);
    const lonely = await buildApp({ ...server.runtime.deps, rateLimitRedis: unreachable });
    try {
      const started = Date.now();
      const response = await send(lonely, tenant);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(response.statusCode).not.toBe(429);
      expect(response.statusCode).toBeLessThan(500);
    } finally {
      await lonely.close();
      unreachable.disconnect();
    }
  });
});

describe('CORS', () => {
  let server: TestServer;
  let closed: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ CORS_ORIGINS: 'https://app.example.com, http://localhost:3000' });
    closed = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
    await closed?.close();
  });

  it('answers allowed origins and exposes the headers a browser client needs', async () => {
    const response = await server.app.inject({
      method: 'GET',
      url: '/api/v1/health',
      headers: { origin: 'https://app.example.com' },
    });
    expect(response.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(response.headers.vary).toMatch(/origin/i);
    expect(response.headers['access-control-expose-headers']).toMatch(/ratelimit-remaining/);
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('gives other origins no CORS headers', async () => {
    const response = await server.app.inject({
      method: 'GET',
      url: '/api/v1/health',
      headers: { origin: 'https://evil.example.net' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers a preflight for an allowed origin, and none for another', async () => {
    const preflight = (origin: string) =>
      server.app.inject({
        method: 'OPTIONS',
        url: '/api/v1/notify/',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'client-id,client-token,content-type,idempotency-key',
        },
      });
    const allowed = await preflight('http://localhost:3000');
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers).toMatchObject({
      'access-control-allow-origin': 'http://localhost:3000',
      'access-control-max-age': '600',
    });
    expect(allowed.headers['access-control-allow-methods']).toMatch(/POST/);
    expect(allowed.headers['access-control-allow-headers']).toMatch(/client-token/);
    const denied = await preflight('https://evil.example.net');
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sends no CORS headers at all when CORS_ORIGINS is unset', async () => {
    const response = await closed.app.inject({
      method: 'GET',
      url: '/api/v1/health',
      headers: { origin: 'https://app.example.com' },
    });
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await closed.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/notify/',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    // No pre-flight route: the path exists, the method does not.
    expect(preflight.statusCode).toBe(405);
    expect(errorOf(preflight).code).toBe('method_not_allowed');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('security headers, body limits and JSON only (development)', () => {
  let server: TestServer;
  let tenant: Tenant;
  beforeAll(async () => {
    server = await startTestServer({ BODY_LIMIT_BYTES: '4096' });
    tenant = await server.tenant('headers');
  });
  afterAll(() => server?.close());

  it('sends nosniff, frame DENY and a default-src none CSP on API responses, and no HSTS', async () => {
    for (const url of ['/api/v1/health', '/api/v1/profiles/', '/api/v1/nowhere']) {
      const response = await server.app.inject({ method: 'GET', url, headers: tenant.headers });
      expect(response.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'cross-origin-resource-policy': 'same-origin',
      });
      expect(response.headers['content-security-policy']).toMatch(/^default-src 'none'/);
      expect(response.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      expect(response.headers['strict-transport-security']).toBeUndefined();
    }
  });

  it('serves /docs under a strict CSP: only this origin, no inline script', async () => {
    const page = await server.app.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    const csp = page.headers['content-security-policy'] as string;
    expect(csp).toBe(DOCS_CSP);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https:|\*/);
    // Every script and stylesheet the page loads comes from /docs/static on this server.
    expect(page.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) expect(source).toMatch(/^(\.\/static|\/docs\/static)\//);
    const bundle = await server.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(bundle.statusCode).toBe(200);
    expect(bundle.headers['content-security-policy']).toBe(DOCS_CSP);
    const initializer = await server.app.inject({
      method: 'GET',
      url: '/docs/static/swagger-initializer.js',
    });
    expect(initializer.body).toMatch(/resolveUrl\('\.\/json'\)/);
    expect((await server.app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
  });

  it('refuses a body over BODY_LIMIT_BYTES with 413 and anything but JSON with 415, in our format', async () => {
    const post = (payload: string, contentType: string) =>
      server.app.inject({
        method: 'POST',
        url: '/api/v1/profiles/',
        headers: { ...tenant.headers, 'content-type': contentType },
        payload,
      });
    const tooLarge = await post(
      JSON.stringify({ external_id: 'big', name: 'x'.repeat(5000) }),
      'application/json',
    );
    expect(tooLarge.statusCode).toBe(413);
    expect(errorOf(tooLarge).code).toBe('payload_too_large');
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const refused = await post('external_id=x', contentType);
      expect(refused.statusCode, contentType).toBe(415);
      expect(errorOf(refused).code).toBe('unsupported_media_type');
    }
    const malformed = await post('{"external_id":', 'application/json');
    expect(malformed.statusCode).toBe(400);
    expect(errorOf(malformed).code).toBe('malformed_json');
    const ok = await post(JSON.stringify({ external_id: 'charset' }), 'application/json; charset=utf-8');
    expect(ok.statusCode, ok.body).toBe(201);
  });

  it('answers any Host outside production', async () => {
    const response = await server.app.inject({
      method: 'GET',
      url: '/api/v1/health',
      headers: { host: 'whatever.example:9999' },
    });
    expect(response.statusCode).toBe(200);
  });
});

describe('production: HSTS and allowed hosts', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      NODE_ENV: 'production',
      // Validated only: the test server runs on the test database it is handed.
      DATABASE_URL: 'postgres://unused.invalid/fcm',
      ALLOWED_HOSTS: 'push.example.com,.example.org,127.0.0.1',
    });
  });
  afterAll(() => server?.close());

  const get = (host: string, url = '/api/v1/profiles/') =>
    server.app.inject({ method: 'GET', url, headers: { host } });

  it('sends HSTS in production', async () => {
    const response = await get('push.example.com');
    expect(response.statusCode).toBe(401);
    expect(response.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });

  it('answers only the allowed hosts (any port, listed subdomains), 400 invalid_host otherwise', async () => {
    for (const host of [
      'push.example.com',
      'PUSH.example.com:8443',
      'example.org',
      'api.example.org',
      '127.0.0.1:8080',
    ]) {
      expect((await get(host)).statusCode, host).toBe(401);
    }
    for (const host of ['evil.example.com', 'push.example.com.evil.net', 'notexample.org', '[::1]:8080']) {
      const response = await get(host);
      expect(response.statusCode, host).toBe(400);
      expect(errorOf(response).code).toBe('invalid_host');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('lets health checks through whatever Host they send (probes use the address)', async () => {
    expect((await get('10.1.2.3:8080', '/api/v1/health/')).statusCode).toBe(200);
    expect((await get('10.1.2.3:8080', '/api/v1/healthy')).statusCode).toBe(400);
    const post = await server.app.inject({
      method: 'POST',
      url: '/api/v1/health',
      headers: { host: '10.1.2.3' },
    });
    expect(post.statusCode).toBe(400);
  });

  it('matches host names like Django ALLOWED_HOSTS', () => {
    expect(hostAllowed('a.b.example.org', ['.example.org'])).toBe(true);
    expect(hostAllowed('push.example.com.', ['push.example.com'])).toBe(true);
    expect(hostAllowed('anything', ['*'])).toBe(true);
    expect(hostAllowed('example.com', [])).toBe(false);
  });
});
