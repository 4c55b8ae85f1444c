/**
 * Devices registered by the app itself, without a client token (services/registration-tokens.service.ts):
 * POST /registration-tokens, called by the tenant's backend, mints a short-lived token for one user;
 * POST /app/devices, called by that user's app with the token, registers its FCM token for that user.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { platformSchema } from '../../../domain/platform.ts';
import { deviceMetadata, tokenSchema } from '../../../services/device-input.ts';
import {
  DEFAULT_REGISTRATION_TOKEN_TTL_SECONDS,
  MAX_REGISTRATION_TOKEN_TTL_SECONDS,
} from '../../../services/registration-tokens.service.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors } from '../../schemas.ts';
import { deviceSchema } from './devices.routes.ts';

const EXAMPLE_REGISTRATION_TOKEN =
  'fcmr_eyJjIjoiMDE5M2UxYjAtMWEyYi03YzNkLTllNGYtNWE2YjdjOGQ5ZTBmIiwiZSI6InVzZXItMTIzNCIsIngiOjE3OTU2MDAwMDB9.' +
  'c2lnbmF0dXJlLW9mLXRoZS1wYXlsb2FkLWJ5LXRoZS1zZXJ2ZXI';

const ttl = z
  .number()
  .int()
  .min(60)
  .max(MAX_REGISTRATION_TOKEN_TTL_SECONDS)
  .optional()
  .meta({ description: `Seconds the token stays valid (default ${DEFAULT_REGISTRATION_TOKEN_TTL_SECONDS})` });

const mintBody = z.union([
  z.strictObject({ phone_number: z.string().min(1).max(32), ttl_seconds: ttl }),
  z.strictObject({ external_id: z.string().min(1).max(255), ttl_seconds: ttl }),
]);

const registrationTokenSchema = z
  .object({
    registration_token: z.string().meta({
      description: 'Hand it to the app, which sends it as Authorization: Bearer to POST /api/v1/app/devices',
    }),
    expires_at: z.string(),
    phone_number: z.string().nullable(),
    external_id: z.string().nullable(),
  })
  .meta({
    id: 'RegistrationToken',
    example: {
      registration_token: EXAMPLE_REGISTRATION_TOKEN,
      expires_at: '2026-11-25T09:40:00.000Z',
      phone_number: null,
      external_id: 'user-1234',
    },
  });

export const registrationTokenRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/registration-tokens',
      {
        config: { scope: 'manage' },
        schema: {
          operationId: 'createRegistrationToken',
          tags: ['devices'],
          summary: "Mint a short-lived token with which a user's app registers its device",
          description:
            'For apps and web pages, which must never hold a client token: your backend mints this token for ' +
            'the signed-in user (by phone number or external id) and hands it to the app, which registers its ' +
            'FCM token with POST /api/v1/app/devices. The token does nothing else, is signed (not stored), ' +
            'serves until ttl_seconds pass, and stops working when this client is revoked or disabled.',
          body: mintBody.meta({ examples: [{ external_id: 'user-1234', ttl_seconds: 600 }] }),
          response: { 201: registrationTokenSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request, reply) =>
        reply
          .code(201)
          .header('cache-control', 'no-store')
          .send(
            await services.registrationTokens.mintRegistrationToken(
              principalOf(request).clientId,
              request.body,
            ),
          ),
    );

    app.post(
      '/app/devices',
      {
        schema: {
          operationId: 'registerAppDevice',
          tags: ['devices'],
          summary: "Register the calling app's device with a registration token",
          description:
            'Called by the app (Android, iOS, a web page) with Authorization: Bearer <registration token> from ' +
            'POST /api/v1/registration-tokens; a client token is refused (401 invalid_registration_token). The ' +
            "device belongs to the token's profile; re-registering a known FCM token updates that device.",
          security: [{ registrationToken: [] }],
          body: z.strictObject({ platform: platformSchema, token: tokenSchema, ...deviceMetadata }).meta({
            examples: [
              {
                platform: 'web',
                token: 'eKx1Yv3oQ8u:APA91bG7sT2mWc9Lq4Hn0ZrXy5DfJk8PvNb1Qe6Tw3Ua',
                app_version: '2.3.1',
                locale: 'sw-TZ',
                timezone: 'Africa/Dar_es_Salaam',
              },
            ],
          }),
          response: {
            200: deviceSchema,
            201: deviceSchema,
            401: errorSchema,
            404: errorSchema,
            422: errorSchema,
            429: errorSchema,
            503: errorSchema,
          },
        },
      },
      async (request, reply) => {
        const authorization = request.headers.authorization;
        const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
        const { device, created } = await services.registrationTokens.registerWithRegistrationToken(
          token,
          request.body,
        );
        return reply.code(created ? 201 : 200).send(device);
      },
    );
  };
