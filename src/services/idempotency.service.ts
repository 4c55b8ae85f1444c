/**
 * Idempotency keys: the first request with a key claims it; a repeat with the same request replays the stored
 * response, another request under the same key is refused (422), and one still in flight is asked to retry (409).
 * Keys are per tenant and kept IDEMPOTENCY_TTL_HOURS; the HTTP hook (http/idempotency.ts) reads the header.
 */
import * as keys from '../db/idempotency.repository.ts';
import { AppError } from '../lib/errors.ts';
import type { ServiceDeps } from './deps.ts';

/** A request that never finished (a crash) frees its key after this long. */
const IN_FLIGHT_STALE_MS = 5 * 60_000;

export interface IdempotentRequest {
  tenantId: string;
  key: string;
  /** A hash of what makes two requests the same request (method, route, params, body). */
  requestHash: string;
}

/** The response stored under a key, to be replayed as it was. */
export interface StoredResponse {
  status: number;
  body: string;
}

/** Claims the key for this request (undefined), or returns the response of the request that claimed it first. */
export async function claimIdempotencyKey(
  deps: ServiceDeps,
  request: IdempotentRequest,
): Promise<StoredResponse | undefined> {
  const existing = await keys.claimIdempotencyKey(deps.db, {
    ...request,
    expiresAt: new Date(Date.now() + deps.config.idempotencyTtlHours * 3_600_000),
    staleBefore: new Date(Date.now() - IN_FLIGHT_STALE_MS),
  });
  if (!existing) return undefined;
  if (existing.requestHash !== request.requestHash) {
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
  return { status: existing.responseStatus, body: existing.responseBody };
}

/** Keeps the response for replays, or frees the key when the client may retry the request under it. */
export async function finishIdempotentRequest(
  deps: ServiceDeps,
  tenantId: string,
  key: string,
  status: number,
  body: string | undefined,
): Promise<void> {
  if (status >= 500 || status === 409 || status === 429) {
    // The client may retry these with the same key: do not pin the failure.
    await keys.releaseIdempotencyKey(deps.db, tenantId, key);
  } else if (body !== undefined) {
    await keys.storeIdempotentResponse(deps.db, tenantId, key, status, body);
  }
}
