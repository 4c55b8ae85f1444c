/**
 * HTTP hardening: the Host allowlist (ALLOWED_HOSTS), security headers (@fastify/helmet: HSTS in production,
 * nosniff, frame DENY, a `default-src 'none'` CSP for the API and a strict one for /docs), and CORS for the
 * origins in CORS_ORIGINS (none by default).
 */
import { createRequire } from 'node:module';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.ts';
import { AppError } from '../lib/errors.ts';

/** Hashes of any inline script/style the bundled swagger-ui ships (none today); kept so an upgrade stays allowed. */
const swaggerUiInline = createRequire(import.meta.url)('@fastify/swagger-ui/static/csp.json') as {
  script: string[];
  style: string[];
};

/**
 * The /docs page (swagger-ui) loads its scripts, styles and the OpenAPI document from this server only, and
 * its logo as a data: URL. Nothing else: no inline script, no eval, no third-party origin, no framing.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  `script-src 'self' ${swaggerUiInline.script.join(' ')}`.trim(),
  "script-src-attr 'none'",
  `style-src 'self' ${swaggerUiInline.style.join(' ')}`.trim(),
].join('; ');

/** Request and response headers a browser client needs to send and read. */
const CORS_ALLOWED_HEADERS = [
  'authorization',
  'client-id',
  'client-token',
  'content-type',
  'idempotency-key',
  'x-request-id',
];
const CORS_EXPOSED_HEADERS = [
  'x-request-id',
  'location',
  'idempotent-replayed',
  'retry-after',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'ratelimit-policy',
];

/**
 * Health and metrics endpoints answer any Host: container health checks, Kubernetes probes and Prometheus reach
 * a process by its address, and these endpoints build nothing from the Host header.
 */
const ANY_HOST_PATHS = /^\/(api\/v1\/health|health|metrics)(\/|\?|$)/;

/** Whether a host name (no port, lower case) is one of ALLOWED_HOSTS (`*`, exact, or `.example.com` suffix). */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return allowed.some(
    (entry) =>
      entry === '*' ||
      entry === name ||
      (entry.startsWith('.') && (name === entry.slice(1) || name.endsWith(entry))),
  );
}

/** The Host header without its port (IPv6 literals keep their brackets). */
function hostNameOf(request: FastifyRequest): string | undefined {
  const host = request.host;
  if (!host) return undefined;
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
}

export async function registerHttpSecurity(app: FastifyInstance, config: Readonly<Config>): Promise<void> {
  await app.register(helmet, {
    global: true,
    // JSON responses need nothing from a browser; /docs sets its own policy (DOCS_CSP, in app.ts).
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    // HSTS on plain-HTTP development would pin browsers to https://localhost for a year.
    hsts: config.production ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    // The API's only consumers are servers and browser apps using CORS: no cross-origin isolation needed.
    crossOriginEmbedderPolicy: false,
  });

  if (!config.allowedHosts.includes('*')) {
    const allowed = config.allowedHosts;
    app.addHook('onRequest', async (request) => {
      if (request.method === 'GET' && ANY_HOST_PATHS.test(request.url)) return;
      const host = hostNameOf(request);
      if (!host || !hostAllowed(host, allowed)) {
        throw new AppError('invalid_host', 400, 'the Host header names a host this server does not serve');
      }
    });
  }

  if (config.corsOrigins.length > 0) {
    const anyOrigin = config.corsOrigins.includes('*');
    await app.register(cors, {
      origin: anyOrigin ? '*' : [...config.corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: CORS_ALLOWED_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      // Credentials travel in headers, never cookies.
      credentials: false,
      maxAge: 600,
      // A preflight from an origin not on the list gets no CORS headers, so the browser blocks the call.
      strictPreflight: true,
    });
  }
}
