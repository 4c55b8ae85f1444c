/** /api/v1/webhooks: the tenant's webhook endpoints, secret rotation, test sends and the attempt log. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EVENT_TYPES } from '../../../services/events.ts';
import {
  ATTEMPT_STATUSES,
  DEFAULT_GRACE_SECONDS,
  MAX_GRACE_SECONDS,
} from '../../../services/webhooks.service.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, EXAMPLE_ID, EXAMPLE_IDS, idParams, page, pageQuery, queryBool } from '../../schemas.ts';

const EXAMPLE_URL = 'https://api.example.com/hooks/fcm';
const EXAMPLE_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw0C7hxqVqXDk=';
const EXAMPLE_EVENT_ID = 'evt_0193e1b27c4a7d1e9a513f2a4b5c6d7e';

const urlField = z.url().max(2048).meta({
  description: 'Where events are POSTed: https:// (http:// only where the server allows it), a public host',
  example: EXAMPLE_URL,
});
const eventTypesField = z
  .array(z.enum(EVENT_TYPES))
  .max(EVENT_TYPES.length * 2)
  .meta({
    description: 'Event types to receive; empty or absent: all of them',
    example: ['notification.failed', 'notification.read'],
  });
const descriptionField = z.string().max(1024);

const WEBHOOK_EXAMPLE = {
  id: EXAMPLE_IDS.webhook,
  url: EXAMPLE_URL,
  description: 'Delivery reports for the order service',
  event_types: ['notification.failed', 'notification.read'],
  is_active: true,
  disabled_reason: null,
  disabled_at: null,
  consecutive_failures: 0,
  last_success_at: null,
  last_failure_at: null,
  previous_secret_expires_at: null,
  created_at: '2026-11-25T09:30:00.000Z',
  updated_at: '2026-11-25T09:30:00.000Z',
};

const webhookSchema = z
  .object({
    id: z.uuid().meta({ example: EXAMPLE_ID }),
    url: z.string().meta({ example: EXAMPLE_URL }),
    description: z.string().nullable(),
    event_types: z.array(z.string()).meta({ example: ['notification.failed', 'notification.read'] }),
    is_active: z.boolean(),
    disabled_reason: z.string().nullable().meta({
      description: 'consecutive_failures (switched off by the server) or disabled_by_client',
    }),
    disabled_at: z.string().nullable(),
    consecutive_failures: z.number().int(),
    last_success_at: z.string().nullable(),
    last_failure_at: z.string().nullable(),
    previous_secret_expires_at: z.string().nullable().meta({
      description:
        'Until then messages carry a second signature made with the secret before the last rotation',
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Webhook', example: WEBHOOK_EXAMPLE });

const withSecret = webhookSchema
  .extend({
    secret: z.string().meta({
      description:
        'The signing secret (Standard Webhooks whsec_ format). Shown in this reply only: store it now',
      example: EXAMPLE_SECRET,
    }),
  })
  .meta({ id: 'WebhookWithSecret', example: { ...WEBHOOK_EXAMPLE, secret: EXAMPLE_SECRET } });

const attemptStatus = z.enum(ATTEMPT_STATUSES);

export const attemptSchema = z
  .object({
    id: z.string().meta({ example: '1042' }),
    endpoint_id: z.uuid().meta({ description: 'The webhook endpoint the attempt went to' }),
    event_id: z.string().meta({ example: EXAMPLE_EVENT_ID }),
    event_type: z.string().meta({ example: 'notification.sent' }),
    attempt: z.number().int().meta({ example: 1 }),
    status: attemptStatus.meta({
      description: 'failed: another attempt follows at next_attempt_at; exhausted: none follows',
    }),
    response_status: z.number().int().nullable().meta({ example: 503 }),
    error: z.string().nullable().meta({ example: 'HTTP 503: upstream unavailable' }),
    duration_ms: z.number().int().nullable(),
    next_attempt_at: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({
    id: 'WebhookAttempt',
    example: {
      id: '1042',
      endpoint_id: EXAMPLE_IDS.webhook,
      event_id: EXAMPLE_EVENT_ID,
      event_type: 'notification.failed',
      attempt: 2,
      status: 'failed',
      response_status: 503,
      error: 'HTTP 503: upstream unavailable',
      duration_ms: 182,
      next_attempt_at: '2026-11-25T09:32:00.000Z',
      created_at: '2026-11-25T09:30:00.000Z',
    },
  });

export const webhookRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/webhooks',
      {
        // Not idempotent on purpose: the reply holds the secret, which must not be stored for replays.
        config: { scope: 'manage' },
        schema: {
          operationId: 'createWebhook',
          tags: ['webhooks'],
          summary: 'Register a webhook endpoint (the reply holds its signing secret, shown once)',
          body: z
            .strictObject({
              url: urlField,
              description: descriptionField.optional(),
              event_types: eventTypesField.optional(),
            })
            .meta({
              examples: [
                {
                  url: EXAMPLE_URL,
                  description: 'Delivery reports for the order service',
                  event_types: ['notification.failed', 'notification.read'],
                },
              ],
            }),
          response: { 201: withSecret, 422: errorSchema, ...authErrors },
        },
      },
      async (request, reply) =>
        reply
          .code(201)
          .send(await services.webhooks.createWebhook(principalOf(request).clientId, request.body)),
    );

    app.get(
      '/webhooks',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listWebhooks',
          tags: ['webhooks'],
          summary: 'List webhook endpoints',
          querystring: z.strictObject({
            ...pageQuery,
            active: queryBool.optional().meta({ description: 'Only active (true) or disabled (false) ones' }),
          }),
          response: { 200: page(webhookSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, active } = request.query;
        return services.webhooks.listWebhooks(principalOf(request).clientId, { active }, limit, cursor);
      },
    );

    app.get(
      '/webhooks/:id',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getWebhook',
          tags: ['webhooks'],
          summary: 'Get a webhook endpoint',
          params: idParams,
          response: { 200: webhookSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) => services.webhooks.getWebhook(principalOf(request).clientId, request.params.id),
    );

    app.put(
      '/webhooks/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'updateWebhook',
          tags: ['webhooks'],
          summary:
            'Update a webhook endpoint (fields not sent are kept; is_active true resets the failure count)',
          params: idParams,
          body: z
            .strictObject({
              url: urlField.optional(),
              description: descriptionField.nullable().optional(),
              event_types: eventTypesField.optional(),
              is_active: z.boolean().optional(),
            })
            .meta({ examples: [{ event_types: [], is_active: true }] }),
          response: { 200: webhookSchema, 404: errorSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request) =>
        services.webhooks.updateWebhook(principalOf(request).clientId, request.params.id, request.body),
    );

    app.delete(
      '/webhooks/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'deleteWebhook',
          tags: ['webhooks'],
          summary: 'Delete a webhook endpoint and its attempt log',
          params: idParams,
          response: { 204: z.null(), 404: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        await services.webhooks.deleteWebhook(principalOf(request).clientId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/webhooks/:id/rotate-secret',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'rotateWebhookSecret',
          tags: ['webhooks'],
          summary: 'Replace the signing secret; the old one keeps signing alongside it for the grace period',
          params: idParams,
          body: z
            .strictObject({
              grace_seconds: z
                .number()
                .int()
                .min(0)
                .max(MAX_GRACE_SECONDS)
                .optional()
                .meta({
                  description: `How long the old secret keeps signing (0 to ${MAX_GRACE_SECONDS}, default ${DEFAULT_GRACE_SECONDS})`,
                  example: 3600,
                }),
            })
            // No body at all arrives as null.
            .nullish()
            .meta({ examples: [{ grace_seconds: 3600 }] }),
          response: { 200: withSecret, 404: errorSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request) =>
        services.webhooks.rotateWebhookSecret(
          principalOf(request).clientId,
          request.params.id,
          request.body?.grace_seconds,
        ),
    );

    app.post(
      '/webhooks/:id/test',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'testWebhook',
          tags: ['webhooks'],
          summary: 'Send a webhook.test event to this endpoint now (delivered and retried like any event)',
          params: idParams,
          response: {
            202: z
              .object({ event_id: z.string(), webhook_id: z.uuid() })
              .meta({ example: { event_id: EXAMPLE_EVENT_ID, webhook_id: EXAMPLE_ID } }),
            404: errorSchema,
            409: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request, reply) =>
        reply
          .code(202)
          .send(await services.webhooks.sendTestEvent(principalOf(request).clientId, request.params.id)),
    );

    app.get(
      '/webhooks/:id/deliveries',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listWebhookDeliveries',
          tags: ['webhooks'],
          summary: 'The delivery attempts to this endpoint, newest first',
          params: idParams,
          querystring: z.strictObject({ ...pageQuery, status: attemptStatus.optional() }),
          response: { 200: page(attemptSchema), 400: errorSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) =>
        services.webhooks.listWebhookAttempts(
          principalOf(request).clientId,
          request.params.id,
          request.query,
        ),
    );
  };
