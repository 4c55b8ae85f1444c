/**
 * What a client sends to register a device, as one Zod schema: the POST /devices body, and each line of a
 * device import (POST /devices/import), which validates line by line so that a bad line never refuses the rest.
 */
import { z } from 'zod';
import { platformSchema } from '../domain/platform.ts';
import { isTimeZone } from '../lib/time-zones.ts';

export const deviceMetadata = {
  app_version: z.string().max(64).nullable().optional().meta({ example: '2.3.1' }),
  os_version: z.string().max(64).nullable().optional(),
  model: z.string().max(128).nullable().optional(),
  timezone: z
    .string()
    .max(64)
    .refine(isTimeZone, 'must be an IANA time zone such as Africa/Dar_es_Salaam')
    .nullable()
    .optional(),
  locale: z
    .string()
    .regex(/^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$/, 'must be a BCP 47 locale such as sw-TZ')
    .nullable()
    .optional(),
  tags: z.array(z.string().min(1).max(64)).max(50).optional(),
};

export const deviceOwner = {
  profile_id: z.uuid().optional(),
  phone_number: z.string().min(1).max(32).optional().meta({ example: '+255712345678' }),
  external_id: z.string().min(1).max(255).optional(),
};

export const oneOwner = (value: { profile_id?: unknown; phone_number?: unknown; external_id?: unknown }) =>
  [value.profile_id, value.phone_number, value.external_id].filter((v) => v !== undefined).length <= 1;

export const ONE_OWNER = {
  message: 'give at most one of profile_id, phone_number, external_id',
  path: ['profile_id'],
};

export const TOKEN_RULES = '8 to 4,096 characters, printable ASCII without spaces';

/** FCM registration tokens are URL-safe text, typically ~160 characters. */
export const tokenSchema = z
  .string()
  .min(8)
  .max(4096)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
  .meta({ description: `The FCM registration token: ${TOKEN_RULES}` });

export const registerDeviceSchema = z
  .strictObject({ platform: platformSchema, token: tokenSchema, ...deviceOwner, ...deviceMetadata })
  .refine(oneOwner, ONE_OWNER);
