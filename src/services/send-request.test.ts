import { describe, expect, it } from 'vitest';
import { sendBodySchema, storedSendSchema } from './send-request.ts';

describe('the send schema and silent pushes', () => {
  const silentWithTitle = { phone_number: '+255712345678', silent: true, title: 'Hi', data: { sync: '1' } };

  it('refuses a new silent push that asks to show something, naming the field', () => {
    const parsed = sendBodySchema.safeParse(silentWithTitle);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['title']);
  });

  it("reads a schedule's request stored before that rule as it was accepted: the unseen fields dropped", () => {
    const parsed = storedSendSchema.safeParse(silentWithTitle);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toMatchObject({ phone_number: '+255712345678', silent: true, data: { sync: '1' } });
    expect(parsed.data).not.toHaveProperty('title');
  });

  it('still refuses a stored request that is wrong for another reason', () => {
    expect(storedSendSchema.safeParse({ silent: true, title: 'Hi' }).success).toBe(false); // no target
  });
});
