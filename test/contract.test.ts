/**
 * One contract for every answer: no input gives a 5xx, every refusal (also those Node's HTTP parser makes before
 * Fastify) is in our error format with the right status, and the OpenAPI document lists what a route answers.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { toAppError } from '../src/http/errors.ts';
import { AppError } from '../src/lib/errors.ts';
import { errorOf, type Method, startTestServer, type Tenant, type TestServer } from './helpers.ts';
import { rawRequest } from './raw-http.ts';

const BODY_LIMIT = 4096;
let server: TestServer;
let tenant: Tenant;
let port: number;

beforeAll(async () => {
  server = await startTestServer(
    { RATE_LIMIT_ENABLED: 'false', BODY_LIMIT_BYTES: String(BODY_LIMIT) },
    { worker: false },
  );
  tenant = await server.tenant('contract');
  const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
  port = Number(new URL(address).port);
}, 60_000);
afterAll(() => server?.close());

const call = (method: Method, url: string, payload?: unknown) =>
  server.app.inject({
    method,
    url,
    headers: tenant.headers,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

describe('values the database cannot store', () => {
  it.each([
    '/api/v1/notifications/?created_from=0000-02-29T20:41:52.4Z',
    '/api/v1/notifications/?created_to=0000-02-29T20:41:52.4Z',
    '/api/v1/audit-logs/?created_from=0000-01-01T00:00:00Z',
    '/api/v1/dead-letters/?failed_to=0000-01-01T00:00:00Z',
    '/api/v1/notifications/?created_from=1969-12-31T23:59:59Z',
  ])('refuses an instant out of range in the query with 400 invalid_query: %s', async (url) => {
    const response = await call('GET', url);
    expect(response.statusCode, response.body).toBe(400);
    expect(errorOf(response).code).toBe('invalid_query');
    expect(errorOf(response).details).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/1970.*9999/) }),
    ]);
  });

  it('refuses an instant out of range in a body with 422, naming the field', async () => {
    const response = await call('POST', '/api/v1/notify/schedule/', {
      all_devices: true,
      title: 'Too early',
      scheduled_at: '0000-02-29T20:41:52.4Z',
    });
    expect(response.statusCode, response.body).toBe(422);
    expect(errorOf(response).details).toEqual([expect.objectContaining({ field: 'body.scheduled_at' })]);
  });

  it('maps a data exception (SQLSTATE class 22) from this database, wrapped by Drizzle, to a client error', async () => {
    // The schemas keep such values out; this is the last line of defence should one get through.
    const error = await query(server.runtime.deps.db, sql`select '0000-02-29T20:41:52Z'::timestamptz`).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeDefined();
    const fromQuery = toAppError(error!, { body: undefined } as never);
    expect([fromQuery.status, fromQuery.code]).toEqual([400, 'invalid_query']);
    const fromBody = toAppError(error!, { body: { at: 'x' } } as never);
    expect([fromBody.status, fromBody.code]).toEqual([422, 'validation_error']);
    const overflow = await query(server.runtime.deps.db, sql`select 2147483648::int4`).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(toAppError(overflow!, { body: undefined } as never).status).toBe(400);
    // Anything else stays a 500.
    expect(toAppError(new Error('boom')).status).toBe(500);
    expect(toAppError(new AppError('x', 409, 'kept')).status).toBe(409);
  });
});

describe("what Node's HTTP parser refuses, in our error format", () => {
  const expectOurFormat = (
    response: Awaited<ReturnType<typeof rawRequest>>,
    status: number,
    code: string,
  ) => {
    expect(response.status, response.body).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(response.body) as { error: Record<string, unknown> };
    expect(body.error).toEqual({
      code,
      message: expect.any(String),
      details: expect.any(Array),
      request_id: response.headers['x-request-id'],
    });
    expect(body.error.request_id).toMatch(/^[0-9a-f-]{36}$/);
  };

  it('20 KB of headers: 431', async () => {
    const response = await rawRequest(
      port,
      `GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expectOurFormat(response, 431, 'headers_too_large');
  });

  it('a 20 KB URL: 414', async () => {
    const response = await rawRequest(
      port,
      `GET /api/v1/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
    );
    expectOurFormat(response, 414, 'uri_too_long');
    expect(JSON.parse(response.body).error.message).toContain('8192');
  });

  it.each([
    ['a bad method', 'G@T / HTTP/1.1\r\nHost: localhost\r\n\r\n'],
    ['garbage', 'hello\r\n\r\n'],
    ['an unknown HTTP version', 'GET / HTTP/9.9\r\nHost: localhost\r\n\r\n'],
    ['a space in the URL', 'GET /a b/c HTTP/1.1\r\nHost: localhost\r\n\r\n'],
    ['a bad header line', 'GET / HTTP/1.1\r\nHost localhost\r\n\r\n'],
  ])('%s: 400', async (_what, request) => {
    expectOurFormat(await rawRequest(port, request), 400, 'bad_request');
  });

  it('a well-formed request on the same port still works', async () => {
    const response = await rawRequest(
      port,
      'GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(response.status).toBe(200);
  });
});

describe('the smaller rules', () => {
  it('a known path with a wrong method: 405 with Allow, in our format', async () => {
    const response = await call('PUT', '/api/v1/devices/');
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe('GET, HEAD, POST');
    expect(errorOf(response).code).toBe('method_not_allowed');
    const byId = await call('POST', `/api/v1/devices/${tenant.firebaseProjectId}`);
    expect(byId.statusCode).toBe(405);
    expect(String(byId.headers.allow).split(', ')).toEqual(expect.arrayContaining(['GET', 'DELETE']));
    const unknown = await call('GET', '/api/v1/nothing-here/');
    expect(unknown.statusCode).toBe(404);
    expect(errorOf(unknown).code).toBe('not_found');
  });

  it('413 says the limit', async () => {
    const response = await call('POST', '/api/v1/profiles/', {
      external_id: 'big',
      name: 'x'.repeat(BODY_LIMIT),
    });
    expect(response.statusCode).toBe(413);
    expect(errorOf(response).message).toContain(`${BODY_LIMIT} bytes`);
    expect(errorOf(response).details).toEqual([expect.objectContaining({ limit_bytes: BODY_LIMIT })]);
  });

  it('a bad query value is 400 invalid_query also where only the service can judge it', async () => {
    const phone = await call('GET', '/api/v1/profiles/?phone_number=12345');
    expect([phone.statusCode, errorOf(phone).code]).toEqual([400, 'invalid_query']);
    const range = await call('GET', '/api/v1/analytics/?from=2026-04-07&to=2026-03-30');
    expect([range.statusCode, errorOf(range).code]).toEqual([400, 'invalid_query']);
  });

  it('previews a template by the name a send accepts, and by id', async () => {
    const created = await call('POST', '/api/v1/templates/', {
      name: 'order.shipped_v2',
      title: 'Hi {{name}}',
    });
    expect(created.statusCode, created.body).toBe(201);
    for (const ref of ['order.shipped_v2', created.json().id]) {
      const preview = await call('POST', `/api/v1/templates/${ref}/preview`, { variables: { name: 'Ada' } });
      expect(preview.statusCode, preview.body).toBe(200);
      expect(preview.json().rendered.title).toBe('Hi Ada');
    }
    const missing = await call('POST', '/api/v1/templates/no-such-template/preview', {});
    expect(missing.statusCode).toBe(404);
  });

  it('pages the Firebase projects with next_cursor', async () => {
    const { account } = createTestServiceAccount({
      projectId: `paged-${Date.now()}`,
      tokenUri: server.emulator.tokenUri,
    });
    expect((await call('POST', '/api/v1/firebase-projects/', { service_account: account })).statusCode).toBe(
      201,
    );
    const first = (await call('GET', '/api/v1/firebase-projects/?limit=1')).json();
    expect(first.items).toHaveLength(1);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = (
      await call('GET', `/api/v1/firebase-projects/?limit=1&cursor=${first.next_cursor}`)
    ).json();
    expect(second.items.map((p: { project_id: string }) => p.project_id)).toEqual([account.project_id]);
    expect(second.next_cursor).toBeNull();
    const bad = await call('GET', '/api/v1/firebase-projects/?cursor=nope');
    expect([bad.statusCode, errorOf(bad).code]).toEqual([400, 'invalid_cursor']);
  });

  it.each([
    ['/api/v1/notify/', { all_devices: true }],
    ['/api/v1/notify/topic/news', {}],
    ['/api/v1/notify/bulk', { targets: [{ external_id: 'x' }] }],
    ['/api/v1/notify/schedule/', { all_devices: true, scheduled_at: '2099-01-01T00:00:00Z' }],
  ])(
    'refuses silent: true with a title, naming the field, rather than dropping it (%s)',
    async (url, target) => {
      const response = await call('POST', url, {
        ...target,
        silent: true,
        title: 'Shown?',
        data: { a: 'b' },
      });
      expect(response.statusCode, response.body).toBe(422);
      expect(errorOf(response).details).toEqual([
        expect.objectContaining({ field: 'body.title', message: expect.stringContaining('silent') }),
      ]);
    },
  );

  it('GET / redirects to the docs', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(302);
    expect(response.headers.location).toBe('/docs');
  });
});

describe('the OpenAPI document lists the statuses a route can answer by its shape', () => {
  it('body, query, path, authentication and rate limit each add theirs', async () => {
    const doc = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const statuses = (path: string, method: string) => Object.keys(doc.paths[path][method].responses);
    expect(statuses('/api/v1/notify', 'post')).toEqual(
      expect.arrayContaining(['202', '400', '401', '403', '413', '415', '422', '429', '503']),
    );
    expect(statuses('/api/v1/devices', 'get')).toEqual(expect.arrayContaining(['200', '400', '429', '503']));
    expect(statuses('/api/v1/devices/{id}', 'get')).toEqual(expect.arrayContaining(['404']));
    expect(statuses('/api/v1/devices/{id}', 'get')).not.toContain('422');
    // Receipts are public: no 401.
    expect(statuses('/api/v1/receipts', 'post')).not.toContain('401');
    expect(doc.paths['/api/v1/notify'].post.responses['413'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/Error',
    );
  });
});
