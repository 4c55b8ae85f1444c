/**
 * The OpenAPI document's frame: info, servers, the ordered tag list, the security schemes, and two derivations
 * that keep it honest without each route repeating them: a route without a scope is public (`security: []`),
 * and only the component schemas the operations reference are kept.
 */
import type { SwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/** In the order the docs show them: what a new user does first comes first. */
export const OPENAPI_TAGS = [
  {
    name: 'notify',
    description:
      'Send a notification to a profile (by phone number, external id or id), to devices, to a topic or to ' +
      'every device; to a topic by its name; or in bulk to up to 10,000 targets, each with its own variables.',
  },
  { name: 'notifications', description: 'What was sent: a notification, its deliveries and its progress.' },
  {
    name: 'devices',
    description:
      'Register the FCM registration tokens of app installs, list, update, delete and restore them.',
  },
  { name: 'profiles', description: 'The people devices belong to, found by phone number or external id.' },
  { name: 'topics', description: 'Named audiences: subscribe devices and profiles, then send to the topic.' },
  { name: 'templates', description: 'Reusable content with variables, rendered per target at send time.' },
  { name: 'schedules', description: 'Send later, once or on a cron schedule, in a time zone.' },
  {
    name: 'frequency caps',
    description:
      'At most N notifications per profile or device per rolling window; transactional sends bypass them.',
  },
  {
    name: 'settings',
    description:
      "The tenant's defaults for sends: time zone, quiet hours, throttle (docs/delivery-controls.md).",
  },
  {
    name: 'receipts',
    description: 'The mobile app reports a push as delivered or read; no API credentials needed.',
  },
  { name: 'webhooks', description: 'Signed HTTP callbacks when notifications and deliveries change.' },
  { name: 'events', description: 'The same events live, over a WebSocket.' },
  { name: 'analytics', description: 'Counts and latencies over a date range, per day, week or month.' },
  {
    name: 'dead letters',
    description: 'Deliveries that failed for good (after retries): inspect, requeue or discard them.',
  },
  {
    name: 'firebase projects',
    description: 'The Firebase service accounts a client sends with; one of them is the default.',
  },
  { name: 'clients', description: 'The calling API client itself: who am I, rotate my token.' },
  { name: 'audit log', description: "The client's own audit trail: who changed what, when." },
  { name: 'admin', description: 'API clients and the audit log of every client; needs the admin scope.' },
  { name: 'health', description: 'Liveness and readiness probes for orchestrators; no credentials needed.' },
  {
    name: 'sandbox',
    description:
      'What the in-process FCM emulator received for your devices. Only in sandbox mode (no FCM_BASE_URL, ' +
      'outside production): the tag is absent from the document otherwise.',
  },
  {
    name: 'metrics',
    description:
      'Prometheus metrics. Served by the API process at /metrics, and by any process (a `worker` has no ' +
      'HTTP API) on its own port when METRICS_PORT is set. Loopback callers only, unless METRICS_TOKEN is set.',
  },
];

type Json = Record<string, unknown>;

/** Every `#/components/schemas/<name>` reference in a part of the document. */
function referencedSchemas(value: unknown, found: Set<string>): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) referencedSchemas(item, found);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith('#/components/schemas/')) {
        found.add(child.slice('#/components/schemas/'.length));
      } else referencedSchemas(child, found);
    }
  }
  return found;
}

/**
 * The type provider emits every schema with an `id` twice (as read, `<Name>Input`, and as written, `<Name>`),
 * whether an operation uses it or not: keep those the paths reach, directly or through other components.
 */
export function pruneUnusedSchemas(document: Json): Json {
  const components = (document.components ?? {}) as Json;
  const schemas = (components.schemas ?? {}) as Record<string, unknown>;
  const used = referencedSchemas(document.paths, new Set());
  for (let grown = true; grown; ) {
    const before = used.size;
    for (const name of [...used]) referencedSchemas(schemas[name], used);
    grown = used.size > before;
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  return { ...document, components: { ...components, schemas: kept } };
}

/** The options of @fastify/swagger: the frame above around the documents the route schemas generate. */
export function openApiOptions(options: { sandbox: boolean }): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'fcm-server',
        version: '1',
        description:
          'Send push notifications to iOS, Android and Web devices through Firebase Cloud Messaging.\n\n' +
          'Authenticate with the Client-ID and Client-Token headers (or Authorization: Bearer <client token>). ' +
          'Errors have one shape: {"error": {"code", "message", "details", "request_id"}}.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: '/', description: 'This server (paths start with /api/v1)' }],
      tags: options.sandbox ? OPENAPI_TAGS : OPENAPI_TAGS.filter((tag) => tag.name !== 'sandbox'),
      components: {
        securitySchemes: {
          clientToken: { type: 'apiKey', in: 'header', name: 'Client-Token' },
          clientId: { type: 'apiKey', in: 'header', name: 'Client-ID' },
          bearer: { type: 'http', scheme: 'bearer', description: 'The client token as a bearer token' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when it is set' },
          registrationToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'A registration token (fcmr_…) from POST /api/v1/registration-tokens, for apps',
          },
        },
      },
      security: [{ clientId: [], clientToken: [] }, { bearer: [] }],
    },
    transform: (document) => {
      const transformed = jsonSchemaTransform(document);
      // A route without a scope needs no client credentials (http/auth.ts); one that declares its own keeps it.
      const { route } = document as unknown as { route: { config?: { scope?: unknown } } };
      const schema = transformed.schema as Json;
      if (!route.config?.scope && !schema.hide && schema.security === undefined) schema.security = [];
      return transformed;
    },
    transformObject: (document) => pruneUnusedSchemas(jsonSchemaTransformObject(document) as Json),
  };
}
