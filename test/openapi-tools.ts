/** Reads the app's own OpenAPI document, so suites that must cover "every route" follow new routes by themselves. */
import type { FastifyInstance } from 'fastify';

type Json = Record<string, unknown>;

export interface Operation {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI path, e.g. /api/v1/devices/{id}/ */
  path: string;
  bodySchema: Json | undefined;
  querySchema: Record<string, Json>;
  /** The statuses the document lists for this operation ("200", "404", …). */
  responses: string[];
}

export interface ApiDocument {
  operations: Operation[];
  /** A plausible value for a schema (its example when it has one), for building valid-looking requests. */
  plausible(schema: Json | undefined, fallbackId: string): unknown;
}

export async function readApi(app: FastifyInstance): Promise<ApiDocument> {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as Json;
  const components = ((doc.components as Json | undefined)?.schemas ?? {}) as Record<string, Json>;
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    if (!path.startsWith('/api/v1/') || path.includes('/stream')) continue;
    for (const [method, op] of Object.entries(methods)) {
      const content = (op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined;
      const querySchema: Record<string, Json> = {};
      for (const p of (op.parameters as Json[] | undefined) ?? []) {
        if (p.in === 'query') querySchema[p.name as string] = (p.schema as Json) ?? {};
      }
      operations.push({
        method: method.toUpperCase() as Operation['method'],
        path,
        bodySchema: content?.['application/json']?.schema as Json | undefined,
        querySchema,
        responses: Object.keys((op.responses as Json | undefined) ?? {}),
      });
    }
  }
  operations.sort((a, b) => `${a.method} ${a.path}`.localeCompare(`${b.method} ${b.path}`));

  const resolve = (schema: Json | undefined): Json => {
    let s = schema ?? {};
    for (let i = 0; i < 5 && typeof s.$ref === 'string'; i++) {
      s = components[(s.$ref as string).split('/').pop()!] ?? {};
    }
    return s;
  };
  const plausible = (schema: Json | undefined, fallbackId: string, depth = 0): unknown => {
    const s = resolve(schema);
    if (s.example !== undefined) return s.example;
    if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
    if (depth > 4) return null;
    const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
    if (Array.isArray(s.enum)) return s.enum[0];
    if (type === 'object' || s.properties) {
      const out: Json = {};
      for (const [key, child] of Object.entries((s.properties as Record<string, Json>) ?? {})) {
        out[key] = plausible(child, fallbackId, depth + 1);
      }
      return out;
    }
    if (type === 'array') return [plausible(s.items as Json, fallbackId, depth + 1)];
    if (type === 'integer' || type === 'number') return 1;
    if (type === 'boolean') return true;
    if (s.format === 'uuid') return fallbackId;
    return 'text';
  };
  return { operations, plausible: (schema, fallbackId) => plausible(schema, fallbackId) };
}
