/**
 * Hostile input over every route of the OpenAPI document (so a new route is fuzzed the day it exists): huge
 * strings, deep JSON, wrong types, unicode, SQL and template metacharacters, extreme numbers, unknown fields,
 * bad ids. The server must never answer 5xx, must answer every rejection in the error format, must answer only
 * statuses the document lists for the operation, and a rejected request must write nothing (row counts and
 * last-update times of every table unchanged). Raw-socket cases (huge headers, broken request lines, long URLs,
 * bad methods) hold what Node's HTTP parser answers before Fastify to the same format.
 *
 * FUZZ_CASES sets the number of cases (default 10,000; `npm run test:fuzz` runs 100,000).
 */
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { startTestServer, type Tenant, type TestServer } from './helpers.ts';
import { type ApiDocument, type Operation, readApi } from './openapi-tools.ts';
import { type RawResponse, rawRequest } from './raw-http.ts';

const CASES = Number(process.env.FUZZ_CASES ?? 10_000);

let server: TestServer;
let tenant: Tenant;
type Json = Record<string, unknown>;
let api: ApiDocument;
let operations: Operation[] = [];
/** Ids that exist (the tenant's), so some cases reach the handlers behind the id checks. */
const known: string[] = [];

/** Tables and whether they have updated_at, for the "nothing written" check. */
let tables: { name: string; updated: boolean }[] = [];

beforeAll(async () => {
  // No workers: background sends would change the tables between the before/after snapshots. No rate limits:
  // every case must reach validation and the handlers, not a 429.
  server = await startTestServer({ RATE_LIMIT_ENABLED: 'false' }, { worker: false });
  tenant = await server.tenant('fuzz');
  const post = (url: string, payload: object) =>
    server.app.inject({ method: 'POST', url, headers: tenant.headers, payload });
  const device = await post('/api/v1/devices/', {
    platform: 'android',
    token: 'fuzz-token',
    phone_number: '+255700111222',
  });
  known.push(device.json().id, device.json().profile_id);
  const topic = await post('/api/v1/topics/', { name: 'fuzz' });
  if (topic.statusCode === 201) known.push(topic.json().id);
  const template = await post('/api/v1/templates/', { name: 'fuzz', title: 'Hi {{name}}' });
  if (template.statusCode === 201) known.push(template.json().id);

  api = await readApi(server.app);
  operations = api.operations;

  const rows = await query<{ table_name: string; has_updated: boolean }>(
    server.runtime.deps.db,
    sql`select t.table_name, exists (select 1 from information_schema.columns c
          where c.table_schema = 'public' and c.table_name = t.table_name and c.column_name = 'updated_at') as has_updated
        from information_schema.tables t where t.table_schema = 'public' and t.table_type = 'BASE TABLE'`,
  );
  tables = rows.map((r) => ({ name: r.table_name, updated: r.has_updated }));
}, 60_000);
afterAll(() => server?.close());

async function snapshot(): Promise<string> {
  const parts = tables.map((t) =>
    t.updated
      ? `(select count(*)::text || '@' || coalesce(max(updated_at)::text, '') from "${t.name}")`
      : `(select count(*)::text from "${t.name}")`,
  );
  const [row] = await query<{ s: string }>(
    server.runtime.deps.db,
    sql.raw(`select concat_ws('|', ${parts.join(', ')}) as s`),
  );
  return row!.s;
}

// ---- generators -------------------------------------------------------------------------------------------

const nasty = [
  "' OR 1=1 --",
  "'; drop table devices; --",
  '{{name}}',
  '{{constructor}}',
  '{{ __proto__ }}',
  '__proto__',
  'constructor',
  '\u0000',
  '\uFFFF\uD800',
  '../../etc/passwd',
  '%00%2e%2e',
  '<script>alert(1)</script>',
  '$(rm -rf /)',
  `$${'{'}7*7}`,
  '١٢٣٤',
  '😀👨‍👩‍👧',
  'NaN',
  '-1',
  '1e309',
  ' ',
  '',
  'x'.repeat(70_000),
];

const hostileString = fc.oneof(
  fc.constantFrom(...nasty),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.uuid(),
);
const hostileNumber = fc.oneof(
  fc.constantFrom(-1, 0, -0, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, Number.MIN_VALUE),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const leaf = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null));
const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(hostileString, fc.constantFrom('__proto__', 'constructor', 'title')),
      tie('value'),
      {
        maxKeys: 4,
      },
    ),
  ),
})).value;

type Mutation =
  | { kind: 'replace-body'; value: unknown }
  | { kind: 'set-field'; index: number; value: unknown }
  | { kind: 'drop-field'; index: number }
  | { kind: 'unknown-field'; name: string; value: unknown }
  | { kind: 'raw'; text: string };

const deepJson = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace-body' as const), value: hostileJson }),
  fc.record({ kind: fc.constant('set-field' as const), index: fc.nat(), value: hostileJson }),
  fc.record({ kind: fc.constant('set-field' as const), index: fc.nat(), value: leaf }),
  fc.record({ kind: fc.constant('drop-field' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('unknown-field' as const), name: hostileString, value: leaf }),
  fc.record({
    kind: fc.constant('raw' as const),
    text: fc.oneof(
      fc.constantFrom(
        deepJson(5_000),
        '{"a":',
        '{"__proto__": {"admin": true}}',
        'null',
        '[]',
        '"x"',
        '{"a":1,"a":2}',
      ),
      fc.string({ maxLength: 30 }),
    ),
  }),
);

function applyMutation(base: unknown, m: Mutation): { payload?: string } {
  if (m.kind === 'raw') return { payload: m.text };
  if (m.kind === 'replace-body') return { payload: JSON.stringify(m.value) ?? 'null' };
  const body: Json =
    typeof base === 'object' && base !== null && !Array.isArray(base) ? { ...(base as Json) } : {};
  const keys = Object.keys(body);
  if (m.kind === 'unknown-field') body[m.name] = m.value;
  else if (keys.length > 0) {
    const key = keys[m.index % keys.length]!;
    if (m.kind === 'drop-field') delete body[key];
    else body[key] = m.value;
  }
  return { payload: JSON.stringify(body) };
}

const pathValue = fc.oneof(
  fc.constantFrom(...['00000000-0000-0000-0000-000000000000', '0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e']),
  { arbitrary: fc.constant('known'), weight: 4 },
  hostileString.filter((s) => s.length < 2000),
);

const caseArb = fc.record({
  op: fc.nat(),
  path: pathValue,
  query: fc.dictionary(
    fc.oneof(fc.constantFrom('limit', 'cursor', 'status', 'platform', 'active'), hostileString),
    fc.oneof(hostileString, hostileNumber.map(String)),
    { maxKeys: 3 },
  ),
  mutation,
  contentType: fc.constantFrom(
    'application/json',
    'application/json',
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
  ),
});

/** Exactly our error format, with the request id the response header carries. */
function expectErrorFormat(body: unknown, requestId: unknown, label: string): void {
  expect(body, label).toEqual({
    error: {
      code: expect.stringMatching(/^[a-z][a-z0-9_]*$/),
      message: expect.any(String),
      details: expect.any(Array),
      request_id: requestId,
    },
  });
  expect(typeof requestId, label).toBe('string');
}

/** Requests Node's HTTP parser refuses (or nearly): oversized headers and URLs, broken request lines, methods. */
const rawCase = fc.oneof(
  fc
    .integer({ min: 16_000, max: 40_000 })
    .map(
      (n) =>
        `GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Big: ${'h'.repeat(n)}\r\n\r\n`,
    ),
  fc
    .integer({ min: 1, max: 200 })
    .map(
      (n) =>
        `GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${'X-H: v\r\n'.repeat(n * 20)}\r\n`,
    ),
  fc
    .integer({ min: 9_000, max: 40_000 })
    .map((n) => `GET /api/v1/${'u'.repeat(n)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
  fc
    .tuple(
      fc.oneof(
        fc.constantFrom('G@T', 'GETT', 'get', 'BREW', 'PRI', '', ' ', 'GET GET', 'PROPFIND', 'TRACE'),
        fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 12 }),
      ),
      fc.oneof(
        fc.constantFrom('/api/v1/devices/', '*', '', 'http://x/', '/a b', '/%', '/\u0000', '//'),
        fc.string({ unit: 'binary-ascii', maxLength: 40 }),
      ),
      fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', 'HTTP/1', 'HTTPS/1.1', '', 'HTTP/1.1 x'),
      fc.constantFrom(
        'Host: localhost',
        'Host localhost',
        'Host: localhost\r\nContent-Length: -1',
        'Host: a\nb',
      ),
    )
    .map(
      ([method, target, version, header]) =>
        `${method} ${target} ${version}\r\n${header}\r\nConnection: close\r\n\r\n`,
    ),
);

// ---- the property -----------------------------------------------------------------------------------------

describe(`fuzz: ${CASES.toLocaleString('en')} hostile requests over every route`, () => {
  it(
    'never answers 5xx, always in the error format, and writes nothing when it rejects',
    async () => {
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const op = operations[c.op % operations.length]!;
          const pathParam = c.path === 'known' ? known[c.op % known.length]! : c.path;
          const url = op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(pathParam.toWellFormed()));
          const search = new URLSearchParams(c.query).toString();
          const hasBody = op.method !== 'GET' && op.method !== 'DELETE';
          const { payload } = hasBody
            ? applyMutation(api.plausible(op.bodySchema, known[0]!), c.mutation)
            : {};
          const before = await snapshot();
          const response = await server.app.inject({
            method: op.method as 'GET',
            url: search ? `${url}?${search}` : url,
            headers: { ...tenant.headers, ...(hasBody ? { 'content-type': c.contentType } : {}) },
            ...(payload === undefined ? {} : { payload }),
          });
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
          const label = `${op.method} ${url} ${payload?.slice(0, 200) ?? ''} → ${response.statusCode} ${response.body.slice(0, 300)}`;
          expect(response.statusCode, label).toBeLessThan(500);
          // An empty or odd path value can turn the URL into another path: its 404 (no route) or 405 belongs to
          // no operation.
          const routed =
            response.statusCode !== 405 &&
            !(response.statusCode === 404 && /^no route for /.test(response.json().error?.message));
          if (routed) {
            expect(op.responses, `undocumented status: ${label}`).toContain(String(response.statusCode));
          }
          if (response.statusCode >= 400) {
            expectErrorFormat(response.json(), response.headers['x-request-id'], label);
            expect(await snapshot(), label).toBe(before);
          }
        }),
        { numRuns: CASES, seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined },
      );
      console.info(`fuzz statuses: ${JSON.stringify([...statuses].sort((a, b) => a[0] - b[0]))}`);
      // The fuzz must reach the handlers, not only the validators.
      const accepted = [...statuses].filter(([code]) => code < 300).reduce((n, [, count]) => n + count, 0);
      expect(accepted, JSON.stringify([...statuses])).toBeGreaterThan(0);
      expect(operations.length).toBeGreaterThan(30);
      // About 9 ms a case on two busy cores: 100,000 cases need more than the 15 minutes 10,000 are given.
    },
    Math.max(900_000, CASES * 30),
  );

  const RAW_CASES = Math.max(100, Math.round(CASES / 100));
  it(
    `answers ${RAW_CASES.toLocaleString('en')} raw requests Node's parser refuses in our format, never 5xx`,
    async () => {
      const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
      const port = Number(new URL(address).port);
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(rawCase, async (request) => {
          const response: RawResponse = await rawRequest(port, request);
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          const label = `${JSON.stringify(request.slice(0, 120))} → ${response.status} ${response.body.slice(0, 300)}`;
          expect(response.status, label).toBeGreaterThanOrEqual(200);
          expect(response.status, label).toBeLessThan(500);
          if (response.status >= 400) {
            expect(response.headers['content-type'], label).toMatch(/^application\/json/);
            expectErrorFormat(JSON.parse(response.body), response.headers['x-request-id'], label);
          }
        }),
        { numRuns: RAW_CASES, seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined },
      );
      console.info(`raw fuzz statuses: ${JSON.stringify([...statuses].sort((a, b) => a[0] - b[0]))}`);
      expect([...statuses.keys()]).toEqual(expect.arrayContaining([400, 414, 431]));
    },
    Math.max(300_000, RAW_CASES * 300),
  );
});
