import { describe, expect, it } from 'vitest';
import { webhookRetryDelayMs } from './webhook-delivery.service.ts';

describe('webhookRetryDelayMs', () => {
  const settings = { retryBaseMs: 1000, retryMaxMs: 60_000 };

  it('doubles per attempt, with equal jitter between half and all of the step', () => {
    expect(webhookRetryDelayMs(1, settings, () => 0)).toBe(500);
    expect(webhookRetryDelayMs(1, settings, () => 1)).toBe(1000);
    expect(webhookRetryDelayMs(3, settings, () => 0)).toBe(2000);
    expect(webhookRetryDelayMs(3, settings, () => 1)).toBe(4000);
  });

  it('never exceeds the maximum', () => {
    expect(webhookRetryDelayMs(20, settings, () => 1)).toBe(60_000);
    expect(webhookRetryDelayMs(20, settings, () => 0)).toBe(30_000);
  });
});
