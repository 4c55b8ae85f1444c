/**
 * POST /api/v1/devices/import: up to 10,000 devices in one request, as JSON (`{"devices": [...]}`) or NDJSON
 * (one device a line, Content-Type application/x-ndjson). Each line is validated by the service, not here, so
 * that a bad line is reported in its result instead of refusing the whole request.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { IMPORT_MAX_DEVICES, MalformedLine } from '../../../services/device-import.service.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, queryBool } from '../../schemas.ts';

/** 2 KiB a line on average: a 163-character FCM token with a full profile is about 400 bytes. */
export const IMPORT_BODY_LIMIT_BYTES = IMPORT_MAX_DEVICES * 2048;

/**
 * An NDJSON body as the JSON one: line N is devices[N-1]. A line that is not JSON (an empty one included, but
 * not the final newline) stays in its place as a MalformedLine, and is rejected in its own result.
 */
export function parseNdjson(text: string): { devices: unknown[] } {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return {
    devices: lines.map((line) => {
      if (line.trim() === '') return new MalformedLine('the line is empty');
      try {
        return JSON.parse(line) as unknown;
      } catch (error) {
        return new MalformedLine((error as Error).message);
      }
    }),
  };
}

const errorObject = z.object({
  code: z.string(),
  message: z.string(),
  details: z.array(z.object({ field: z.string().optional(), message: z.string() }).catchall(z.unknown())),
});

const importResultSchema = z
  .object({
    created: z.number().int(),
    updated: z.number().int(),
    rejected: z.number().int(),
    results: z.array(
      z.object({
        line: z.number().int(),
        status: z.enum(['created', 'updated', 'rejected']),
        device_id: z.uuid().nullable(),
        error: errorObject.nullable(),
      }),
    ),
  })
  .meta({
    id: 'DeviceImportResult',
    example: {
      created: 1,
      updated: 0,
      rejected: 1,
      results: [
        { line: 1, status: 'created', device_id: '0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b', error: null },
        {
          line: 2,
          status: 'rejected',
          device_id: null,
          error: {
            code: 'validation_error',
            message: 'this device is not valid',
            details: [
              { field: 'platform', message: 'Invalid option: expected one of "android"|"ios"|"web"' },
            ],
          },
        },
      ],
    },
  });

const importBody = z.strictObject({
  devices: z
    .array(
      z.unknown().meta({
        description:
          'A device exactly as POST /devices takes it: platform, token, at most one of profile_id, ' +
          'phone_number, external_id, and app_version, os_version, model, timezone, locale, tags.',
      }),
    )
    .min(1)
    .max(IMPORT_MAX_DEVICES),
});

export const deviceImportRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_request, body, done) => {
      done(null, parseNdjson(body as string));
    });

    app.post(
      '/devices/import',
      {
        config: { scope: 'manage', bodyMediaTypes: ['application/json', 'application/x-ndjson'] },
        bodyLimit: IMPORT_BODY_LIMIT_BYTES,
        schema: {
          operationId: 'importDevices',
          tags: ['devices'],
          summary: 'Import up to 10,000 devices in one request',
          description:
            'For moving devices over from another push service. The body is JSON, `{"devices": [...]}`, or ' +
            'NDJSON (`Content-Type: application/x-ndjson`, one device a line), each device as POST /devices ' +
            `takes it; at most ${IMPORT_MAX_DEVICES.toLocaleString('en')} devices and ` +
            `${IMPORT_BODY_LIMIT_BYTES.toLocaleString('en')} bytes. Every line gets a result, in order: created, ` +
            'updated (the tenant already had this token: its device is updated and reactivated, so importing ' +
            'a file twice creates no duplicates) or rejected with the error that refused it; a rejected line ' +
            'never stops the others. Tokens are not dry-run with FCM unless `validate=true`, which checks ' +
            'them in batches and rejects the ones FCM calls invalid (invalid_token). No device.registered ' +
            'event is emitted for imported devices. The request counts once against the device_import rate ' +
            'limit, whatever the number of devices.',
          querystring: z.strictObject({
            validate: queryBool.optional().meta({ description: 'Dry-run every token with FCM first' }),
          }),
          body: importBody.meta({
            examples: [
              {
                devices: [
                  {
                    platform: 'android',
                    token: 'fEr6_mQ2T0a:APA91bGk0r3H_imported_1',
                    phone_number: '+255712345679',
                    app_version: '2.3.1',
                    timezone: 'Africa/Dar_es_Salaam',
                    locale: 'sw-TZ',
                    tags: ['imported'],
                  },
                  {
                    platform: 'ios',
                    token: 'c0ffee42:APA91bImported_2',
                    external_id: 'user-8412',
                    locale: 'en-GB',
                  },
                ],
              },
            ],
          }),
          response: {
            200: importResultSchema,
            400: errorSchema,
            413: errorSchema,
            415: errorSchema,
            422: errorSchema,
            ...authErrors,
          },
        },
      },
      async (request) =>
        services.devices.importDevices(principalOf(request).clientId, request.body.devices, {
          validate: request.query.validate ?? false,
        }),
    );
  };
