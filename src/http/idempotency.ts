/**
 * Idempotency-Key on POSTs that create or send: the first request claims the key; a repeat with the same body
 * replays the stored response (marked Idempotent-Replayed: true); another body → 422; still in flight → 409.
 * Keys are per tenant and kept IDEMPOTENCY_TTL_HOURS.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/client.ts';
import {
  claimIdempotencyKey,
  releaseIdempotencyKey,
  storeIdempotentResponse,
} from '../db/idempotency.repository.ts';
import { hashJson } from '../lib/crypto.ts';
import { AppError } from '../lib/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyKey: string | undefined;
  }
}

/** A request that never finished (a crash) frees its key after this long. */
const IN_FLIGHT_STALE_MS = 5 * 60_000;
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

export function registerIdempotency(app: FastifyInstance, db: Db, ttlHours: number): void {
  app.decorateRequest('idempotencyKey', undefined);

  app.addHook('preHandler', async (request, reply) => {
    if (!request.routeOptions.config.idempotent || !request.principal) return;
    const key = idempotencyKeyOf(request);
    if (key === undefined) return;
    const tenantId = request.principal.clientId;
    const requestHash = hashJson({
      method: request.method,
      route: request.routeOptions.url,
      params: request.params,
      body: request.body,
    });
    const existing = await claimIdempotencyKey(db, {
      tenantId,
      key,
      requestHash,
      expiresAt: new Date(Date.now() + ttlHours * 3_600_000),
      staleBefore: new Date(Date.now() - IN_FLIGHT_STALE_MS),
    });
    if (!existing) {
      request.idempotencyKey = key;
      return;
    }
    if (existing.requestHash !== requestHash) {
      throw new AppError(
        'idempotency_key_reused',
        422,
        'this Idempotency-Key was already used with a different request; use a new key for a new request',
      );
    }
    if (existing.responseStatus === null || existing.responseBody === null) {
      throw new AppError(
        'idempotency_request_in_flight',
        409,
        'a request with this Idempotency-Key is still being processed',
        [],
        {
          'retry-after': '1',
        },
      );
    }
    return reply
      .code(existing.responseStatus)
      .header('content-type', 'application/json; charset=utf-8')
      .header('idempotent-replayed', 'true')
      .send(existing.responseBody);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const key = request.idempotencyKey;
    if (key === undefined || !request.principal) return payload;
    if (reply.statusCode >= 500 || reply.statusCode === 409 || reply.statusCode === 429) {
      // The client may retry these with the same key: do not pin the failure.
      await releaseIdempotencyKey(db, request.principal.clientId, key);
    } else if (typeof payload === 'string') {
      await storeIdempotentResponse(db, request.principal.clientId, key, reply.statusCode, payload);
    }
    return payload;
  });
}
