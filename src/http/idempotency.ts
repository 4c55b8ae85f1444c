/**
 * Idempotency-Key on POSTs that create or send: the first request claims the key; a repeat with the same body
 * replays the stored response (marked Idempotent-Replayed: true); another body → 422; still in flight → 409.
 * Keys are per tenant and kept IDEMPOTENCY_TTL_HOURS.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashJson } from '../lib/crypto.ts';
import { AppError } from '../lib/errors.ts';
import type { Services } from '../services/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyKey: string | undefined;
  }
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const value = request.headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !KEY_PATTERN.test(value)) {
    throw new AppError(
      'invalid_idempotency_key',
      400,
      'Idempotency-Key must be 1 to 255 printable ASCII characters',
    );
  }
  return value;
}

export function registerIdempotency(app: FastifyInstance, services: Services): void {
  app.decorateRequest('idempotencyKey', undefined);

  app.addHook('preHandler', async (request, reply) => {
    if (!request.routeOptions.config.idempotent || !request.principal) return;
    const key = idempotencyKeyOf(request);
    if (key === undefined) return;
    const requestHash = hashJson({
      method: request.method,
      route: request.routeOptions.url,
      params: request.params,
      body: request.body,
    });
    const stored = await services.idempotency.claimIdempotencyKey({
      tenantId: request.principal.clientId,
      key,
      requestHash,
    });
    if (!stored) {
      request.idempotencyKey = key;
      return;
    }
    return reply
      .code(stored.status)
      .header('content-type', 'application/json; charset=utf-8')
      .header('idempotent-replayed', 'true')
      .send(stored.body);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const key = request.idempotencyKey;
    if (key === undefined || !request.principal) return payload;
    await services.idempotency.finishIdempotentRequest(
      request.principal.clientId,
      key,
      reply.statusCode,
      typeof payload === 'string' ? payload : undefined,
    );
    return payload;
  });
}
