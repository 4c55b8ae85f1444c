/** /api/v1/settings: the caller's own tenant's settings, the defaults of its sends' timing controls. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isTimeZone } from '../../../lib/time-zones.ts';
import { quietHoursSchema, throttleSchema } from '../../../services/send-request.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors } from '../../schemas.ts';

const EXAMPLE = {
  default_time_zone: 'Africa/Dar_es_Salaam',
  quiet_hours: { start: '22:00', end: '08:00' },
  throttle_per_minute: 50000,
  updated_at: '2026-11-25T09:30:00.000Z',
};

const settingsSchema = z
  .object({
    default_time_zone: z.string().nullable().meta({
      description: 'The zone of devices without one, for local-time delivery and quiet hours; null: UTC',
    }),
    quiet_hours: quietHoursSchema.nullable().meta({
      description:
        "Sends (not priority high, not silent) wait out this window in each device's zone; null: none",
    }),
    throttle_per_minute: z.number().int().nullable().meta({
      description: 'Most deliveries per minute of a send that sets no throttle_per_minute; null: no limit',
    }),
    updated_at: z.string().nullable().meta({ description: 'null until the settings are first changed' }),
  })
  .meta({ id: 'Settings', example: EXAMPLE });

const settingsInput = z.strictObject({
  default_time_zone: z
    .string()
    .refine(isTimeZone, 'must be an IANA time zone such as Africa/Dar_es_Salaam')
    .nullable()
    .optional(),
  quiet_hours: quietHoursSchema.nullable().optional(),
  throttle_per_minute: throttleSchema.nullable().optional(),
});

export const settingsRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/settings',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'getSettings',
          tags: ['settings'],
          summary: "The caller's tenant settings (defaults of local-time delivery, quiet hours, throttle)",
          response: { 200: settingsSchema, ...authErrors },
        },
      },
      async (request) => services.settings.getSettings(principalOf(request).clientId),
    );

    app.patch(
      '/settings',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'updateSettings',
          tags: ['settings'],
          summary: "Change the caller's tenant settings (fields not sent are kept; null clears one)",
          body: settingsInput.meta({
            examples: [
              {
                default_time_zone: 'Africa/Dar_es_Salaam',
                quiet_hours: { start: '22:00', end: '08:00' },
                throttle_per_minute: 50000,
              },
            ],
          }),
          response: { 200: settingsSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request) => services.settings.changeSettings(principalOf(request).clientId, request.body),
    );
  };
