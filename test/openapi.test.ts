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

const jsonSchemaOf = (part: unknown) =>
  ((part as Json | undefined)?.content as Json | undefined)?.['application/json'] as Json | undefined;

interface Operation {
  summary?: string;
  tags?: string[];
  requestBody?: Json;
  parameters?: { schema?: Json; example?: unknown }[];
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
      const success = Object.keys(responses).filter((code) => code.startsWith('2'));
      if (success.length === 0) problems.push(`${name}: no 2xx response`);
      for (const code of success) {
        if (code !== '204' && !jsonSchemaOf(responses[code])?.schema) {
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
        ...success.map((code) => jsonSchemaOf(responses[code])?.schema),
        ...(op.parameters ?? []).map((p) => (p.example === undefined ? p.schema : { example: p.example })),
      ];
      if (!examples.some((schema) => hasExample(schema))) {
        problems.push(`${name}: no example in the request or the response`);
      }
    }
    expect(problems).toEqual([]);
  });
});
