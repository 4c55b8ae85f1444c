/**
 * The OpenAPI document is generated from the route schemas, so it is only as honest as they are: every
 * operation must declare its success response, its errors in our one error format, and carry an example.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.ts';

let server: TestServer;
type Json = Record<string, unknown>;
let doc: Json;

beforeAll(async () => {
  server = await startTestServer();
  doc = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json();
});
afterAll(() => server?.close());

function resolve(schema: unknown): Json | undefined {
  if (typeof schema !== 'object' || schema === null) return undefined;
  const ref = (schema as Json).$ref;
  if (typeof ref !== 'string') return schema as Json;
  const name = ref.replace('#/components/schemas/', '');
  return ((doc.components as Json).schemas as Json)[name] as Json | undefined;
}

/** Whether a schema (following references, to a few levels) carries an example anywhere. */
function hasExample(schema: unknown, depth = 0): boolean {
  const s = resolve(schema);
  if (!s || depth > 6) return false;
  if (s.example !== undefined || (Array.isArray(s.examples) && s.examples.length > 0)) return true;
  const children = [
    ...Object.values((s.properties as Json | undefined) ?? {}),
    s.items,
    s.additionalProperties,
    ...((s.anyOf as unknown[]) ?? []),
    ...((s.oneOf as unknown[]) ?? []),
    ...((s.allOf as unknown[]) ?? []),
  ];
  return children.some((child) => hasExample(child, depth + 1));
}

/** The schema of a response in whichever media type it has (JSON, or text for /metrics). */
const contentOf = (part: unknown) =>
  Object.values(((part as Json | undefined)?.content as Record<string, Json> | undefined) ?? {})[0]?.schema;

const jsonSchemaOf = (part: unknown) =>
  ((part as Json | undefined)?.content as Json | undefined)?.['application/json'] as Json | undefined;

interface Operation {
  operationId?: string;
  security?: unknown[];
  summary?: string;
  tags?: string[];
  requestBody?: Json;
  parameters?: { name: string; schema?: Json; example?: unknown }[];
  responses?: Record<string, Json>;
}

function operations(): { name: string; op: Operation }[] {
  return Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, op })),
  );
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with the API routes, served with an interactive UI at /docs', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const names = operations().map((o) => o.name);
    for (const expected of [
      'POST /api/v1/notify/',
      'POST /api/v1/notify/bulk/',
      'POST /api/v1/notify/topic/{topic_name}/',
      'POST /api/v1/topics/{id}/subscribe/',
      'GET /api/v1/templates/',
      'GET /api/v1/notifications/{id}/status/',
    ]) {
      expect(names.map((n) => n.replace(/\/?$/, '/'))).toContain(expected);
    }
    const ui = await server.app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
  });

  it('gives every route a summary, a success response schema, error schemas and an example', () => {
    const problems: string[] = [];
    for (const { name, op } of operations()) {
      const responses = op.responses ?? {};
      if (!op.summary) problems.push(`${name}: no summary`);
      // The event stream's success is the WebSocket upgrade.
      const success = Object.keys(responses).filter((code) => code.startsWith('2') || code === '101');
      if (success.length === 0) problems.push(`${name}: no 2xx response`);
      for (const code of success) {
        if (code !== '204' && code !== '101' && !contentOf(responses[code])) {
          problems.push(`${name}: ${code} has no schema`);
        }
      }
      const errors = Object.keys(responses).filter((code) => /^[45]/.test(code));
      if (errors.length === 0) problems.push(`${name}: no error responses`);
      for (const code of errors) {
        const schema = resolve(jsonSchemaOf(responses[code])?.schema);
        // Readiness answers 503 with its health report (which dependency is down), by design.
        const report = name.startsWith('GET /api/v1/health') && code === '503';
        if (!report && !(schema?.properties as Json | undefined)?.error) {
          problems.push(`${name}: ${code} is not the error format`);
        }
      }
      const bodySchema = jsonSchemaOf(op.requestBody)?.schema;
      const examples = [
        bodySchema,
        ...success.map((code) => contentOf(responses[code])),
        ...(op.parameters ?? []).map((p) => (p.example === undefined ? p.schema : { example: p.example })),
      ];
      if (!examples.some((schema) => hasExample(schema))) {
        problems.push(`${name}: no example in the request or the response`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('names every operation with a unique camelCase operationId (SDK generators name methods from it)', () => {
    const ids = operations().map(({ name, op }) => `${name} → ${op.operationId}`);
    const invalid = ids.filter((line) => !/ → [a-z][a-zA-Z0-9]*$/.test(line));
    expect(invalid).toEqual([]);
    const seen = operations().map(({ op }) => op.operationId);
    expect(seen.filter((id, index) => seen.indexOf(id) !== index)).toEqual([]);
    expect(seen).toEqual(expect.arrayContaining(['sendNotification', 'sendBulk', 'registerDevice']));
  });

  it('declares no credentials on the public routes, and lists notify as the first tag', () => {
    const paths = doc.paths as Record<string, Record<string, Operation>>;
    for (const path of ['/api/v1/health', '/api/v1/health/ready', '/api/v1/receipts']) {
      for (const op of Object.values(paths[path] ?? {})) expect(op.security, path).toEqual([]);
    }
    expect(paths['/api/v1/devices']?.get?.security).toBeUndefined();
    expect(doc.security).toEqual([{ clientId: [], clientToken: [] }, { bearer: [] }]);
    const tags = (doc.tags as { name: string; description: string }[]).map((t) => t.name);
    expect(tags.slice(0, 3)).toEqual(['notify', 'notifications', 'devices']);
    const used = new Set(operations().flatMap(({ op }) => op.tags ?? []));
    expect([...used].filter((tag) => !tags.includes(tag))).toEqual([]);
  });

  it('describes the WebSocket event stream and /metrics as the server serves them', async () => {
    const paths = doc.paths as Record<string, Record<string, Operation>>;
    const stream = paths['/api/v1/events/stream']?.get;
    expect(stream?.operationId).toBe('streamEvents');
    expect(Object.keys(stream?.responses ?? {})).toContain('101');
    expect(stream?.parameters?.map((p) => p.name)).toEqual(['types', 'notification_id', 'after']);
    const plain = await server.app.inject({ method: 'GET', url: '/api/v1/events/stream' });
    expect(plain.statusCode).toBe(401);

    const metrics = paths['/metrics']?.get;
    expect(metrics?.operationId).toBe('getMetrics');
    expect(metrics?.security).toEqual([{ metricsToken: [] }, {}]);
    const scraped = await server.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' });
    expect(scraped.statusCode).toBe(200);
    expect(scraped.headers['content-type']).toMatch(/^text\/plain/);
    expect(scraped.body).toContain('fcms_deliveries_total');
  });

  it('keeps only the component schemas the operations use', () => {
    const schemas = Object.keys(((doc.components as Json).schemas as Json) ?? {});
    const text = JSON.stringify(doc.paths);
    const reachable = new Set(schemas.filter((name) => text.includes(`"#/components/schemas/${name}"`)));
    const components = JSON.stringify((doc.components as Json).schemas);
    const unused = schemas.filter(
      (name) => !reachable.has(name) && !components.includes(`"#/components/schemas/${name}"`),
    );
    expect(unused).toEqual([]);
    expect(schemas).toContain('Device');
  });

  it('gives every request body the example Swagger UI sends, and every success answer a whole example', () => {
    const problems: string[] = [];
    /** An example of the whole value: on the schema (or its component), or, for a page, on its items. */
    const wholeExample = (schema: unknown): boolean => {
      const s = resolve(schema);
      if (!s) return false;
      if (s.example !== undefined || (Array.isArray(s.examples) && s.examples.length > 0)) return true;
      const items = (s.properties as Json | undefined)?.items as Json | undefined;
      return items?.type === 'array' && wholeExample(items.items);
    };
    for (const { name, op } of operations()) {
      const body = jsonSchemaOf(op.requestBody);
      if (body && body.example === undefined) problems.push(`${name}: the request body has no example`);
      for (const [code, response] of Object.entries(op.responses ?? {})) {
        const media = Object.values((response.content as Record<string, Json> | undefined) ?? {})[0];
        if (code.startsWith('2') && media && media.example === undefined && !wholeExample(media.schema)) {
          problems.push(`${name}: the ${code} answer has no example`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
