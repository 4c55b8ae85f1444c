import { describe, expect, it } from 'vitest';
import { applyHeapPolicy } from './heap-policy.ts';

describe('applyHeapPolicy', () => {
  it('leaves a growth given on the command line alone, in either spelling', () => {
    expect(applyHeapPolicy(['--heap-growing-percent=0'])).toBe(false);
    expect(applyHeapPolicy(['--max-semi-space-size=16', '--heap_growing_percent=30'])).toBe(false);
  });

  it('sets its own otherwise, and a flag merely starting with the name is not mistaken for it', () => {
    expect(applyHeapPolicy([])).toBe(true);
    expect(applyHeapPolicy(['--heap-growing-percentage-typo'])).toBe(true);
  });
});
