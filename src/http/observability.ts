/** The HTTP side of observability: request metrics by route pattern, and GET /metrics for Prometheus. */
import type { FastifyInstance, FastifySchema } from 'fastify';
import { z } from 'zod';
import { metricsAccess } from '../observability/metrics-server.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { errorBody, errorSchema } from './errors.ts';

const METRICS_EXAMPLE =
  '# HELP fcms_deliveries_total Deliveries settled by a send attempt, by final status (sent, failed, dead) ' +
  'and platform\n# TYPE fcms_deliveries_total counter\nfcms_deliveries_total{status="sent",platform="android"} 42\n';

const metricsSchema: FastifySchema = {
  operationId: 'getMetrics',
  tags: ['metrics'],
  summary: 'Prometheus metrics of this process (text exposition format)',
  description:
    'Loopback callers only, unless METRICS_TOKEN is set: then any caller presenting it as a bearer token. ' +
    'A `worker` process serves the same document on METRICS_PORT.',
  security: [{ metricsToken: [] }, {}],
  response: {
    200: {
      description: 'The metrics, in the Prometheus text format',
      content: { 'text/plain': { schema: z.string().meta({ example: METRICS_EXAMPLE }) } },
    },
    401: errorSchema,
    403: errorSchema,
  },
};

export function registerObservability(
  app: FastifyInstance,
  deps: Pick<ServiceDeps, 'metrics' | 'config'>,
): void {
  const { metrics } = deps;
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL, keeps the label set bounded.
    metrics.httpRequest(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.get('/metrics', { schema: metricsSchema }, async (request, reply) => {
    const access = metricsAccess(
      request.socket.remoteAddress,
      request.headers.authorization,
      deps.config.metrics.token,
    );
    if (access === 'unauthorized') {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send(errorBody('invalid_credentials', 'send Authorization: Bearer <METRICS_TOKEN>', [], request.id));
    }
    if (access === 'forbidden') {
      const message =
        'metrics are served to loopback callers only; set METRICS_TOKEN to scrape from elsewhere';
      return reply.code(403).send(errorBody('forbidden', message, [], request.id));
    }
    return reply.header('content-type', metrics.contentType).send(await metrics.scrape());
  });
}
