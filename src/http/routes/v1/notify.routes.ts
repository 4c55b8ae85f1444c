/** POST /api/v1/notify: accept a notification (202) and send it in the background. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { NotificationContent } from '../../../push/push-provider.ts';
import { acceptNotification, type NotifyTarget } from '../../../services/notify.service.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors } from '../../schemas.ts';

const httpsUrl = z.url({ protocol: /^https$/, message: 'must be an https URL' }).max(2048);

/** The content fields, shared by every kind of send. */
export const contentFields = {
  title: z.string().min(1).max(1024).optional().meta({ example: 'Order Confirmed' }),
  body: z.string().min(1).max(4096).optional().meta({ example: 'Your order #1234 has been confirmed.' }),
  data: z
    .record(z.string().min(1).max(256), z.string().max(4096))
    .optional()
    .meta({
      description: 'Custom key/value pairs delivered to the app (values are strings, as FCM requires)',
      example: { order_id: '1234', screen: 'order_details' },
    }),
  priority: z.enum(['high', 'normal']).default('high'),
  ttl_seconds: z
    .number()
    .int()
    .min(0)
    .max(2_419_200)
    .optional()
    .meta({ description: 'How long FCM keeps the message for an offline device (max 28 days)' }),
  image_url: httpsUrl.optional().meta({ example: 'https://example.com/image.png' }),
  collapse_key: z.string().min(1).max(64).optional().meta({ example: 'order_updates' }),
  silent: z
    .boolean()
    .optional()
    .meta({ description: 'Data-only (background) push: no visible notification' }),
  sound: z.string().min(1).max(256).optional(),
  badge: z.number().int().min(0).max(1_000_000).optional(),
  android_channel_id: z.string().min(1).max(256).optional(),
  click_action: z.string().min(1).max(256).optional(),
  link: httpsUrl
    .optional()
    .meta({ description: 'URL opened on tap (web push); also passed as data to apps' }),
  analytics_label: z
    .string()
    .regex(/^[a-zA-Z0-9-_.~%]{1,50}$/, 'must be 1-50 characters of a-z A-Z 0-9 - _ . ~ %')
    .optional(),
  firebase_project_id: z
    .uuid()
    .optional()
    .meta({ description: 'Send through this Firebase project instead of the default' }),
};

const targetFields = {
  phone_number: z.string().min(1).max(32).optional().meta({ example: '+255712345678' }),
  profile_id: z.uuid().optional(),
  external_id: z.string().min(1).max(255).optional(),
  device_ids: z.array(z.uuid()).min(1).max(1000).optional(),
};

const TARGETS = ['phone_number', 'profile_id', 'external_id', 'device_ids'] as const;

const notifyBody = z.strictObject({ ...targetFields, ...contentFields }).superRefine((value, ctx) => {
  const given = TARGETS.filter((t) => value[t] !== undefined);
  if (given.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['phone_number'],
      message: `give exactly one target: ${TARGETS.join(', ')}${given.length > 1 ? ` (got ${given.join(', ')})` : ''}`,
    });
  }
});

export const acceptedSchema = z
  .object({
    notification_id: z.uuid(),
    status: z.string().meta({ example: 'queued' }),
    status_url: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'NotificationAccepted' });

type ContentInput = { [K in keyof typeof contentFields]?: z.infer<(typeof contentFields)[K]> };

/** API field names → the platform-independent content the renderer takes. */
export function toContent(input: ContentInput): NotificationContent {
  const content: NotificationContent = { priority: input.priority ?? 'high' };
  if (input.title !== undefined) content.title = input.title;
  if (input.body !== undefined) content.body = input.body;
  if (input.data !== undefined) content.data = input.data;
  if (input.image_url !== undefined) content.imageUrl = input.image_url;
  if (input.ttl_seconds !== undefined) content.ttlSeconds = input.ttl_seconds;
  if (input.collapse_key !== undefined) content.collapseKey = input.collapse_key;
  if (input.silent !== undefined) content.silent = input.silent;
  if (input.sound !== undefined) content.sound = input.sound;
  if (input.badge !== undefined) content.badge = input.badge;
  if (input.android_channel_id !== undefined) content.androidChannelId = input.android_channel_id;
  if (input.click_action !== undefined) content.clickAction = input.click_action;
  if (input.link !== undefined) content.link = input.link;
  if (input.analytics_label !== undefined) content.analyticsLabel = input.analytics_label;
  return content;
}

function toTarget(body: z.infer<typeof notifyBody>): NotifyTarget {
  if (body.phone_number !== undefined) return { phone_number: body.phone_number };
  if (body.profile_id !== undefined) return { profile_id: body.profile_id };
  if (body.external_id !== undefined) return { external_id: body.external_id };
  return { device_ids: body.device_ids! };
}

export const notifyRoutes =
  (deps: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/notify',
      {
        config: { scope: 'send', idempotent: true },
        schema: {
          tags: ['notify'],
          summary: 'Send a notification to a profile (by phone number, id or external id) or to devices',
          description:
            'Accepted notifications are sent in the background; poll status_url for progress. ' +
            'An Idempotency-Key header makes retries safe: the first response is replayed.',
          headers: z.object({ 'idempotency-key': z.string().max(255).optional() }),
          body: notifyBody,
          response: {
            202: acceptedSchema,
            400: errorSchema,
            404: errorSchema,
            409: errorSchema,
            413: errorSchema,
            422: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const notification = await acceptNotification(
          deps,
          principal,
          {
            target: toTarget(request.body),
            content: toContent(request.body),
            firebaseProjectId: request.body.firebase_project_id,
          },
          { idempotencyKey: request.idempotencyKey, requestId: request.id },
        );
        const statusUrl = `/api/v1/notifications/${notification.id}/status/`;
        return reply.code(202).header('location', statusUrl).send({
          notification_id: notification.id,
          status: notification.status,
          status_url: statusUrl,
          created_at: notification.createdAt.toISOString(),
        });
      },
    );
  };
