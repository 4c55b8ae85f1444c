/**
 * The audit hook: every successful state-changing call (POST, PUT, PATCH, DELETE with a 2xx answer) by an
 * authenticated client becomes an audit-log row, written as the response is sent (onSend): after the handler's
 * transaction committed, so it adds one insert to the response time but nothing to the transaction, and the row
 * exists by the time the client reads the answer. The rows of concurrent requests share one insert (group
 * commit, src/lib/batcher.ts). A failed write is logged and the response goes out as it was. The action and target are derived
 * from the route (POST /api/v1/devices → device.create, POST /api/v1/profiles/:id/restore → profile.restore), so
 * new routes are audited without doing anything; `config.audit` overrides the derivation or opts a route out.
 * Read-scoped routes (a POST that only computes, like a template preview) and idempotent replays change nothing
 * and are not recorded. Details hold field names and the status code, never values: bodies carry secrets.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createBatcher } from '../lib/batcher.ts';
import type { AuditEntry } from '../services/audit.service.ts';
import type { Services } from '../services/index.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Audit overrides: the action and target type (default: derived from the method and URL); tenant 'target'
     * records the target (a client the admin acted on) as the tenant instead of the caller. false: not audited.
     */
    audit?: false | { action?: string; targetType?: string; tenant?: 'target' };
  }
  interface FastifyRequest {
    /** The id of what the response created or changed, picked from the response body. */
    auditTargetId: string | undefined;
  }
}

const CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const MAX_FIELDS = 30;

/**
 * The action and target type of a route: the resource is the first path segment (singular), the verb is the
 * last fixed segment (restore, rotate, subscribe, …) or comes from the method (create, update, delete).
 * The notify endpoints are sends of a notification: notification.send, notification.send_bulk, …
 */
export function deriveAudit(method: string, url: string): { action: string; targetType: string } | undefined {
  const fixed = url
    .replace(/^\/api\/v\d+\//, '')
    .split('/')
    .filter((segment) => segment !== '' && !segment.startsWith(':'));
  const [first, ...rest] = fixed;
  if (first === undefined) return undefined;
  if (first === 'notify')
    return { action: ['notification.send', ...rest].join('_'), targetType: 'notification' };
  const resource = first.replaceAll('-', '_').replace(/s$/, '');
  const verb =
    rest.length > 0
      ? rest[rest.length - 1]!.replaceAll('-', '_')
      : method === 'POST'
        ? 'create'
        : method === 'DELETE'
          ? 'delete'
          : 'update';
  return { action: `${resource}.${verb}`, targetType: resource };
}

function audited(request: FastifyRequest): boolean {
  const config = request.routeOptions.config;
  return (
    CHANGING.has(request.method) &&
    request.principal !== undefined &&
    config.audit !== false &&
    config.scope !== undefined &&
    config.scope !== 'read'
  );
}

function idIn(payload: unknown): string | undefined {
  if (payload === null || typeof payload !== 'object') return undefined;
  const { id, notification_id: notificationId } = payload as { id?: unknown; notification_id?: unknown };
  if (typeof id === 'string') return id;
  return typeof notificationId === 'string' ? notificationId : undefined;
}

/** The audit row for a finished request, or undefined when it is not one to record. */
export function auditEntryOf(request: FastifyRequest, reply: FastifyReply): AuditEntry | undefined {
  if (!audited(request) || reply.statusCode < 200 || reply.statusCode >= 300) return undefined;
  if (reply.getHeader('idempotent-replayed') === 'true') return undefined;
  const config = request.routeOptions.config;
  const overrides: Exclude<typeof config.audit, false | undefined> = config.audit || {};
  const derived = deriveAudit(request.method, request.routeOptions.url ?? request.url);
  const action = overrides.action ?? derived?.action;
  if (!action) return undefined;
  const params = request.params as Record<string, unknown> | undefined;
  const targetId = (typeof params?.id === 'string' ? params.id : undefined) ?? request.auditTargetId ?? null;
  const body = request.body;
  const fields =
    body !== null && typeof body === 'object' && !Array.isArray(body)
      ? Object.keys(body).slice(0, MAX_FIELDS)
      : undefined;
  return {
    tenantId: overrides.tenant === 'target' ? targetId : request.principal!.clientId,
    actorId: request.principal!.clientId,
    action,
    targetType: overrides.targetType ?? derived?.targetType ?? null,
    targetId,
    ip: request.ip ?? null,
    requestId: request.id,
    details: { status: reply.statusCode, ...(fields ? { fields } : {}) },
  };
}

export function registerAudit(app: FastifyInstance, services: Services): void {
  // Rows of concurrent requests go out in one insert (one round trip instead of one each under load); each
  // response still waits for its own row.
  const record = createBatcher((entries: AuditEntry[]) => services.audit.recordAudits(entries));
  app.decorateRequest('auditTargetId', undefined);
  app.addHook('preSerialization', async (request, _reply, payload) => {
    if (audited(request)) request.auditTargetId = idIn(payload);
    return payload;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    try {
      const entry = auditEntryOf(request, reply);
      if (entry) await record(entry);
    } catch (error) {
      request.log.error({ err: error }, 'audit log write failed');
    }
    return payload;
  });
}
