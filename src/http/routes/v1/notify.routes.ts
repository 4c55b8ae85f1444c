/** POST /api/v1/notify: accept a notification (202) and send it in the background. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import {
  contentFields,
  controlFields,
  controlsConsistent,
  filtersSchema,
  previewBodySchema,
  sendBodySchema,
  silentShowsNothing,
  templateFields,
  topicName,
} from '../../../services/send-request.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, EXAMPLE_IDS } from '../../schemas.ts';

export const acceptedSchema = z
  .object({
    notification_id: z.uuid(),
    status: z.string().meta({ example: 'queued' }),
    status_url: z.string(),
    created_at: z.string(),
  })
  .meta({
    id: 'NotificationAccepted',
    example: {
      notification_id: EXAMPLE_IDS.notification,
      status: 'queued',
      status_url: `/api/v1/notifications/${EXAMPLE_IDS.notification}/status/`,
      created_at: '2026-11-25T09:30:00.000Z',
    },
  });

/** Re-exported for the template options schema, which takes the same fields. */
export { contentFields };

const idempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .max(255)
    .optional()
    .meta({ description: 'Makes retries safe: the first response to a key is replayed for 24 hours' }),
});

const sendErrors = {
  400: errorSchema,
  404: errorSchema,
  409: errorSchema,
  413: errorSchema,
  422: errorSchema,
  ...authErrors,
};

/** The 202 reply: where to follow the notification. */
function accepted(notification: { id: string; status: string; createdAt: Date }) {
  const statusUrl = `/api/v1/notifications/${notification.id}/status/`;
  return {
    statusUrl,
    body: {
      notification_id: notification.id,
      status: notification.status,
      status_url: statusUrl,
      created_at: notification.createdAt.toISOString(),
    },
  };
}

const topicSendBody = z
  .strictObject({
    ...contentFields,
    ...templateFields,
    ...controlFields,
    filters: filtersSchema.optional(),
  })
  .superRefine(silentShowsNothing)
  .superRefine(controlsConsistent);

/** Bulk targets are validated one by one (a bad phone number fails its target, not the request). */
const bulkTarget = z
  .strictObject({
    phone_number: z.string().max(64).optional(),
    profile_id: z.string().max(64).optional(),
    external_id: z.string().min(1).max(255).optional(),
    device_id: z.string().max(64).optional(),
    variables: templateFields.variables,
    data: contentFields.data.meta({ description: 'Merged over the notification data for this target' }),
  })
  .meta({ id: 'BulkTarget', description: 'Exactly one of phone_number, profile_id, external_id, device_id' });

export const MAX_BULK_TARGETS = 10_000;

const bulkBody = z
  .strictObject({
    targets: z.array(bulkTarget).min(1).max(MAX_BULK_TARGETS),
    ...contentFields,
    ...templateFields,
    ...controlFields,
    filters: filtersSchema.optional(),
  })
  .superRefine(silentShowsNothing)
  .superRefine(controlsConsistent);

const targetResult = z
  .object({
    index: z.number().int(),
    status: z.enum(['accepted', 'invalid', 'not_found', 'no_devices']),
    reason: z.string().optional(),
    details: z.array(z.object({ field: z.string().optional(), message: z.string() })).optional(),
    profile_id: z.uuid().optional(),
    device_id: z.uuid().optional(),
    devices: z.number().int().optional(),
  })
  .meta({ id: 'BulkTargetResult' });

const bulkAccepted = acceptedSchema
  .extend({
    summary: z.object({
      targets: z.number().int(),
      accepted: z.number().int(),
      invalid: z.number().int(),
      not_found: z.number().int(),
      no_devices: z.number().int(),
      devices: z.number().int().meta({ description: 'Devices the accepted targets reach' }),
    }),
    rejected: z
      .array(targetResult)
      .meta({ description: 'Every target that was not accepted, with the reason' }),
  })
  .meta({
    id: 'BulkAccepted',
    example: {
      notification_id: EXAMPLE_IDS.notification,
      status: 'queued',
      status_url: `/api/v1/notifications/${EXAMPLE_IDS.notification}/status/`,
      created_at: '2026-11-25T09:30:00.000Z',
      summary: { targets: 2, accepted: 2, invalid: 0, not_found: 0, no_devices: 0, devices: 2 },
      rejected: [],
    },
  });

/** An FCM v1 message as POST /notify/preview renders it (FCM's format: projects.messages in its REST reference). */
const fcmMessage = z.record(z.string(), z.unknown());

export const notifyRoutes =
  ({ services, config }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/notify',
      {
        config: { scope: 'send', idempotent: true },
        schema: {
          operationId: 'sendNotification',
          tags: ['notify'],
          summary: 'Send a notification to a profile, devices, a topic or all devices (optionally filtered)',
          description:
            'Exactly one target: phone_number, profile_id, external_id, device_ids, topic or all_devices. ' +
            'filters narrow the devices (platform, app version, last seen, tags, time zone, locale). ' +
            'Name a template with variables instead of (or under) explicit content. Accepted notifications are ' +
            'sent in the background; poll status_url for progress.',
          headers: idempotencyHeader,
          body: sendBodySchema.meta({
            examples: [
              {
                phone_number: '+255712345678',
                title: 'Order Confirmed',
                body: 'Your order #1234 has been confirmed.',
                data: { order_id: '1234', screen: 'order_details' },
              },
            ],
          }),
          response: { 202: acceptedSchema, ...sendErrors },
        },
      },
      async (request, reply) => {
        const notification = await services.notify.acceptSend(principalOf(request).clientId, request.body, {
          idempotencyKey: request.idempotencyKey,
          requestId: request.id,
        });
        const { statusUrl, body } = accepted(notification);
        return reply.code(202).header('location', statusUrl).send(body);
      },
    );

    app.post(
      '/notify/preview',
      {
        config: { scope: 'send' },
        schema: {
          operationId: 'previewNotification',
          tags: ['notify'],
          summary: 'Render the FCM message each platform would receive, without sending',
          description:
            'The content of a send (its content fields, or a template with variables and an optional locale) ' +
            'rendered and checked as POST /notify would: the FCM v1 message for Android, iOS and Web. Nothing ' +
            'is stored or sent. The token is a placeholder, and the receipt fields every real message carries ' +
            '(data.fcms_delivery_id, data.fcms_receipt) are left out. A template not found is a 404; content ' +
            'FCM would refuse is a 422 (413 when too large), as at send time.',
          body: previewBodySchema.meta({
            examples: [
              { title: 'Order Confirmed', body: 'Your order #1234 has been confirmed.', priority: 'high' },
            ],
          }),
          response: {
            200: z
              .object({ messages: z.object({ android: fcmMessage, ios: fcmMessage, web: fcmMessage }) })
              .meta({
                id: 'NotificationPreview',
                example: {
                  messages: {
                    android: {
                      token: '<device token>',
                      notification: {
                        title: 'Order Confirmed',
                        body: 'Your order #1234 has been confirmed.',
                      },
                      android: { priority: 'HIGH' },
                    },
                    ios: {
                      token: '<device token>',
                      notification: {
                        title: 'Order Confirmed',
                        body: 'Your order #1234 has been confirmed.',
                      },
                      apns: { headers: { 'apns-priority': '10' } },
                    },
                    web: {
                      token: '<device token>',
                      notification: {
                        title: 'Order Confirmed',
                        body: 'Your order #1234 has been confirmed.',
                      },
                      webpush: { headers: { Urgency: 'high' } },
                    },
                  },
                },
              }),
            400: errorSchema,
            404: errorSchema,
            413: errorSchema,
            422: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request) => services.notify.previewSend(principalOf(request).clientId, request.body),
    );

    app.post(
      '/notify/topic/:topic_name',
      {
        config: { scope: 'send', idempotent: true },
        schema: {
          operationId: 'sendToTopic',
          tags: ['notify'],
          summary: 'Send to every active device subscribed to a topic',
          description:
            'The fan-out runs as a job over the subscriptions, a page at a time, however large the topic.',
          params: z.object({ topic_name: topicName.meta({ example: 'sports.football' }) }),
          headers: idempotencyHeader,
          body: topicSendBody.meta({
            examples: [
              {
                title: 'Goal! Simba 1-0 Yanga',
                body: 'Kibu Denis scores in the 23rd minute.',
                data: { match_id: '8812' },
                throttle_per_minute: 50000,
              },
            ],
          }),
          response: { 202: acceptedSchema, ...sendErrors },
        },
      },
      async (request, reply) => {
        const notification = await services.notify.acceptSend(
          principalOf(request).clientId,
          { ...request.body, topic: request.params.topic_name },
          { idempotencyKey: request.idempotencyKey, requestId: request.id },
        );
        const { statusUrl, body } = accepted(notification);
        return reply.code(202).header('location', statusUrl).send(body);
      },
    );

    app.post(
      '/notify/bulk',
      {
        config: { scope: 'send', idempotent: true },
        // 10,000 targets with their own variables need more room than a single send.
        bodyLimit: Math.max(config.bodyLimitBytes, 16_000_000),
        schema: {
          operationId: 'sendBulk',
          tags: ['notify'],
          summary: `Send one notification to up to ${MAX_BULK_TARGETS.toLocaleString('en')} targets`,
          description:
            'Each target is a phone number, profile id, external id or device id, and may carry its own ' +
            'template variables and data. One notification id covers the whole batch; each target is resolved ' +
            'on its own and every target that was not accepted is listed in `rejected` with the reason ' +
            '(invalid, not_found, no_devices). The request fails (422) only when no target can be sent to.',
          headers: idempotencyHeader,
          body: bulkBody.meta({
            examples: [
              {
                template: 'order_confirmed',
                targets: [
                  { phone_number: '+255712345678', variables: { order_id: '1234', name: 'Asha' } },
                  { device_id: EXAMPLE_IDS.device, variables: { order_id: '1235', name: 'Juma' } },
                ],
              },
            ],
          }),
          response: { 202: bulkAccepted, ...sendErrors },
        },
      },
      async (request, reply) => {
        const { notification, results } = await services.notify.acceptBulk(
          principalOf(request).clientId,
          request.body,
          {
            idempotencyKey: request.idempotencyKey,
            requestId: request.id,
          },
        );
        const count = (status: string) => results.filter((r) => r.status === status).length;
        const { statusUrl, body } = accepted(notification);
        return reply
          .code(202)
          .header('location', statusUrl)
          .send({
            ...body,
            summary: {
              targets: results.length,
              accepted: count('accepted'),
              invalid: count('invalid'),
              not_found: count('not_found'),
              no_devices: count('no_devices'),
              devices: results.reduce((sum, r) => sum + (r.status === 'accepted' ? (r.devices ?? 0) : 0), 0),
            },
            rejected: results.filter((r) => r.status !== 'accepted'),
          });
      },
    );
  };
