/** POST /api/v1/receipts: the mobile app reports that a push was delivered or read (no API credentials needed). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';

export const receiptRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/receipts',
      {
        schema: {
          operationId: 'recordReceipt',
          tags: ['receipts'],
          summary: 'Report a delivery as delivered or read',
          description:
            'Every push carries data keys fcms_delivery_id and fcms_receipt; the app posts them back here. ' +
            'The receipt token authenticates the report. State only moves forward (delivered → read).',
          body: z
            .strictObject({
              delivery_id: z.string().regex(/^[1-9]\d{0,18}$/, 'must be the fcms_delivery_id of the push'),
              receipt_token: z.string().min(1).max(64),
              status: z.enum(['delivered', 'read']),
            })
            .meta({
              examples: [{ delivery_id: '1051', receipt_token: 'k3J9fQ2xLmP0aZ7wYv5tRb1c', status: 'read' }],
            }),
          response: {
            200: z
              .object({ delivery_id: z.string(), status: z.string() })
              .meta({ example: { delivery_id: '1051', status: 'read' } }),
            404: errorSchema,
            409: errorSchema,
            422: errorSchema,
            429: errorSchema,
          },
        },
      },
      async (request) => services.notifications.recordReceipt(request.body),
    );
  };
