/**
 * /dashboard: the browser console (docs/dashboard.md). It serves the bundle scripts/build-dashboard.ts writes to
 * dist/dashboard (run by `npm install` through the `prepare` script, and by `npm run build`), under a strict
 * CSP: script, style and API calls from this origin only, nothing inline, no framing. The console routes in the
 * browser, so every path that is not a file of the bundle answers index.html. It holds no credentials: the
 * page signs in with an API client's id and token and calls the public API like any other client.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../lib/errors.ts';

/** The bundle, at the package root: the same place from src/ (a checkout) and dist/ (a published package). */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../../dist/dashboard/', import.meta.url));

/**
 * Everything from this origin, nothing inline (no 'unsafe-inline', no eval), images also as data: URLs (the
 * notification previews), WebSockets to this origin ('self' covers ws: and wss: of the same host).
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "base-uri 'none'",
  "connect-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "img-src 'self' data: https:",
  "manifest-src 'self'",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
].join('; ');

export const dashboardRoutes = (dir: string = DASHBOARD_DIR): FastifyPluginAsync => {
  return async (app) => {
    app.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', DASHBOARD_CSP);
      return payload;
    });
    if (!existsSync(join(dir, 'index.html'))) {
      const missing = async () => {
        throw new AppError(
          'dashboard_not_built',
          503,
          'the dashboard bundle is missing: run `npm run build:dashboard` (npm install runs it too)',
        );
      };
      app.get('/', { schema: { hide: true } }, missing);
      app.get('/*', { schema: { hide: true } }, missing);
      return;
    }
    // File names are fixed (no content hash), so the browser revalidates each load by ETag.
    await app.register(fastifyStatic, { root: dir, wildcard: false, index: false, cacheControl: false });
    app.addHook('onSend', async (_request, reply, payload) => {
      reply.header('cache-control', 'no-cache');
      return payload;
    });
    const page = async (request: FastifyRequest, reply: FastifyReply) => {
      const params = request.params as { '*'?: string };
      // A missing asset is a 404, not the page: a stale script URL must not load HTML as JavaScript.
      if (params['*']?.startsWith('assets/'))
        throw new AppError('not_found', 404, 'no such file in the dashboard bundle');
      return reply.type('text/html; charset=utf-8').sendFile('index.html');
    };
    app.get('/', { schema: { hide: true } }, page);
    app.get('/*', { schema: { hide: true } }, page);
  };
};
