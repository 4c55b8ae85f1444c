/**
 * API clients: /api/v1/admin/clients (scope admin) creates, lists, changes, rotates and revokes the clients of
 * every tenant; /api/v1/clients/me lets any client read itself and rotate its own token. Tokens appear in a
 * response only when issued (create, rotate), never again; hashes never.
 */

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RateLimitGroup } from '../../../lib/rate-limits.ts';
import {
  DEFAULT_GRACE_SECONDS,
  MAX_ALLOWLIST_ENTRIES,
  MAX_GRACE_SECONDS,
  MAX_RATE_LIMIT,
  RATE_LIMIT_GROUPS,
  SCOPES,
} from '../../../services/clients.service.ts';
import { principalOf } from '../../auth.ts';
import type { RouteDeps } from '../../context.ts';
import { errorSchema } from '../../errors.ts';
import { authErrors, idParams, isoDate, page, pageQuery, queryBool } from '../../schemas.ts';

const EXAMPLE_CLIENT = {
  id: '0193e1b2-7c4a-7d1e-9a51-3f2a4b5c6d7e',
  name: 'shop-backend',
  scopes: ['send', 'read'],
  status: 'active',
  is_active: true,
  expires_at: '2027-06-30T00:00:00.000Z',
  revoked_at: null,
  previous_token_expires_at: null,
  ip_allowlist: ['203.0.113.0/24', '2001:db8::/32'],
  rate_limits: { send: 500 },
  created_at: '2026-11-25T09:30:00.000Z',
  updated_at: '2026-11-25T09:30:00.000Z',
};
const EXAMPLE_TOKEN = 'fcms_Qm9vLXRoaXMtaXMtYW4tZXhhbXBsZS10b2tlbi0xMjM0';

const scopeSchema = z.enum(SCOPES);

const clientSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    scopes: z.array(scopeSchema),
    status: z.enum(['active', 'disabled', 'revoked', 'expired']),
    is_active: z.boolean(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    previous_token_expires_at: z
      .string()
      .nullable()
      .meta({ description: 'While a rotation grace period runs: when the previous token stops working' }),
    ip_allowlist: z.array(z.string()),
    rate_limits: z.record(z.string(), z.number()),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'ApiClient', example: EXAMPLE_CLIENT });

const issuedSchema = clientSchema
  .extend({
    client_token: z.string().meta({ description: 'Shown only in this response: it is stored hashed' }),
  })
  .meta({ id: 'ApiClientWithToken', example: { ...EXAMPLE_CLIENT, client_token: EXAMPLE_TOKEN } });

const settings = {
  scopes: z
    .array(scopeSchema)
    .min(1)
    .meta({ description: 'admin opens only the /admin API; grant send, read, manage as needed' }),
  ip_allowlist: z
    .array(z.string().max(64))
    .max(MAX_ALLOWLIST_ENTRIES)
    .meta({ description: 'IPv4/IPv6 addresses and CIDR ranges; empty: any address' }),
  rate_limits: z
    .partialRecord(
      z.enum(RATE_LIMIT_GROUPS as [RateLimitGroup, ...RateLimitGroup[]]),
      z.int().min(1).max(MAX_RATE_LIMIT),
    )
    .meta({ description: 'Requests per minute per endpoint group, overriding the server defaults' }),
  expires_at: isoDate.nullable().meta({ description: 'After this the token answers 401 token_expired' }),
};

const createBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    scopes: settings.scopes.optional(),
    ip_allowlist: settings.ip_allowlist.optional(),
    rate_limits: settings.rate_limits.optional(),
    expires_at: settings.expires_at.optional(),
  })
  .meta({
    examples: [
      {
        name: 'shop-backend',
        scopes: ['send', 'read'],
        ip_allowlist: ['203.0.113.0/24'],
        rate_limits: { send: 500 },
      },
    ],
  });

const updateBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    scopes: settings.scopes.optional(),
    ip_allowlist: settings.ip_allowlist.optional(),
    rate_limits: settings.rate_limits.optional(),
    expires_at: settings.expires_at.optional(),
    is_active: z.boolean().optional().meta({ description: 'false: every call answers 401 client_disabled' }),
  })
  .meta({ examples: [{ scopes: ['send', 'read', 'manage'], is_active: true }] });

const rotateBody = z
  .strictObject({
    grace_seconds: z
      .int()
      .min(0)
      .max(MAX_GRACE_SECONDS)
      .optional()
      .meta({
        description: `How long the old token keeps working (default ${DEFAULT_GRACE_SECONDS}, 0: stops at once, at most 30 days)`,
        example: 3600,
      }),
  })
  // No body at all is fine: the default grace period.
  .nullish()
  .meta({ examples: [{ grace_seconds: 3600 }] });

const toInput = (body: {
  name?: string | undefined;
  scopes?: (typeof SCOPES)[number][] | undefined;
  ip_allowlist?: string[] | undefined;
  rate_limits?: Partial<Record<string, number>> | undefined;
  expires_at?: string | null | undefined;
  is_active?: boolean | undefined;
}) => ({
  name: body.name,
  scopes: body.scopes,
  ipAllowlist: body.ip_allowlist,
  rateLimits: body.rate_limits as Record<string, number> | undefined,
  expiresAt:
    body.expires_at === undefined ? undefined : body.expires_at === null ? null : new Date(body.expires_at),
  isActive: body.is_active,
});

const NO_STORE = { 'cache-control': 'no-store' };
const adminAudit = (action: string) => ({ action, targetType: 'client', tenant: 'target' as const });

export const clientRoutes =
  ({ services }: RouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/admin/clients',
      {
        config: { scope: 'admin', audit: adminAudit('client.create') },
        schema: {
          operationId: 'createClient',
          tags: ['admin'],
          summary: 'Create an API client (a tenant); its token is in this response only',
          body: createBody,
          response: { 201: issuedSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        const created = await services.clients.createClient({
          ...toInput(request.body),
          name: request.body.name,
        });
        return reply
          .code(201)
          .headers(NO_STORE)
          .send({ ...created.client, client_token: created.clientToken });
      },
    );

    app.get(
      '/admin/clients',
      {
        config: { scope: 'admin' },
        schema: {
          operationId: 'listClients',
          tags: ['admin'],
          summary: 'List API clients',
          querystring: z.strictObject({ ...pageQuery, active: queryBool.optional() }),
          response: { 200: page(clientSchema), 400: errorSchema, ...authErrors },
        },
      },
      async (request) => {
        const { limit, cursor, active } = request.query;
        return services.clients.listClientPage({ active }, limit, cursor);
      },
    );

    app.get(
      '/admin/clients/:id',
      {
        config: { scope: 'admin' },
        schema: {
          operationId: 'getClient',
          tags: ['admin'],
          summary: 'Get an API client',
          params: idParams,
          response: { 200: clientSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) => services.clients.getClient(request.params.id),
    );

    app.put(
      '/admin/clients/:id',
      {
        config: { scope: 'admin', audit: adminAudit('client.update') },
        schema: {
          operationId: 'updateClient',
          tags: ['admin'],
          summary: 'Update an API client (fields not sent are kept; expires_at null removes the expiry)',
          params: idParams,
          body: updateBody,
          response: { 200: clientSchema, 404: errorSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request) => services.clients.changeClient(request.params.id, toInput(request.body)),
    );

    app.post(
      '/admin/clients/:id/rotate',
      {
        config: { scope: 'admin', audit: adminAudit('client.rotate') },
        schema: {
          operationId: 'rotateClientToken',
          tags: ['admin'],
          summary: 'Issue a new token; the old one keeps working for grace_seconds',
          description:
            'Rotating during a grace period drops the older token at once. Rotating a revoked client gives ' +
            'it a new credential (the revoked token never works again).',
          params: idParams,
          body: rotateBody,
          response: { 200: issuedSchema, 404: errorSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        const rotated = await services.clients.rotateClientToken(
          request.params.id,
          request.body?.grace_seconds,
        );
        return reply.headers(NO_STORE).send({ ...rotated.client, client_token: rotated.clientToken });
      },
    );

    app.post(
      '/admin/clients/:id/revoke',
      {
        config: { scope: 'admin', audit: adminAudit('client.revoke') },
        schema: {
          operationId: 'revokeClient',
          tags: ['admin'],
          summary: 'Revoke the client’s tokens now (current and previous): 401 token_revoked',
          params: idParams,
          response: { 200: clientSchema, 404: errorSchema, ...authErrors },
        },
      },
      async (request) => services.clients.revokeClient(request.params.id),
    );

    app.get(
      '/clients/me',
      {
        config: { scope: 'any' },
        schema: {
          operationId: 'getOwnClient',
          tags: ['clients'],
          summary: 'The calling client: scopes, expiry, allowlist, rate limits',
          response: { 200: clientSchema, ...authErrors },
        },
      },
      async (request) => services.clients.getClient(principalOf(request).clientId),
    );

    app.post(
      '/clients/me/rotate',
      {
        config: { scope: 'any' },
        schema: {
          operationId: 'rotateOwnClientToken',
          tags: ['clients'],
          summary: 'Rotate your own token (use grace_seconds 0 when it leaked)',
          description:
            'Needs the current token: a rotated-out token still in its grace period answers 403 ' +
            'current_token_required.',
          body: rotateBody,
          response: { 200: issuedSchema, 422: errorSchema, ...authErrors },
        },
      },
      async (request, reply) => {
        const rotated = await services.clients.rotateOwnToken(
          principalOf(request),
          request.body?.grace_seconds,
        );
        return reply.headers(NO_STORE).send({ ...rotated.client, client_token: rotated.clientToken });
      },
    );
  };
