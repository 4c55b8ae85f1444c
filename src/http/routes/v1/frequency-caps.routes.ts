/** /api/v1/frequency-caps: the tenant's frequency caps, which the fan-out applies to every send not bypassing them. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { DURATION_PATTERN } from '../../../lib/durations.ts';
import { templateRefSchema, topicName } from '../../../services/send-request.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, EXAMPLE_IDS, idParams, page, pageQuery } from '../../schemas.ts';

const capFields = {
  max: z
    .int()
    .min(1)
    .max(1000)
    .meta({ description: 'At most this many notifications in the window', example: 3 }),
  per: z
    .string()
    .regex(DURATION_PATTERN, 'must be a number followed by m, h or d (e.g. 24h)')
    .meta({ description: 'The rolling window: 1m to 30d', example: '24h' }),
  scope: z.enum(['profile', 'device']).meta({
    description:
      'profile: counted over all active devices of the profile (a device without a profile counts alone); ' +
      'device: per device',
  }),
  topic: topicName
    .nullable()
    .meta({ description: 'Only sends to this topic (by name) count and are capped', example: 'promotions' }),
  template: templateRefSchema.nullable().meta({
    description: 'Only sends with this template (by name) count and are capped',
    example: 'weekly-digest',
  }),
};

const capSchema = z
  .object({
    id: z.uuid(),
    max: z.int(),
    per: z.string(),
    scope: capFields.scope,
    topic: z.string().nullable(),
    template: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    id: 'FrequencyCap',
    example: {
      id: EXAMPLE_IDS.frequencyCap,
      max: 3,
      per: '24h',
      scope: 'profile',
      topic: null,
      template: null,
      created_at: '2026-11-25T09:30:00.000Z',
      updated_at: '2026-11-25T09:30:00.000Z',
    },
  });

const createInput = z.strictObject({
  max: capFields.max,
  per: capFields.per,
  scope: capFields.scope.optional().meta({ description: 'Default profile' }),
  topic: capFields.topic.optional(),
  template: capFields.template.optional(),
});

const changeInput = z.strictObject({
  max: capFields.max.optional(),
  per: capFields.per.optional(),
  scope: capFields.scope.optional(),
  topic: capFields.topic.optional(),
  template: capFields.template.optional(),
});

export const frequencyCapRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/frequency-caps',
      {
        config: { scope: 'manage', idempotent: true },
        schema: {
          operationId: 'createFrequencyCap',
          tags: ['frequency caps'],
          summary: 'Create a frequency cap',
          description:
            'At most `max` notifications per profile (or device) per rolling window `per`, optionally only for ' +
            'sends to one topic or with one template. Deliveries over a cap are recorded skipped with ' +
            'error_code frequency_cap; sends with bypass_frequency_cap: true are neither capped nor counted.',
          body: createInput.meta({
            examples: [{ max: 3, per: '24h', scope: 'profile' }],
          }),
          response: { 201: capSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request, reply) =>
        reply
          .code(201)
          .send(await services.frequencyCaps.createFrequencyCap(principalOf(request).clientId, request.body)),
    );

    app.get(
      '/frequency-caps',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listFrequencyCaps',
          tags: ['frequency caps'],
          summary: 'List frequency caps',
          querystring: z.strictObject(pageQuery),
          response: { 200: page(capSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) =>
        services.frequencyCaps.listFrequencyCapPage(
          principalOf(request).clientId,
          request.query.limit,
          request.query.cursor,
        ),
    );

    app.get(
      '/frequency-caps/:id',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getFrequencyCap',
          tags: ['frequency caps'],
          summary: 'Get a frequency cap',
          params: idParams,
          response: { 200: capSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) =>
        services.frequencyCaps.getFrequencyCap(principalOf(request).clientId, request.params.id),
    );

    app.patch(
      '/frequency-caps/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'updateFrequencyCap',
          tags: ['frequency caps'],
          summary: 'Change a frequency cap (only the fields given; null clears topic or template)',
          params: idParams,
          body: changeInput.meta({ examples: [{ max: 5, per: '12h' }] }),
          response: { 200: capSchema, 404: errorSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request) =>
        services.frequencyCaps.changeFrequencyCap(
          principalOf(request).clientId,
          request.params.id,
          request.body,
        ),
    );

    app.delete(
      '/frequency-caps/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'deleteFrequencyCap',
          tags: ['frequency caps'],
          summary: 'Delete a frequency cap',
          params: idParams,
          response: { 204: z.null(), 404: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        await services.frequencyCaps.deleteFrequencyCap(principalOf(request).clientId, request.params.id);
        return reply.code(204).send(null);
      },
    );
  };
