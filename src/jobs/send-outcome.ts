/**
 * What becomes of a delivery, as pure rules the send job applies: whether it can be sent at all, and what
 * FCM's answer means (sent, failed with a dead token, retried with backoff, dead after the last attempt or
 * past SEND_MAX_AGE_SECONDS). No I/O, so every case is a unit test.
 */
import type { DeliveryOutcome } from '../db/deliveries.repository.ts';
import { type Backoff, backoffDelayMs } from '../lib/backoff.ts';
import type { SendOutcome } from '../push/push-provider.ts';

/** What the rules need to know about the batch a delivery is in. */
export interface SendRules {
  /** The attempt being made, 1 for the first. */
  attempt: number;
  maxAttempts: number;
  /** When the batch's deliveries stop being worth sending (epoch ms, see expiresAt). */
  expiry: number;
  /** SEND_MAX_AGE_SECONDS, quoted in the error message of an expired delivery. */
  maxAgeSeconds: number;
  /** The send's own expires_at (epoch ms), when it has one: past it a delivery ends expired, not dead. */
  sendExpiry?: number | undefined;
  /** How long a project holds back after a QUOTA_EXCEEDED without Retry-After. */
  throttleDefaultMs: number;
  backoff: Backoff;
  random?: () => number;
}

/** When the deliveries of a job stop being worth sending: SEND_MAX_AGE_SECONDS after the notification (or its requeue). */
export function expiresAt(createdAt: Date, since: string | undefined, maxAgeSeconds: number): number {
  const start = Math.max(createdAt.getTime(), since ? Date.parse(since) || 0 : 0);
  return start + maxAgeSeconds * 1000;
}

function expiredMessage(maxAgeSeconds: number, lastError?: string): string {
  return `not sent within SEND_MAX_AGE_SECONDS (${maxAgeSeconds} s)${lastError ? `; last error: ${lastError}` : ''}`;
}

/** A delivery the send's expires_at caught before it was sent: the sender's rule, not a failure. */
function expiredBySend(deliveryId: string, sendExpiry: number): DeliveryOutcome {
  return {
    id: deliveryId,
    status: 'expired',
    errorCode: 'expired',
    errorMessage: `not sent by the send's expires_at (${new Date(sendExpiry).toISOString()})`,
  };
}

/**
 * The outcome of a delivery that is not sent at all: its notification was cancelled, the send's expires_at has passed, its device was
 * deactivated, its tenant's Firebase project is gone, or it is too old. Undefined when it should be sent.
 */
export function unsendable(
  delivery: { id: string; deviceActive: boolean },
  batch: {
    hasAccount: boolean;
    expired: boolean;
    maxAgeSeconds: number;
    /** The send's expires_at when it has passed. */
    sendExpiredAt?: number | undefined;
    /** The notification was cancelled after this batch's deliveries were made. */
    cancelled?: boolean;
  },
): DeliveryOutcome | undefined {
  if (batch.cancelled) return { id: delivery.id, status: 'cancelled', errorCode: 'cancelled' };
  if (batch.sendExpiredAt !== undefined) return expiredBySend(delivery.id, batch.sendExpiredAt);
  if (!delivery.deviceActive) return { id: delivery.id, status: 'failed', errorCode: 'DEVICE_INACTIVE' };
  if (!batch.hasAccount) {
    return {
      id: delivery.id,
      status: 'failed',
      errorCode: 'NO_CREDENTIALS',
      errorMessage: 'Firebase project removed',
    };
  }
  if (batch.expired) {
    return {
      id: delivery.id,
      status: 'dead',
      errorCode: 'EXPIRED',
      errorMessage: expiredMessage(batch.maxAgeSeconds),
    };
  }
  return undefined;
}

/** One FCM answer, classified. */
export interface Classified {
  outcome: DeliveryOutcome;
  /**
   * How the answer counts for the project's circuit breaker: FCM answered (success or a permanent error), FCM
   * failed (unavailable, internal, no connection), or neither (a quota is FCM working as intended).
   */
  circuit: 'answered' | 'failing' | 'neither';
  /** The device's token is dead: deactivate the device, with this reason. */
  deactivate?: string;
  /** QUOTA_EXCEEDED: the whole Firebase project holds back until then (epoch ms). */
  throttleUntil?: number;
}

/**
 * What FCM's answer for one delivery means: sent; failed for good (and the device deactivated when the token is
 * dead); or, for a retryable error, retried or given up on (see retryOrGiveUp). A QUOTA_EXCEEDED also holds the
 * whole project back, for its Retry-After or THROTTLE_DEFAULT_MS.
 */
export function classify(deliveryId: string, result: SendOutcome, rules: SendRules, now: number): Classified {
  if (result.kind === 'sent') {
    return { outcome: { id: deliveryId, status: 'sent', messageId: result.messageId }, circuit: 'answered' };
  }
  if (result.kind === 'permanent') {
    const outcome: DeliveryOutcome = {
      id: deliveryId,
      status: 'failed',
      errorCode: result.errorCode,
      errorMessage: result.message,
    };
    return result.tokenInvalid
      ? { outcome, circuit: 'answered', deactivate: result.errorCode }
      : { outcome, circuit: 'answered' };
  }
  if (result.errorCode === 'QUOTA_EXCEEDED') {
    const retryAfterMs = result.retryAfterMs ?? rules.throttleDefaultMs;
    return {
      outcome: retryOrGiveUp(deliveryId, result, retryAfterMs, rules, now),
      circuit: 'neither',
      throttleUntil: now + retryAfterMs,
    };
  }
  return { outcome: retryOrGiveUp(deliveryId, result, result.retryAfterMs, rules, now), circuit: 'failing' };
}

/**
 * A retryable error: retried after a backoff that never comes before Retry-After, or dead after the last attempt
 * or when the retry would come after the expiry.
 */
function retryOrGiveUp(
  deliveryId: string,
  result: { errorCode: string; message: string },
  retryAfterMs: number | undefined,
  rules: SendRules,
  now: number,
): DeliveryOutcome {
  const error = { errorCode: result.errorCode, errorMessage: result.message };
  if (rules.attempt >= rules.maxAttempts) return { id: deliveryId, status: 'dead', ...error };
  const next =
    now + backoffDelayMs(rules.attempt, rules.backoff, { atLeastMs: retryAfterMs, random: rules.random });
  if (rules.sendExpiry !== undefined && next >= rules.sendExpiry)
    return expiredBySend(deliveryId, rules.sendExpiry);
  if (next >= rules.expiry) {
    return {
      id: deliveryId,
      status: 'dead',
      errorCode: 'EXPIRED',
      errorMessage: expiredMessage(rules.maxAgeSeconds, `${result.errorCode}: ${result.message}`),
    };
  }
  return { id: deliveryId, status: 'retrying', ...error, nextAttemptAt: new Date(next) };
}
