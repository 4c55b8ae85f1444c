/**
 * The HTTP side of observability: one log line and the metrics per request, by route pattern, and GET /metrics
 * for Prometheus.
 */
import {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchema,
  LogController,
} from 'fastify';
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

/** Probes and scrapes come every few seconds: their request lines are at debug unless they fail. */
const ROUTINE_ROUTES: ReadonlySet<string> = new Set(['/metrics', '/api/v1/health', '/api/v1/health/ready']);

/**
 * Fastify's per-request pair (`incoming request`, `request completed`) gives way to the one line below: the
 * incoming one drops to debug, the completed one is left out unless the response itself failed (a stream
 * error). Fastify's other request logs (stream, serializer and writeHead errors) stay as they are.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (error) super.requestCompleted(error, request, reply, metadata);
  }
}

export function registerObservability(
  app: FastifyInstance,
  deps: Pick<ServiceDeps, 'metrics' | 'config'>,
): void {
  const { metrics } = deps;
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL: it keeps the label set bounded, and ids, tokens a client put in a
    // wrong path, and query strings out of the logs.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    // In place of Fastify's incoming/completed pair: one line, with client_id bound once authenticated.
    const durationMs = Math.round(reply.elapsedTime * 10) / 10;
    const routine = ROUTINE_ROUTES.has(route) && reply.statusCode < 400;
    request.log[routine ? 'debug' : 'info'](
      { method: request.method, route, status: reply.statusCode, duration_ms: durationMs },
      `${request.method} ${route} ${reply.statusCode} ${durationMs}ms`,
    );
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
