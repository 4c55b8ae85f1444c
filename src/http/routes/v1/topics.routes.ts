/** /api/v1/topics: CRUD of the tenant's topics, subscribing and unsubscribing devices and profiles, subscribers. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { platformSchema } from '../../../domain/platform.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, EXAMPLE_IDS, idParams, page, pageQuery } from '../../schemas.ts';

/** FCM's topic-name alphabet. */
const TOPIC_NAME = /^[A-Za-z0-9_.~%-]+$/;
const TOPIC_NAME_MESSAGE = 'must be 1-255 characters of a-z A-Z 0-9 - _ . ~ %';
const MAX_IDS = 1000;

const topicSchema = z
  .object({
    id: z.uuid(),
    name: z.string().meta({ example: 'sports.football' }),
    description: z.string().nullable().meta({ example: 'Football scores and match alerts' }),
    subscriber_count: z.int().min(0).meta({ description: 'Active, not-deleted devices subscribed' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    id: 'Topic',
    example: {
      id: EXAMPLE_IDS.topic,
      name: 'sports.football',
      description: 'Football scores and match alerts',
      subscriber_count: 1250,
      created_at: '2026-11-25T09:30:00.000Z',
      updated_at: '2026-11-25T09:30:00.000Z',
    },
  });

const topicInput = z.strictObject({
  name: z.string().min(1).max(255).regex(TOPIC_NAME, TOPIC_NAME_MESSAGE).meta({ example: 'sports.football' }),
  description: z
    .string()
    .max(1024)
    .nullable()
    .optional()
    .meta({ example: 'Football scores and match alerts' }),
});

const idList = (description: string) =>
  z
    .array(z.uuid())
    .max(MAX_IDS)
    .optional()
    .meta({ description, example: [EXAMPLE_IDS.device] });

const membersInput = z
  .strictObject({
    device_ids: idList('Devices, by id'),
    profile_ids: idList('Profiles, by id: stands for the devices of each profile'),
  })
  .superRefine((value, ctx) => {
    const total = (value.device_ids?.length ?? 0) + (value.profile_ids?.length ?? 0);
    if (total === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['device_ids'],
        message: 'give at least one id in device_ids or profile_ids',
      });
    } else if (total > MAX_IDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['device_ids'],
        message: `give at most ${MAX_IDS} ids in device_ids and profile_ids together`,
      });
    }
  })
  .meta({ description: `device_ids and/or profile_ids: at least one id, at most ${MAX_IDS} together` });

const notFoundSchema = z.object({ device_ids: z.array(z.uuid()), profile_ids: z.array(z.uuid()) }).meta({
  id: 'TopicMembersNotFound',
  description:
    'Given ids the tenant has no (or no longer any) device or profile for: nothing was done for them',
});

const subscribeResultSchema = z
  .object({
    subscribed: z.int().min(0).meta({ description: 'Devices newly subscribed' }),
    already_subscribed: z.int().min(0).meta({ description: 'Devices that were subscribed already' }),
    not_found: notFoundSchema,
    inactive_device_ids: z.array(z.uuid()).meta({
      description:
        'Given device_ids of deactivated devices: not subscribed (a profile stands only for its active devices)',
    }),
  })
  .meta({
    id: 'TopicSubscribeResult',
    example: {
      subscribed: 2,
      already_subscribed: 1,
      not_found: { device_ids: ['01a212bb-37a6-777f-9db8-f27ee71d0fe4'], profile_ids: [] },
      inactive_device_ids: [],
    },
  });

const unsubscribeResultSchema = z
  .object({
    unsubscribed: z.int().min(0).meta({ description: 'Subscriptions removed' }),
    not_subscribed: z.int().min(0).meta({ description: 'Devices that were not subscribed' }),
    not_found: notFoundSchema,
  })
  .meta({
    id: 'TopicUnsubscribeResult',
    example: { unsubscribed: 2, not_subscribed: 0, not_found: { device_ids: [], profile_ids: [] } },
  });

const subscriberSchema = z
  .object({
    device_id: z.uuid(),
    profile_id: z.uuid().nullable(),
    platform: platformSchema,
    subscribed_at: z.string(),
  })
  .meta({
    id: 'TopicSubscriber',
    example: {
      device_id: '0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b',
      profile_id: '0193e1b3-0a11-7c55-9e01-77aa88bb99cc',
      platform: 'android',
      subscribed_at: '2026-11-25T09:30:00.000Z',
    },
  });

/** Subscribe and unsubscribe take the same request and differ in what they answer. */
const membershipOptions = <Result extends z.ZodType>(
  operationId: string,
  members: z.input<typeof membersInput>,
  summary: string,
  description: string,
  result: Result,
) => ({
  config: { scope: 'manage' as const },
  schema: {
    operationId,
    tags: ['topics'],
    summary,
    description,
    params: idParams,
    body: membersInput.meta({ examples: [members] }),
    response: { 200: result, 404: errorSchema, 422: errorSchema, ...authErrors },
  },
});

export const topicRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/topics',
      {
        config: { scope: 'manage', idempotent: true },
        schema: {
          operationId: 'createTopic',
          tags: ['topics'],
          summary: 'Create a topic',
          body: topicInput.meta({
            examples: [{ name: 'sports.football', description: 'Football scores and match alerts' }],
          }),
          response: { 201: topicSchema, 409: errorSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request, reply) =>
        reply.code(201).send(await services.topics.createTopic(principalOf(request).clientId, request.body)),
    );

    app.get(
      '/topics',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listTopics',
          tags: ['topics'],
          summary: 'List topics',
          querystring: z.strictObject({
            ...pageQuery,
            name_prefix: z
              .string()
              .max(255)
              .regex(TOPIC_NAME, TOPIC_NAME_MESSAGE)
              .optional()
              .meta({ description: 'Only topics whose name starts with this', example: 'sports.' }),
          }),
          response: { 200: page(topicSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, name_prefix } = request.query;
        return services.topics.listTopicPage(
          principalOf(request).clientId,
          { namePrefix: name_prefix },
          limit,
          cursor,
        );
      },
    );

    app.get(
      '/topics/:id',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getTopic',
          tags: ['topics'],
          summary: 'Get a topic',
          params: idParams,
          response: { 200: topicSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) => services.topics.getTopic(principalOf(request).clientId, request.params.id),
    );

    app.put(
      '/topics/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'updateTopic',
          tags: ['topics'],
          summary: 'Replace a topic (a description not sent is cleared)',
          params: idParams,
          body: topicInput.meta({
            examples: [{ name: 'sports.football', description: 'Scores, line-ups and match alerts' }],
          }),
          response: {
            200: topicSchema,
            404: errorSchema,
            409: errorSchema,
            422: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request) =>
        services.topics.replaceTopic(principalOf(request).clientId, request.params.id, request.body),
    );

    app.delete(
      '/topics/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'deleteTopic',
          tags: ['topics'],
          summary: 'Delete a topic and its subscriptions',
          params: idParams,
          response: { 204: z.null(), 404: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        await services.topics.deleteTopic(principalOf(request).clientId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/topics/:id/subscribe',
      membershipOptions(
        'subscribeToTopic',
        { device_ids: [EXAMPLE_IDS.device], profile_ids: [EXAMPLE_IDS.profile] },
        'Subscribe devices, and the active devices of profiles, to a topic',
        'Idempotent: devices already subscribed are counted, not duplicated. Unknown ids are reported ' +
          'under not_found and deactivated devices under inactive_device_ids; neither is an error.',
        subscribeResultSchema,
      ),
      async (request) =>
        services.topics.subscribe(principalOf(request).clientId, request.params.id, request.body),
    );

    app.post(
      '/topics/:id/unsubscribe',
      membershipOptions(
        'unsubscribeFromTopic',
        { device_ids: [EXAMPLE_IDS.device] },
        'Unsubscribe devices, and all devices of profiles, from a topic',
        'Deactivated devices are unsubscribed too. Unknown ids are reported under not_found, not an error.',
        unsubscribeResultSchema,
      ),
      async (request) =>
        services.topics.unsubscribe(principalOf(request).clientId, request.params.id, request.body),
    );

    app.get(
      '/topics/:id/subscribers',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listTopicSubscribers',
          tags: ['topics'],
          summary: 'List the active devices subscribed to a topic',
          params: idParams,
          querystring: z.strictObject(pageQuery),
          response: { 200: page(subscriberSchema), 400: errorSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        return services.topics.listSubscriberPage(
          principalOf(request).clientId,
          request.params.id,
          limit,
          cursor,
        );
      },
    );
  };
