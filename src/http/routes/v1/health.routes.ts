/**
 * GET /api/v1/health: liveness (the process answers; no dependency is touched). GET /api/v1/health/ready:
 * readiness (database, queue, Redis, FCM), 503 when a required dependency is down. No credentials needed.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';

const status = z.enum(['ok', 'degraded', 'down']);
const check = z.object({
  status,
  latency_ms: z.number(),
  error: z.string().optional().meta({ description: 'Why the check is not ok, in a few words' }),
});

const livenessSchema = z
  .object({ status: z.literal('ok'), uptime_seconds: z.number() })
  .meta({ id: 'Liveness', example: { status: 'ok', uptime_seconds: 3600 } });

const readinessSchema = z
  .object({
    status: status.meta({
      description: 'down (503) when the database or the queue is down; degraded when only Redis or FCM is',
    }),
    checks: z.object({
      database: check,
      queue: check.extend({
        waiting: z.number().int().optional().meta({ description: 'Jobs that could run now' }),
        oldest_job_age_seconds: z.number().optional().meta({
          description: 'How long the oldest of them has waited; degraded beyond 300 s',
        }),
      }),
      redis: check.optional().meta({ description: 'Present when REDIS_URL is set' }),
      fcm: check
        .extend({
          cached: z.boolean().meta({ description: 'The result is reused (checked at most every 30 s)' }),
        })
        .optional()
        .meta({
          description:
            'Present when there is a server-wide service account: an access token is minted (or reused) for it',
        }),
      fcm_sends: check
        .extend({
          circuits: z
            .array(
              z.object({
                project: z.string(),
                state: z.enum(['closed', 'open', 'half_open']),
                consecutive_failures: z.number().int(),
                open_until: z.string().nullable(),
              }),
            )
            .meta({
              description: 'Firebase projects this process sent to recently, with their circuit state',
            }),
        })
        .meta({
          description:
            "What this process's sends see: down when every recently used project's circuit is open, degraded " +
            'when some are or failures are building up (FCM unreachable: sends wait and retry, the API keeps accepting)',
        }),
    }),
  })
  .meta({
    id: 'Readiness',
    example: {
      status: 'ok',
      checks: {
        database: { status: 'ok', latency_ms: 1.2 },
        queue: { status: 'ok', latency_ms: 2.1, waiting: 0, oldest_job_age_seconds: 0 },
        redis: { status: 'ok', latency_ms: 0.6 },
        fcm: { status: 'ok', latency_ms: 0.1, cached: true },
        fcm_sends: { status: 'ok', latency_ms: 0, circuits: [] },
      },
    },
  });

export const healthRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const probe = services.health;
    app.addHook('onClose', () => probe.close());

    app.get(
      '/health',
      {
        schema: {
          operationId: 'getHealth',
          tags: ['health'],
          summary: 'Liveness: 200 while the process runs (checks no dependency)',
          response: { 200: livenessSchema, 500: errorSchema },
        },
      },
      async () => ({ status: 'ok' as const, uptime_seconds: Math.round(process.uptime()) }),
    );

    app.get(
      '/health/ready',
      {
        schema: {
          operationId: 'getReadiness',
          tags: ['health'],
          summary: 'Readiness: database, queue, Redis and FCM, each with its latency',
          description:
            'Use it to decide whether to route traffic to this process. 503 when a required dependency ' +
            '(database, queue) is down; 200 with status degraded when only an optional one (Redis, FCM) is, ' +
            'or when the queue has a backlog older than 300 s.',
          response: { 200: readinessSchema, 503: readinessSchema },
        },
      },
      async (_request, reply) => {
        const readiness = await probe.check();
        return reply.code(readiness.status === 'down' ? 503 : 200).send(readiness);
      },
    );
  };
