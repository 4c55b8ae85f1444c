/** GET /api/v1/health: liveness plus a database check (no credentials needed). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ping } from '../../../db/client.ts';
import type { RouteDeps } from '../../context.ts';

const check = z.object({ status: z.enum(['ok', 'down']), latency_ms: z.number() });
const healthSchema = z
  .object({ status: z.enum(['ok', 'degraded', 'down']), checks: z.object({ database: check }) })
  .meta({ id: 'Health', example: { status: 'ok', checks: { database: { status: 'ok', latency_ms: 1.2 } } } });

export const healthRoutes =
  (deps: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/health',
      {
        schema: {
          tags: ['health'],
          summary: 'Health check',
          response: { 200: healthSchema, 503: healthSchema },
        },
      },
      async (_request, reply) => {
        const started = performance.now();
        let database: z.infer<typeof check>;
        try {
          await ping(deps.db);
          database = { status: 'ok', latency_ms: Math.round(performance.now() - started) };
        } catch {
          database = { status: 'down', latency_ms: Math.round(performance.now() - started) };
        }
        const ok = database.status === 'ok';
        return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'down', checks: { database } });
      },
    );
  };
