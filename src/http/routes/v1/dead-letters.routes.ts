/** /api/v1/dead-letters: deliveries that ended dead, to review, requeue or discard. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { platformSchema } from '../../../domain/platform.ts';
import type { DeadLetterFilter } from '../../../services/dead-letters.service.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, EXAMPLE_ID, EXAMPLE_IDS, isoDate, page, pageQuery } from '../../schemas.ts';

const deliveryId = z.string().regex(/^[1-9]\d{0,18}$/, 'must be a delivery id');

const deadLetterSchema = z
  .object({
    id: z.string(),
    notification_id: z.uuid(),
    device_id: z.uuid(),
    platform: platformSchema,
    attempts: z.number(),
    error_code: z.string().nullable(),
    error_message: z.string().nullable(),
    failed_at: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({
    id: 'DeadLetter',
    example: {
      id: '1042',
      notification_id: EXAMPLE_ID,
      device_id: '0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b',
      platform: 'android',
      attempts: 5,
      error_code: 'UNAVAILABLE',
      error_message: 'The service is currently unavailable.',
      failed_at: '2026-11-25T09:45:00.000Z',
      created_at: '2026-11-25T09:30:00.000Z',
    },
  });

const filterFields = {
  notification_id: z.uuid().optional(),
  error_code: z.string().min(1).max(64).optional().meta({ example: 'UNAVAILABLE' }),
  platform: platformSchema.optional(),
  failed_from: isoDate.optional().meta({ description: 'failed_at at or after this time' }),
  failed_to: isoDate.optional().meta({ description: 'failed_at before this time' }),
};

const toFilter = (input: z.infer<z.ZodObject<typeof filterFields>>): DeadLetterFilter => ({
  notificationId: input.notification_id,
  errorCode: input.error_code,
  platform: input.platform,
  failedFrom: input.failed_from ? new Date(input.failed_from) : undefined,
  failedTo: input.failed_to ? new Date(input.failed_to) : undefined,
});

const exactlyOne =
  (...keys: string[]) =>
  (value: Record<string, unknown>) =>
    keys.filter((k) => value[k] !== undefined).length === 1;

const ids = z.array(deliveryId).min(1).max(1000);

const requeueBody = z
  .strictObject({
    ids: ids.optional(),
    notification_id: z.uuid().optional(),
    all: z
      .strictObject(filterFields)
      .optional()
      .meta({ description: 'every dead letter matching these filters' }),
  })
  .refine(exactlyOne('ids', 'notification_id', 'all'), {
    message: 'give exactly one of ids, notification_id, all',
    path: ['ids'],
  })
  .meta({ examples: [{ ids: [EXAMPLE_IDS.deadLetter] }] });

const discardBody = z
  .strictObject({ ids: ids.optional(), notification_id: z.uuid().optional() })
  .refine(exactlyOne('ids', 'notification_id'), {
    message: 'give exactly one of ids, notification_id',
    path: ['ids'],
  })
  .meta({ examples: [{ notification_id: EXAMPLE_IDS.notification }] });

const requeueResult = z
  .object({
    requeued: z.number(),
    notifications: z.number(),
    skipped_ids: z.array(z.string()),
    has_more: z.boolean(),
  })
  .meta({
    id: 'RequeueResult',
    example: { requeued: 2, notifications: 1, skipped_ids: [], has_more: false },
  });

const discardResult = z
  .object({ discarded: z.number(), skipped_ids: z.array(z.string()) })
  .meta({ id: 'DiscardResult', example: { discarded: 3, skipped_ids: [] } });

export const deadLetterRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/dead-letters',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listDeadLetters',
          tags: ['dead letters'],
          summary: 'List dead letters (deliveries that failed every attempt), newest first',
          querystring: z.strictObject({ ...pageQuery, ...filterFields }),
          response: { 200: page(deadLetterSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, ...filter } = request.query;
        return services.deadLetters.listDeadLetterPage(
          principalOf(request).clientId,
          toFilter(filter),
          limit,
          cursor,
        );
      },
    );

    app.get(
      '/dead-letters/:id',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getDeadLetter',
          tags: ['dead letters'],
          summary: 'Get a dead letter',
          params: z.object({ id: deliveryId.meta({ example: '1042' }) }),
          response: { 200: deadLetterSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) => services.deadLetters.getDeadLetter(principalOf(request).clientId, request.params.id),
    );

    app.post(
      '/dead-letters/requeue',
      {
        config: { scope: 'send', idempotent: true },
        schema: {
          operationId: 'requeueDeadLetters',
          tags: ['dead letters'],
          summary: 'Send dead letters again through the normal send path',
          description:
            'Attempts start over and the notification goes back to sending (its failed count drops by the ' +
            'requeued ones). Ids of other tenants, unknown ids and deliveries that are not dead are listed in ' +
            'skipped_ids. notification_id and all requeue up to 50,000 per call; has_more says to call again.',
          body: requeueBody,
          response: { 200: requeueResult, 404: errorSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { ids: given, notification_id, all } = request.body;
        const selection = given
          ? { ids: given }
          : notification_id
            ? { notificationId: notification_id }
            : { filter: toFilter(all ?? {}) };
        return services.deadLetters.requeue(principalOf(request).clientId, selection, request.id);
      },
    );

    app.post(
      '/dead-letters/discard',
      {
        config: { scope: 'manage', idempotent: true },
        schema: {
          operationId: 'discardDeadLetters',
          tags: ['dead letters'],
          summary: 'Give dead letters up: they become failed, with their error kept',
          body: discardBody,
          response: { 200: discardResult, 404: errorSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { ids: given, notification_id } = request.body;
        return services.deadLetters.discard(
          principalOf(request).clientId,
          given ? { ids: given } : { notificationId: notification_id! },
        );
      },
    );
  };
