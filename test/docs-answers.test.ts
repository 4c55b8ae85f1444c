/** The loose reading of documented answers (`# → 202 {"status": "queued", …}`) that the executable docs check. */
import { describe, expect, it } from 'vitest';
import { mismatch, parseExpectation } from './docs-answers.ts';

const check = (documented: string, actual: unknown) => mismatch(parseExpectation(documented).body!, actual);

describe('documented answers', () => {
  it('reads a status alone, a status with JSON, and JSON alone', () => {
    expect(parseExpectation('202')).toEqual({ status: 202 });
    expect(parseExpectation('201 {"id": "…"}').status).toBe(201);
    expect(parseExpectation('{"ok": true}').status).toBeUndefined();
  });

  it('refuses what it cannot check, so a doc cannot promise an unchecked answer', () => {
    expect(() => parseExpectation('')).toThrow(/empty/);
    expect(() => parseExpectation('202 the notification is queued')).toThrow(/expected a value/);
    expect(() => parseExpectation('{"a": 1')).toThrow(/"," or "}"/);
  });

  it('matches objects as subsets, … as any value, and … in a string as any text', () => {
    expect(check('{"status": "queued", …}', { status: 'queued', id: 'x' })).toBeUndefined();
    expect(check('{"id": …}', { id: 42 })).toBeUndefined();
    expect(check('{"id": "…"}', { id: 42 })).toMatch(/expected a string, got 42/);
    expect(
      check('{"url": "/api/v1/notifications/…/status/"}', { url: '/api/v1/notifications/abc/status/' }),
    ).toBeUndefined();
    expect(check('{"status": "queued"}', { status: 'sent' })).toMatch(/\$\.status: expected "queued"/);
    expect(check('{"id": "…"}', {})).toMatch(/\$\.id: missing/);
  });

  it('matches arrays by position, exactly unless they end with …', () => {
    expect(check('{"items": [{"n": 1}, …]}', { items: [{ n: 1 }, { n: 2 }] })).toBeUndefined();
    expect(check('{"items": [{"n": 1}]}', { items: [{ n: 1 }, { n: 2 }] })).toMatch(
      /expected 1 items, got 2/,
    );
    expect(check('{"items": []}', { items: [] })).toBeUndefined();
    expect(check('[1, 2]', [1, 3])).toMatch(/\$\[1\]: expected 2, got 3/);
    expect(check('{"tags": [...]}', { tags: ['a'] })).toBeUndefined();
  });
});
