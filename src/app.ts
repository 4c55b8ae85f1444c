/** buildApp(deps): the Fastify app with every route, error handling and the OpenAPI docs. It never listens. */
import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { registerAudit } from './http/audit.ts';
import { registerAuth } from './http/auth.ts';
import type { RouteDeps } from './http/context.ts';
import { answerClientError, registerErrorHandling } from './http/errors.ts';
import { closeEventSockets, selectProtocol } from './http/event-socket.ts';
import { registerIdempotency } from './http/idempotency.ts';
import { registerJsonBodyParser } from './http/json-body.ts';
import { RequestLogController, registerObservability } from './http/observability.ts';
import { openApiOptions } from './http/openapi.ts';
import { registerRateLimits } from './http/rate-limit.ts';
import { dashboardRoutes } from './http/routes/dashboard.routes.ts';
import { internalRoutes } from './http/routes/internal.routes.ts';
import { analyticsRoutes } from './http/routes/v1/analytics.routes.ts';
import { auditLogRoutes } from './http/routes/v1/audit-logs.routes.ts';
import { clientRoutes } from './http/routes/v1/clients.routes.ts';
import { deadLetterRoutes } from './http/routes/v1/dead-letters.routes.ts';
import { deviceImportRoutes } from './http/routes/v1/device-import.routes.ts';
import { deviceRoutes } from './http/routes/v1/devices.routes.ts';
import { eventStreamRoutes } from './http/routes/v1/event-stream.routes.ts';
import { firebaseProjectRoutes } from './http/routes/v1/firebase-projects.routes.ts';
import { frequencyCapRoutes } from './http/routes/v1/frequency-caps.routes.ts';
import { healthRoutes } from './http/routes/v1/health.routes.ts';
import { notificationRoutes } from './http/routes/v1/notifications.routes.ts';
import { notifyRoutes } from './http/routes/v1/notify.routes.ts';
import { profileRoutes } from './http/routes/v1/profiles.routes.ts';
import { receiptRoutes } from './http/routes/v1/receipts.routes.ts';
import { registrationTokenRoutes } from './http/routes/v1/registration-tokens.routes.ts';
import { sandboxRoutes } from './http/routes/v1/sandbox.routes.ts';
import { scheduleRoutes } from './http/routes/v1/schedules.routes.ts';
import { settingsRoutes } from './http/routes/v1/settings.routes.ts';
import { templateRoutes } from './http/routes/v1/templates.routes.ts';
import { topicRoutes } from './http/routes/v1/topics.routes.ts';
import { webhookRoutes } from './http/routes/v1/webhooks.routes.ts';
import { documentErrorStatuses } from './http/schemas.ts';
import { DOCS_CSP, registerHttpSecurity } from './http/security.ts';
import type { ServiceDeps } from './services/deps.ts';
import { createServices } from './services/index.ts';

/** A caller's X-Request-ID is kept when it is 1–128 visible ASCII characters; otherwise one is generated. */
const REQUEST_ID = /^[\x21-\x7E]{1,128}$/;

/** The process's dependencies: the app binds the services to them, and its routes see only those services. */
export interface AppDeps extends ServiceDeps {
  /** Shared rate-limit counters (REDIS_URL); in-process when absent. */
  rateLimitRedis?: Redis | undefined;
  /** The secret of the CLI's internal admin routes; without one they are not registered. */
  internalSecret?: string | undefined;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const services = createServices(deps);
  const routeDeps: RouteDeps = { services, config: deps.config };
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.config.bodyLimitBytes,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 200 },
    requestIdHeader: false,
    logController: new RequestLogController({ requestIdLogLabel: 'request_id' }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Reject before routing what the router cannot even parse, in our error format.
    frameworkErrors: (_error, request, reply) => {
      // No onRequest hook runs for these, so the request id header is set here.
      (reply as unknown as FastifyReply)
        .code(400)
        .header('x-request-id', request.id)
        .send({
          error: {
            code: 'bad_request',
            message: 'the request URL is not valid',
            details: [],
            request_id: request.id,
          },
        });
    },
    // What Node's HTTP parser refuses before there is a request (431, 414, a bad request line), in our format.
    clientErrorHandler: answerClientError,
    // request.ip comes from X-Forwarded-For only when the peer is one of TRUSTED_PROXIES.
    trustProxy: deps.config.trustedProxies.length > 0 ? [...deps.config.trustedProxies] : false,
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: anything else is a 415 in our error format.
  app.removeContentTypeParser(['text/plain']);
  registerJsonBodyParser(app);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // Before @fastify/swagger's own onRoute hook reads the schemas.
  app.addHook('onRoute', documentErrorStatuses);

  registerErrorHandling(app, (error, request) =>
    deps.errors.capture(error, {
      request_id: request.id,
      tenant_id: request.principal?.clientId,
      route: request.routeOptions.url,
      method: request.method,
    }),
  );
  // Before the first route it documents (/metrics): @fastify/swagger sees routes added after it.
  await app.register(swagger, openApiOptions({ sandbox: services.sandbox !== undefined }));
  registerObservability(app, deps);
  await registerHttpSecurity(app, deps.config);
  registerAuth(app, services);
  // After authentication (keys on the tenant), before idempotency and handlers (rejects before any work).
  await registerRateLimits(app, {
    limits: deps.config.rateLimits,
    redis: deps.rateLimitRedis,
    keyPrefix: deps.config.redisKeyPrefix,
  });
  registerAudit(app, services);
  registerIdempotency(app, services);

  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/docs', 302));

  if (deps.config.dashboard) await app.register(dashboardRoutes(), { prefix: '/dashboard' });
  if (deps.internalSecret)
    await app.register(internalRoutes(routeDeps, deps.internalSecret), { prefix: '/internal' });
  await app.register(websocket, {
    // Clients send nothing but control frames; a token-carrying subprotocol is never echoed back.
    options: { maxPayload: 4096, handleProtocols: selectProtocol },
    preClose: () => closeEventSockets(app.websocketServer),
  });
  await app.register(
    async (v1) => {
      for (const routes of [
        healthRoutes,
        firebaseProjectRoutes,
        profileRoutes,
        topicRoutes,
        deviceRoutes,
        deviceImportRoutes,
        registrationTokenRoutes,
        notifyRoutes,
        notificationRoutes,
        deadLetterRoutes,
        scheduleRoutes,
        receiptRoutes,
        templateRoutes,
        frequencyCapRoutes,
        analyticsRoutes,
        webhookRoutes,
        eventStreamRoutes,
        clientRoutes,
        auditLogRoutes,
        sandboxRoutes,
        settingsRoutes,
      ]) {
        await v1.register(routes(routeDeps));
      }
    },
    { prefix: '/api/v1' },
  );
  return app;
}
