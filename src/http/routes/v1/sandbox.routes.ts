/**
 * /api/v1/sandbox/messages: what the in-process FCM emulator received for the caller's devices. Registered only
 * in sandbox mode (the emulator is the FCM endpoint), so production and FCM_BASE_URL deployments answer 404.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { platformSchema } from '../../../domain/platform.ts';
import { SANDBOX_KEEPS } from '../../../services/sandbox-inbox.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, EXAMPLE_ID, EXAMPLE_IDS, idParams, page, pageQuery } from '../../schemas.ts';

const sandboxMessageSchema = z
  .object({
    id: z.string().meta({ description: "The emulator's running number of the message" }),
    received_at: z.string(),
    device_id: z.uuid(),
    notification_id: z.uuid().nullable().meta({
      description: 'From the receipt keys every push carries; null for a message without them',
    }),
    platform: platformSchema,
    message: z.record(z.string(), z.unknown()).meta({
      description:
        'The FCM v1 message as received, its token replaced by token_suffix (its last 8 characters)',
    }),
    outcome: z.string().meta({
      description: "The emulator's answer: sent, or the FCM error code it answered (e.g. UNREGISTERED)",
    }),
  })
  .meta({
    id: 'SandboxMessage',
    example: {
      id: '42',
      received_at: '2026-11-25T09:30:00.120Z',
      device_id: '0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b',
      notification_id: EXAMPLE_ID,
      platform: 'android',
      message: {
        token_suffix: 'Xy7_q2Lm',
        notification: { title: 'Your order has shipped', body: 'It arrives on Thursday.' },
        data: { fcms_delivery_id: '1842', fcms_receipt: 'Zm9vYmFyYmF6cXV4' },
        android: { priority: 'HIGH' },
      },
      outcome: 'sent',
    },
  });

const faultBody = z
  .strictObject({
    fault: z.enum(['unregistered', 'unavailable', 'none']).meta({
      description:
        'unregistered: every send answers UNREGISTERED (404), so the first one deactivates the device; ' +
        'unavailable: the next `count` sends answer UNAVAILABLE (503), which the server retries; none: clears',
    }),
    count: z.number().int().min(1).max(20).optional().meta({
      description: 'unavailable only: how many sends fail (default 3)',
    }),
  })
  .refine((b) => b.count === undefined || b.fault === 'unavailable', {
    message: 'count goes with fault "unavailable" only',
    path: ['count'],
  });

const faultSchema = z
  .object({
    device_id: z.uuid(),
    fault: z.string().nullable().meta({ description: 'The FCM error code answered now, or null' }),
    remaining: z.number().int().nullable().meta({
      description: 'Sends left in a burst; null for a fault that stays until cleared, or for none',
    }),
  })
  .meta({
    id: 'SandboxFault',
    example: { device_id: EXAMPLE_IDS.device, fault: 'UNAVAILABLE', remaining: 3 },
  });

export const sandboxRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const sandbox = services.sandbox;
    if (!sandbox) return;
    app.get(
      '/sandbox/messages',
      {
        config: { scope: 'read' },
        schema: {
          tags: ['sandbox'],
          operationId: 'listSandboxMessages',
          summary: 'List what the sandbox FCM emulator received for your devices',
          description:
            'Sandbox mode only (the in-process emulator is the FCM endpoint: FCM_BASE_URL unset outside ' +
            'production); elsewhere this route does not exist (404). The messages sent to your own devices, ' +
            'newest first, each with what the emulator answered: `sent`, or the FCM error code (device ' +
            'tokens starting with `unregistered-` answer UNREGISTERED, `invalid-` INVALID_ARGUMENT). Token ' +
            'dry runs made at device registration (validate_only) are not listed. The emulator keeps its ' +
            `newest ${SANDBOX_KEEPS.toLocaleString('en')} messages of all tenants (token dry runs included); ` +
            'older ones are gone, and so is everything after a restart.',
          querystring: z.strictObject({
            ...pageQuery,
            device_id: z.uuid().optional().meta({ description: 'Only messages to this device' }),
            notification_id: z.uuid().optional().meta({ description: 'Only messages of this notification' }),
          }),
          response: { 200: page(sandboxMessageSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, device_id, notification_id } = request.query;
        return sandbox.listSandboxMessagePage(
          principalOf(request).clientId,
          { deviceId: device_id, notificationId: notification_id },
          limit,
          cursor,
        );
      },
    );

    app.put(
      '/sandbox/devices/:id/fault',
      {
        config: { scope: 'manage' },
        schema: {
          tags: ['sandbox'],
          operationId: 'setSandboxFault',
          summary: "Make the sandbox emulator fail one of your devices' sends",
          description:
            "Sandbox mode only (404 elsewhere). The fault belongs to the device's token in the emulator: " +
            '`unregistered` answers every send UNREGISTERED until cleared (the first send deactivates the ' +
            'device, reason UNREGISTERED); `unavailable` answers the next `count` sends (default 3) with 503 ' +
            'UNAVAILABLE, which the server retries with backoff (SEND_MAX_ATTEMPTS; once they run out the ' +
            'delivery is dead); `none` clears it. Token dry runs are not affected by a burst. A restart ' +
            'forgets faults.',
          params: idParams,
          body: faultBody.meta({ examples: [{ fault: 'unavailable', count: 3 }] }),
          response: { 200: faultSchema, 404: errorSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { fault, count } = request.body;
        return sandbox.setSandboxFault(
          principalOf(request).clientId,
          request.params.id,
          fault === 'none'
            ? null
            : fault === 'unregistered'
              ? { code: 'UNREGISTERED' }
              : { code: 'UNAVAILABLE', count: count ?? 3 },
        );
      },
    );
  };
