/** /api/v1/devices: register FCM tokens, list, read, update, delete (soft) and restore. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { platformSchema } from '../../../domain/platform.ts';
import {
  deviceMetadata,
  deviceOwner,
  ONE_OWNER,
  oneOwner,
  registerDeviceSchema,
  TOKEN_RULES,
  tokenSchema,
} from '../../../services/device-input.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, EXAMPLE_IDS, idParams, page, pageQuery, queryBool } from '../../schemas.ts';
import { DELIVERY_EXAMPLE, deliverySchema } from './notifications.routes.ts';

export const deviceSchema = z
  .object({
    id: z.uuid(),
    profile_id: z.uuid().nullable(),
    platform: platformSchema,
    token_suffix: z.string(),
    app_version: z.string().nullable(),
    os_version: z.string().nullable(),
    model: z.string().nullable(),
    timezone: z.string().nullable(),
    locale: z.string().nullable(),
    tags: z.array(z.string()),
    is_active: z.boolean(),
    deactivated_reason: z.string().nullable(),
    deactivated_at: z.string().nullable(),
    last_seen_at: z.string().meta({
      description:
        'Last sign of life: registration or re-registration, PATCH, a delivery or read receipt, or a check-in ' +
        '(POST /devices/{id}/seen); receipts and check-ins move it only when it is over 5 minutes old',
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    id: 'Device',
    example: {
      id: '0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b',
      profile_id: '0193e1b3-0a11-7c55-9e01-77aa88bb99cc',
      platform: 'android',
      token_suffix: 'Xy7_q2Lm',
      app_version: '2.3.1',
      os_version: '14',
      model: 'Pixel 8',
      timezone: 'Africa/Dar_es_Salaam',
      locale: 'sw-TZ',
      tags: ['beta'],
      is_active: true,
      deactivated_reason: null,
      deactivated_at: null,
      last_seen_at: '2026-11-25T09:30:00.000Z',
      created_at: '2026-11-25T09:30:00.000Z',
      updated_at: '2026-11-25T09:30:00.000Z',
    },
  });

const deviceDeliverySchema = deliverySchema
  .extend({ notification_id: z.uuid(), created_at: z.string() })
  .meta({
    id: 'DeviceDelivery',
    example: {
      ...DELIVERY_EXAMPLE,
      notification_id: EXAMPLE_IDS.notification,
      created_at: '2026-11-25T09:30:00.000Z',
    },
  });

const updateBody = z
  .strictObject({
    platform: platformSchema.optional(),
    token: tokenSchema.optional(),
    ...deviceOwner,
    ...deviceMetadata,
  })
  .refine(oneOwner, ONE_OWNER);

export const deviceRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/devices',
      {
        config: { scope: 'manage', idempotent: true },
        schema: {
          operationId: 'registerDevice',
          tags: ['devices'],
          summary: 'Register a device (re-registering a known token updates that device)',
          description:
            `The token: ${TOKEN_RULES} (422 validation_error otherwise). It is checked with an FCM dry run ` +
            '(validate_only) first: a token FCM calls unregistered or invalid is refused with 422 invalid_token ' +
            'and nothing is stored. When FCM cannot answer (outage, timeout, throttling) the registration is ' +
            'accepted. In the sandbox (the in-process FCM emulator), tokens starting with `unregistered-` or ' +
            '`invalid-` pass the dry run and fail at send time (UNREGISTERED, INVALID_ARGUMENT), so a dead ' +
            'token can be tried end to end: see GET /sandbox/messages and docs/emulator.md.',
          body: registerDeviceSchema.meta({
            examples: [
              {
                platform: 'android',
                token: 'dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx_Xy7_q2Lm',
                phone_number: '+255712345678',
                app_version: '2.3.1',
                os_version: '14',
                model: 'Pixel 8',
                timezone: 'Africa/Dar_es_Salaam',
                locale: 'sw-TZ',
                tags: ['beta'],
              },
            ],
          }),
          response: {
            200: deviceSchema,
            201: deviceSchema,
            404: errorSchema,
            422: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request, reply) => {
        const { device, created } = await services.devices.registerDevice(
          principalOf(request).clientId,
          request.body,
        );
        return reply.code(created ? 201 : 200).send(device);
      },
    );

    app.get(
      '/devices',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listDevices',
          tags: ['devices'],
          summary: 'List devices',
          querystring: z.strictObject({
            ...pageQuery,
            platform: platformSchema.optional(),
            active: queryBool.optional(),
            profile_id: z.uuid().optional(),
            tag: z.string().max(64).optional(),
            token_suffix: z
              .string()
              .min(1)
              .max(8)
              .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
              .optional()
              .meta({
                description:
                  "Devices whose token ends with this (1 to 8 characters; the device's token_suffix holds " +
                  "the last 8). All 8 is an index lookup; fewer scans the tenant's devices.",
                example: 'Xy7_q2Lm',
              }),
          }),
          response: { 200: page(deviceSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, platform, active, profile_id, tag, token_suffix } = request.query;
        return services.devices.listDevicePage(
          principalOf(request).clientId,
          { platform, active, profileId: profile_id, tag, tokenSuffix: token_suffix },
          limit,
          cursor,
        );
      },
    );

    app.get(
      '/devices/:id',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getDevice',
          tags: ['devices'],
          summary: 'Get a device',
          params: idParams,
          response: { 200: deviceSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) => services.devices.getDevice(principalOf(request).clientId, request.params.id),
    );

    app.get(
      '/devices/:id/deliveries',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listDeviceDeliveries',
          tags: ['devices'],
          summary: "A device's deliveries (one per notification sent to it), newest first",
          description:
            'Each with its notification_id, status, attempts and error code, as GET /notifications/{id}/status ' +
            'shows them. Cursor paging; 404 for a device that is not yours or is deleted.',
          params: idParams,
          querystring: z.strictObject(pageQuery),
          response: { 200: page(deviceDeliverySchema), 400: errorSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) =>
        services.devices.listDeviceDeliveryPage(
          principalOf(request).clientId,
          request.params.id,
          request.query.limit,
          request.query.cursor,
        ),
    );

    app.put(
      '/devices/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'updateDevice',
          tags: ['devices'],
          summary: 'Update a device (fields not sent are kept)',
          params: idParams,
          body: updateBody.meta({ examples: [{ app_version: '2.4.0', tags: ['beta', 'vip'] }] }),
          response: {
            200: deviceSchema,
            404: errorSchema,
            409: errorSchema,
            422: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request) =>
        services.devices.changeDevice(principalOf(request).clientId, request.params.id, request.body),
    );

    app.delete(
      '/devices/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'deleteDevice',
          tags: ['devices'],
          summary:
            'Delete a device: it is deactivated at once and can be restored during the retention period',
          description:
            'Soft delete: the device stops receiving (deactivated_reason deactivated_by_client) and leaves the ' +
            'API; POST /devices/{id}/restore brings it back for SOFT_DELETE_RETENTION_DAYS (default 30), then ' +
            'it is purged with its delivery history. Registering its token again also brings it back.',
          params: idParams,
          response: { 204: z.null(), 404: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        await services.devices.deleteDevice(principalOf(request).clientId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/devices/:id/seen',
      {
        // A sign of life, not a change anyone audits: a fleet checking in must not become an audit-log storm.
        config: { scope: 'manage', audit: false },
        schema: {
          operationId: 'markDeviceSeen',
          tags: ['devices'],
          summary: 'Check a device in: it was seen now (moves last_seen_at), 204 without a body',
          description:
            'Cheap by design: last_seen_at moves only when it is more than 5 minutes old, so calling this on ' +
            'every app start writes at most once per device per 5 minutes. Delivery and read receipts and ' +
            're-registering the token move it too. A deactivated device is checked in as well (it stays ' +
            'inactive); a deleted one, or one of another tenant, is 404.',
          params: idParams,
          response: { 204: z.null(), 404: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        await services.devices.checkInDevice(principalOf(request).clientId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/devices/:id/restore',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'restoreDevice',
          tags: ['devices'],
          summary: 'Restore a deleted device',
          description:
            'Active again only if its DELETE is what deactivated it: a device whose token FCM reported dead ' +
            'stays inactive. 410 restore_window_passed after the retention period, 409 not_deleted for a ' +
            'device that is not deleted.',
          params: idParams,
          response: {
            200: deviceSchema,
            404: errorSchema,
            409: errorSchema,
            410: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request) => services.devices.restoreDevice(principalOf(request).clientId, request.params.id),
    );
  };
