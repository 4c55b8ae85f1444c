import { describe, expect, it } from 'vitest';
import { expiresAt, retryDelayMs } from './delivery.service.ts';

describe('retryDelayMs', () => {
  const settings = { retryBaseMs: 1000, retryMaxMs: 8000 };
  it('is full jitter under an exponential ceiling, capped, and never below Retry-After', () => {
    expect(retryDelayMs(1, undefined, settings, () => 0.999)).toBe(999);
    expect(retryDelayMs(3, undefined, settings, () => 0.5)).toBe(2000);
    expect(retryDelayMs(10, undefined, settings, () => 1)).toBe(8000);
    expect(retryDelayMs(1, 5000, settings, () => 0)).toBe(5000);
  });
});

describe('expiresAt', () => {
  const created = new Date('2026-11-25T09:00:00Z');
  it('counts SEND_MAX_AGE_SECONDS from the notification, or from a later requeue', () => {
    expect(expiresAt(created, undefined, 3600)).toBe(Date.parse('2026-11-25T10:00:00Z'));
    expect(expiresAt(created, '2026-11-26T09:00:00Z', 3600)).toBe(Date.parse('2026-11-26T10:00:00Z'));
    expect(expiresAt(created, '2026-11-24T09:00:00Z', 3600)).toBe(Date.parse('2026-11-25T10:00:00Z'));
  });
});
