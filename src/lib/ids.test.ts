import { describe, expect, it } from 'vitest';
import { UUID_PATTERN, uuidv7 } from './ids.ts';

describe('uuidv7', () => {
  it('is a version-7 UUID that sorts by creation time', () => {
    const early = uuidv7(1_700_000_000_000);
    const late = uuidv7(1_700_000_000_001);
    expect(early).toMatch(UUID_PATTERN);
    expect(early[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(early[19]);
    expect(early < late).toBe(true);
  });
});
