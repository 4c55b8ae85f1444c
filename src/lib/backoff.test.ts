import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from './backoff.ts';

describe('backoffDelayMs with full jitter (deliveries)', () => {
  const backoff = { baseMs: 1000, maxMs: 8000, jitter: 'full' } as const;
  it('is full jitter under an exponential ceiling, capped, and never below Retry-After', () => {
    expect(backoffDelayMs(1, backoff, { random: () => 0.999 })).toBe(999);
    expect(backoffDelayMs(3, backoff, { random: () => 0.5 })).toBe(2000);
    expect(backoffDelayMs(10, backoff, { random: () => 1 })).toBe(8000);
    expect(backoffDelayMs(1, backoff, { atLeastMs: 5000, random: () => 0 })).toBe(5000);
  });
});

describe('backoffDelayMs with equal jitter (webhooks)', () => {
  const backoff = { baseMs: 1000, maxMs: 60_000, jitter: 'equal' } as const;

  it('doubles per attempt, with equal jitter between half and all of the step', () => {
    expect(backoffDelayMs(1, backoff, { random: () => 0 })).toBe(500);
    expect(backoffDelayMs(1, backoff, { random: () => 1 })).toBe(1000);
    expect(backoffDelayMs(3, backoff, { random: () => 0 })).toBe(2000);
    expect(backoffDelayMs(3, backoff, { random: () => 1 })).toBe(4000);
  });

  it('never exceeds the maximum', () => {
    expect(backoffDelayMs(20, backoff, { random: () => 1 })).toBe(60_000);
    expect(backoffDelayMs(20, backoff, { random: () => 0 })).toBe(30_000);
  });
});
