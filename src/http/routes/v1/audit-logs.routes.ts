/**
 * The audit log: /api/v1/admin/audit-logs (scope admin) across tenants, /api/v1/audit-logs (scope read) a
 * tenant's own, including what an admin did to it. Newest first, keyset-paginated.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, isoDate, page, pageQuery } from '../../schemas.ts';

const auditSchema = z
  .object({
    id: z.string(),
    client_id: z.uuid().nullable().meta({ description: 'The tenant whose data changed' }),
    actor_client_id: z.uuid().nullable().meta({ description: 'Who called (null: the command line)' }),
    action: z.string(),
    target_type: z.string().nullable(),
    target_id: z.string().nullable(),
    ip: z.string().nullable(),
    request_id: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    created_at: z.string(),
  })
  .meta({
    id: 'AuditLogEntry',
    example: {
      id: '1042',
      client_id: '0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e',
      actor_client_id: '0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e',
      action: 'device.delete',
      target_type: 'device',
      target_id: '0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b',
      ip: '203.0.113.7',
      request_id: 'req-7f3a',
      details: { status: 204 },
      created_at: '2026-11-25T09:30:00.000Z',
    },
  });

const filters = {
  ...pageQuery,
  action: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .meta({ description: 'An action (device.delete) or a prefix ending in * (device.*)' }),
  actor_id: z.uuid().optional(),
  target_type: z.string().max(100).optional(),
  target_id: z.string().max(200).optional(),
  created_from: isoDate.optional(),
  created_to: isoDate.optional().meta({ description: 'Exclusive' }),
};

type Filters = {
  action?: string | undefined;
  actor_id?: string | undefined;
  target_type?: string | undefined;
  target_id?: string | undefined;
  created_from?: string | undefined;
  created_to?: string | undefined;
};

const toFilter = (query: Filters) => ({
  action: query.action,
  actorId: query.actor_id,
  targetType: query.target_type,
  targetId: query.target_id,
  since: query.created_from ? new Date(query.created_from) : undefined,
  until: query.created_to ? new Date(query.created_to) : undefined,
});

export const auditLogRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/admin/audit-logs',
      {
        config: { scope: 'admin' },
        schema: {
          operationId: 'listAllAuditLogs',
          tags: ['admin'],
          summary: 'The audit log of every tenant (filters: client, actor, action, target, dates)',
          querystring: z.strictObject({
            ...filters,
            client_id: z.uuid().optional().meta({ description: 'The tenant' }),
          }),
          response: { 200: page(auditSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, client_id, ...rest } = request.query;
        return services.audit.listAuditPage({ ...toFilter(rest), tenantId: client_id }, limit, cursor);
      },
    );

    app.get(
      '/audit-logs',
      {
        config: { scope: 'read' },
        schema: {
          operationId: 'listAuditLogs',
          tags: ['audit log'],
          summary: 'Your audit log: every change made to your data, by you or an admin',
          querystring: z.strictObject(filters),
          response: { 200: page(auditSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, ...rest } = request.query;
        return services.audit.listAuditPage(
          { ...toFilter(rest), tenantId: principalOf(request).clientId },
          limit,
          cursor,
        );
      },
    );
  };
