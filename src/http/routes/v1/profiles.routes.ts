/** /api/v1/profiles: CRUD of the tenant's users, with soft delete and restore. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { quietHoursSchema } from '../../../services/send-request.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, idParams, page, pageQuery } from '../../schemas.ts';

const profileSchema = z
  .object({
    id: z.uuid(),
    phone_number: z.string().nullable(),
    external_id: z.string().nullable(),
    name: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    quiet_hours: quietHoursSchema.nullable().meta({
      description: "The profile's own quiet hours, over the tenant's (GET /settings); null: the tenant's",
    }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    id: 'Profile',
    example: {
      id: '0193e1b3-0a11-7c55-9e01-77aa88bb99cc',
      phone_number: '+255712345678',
      external_id: 'user-1234',
      name: 'Asha',
      metadata: { plan: 'gold' },
      quiet_hours: { start: '22:00', end: '07:00' },
      created_at: '2026-11-25T09:30:00.000Z',
      updated_at: '2026-11-25T09:30:00.000Z',
    },
  });

const profileInput = z.strictObject({
  phone_number: z.string().min(1).max(32).nullable().optional().meta({ example: '+255712345678' }),
  external_id: z.string().min(1).max(255).nullable().optional().meta({ example: 'user-1234' }),
  name: z.string().max(255).nullable().optional(),
  metadata: z
    .record(z.string().max(100), z.unknown())
    .optional()
    .refine(
      (m) => m === undefined || JSON.stringify(m).length <= 16_384,
      'metadata must be at most 16 KB of JSON',
    ),
  quiet_hours: quietHoursSchema.nullable().optional().meta({
    description: "The profile's own quiet hours, over the tenant's; null: the tenant's apply",
  }),
});

export const profileRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/profiles',
      {
        config: { scope: 'manage', idempotent: true },
        schema: {
          operationId: 'createProfile',
          tags: ['profiles'],
          summary: 'Create a profile',
          body: profileInput.meta({
            examples: [
              {
                phone_number: '+255712345678',
                external_id: 'user-1234',
                name: 'Asha',
                metadata: { plan: 'gold' },
              },
            ],
          }),
          response: { 201: profileSchema, 409: errorSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request, reply) =>
        reply
          .code(201)
          .send(await services.profiles.createProfile(principalOf(request).clientId, request.body)),
    );

    app.get(
      '/profiles',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listProfiles',
          tags: ['profiles'],
          summary: 'List profiles',
          querystring: z.strictObject({
            ...pageQuery,
            phone_number: z.string().max(32).optional(),
            external_id: z.string().max(255).optional(),
          }),
          response: { 200: page(profileSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, phone_number, external_id } = request.query;
        return services.profiles.listProfilePage(
          principalOf(request).clientId,
          { phoneNumber: phone_number, externalId: external_id },
          limit,
          cursor,
        );
      },
    );

    app.get(
      '/profiles/:id',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getProfile',
          tags: ['profiles'],
          summary: 'Get a profile',
          params: idParams,
          response: { 200: profileSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) => services.profiles.getProfile(principalOf(request).clientId, request.params.id),
    );

    app.put(
      '/profiles/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'updateProfile',
          tags: ['profiles'],
          summary: 'Update a profile (fields not sent are kept)',
          params: idParams,
          body: profileInput.meta({ examples: [{ name: 'Asha Mwangi', metadata: { plan: 'platinum' } }] }),
          response: {
            200: profileSchema,
            404: errorSchema,
            409: errorSchema,
            422: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request) =>
        services.profiles.replaceProfile(principalOf(request).clientId, request.params.id, request.body),
    );

    app.delete(
      '/profiles/:id',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'deleteProfile',
          tags: ['profiles'],
          summary: 'Delete a profile (soft delete; its devices are deactivated)',
          description:
            'The profile leaves the API and its devices stop receiving (deactivated_reason profile_deleted). ' +
            'POST /profiles/{id}/restore undoes it for SOFT_DELETE_RETENTION_DAYS (default 30); then the ' +
            'profile and its inactive devices are purged.',
          params: idParams,
          response: { 204: z.null(), 404: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        await services.profiles.deleteProfile(principalOf(request).clientId, request.params.id);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/profiles/:id/restore',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'restoreProfile',
          tags: ['profiles'],
          summary: 'Restore a deleted profile, and the devices its deletion deactivated',
          description:
            'Devices deactivated for another reason (a token FCM reported dead, their own DELETE) stay as ' +
            'they are. 409 conflict when a live profile took its phone number or external id meanwhile, ' +
            '409 not_deleted for a profile that is not deleted, 410 restore_window_passed after the retention period.',
          params: idParams,
          response: {
            200: profileSchema,
            404: errorSchema,
            409: errorSchema,
            410: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request) => services.profiles.restoreProfile(principalOf(request).clientId, request.params.id),
    );
  };
