/** /api/v1/notifications: what was sent, its progress and per-delivery outcomes. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { platformSchema } from '../../../domain/platform.ts';
import { DELIVERY_STATUSES, NOTIFICATION_STATUSES } from '../../../domain/states.ts';
import { ATTEMPT_STATUSES } from '../../../services/webhooks.service.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, EXAMPLE_IDS, idParams, isoDate, page, pageQuery } from '../../schemas.ts';
import { attemptSchema } from './webhooks.routes.ts';

const notificationStatus = z.enum(NOTIFICATION_STATUSES);
const deliveryStatus = z.enum(DELIVERY_STATUSES).meta({
  description:
    'pending, waiting (held until a local time or the end of quiet hours), retrying, sent, delivered, read; ' +
    'failed and dead (FCM refused); skipped, expired and cancelled (a delivery control withheld it: ' +
    'error_code names the reason: quiet_hours, frequency_cap, expired or cancelled)',
});

const NOTIFICATION_EXAMPLE = {
  id: EXAMPLE_IDS.notification,
  status: 'completed',
  target: {
    kind: 'profile',
    phone_number: '+255712345678',
    profile_id: '0193e1b3-0a11-7c55-9e01-77aa88bb99cc',
  },
  content: { title: 'Order Confirmed', body: 'Your order #1234 has been confirmed.', priority: 'high' },
  variants: null,
  template_id: null,
  topic_id: null,
  schedule_id: null,
  occurrence_at: null,
  firebase_project_id: null,
  counts: { total: 2, sent: 2, failed: 0, delivered: 1, read: 0, skipped: 0, expired: 0, cancelled: 0 },
  expires_at: null,
  bypass_frequency_cap: false,
  cancelled_at: null,
  error_code: null,
  request_id: 'req-7f3a',
  created_at: '2026-11-25T09:30:00.000Z',
  updated_at: '2026-11-25T09:30:00.000Z',
  completed_at: '2026-11-25T09:30:00.000Z',
};

export const DELIVERY_EXAMPLE = {
  id: '1042',
  device_id: '0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b',
  platform: 'android',
  status: 'failed',
  attempts: 1,
  fcm_message_id: null,
  error_code: 'UNREGISTERED',
  error_message: 'Requested entity was not found.',
  sent_at: null,
  delivered_at: null,
  read_at: null,
  failed_at: '2026-11-25T09:30:00.000Z',
  next_attempt_at: null,
  not_before: null,
};

const notificationSchema = z
  .object({
    id: z.uuid(),
    status: notificationStatus,
    target: z.record(z.string(), z.unknown()),
    content: z.record(z.string(), z.unknown()),
    variants: z.record(z.string(), z.record(z.string(), z.unknown())).nullable(),
    template_id: z.uuid().nullable(),
    topic_id: z.uuid().nullable(),
    schedule_id: z.uuid().nullable(),
    occurrence_at: z.string().nullable(),
    firebase_project_id: z.uuid().nullable(),
    counts: z.object({
      total: z.number(),
      sent: z.number(),
      failed: z.number(),
      delivered: z.number(),
      read: z.number(),
      skipped: z.number().meta({ description: 'Withheld by a frequency cap or quiet hours (drop)' }),
      expired: z.number().meta({ description: "Not sent by the send's expires_at" }),
      cancelled: z.number().meta({ description: 'Stopped by POST /notifications/{id}/cancel' }),
    }),
    expires_at: z.string().nullable(),
    bypass_frequency_cap: z
      .boolean()
      .meta({ description: "A transactional send: the tenant's frequency caps did not apply to it" }),
    cancelled_at: z.string().nullable(),
    error_code: z.string().nullable(),
    request_id: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    completed_at: z.string().nullable(),
  })
  .meta({
    id: 'Notification',
    example: NOTIFICATION_EXAMPLE,
  });

export const deliverySchema = z
  .object({
    id: z.string(),
    device_id: z.uuid(),
    platform: platformSchema,
    status: deliveryStatus,
    attempts: z.number(),
    fcm_message_id: z.string().nullable(),
    error_code: z.string().nullable(),
    error_message: z.string().nullable(),
    sent_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    read_at: z.string().nullable(),
    failed_at: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    not_before: z.string().nullable().meta({
      description:
        'When a waiting delivery is (or was) released: its local time, the end of quiet hours, its throttle slot',
    }),
  })
  .meta({
    id: 'Delivery',
    example: DELIVERY_EXAMPLE,
  });

export const notificationRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/notifications',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listNotifications',
          tags: ['notifications'],
          summary: 'List notifications, newest first',
          querystring: z.strictObject({
            ...pageQuery,
            status: notificationStatus.optional(),
            created_from: isoDate.optional(),
            created_to: isoDate.optional(),
            topic_id: z.uuid().optional(),
            template_id: z.uuid().optional(),
            schedule_id: z.uuid().optional(),
          }),
          response: { 200: page(notificationSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, status, created_from, created_to, topic_id, template_id, schedule_id } =
          request.query;
        return services.notifications.listNotificationPage(
          principalOf(request).clientId,
          {
            status,
            createdFrom: created_from ? new Date(created_from) : undefined,
            createdTo: created_to ? new Date(created_to) : undefined,
            topicId: topic_id,
            templateId: template_id,
            scheduleId: schedule_id,
          },
          limit,
          cursor,
        );
      },
    );

    app.get(
      '/notifications/:id',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getNotification',
          tags: ['notifications'],
          summary: 'Get a notification',
          params: idParams,
          response: { 200: notificationSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) =>
        services.notifications.getNotification(principalOf(request).clientId, request.params.id),
    );

    app.get(
      '/notifications/:id/status',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getNotificationStatus',
          tags: ['notifications'],
          summary: 'Delivery status: counts by status and platform, and the deliveries (paginated)',
          params: idParams,
          querystring: z.strictObject({ ...pageQuery, status: deliveryStatus.optional() }),
          response: {
            200: z
              .object({
                notification: notificationSchema,
                by_status: z.record(z.string(), z.number()),
                by_platform: z.record(z.string(), z.record(z.string(), z.number())),
                expected_completion_at: z.string().nullable().meta({
                  description:
                    'When the last waiting delivery is due (local time, quiet hours, throttle); null when none waits for a time',
                }),
                deliveries: z.array(deliverySchema),
                next_cursor: z.string().nullable(),
              })
              .meta({
                example: {
                  notification: NOTIFICATION_EXAMPLE,
                  by_status: { sent: 1, failed: 1 },
                  expected_completion_at: null,
                  by_platform: { android: { sent: 1, failed: 1 } },
                  deliveries: [DELIVERY_EXAMPLE],
                  next_cursor: null,
                },
              }),
            400: errorSchema,
            404: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request) =>
        services.notifications.getDeliveryStatus(
          principalOf(request).clientId,
          request.params.id,
          request.query,
        ),
    );

    app.get(
      '/notifications/:id/webhook-attempts',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listNotificationWebhookAttempts',
          tags: ['notifications', 'webhooks'],
          summary: "The attempts to deliver this notification's events to your webhooks, newest first",
          description:
            'Every endpoint, every event of the notification (notification.sent, notification.completed, ' +
            '…); each attempt names its endpoint_id. Cursor paging as elsewhere; status filters like ' +
            'GET /webhooks/{id}/deliveries. Attempts are kept as long as the events they delivered ' +
            '(retention: docs/reliability.md).',
          params: idParams,
          querystring: z.strictObject({ ...pageQuery, status: z.enum(ATTEMPT_STATUSES).optional() }),
          response: { 200: page(attemptSchema), 400: errorSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) =>
        services.webhooks.listNotificationWebhookAttempts(
          principalOf(request).clientId,
          request.params.id,
          request.query,
        ),
    );

    app.post(
      '/notifications/:id/cancel',
      {
        config: { scope: 'send' },
        schema: {
          operationId: 'cancelNotification',
          tags: ['notifications'],
          summary: 'Cancel what has not been sent yet',
          description:
            'Stops the deliveries not sent yet (pending, waiting, retrying) and the fan-out not done yet. A batch ' +
            'FCM already has cannot be called back: what FCM accepted counts as sent, never also as cancelled. ' +
            'Cancelling again, or cancelling a finished notification, answers cancelled: 0.',
          params: idParams,
          response: {
            200: z
              .object({
                cancelled: z.number().meta({ description: 'Deliveries this call stopped' }),
                notification: notificationSchema,
              })
              .meta({
                example: {
                  cancelled: 2,
                  notification: {
                    ...NOTIFICATION_EXAMPLE,
                    status: 'cancelled',
                    counts: { ...NOTIFICATION_EXAMPLE.counts, sent: 0, delivered: 0, cancelled: 2 },
                    cancelled_at: '2026-11-25T09:30:01.000Z',
                  },
                },
              }),
            404: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request) =>
        services.notifications.cancelNotification(principalOf(request).clientId, request.params.id),
    );
  };
