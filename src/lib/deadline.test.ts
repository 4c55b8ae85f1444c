import { describe, expect, it } from 'vitest';
import { settledWithin } from './deadline.ts';

describe('settledWithin', () => {
  it('is true when the work resolves or rejects in time', async () => {
    expect(await settledWithin(Promise.resolve(), 1_000)).toBe(true);
    expect(await settledWithin(Promise.reject(new Error('failed')), 1_000)).toBe(true);
  });

  it('is false when the work is still pending at the deadline', async () => {
    const started = performance.now();
    expect(await settledWithin(new Promise(() => {}), 50)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });
});
