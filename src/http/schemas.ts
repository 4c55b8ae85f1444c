/** Zod pieces shared by the route schemas (the OpenAPI document is generated from them). */
import type { RouteOptions } from 'fastify';
import { z } from 'zod';
import { rateLimitGroupOf } from '../lib/rate-limits.ts';
import { errorSchema } from './errors.ts';

export const EXAMPLE_ID = '0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e';

/**
 * One id per resource for the request examples, so that they refer to each other as a user's calls do (send to
 * the device registered before). test/openapi-examples.test.ts runs every example against a live server and
 * puts the id it created for the resource wherever its example id appears.
 */
export const EXAMPLE_IDS = {
  profile: '0193e1b3-0a11-7c55-9e01-77aa88bb99cc',
  device: '0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b',
  notification: '0193e1b4-2b3c-7d4e-8f50-61a2b3c4d5e6',
  topic: '0193e1b5-3c4d-7e5f-9061-72b3c4d5e6f7',
  template: '0193e1b6-4d5e-7f60-a172-83c4d5e6f708',
  schedule: '0193e1b7-5e6f-7071-b283-94d5e6f70819',
  webhook: '0193e1b8-6f70-7182-8394-a5e6f708192a',
  firebaseProject: '0193e1b9-7081-7293-94a5-b6f708192a3b',
  client: '0193e1ba-8192-73a4-a5b6-c708192a3b4c',
  frequencyCap: '0193e1bb-92a3-74b5-b6c7-d8192a3b4c5d',
  /** Dead letters are deliveries, whose ids are numbers. */
  deadLetter: '1042',
} as const;

export const idParams = z.object({ id: z.uuid().meta({ example: EXAMPLE_ID }) });

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50).meta({ description: 'Page size (1-200)' }),
  cursor: z.string().min(1).max(200).optional().meta({ description: 'next_cursor of the previous page' }),
};

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable() });

/** Error responses every authenticated route can give. */
export const authErrors = { 401: errorSchema, 403: errorSchema, 429: errorSchema, 503: errorSchema } as const;

/** Query-string booleans arrive as text. */
export const queryBool = z.enum(['true', 'false']).transform((v) => v === 'true');

/**
 * Every instant the API takes: ISO 8601 with an offset, from 1970 to the end of 9999. The range keeps out what
 * PostgreSQL cannot store (year 0000) or a JavaScript Date cannot hold, so such a value is a 400/422 here and
 * never a database error.
 */
export const MIN_INSTANT = '1970-01-01T00:00:00Z';
export const MAX_INSTANT = '9999-12-31T23:59:59.999Z';
export const isoDate = z.iso
  .datetime({ offset: true })
  .refine(
    (value) => {
      const time = Date.parse(value);
      return time >= Date.parse(MIN_INSTANT) && time <= Date.parse(MAX_INSTANT);
    },
    { message: `must be a valid instant from ${MIN_INSTANT} to ${MAX_INSTANT}` },
  )
  .meta({ example: '2026-12-01T09:00:00Z' });

/** Methods whose requests Fastify reads a body for (and so may refuse as malformed, too large or of a wrong type). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Adds to a route's documented responses the error statuses its shape lets it answer, so that the OpenAPI
 * document lists every status without each route repeating them: 400 on every route (a Host header this server
 * does not serve, a bad URL, query or header), 404 with path parameters, 413/415 where a body is read, 422 where
 * one is validated, 401/403/503 when authenticated (the credentials are read from the database), 429 under a
 * rate limit. A status the route declares itself is kept. Run from an `onRoute` hook, before the docs read it.
 */
export function documentErrorStatuses(route: RouteOptions): void {
  const schema = route.schema;
  if (!schema?.response || schema.hide) return;
  const methods = [route.method].flat();
  const statuses = [400];
  if (schema.params) statuses.push(404);
  if (methods.some((m) => BODY_METHODS.has(m))) statuses.push(413, 415);
  if (schema.body) statuses.push(422);
  if ((route.config as { scope?: unknown } | undefined)?.scope) statuses.push(401, 403, 503);
  if (methods.some((m) => rateLimitGroupOf(m, route.url) !== undefined)) statuses.push(429);
  // A copy: routes may share schema objects, and each gets the statuses of its own shape.
  const added = Object.fromEntries(statuses.map((status) => [status, errorSchema]));
  route.schema = { ...schema, response: { ...added, ...(schema.response as object) } };
}
