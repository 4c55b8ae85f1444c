import { describe, expect, it } from 'vitest';
import { DURATION_PATTERN, durationSeconds } from './durations.ts';

describe('durations', () => {
  it('reads minutes, hours and days', () => {
    expect(durationSeconds('30m')).toBe(1800);
    expect(durationSeconds('24h')).toBe(86_400);
    expect(durationSeconds('7d')).toBe(604_800);
  });
  it('accepts one number and one unit only', () => {
    expect(DURATION_PATTERN.test('24h')).toBe(true);
    for (const bad of ['24', 'h', '1.5h', '24H', '1w', '-1d', '1d2h'])
      expect(DURATION_PATTERN.test(bad)).toBe(false);
  });
});
