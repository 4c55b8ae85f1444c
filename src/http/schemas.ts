/** Zod pieces shared by the route schemas (the OpenAPI document is generated from them). */
import { z } from 'zod';
import { errorSchema } from './errors.ts';

export const EXAMPLE_ID = '0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e';

export const idParams = z.object({ id: z.uuid().meta({ example: EXAMPLE_ID }) });

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50).meta({ description: 'Page size (1-200)' }),
  cursor: z.string().min(1).max(200).optional().meta({ description: 'next_cursor of the previous page' }),
};

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable() });

/** Error responses every authenticated route can give. */
export const authErrors = { 401: errorSchema, 403: errorSchema, 429: errorSchema, 503: errorSchema } as const;

/** Query-string booleans arrive as text. */
export const queryBool = z.enum(['true', 'false']).transform((v) => v === 'true');

export const isoDate = z.iso.datetime({ offset: true });
