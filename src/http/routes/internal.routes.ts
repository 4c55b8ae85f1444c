/**
 * /internal: the admin commands of the CLI while a server holds the embedded database (one process owns a PGlite
 * data directory, so the CLI asks the server instead of opening it). Only loopback callers that present the
 * secret the server published in DATA_DIR/server.json get past the guard; everyone else sees a plain 404.
 * Hidden from the OpenAPI document: not part of the API.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SCOPES } from '../../services/clients.service.ts';
import type { RouteDeps } from '../context.ts';
import { errorBody } from '../errors.ts';

const LOOPBACK = ['127.0.0.1', '::1', '::ffff:127.0.0.1'];

const clientBody = z.strictObject({
  name: z.string().min(1),
  scopes: z.array(z.enum(SCOPES)),
  ipAllowlist: z.array(z.string()).optional(),
  expiresAt: z.string().optional(),
});

/** The routes, behind the caller's `x-admin-secret` header compared in constant time with `secret`. */
export const internalRoutes =
  (deps: RouteDeps, secret: string): FastifyPluginAsyncZod =>
  async (app) => {
    const expected = Buffer.from(secret);
    app.addHook('onRequest', async (request, reply) => {
      const given = Buffer.from(String(request.headers['x-admin-secret'] ?? ''));
      const loopback = LOOPBACK.includes(request.socket.remoteAddress ?? '');
      if (!loopback || given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reply.code(404).send(errorBody('not_found', 'not found', [], request.id));
      }
    });
    app.post('/clients', { schema: { hide: true, body: clientBody } }, async (request, reply) =>
      reply.code(201).send(await deps.services.admin.createClient(request.body)),
    );
    app.post(
      '/clients/:id/rotate',
      {
        schema: {
          hide: true,
          params: z.object({ id: z.uuid() }),
          body: z.strictObject({ graceSeconds: z.int().optional() }),
        },
      },
      async (request) => deps.services.admin.rotateClientToken(request.params.id, request.body.graceSeconds),
    );
    app.post('/purge', { schema: { hide: true } }, async () =>
      deps.services.admin.purge(deps.config.softDeleteRetentionDays),
    );
  };
