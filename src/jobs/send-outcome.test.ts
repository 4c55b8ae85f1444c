import { describe, expect, it } from 'vitest';
import type { SendOutcome } from '../push/push-provider.ts';
import { classify, expiresAt, type SendRules, unsendable } from './send-outcome.ts';

describe('expiresAt', () => {
  const created = new Date('2026-11-25T09:00:00Z');
  it('counts SEND_MAX_AGE_SECONDS from the notification, or from a later requeue', () => {
    expect(expiresAt(created, undefined, 3600)).toBe(Date.parse('2026-11-25T10:00:00Z'));
    expect(expiresAt(created, '2026-11-26T09:00:00Z', 3600)).toBe(Date.parse('2026-11-26T10:00:00Z'));
    expect(expiresAt(created, '2026-11-24T09:00:00Z', 3600)).toBe(Date.parse('2026-11-25T10:00:00Z'));
  });
});

describe('unsendable', () => {
  const batch = { hasAccount: true, expired: false, maxAgeSeconds: 60 };
  it('sends a delivery to an active device of a tenant with credentials, in time', () => {
    expect(unsendable({ id: '1', deviceActive: true }, batch)).toBeUndefined();
  });
  it('fails an inactive device first, then a missing Firebase project; an expired batch ends dead', () => {
    expect(unsendable({ id: '1', deviceActive: false }, { ...batch, hasAccount: false })).toEqual({
      id: '1',
      status: 'failed',
      errorCode: 'DEVICE_INACTIVE',
    });
    expect(
      unsendable({ id: '1', deviceActive: true }, { ...batch, hasAccount: false, expired: true }),
    ).toEqual({
      id: '1',
      status: 'failed',
      errorCode: 'NO_CREDENTIALS',
      errorMessage: 'Firebase project removed',
    });
    expect(unsendable({ id: '1', deviceActive: true }, { ...batch, expired: true })).toEqual({
      id: '1',
      status: 'dead',
      errorCode: 'EXPIRED',
      errorMessage: 'not sent within SEND_MAX_AGE_SECONDS (60 s)',
    });
  });
});

describe('unsendable under the delivery controls', () => {
  const batch = { hasAccount: true, expired: false, maxAgeSeconds: 60 };
  const sendExpiredAt = Date.parse('2026-11-25T12:00:00Z');
  it('settles a cancelled notification as cancelled before anything else', () => {
    expect(
      unsendable({ id: '1', deviceActive: false }, { ...batch, cancelled: true, sendExpiredAt }),
    ).toEqual({ id: '1', status: 'cancelled', errorCode: 'cancelled' });
  });
  it("ends a delivery past the send's expires_at as expired (reason expired), not dead", () => {
    expect(unsendable({ id: '1', deviceActive: true }, { ...batch, expired: true, sendExpiredAt })).toEqual({
      id: '1',
      status: 'expired',
      errorCode: 'expired',
      errorMessage: "not sent by the send's expires_at (2026-11-25T12:00:00.000Z)",
    });
  });
});

describe('classify', () => {
  const now = Date.parse('2026-11-25T09:00:00Z');
  const rules: SendRules = {
    attempt: 1,
    maxAttempts: 3,
    expiry: now + 3_600_000,
    maxAgeSeconds: 3600,
    throttleDefaultMs: 30_000,
    backoff: { baseMs: 1000, maxMs: 8000, jitter: 'full' },
    random: () => 0.5,
  };
  const unavailable: SendOutcome = { kind: 'retryable', errorCode: 'UNAVAILABLE', message: 'try later' };

  it('records a sent message with its FCM id; FCM answered', () => {
    expect(classify('7', { kind: 'sent', messageId: 'projects/p/messages/1' }, rules, now)).toEqual({
      outcome: { id: '7', status: 'sent', messageId: 'projects/p/messages/1' },
      circuit: 'answered',
    });
  });

  it('fails a permanent error, and deactivates the device only when the token is dead', () => {
    const dead: SendOutcome = {
      kind: 'permanent',
      errorCode: 'UNREGISTERED',
      message: 'gone',
      tokenInvalid: true,
    };
    expect(classify('7', dead, rules, now)).toEqual({
      outcome: { id: '7', status: 'failed', errorCode: 'UNREGISTERED', errorMessage: 'gone' },
      circuit: 'answered',
      deactivate: 'UNREGISTERED',
    });
    const invalid: SendOutcome = {
      kind: 'permanent',
      errorCode: 'INVALID_ARGUMENT',
      message: 'bad',
      tokenInvalid: false,
    };
    expect(classify('7', invalid, rules, now)).toEqual({
      outcome: { id: '7', status: 'failed', errorCode: 'INVALID_ARGUMENT', errorMessage: 'bad' },
      circuit: 'answered',
    });
  });

  it('retries a retryable error after the backoff, and counts it against the circuit', () => {
    expect(classify('7', unavailable, rules, now)).toEqual({
      outcome: {
        id: '7',
        status: 'retrying',
        errorCode: 'UNAVAILABLE',
        errorMessage: 'try later',
        nextAttemptAt: new Date(now + 500),
      },
      circuit: 'failing',
    });
  });

  it('never retries before Retry-After', () => {
    const later = classify('7', { ...unavailable, retryAfterMs: 20_000 }, rules, now);
    expect(later.outcome.nextAttemptAt).toEqual(new Date(now + 20_000));
  });

  it('holds the project back on QUOTA_EXCEEDED (THROTTLE_DEFAULT_MS without Retry-After), not a circuit failure', () => {
    const quota: SendOutcome = { kind: 'retryable', errorCode: 'QUOTA_EXCEEDED', message: 'slow down' };
    expect(classify('7', quota, rules, now)).toEqual({
      outcome: {
        id: '7',
        status: 'retrying',
        errorCode: 'QUOTA_EXCEEDED',
        errorMessage: 'slow down',
        nextAttemptAt: new Date(now + 30_000),
      },
      circuit: 'neither',
      throttleUntil: now + 30_000,
    });
    expect(classify('7', { ...quota, retryAfterMs: 5000 }, rules, now).throttleUntil).toBe(now + 5000);
  });

  it("ends expired when the retry would come after the send's expires_at", () => {
    const sendExpiry = now + 500;
    const { outcome } = classify('7', unavailable, { ...rules, sendExpiry, random: () => 1 }, now);
    expect(outcome).toMatchObject({ id: '7', status: 'expired', errorCode: 'expired' });
  });

  it('ends dead after the last attempt', () => {
    expect(classify('7', unavailable, { ...rules, attempt: 3 }, now)).toEqual({
      outcome: { id: '7', status: 'dead', errorCode: 'UNAVAILABLE', errorMessage: 'try later' },
      circuit: 'failing',
    });
  });

  it('ends dead (EXPIRED) when the retry would come after SEND_MAX_AGE_SECONDS', () => {
    expect(classify('7', unavailable, { ...rules, expiry: now + 400 }, now)).toEqual({
      outcome: {
        id: '7',
        status: 'dead',
        errorCode: 'EXPIRED',
        errorMessage: 'not sent within SEND_MAX_AGE_SECONDS (3600 s); last error: UNAVAILABLE: try later',
      },
      circuit: 'failing',
    });
  });
});
