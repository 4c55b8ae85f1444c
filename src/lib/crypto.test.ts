import { describe, expect, it } from 'vitest';
import { createCipher, generateClientToken, hashClientToken, hashJson, sameDigest } from './crypto.ts';

const cipher = createCipher(Buffer.alloc(32, 3));

describe('cipher', () => {
  it('round-trips, with a fresh IV each time and the key id in the value', () => {
    const a = cipher.encrypt('fcm-token-abc');
    const b = cipher.encrypt('fcm-token-abc');
    expect(a).not.toBe(b);
    expect(a.split(':')[1]).toBe(cipher.keyId);
    expect(cipher.decrypt(a)).toBe('fcm-token-abc');
  });

  it('detects tampering and values from another key', () => {
    const value = cipher.encrypt('secret');
    const tampered = `${value.slice(0, -2)}${value.endsWith('A') ? 'B' : 'A'}${value.slice(-1)}`;
    expect(() => cipher.decrypt(tampered)).toThrow();
    const other = createCipher(Buffer.alloc(32, 4));
    expect(() => other.decrypt(value)).toThrow(/encrypted with key/);
  });

  it('blind index is deterministic per key and differs between keys', () => {
    expect(cipher.blindIndex('t')).toBe(cipher.blindIndex('t'));
    expect(cipher.blindIndex('t')).not.toBe(createCipher(Buffer.alloc(32, 4)).blindIndex('t'));
  });

  it('receipt tokens verify only for their delivery', () => {
    const token = cipher.receiptToken('42');
    expect(cipher.verifyReceiptToken('42', token)).toBe(true);
    expect(cipher.verifyReceiptToken('43', token)).toBe(false);
    expect(cipher.verifyReceiptToken('42', 'short')).toBe(false);
  });
});

describe('client tokens', () => {
  it('are long, random, prefixed, and compared by hash', () => {
    const token = generateClientToken();
    expect(token).toMatch(/^fcms_[A-Za-z0-9_-]{43}$/);
    expect(generateClientToken()).not.toBe(token);
    expect(sameDigest(hashClientToken(token), hashClientToken(token))).toBe(true);
    expect(sameDigest(hashClientToken(token), hashClientToken(`${token}x`))).toBe(false);
  });
});

describe('hashJson', () => {
  it('ignores key order and undefined values', () => {
    expect(hashJson({ a: 1, b: [1, { c: 2, d: undefined }] })).toBe(hashJson({ b: [1, { c: 2 }], a: 1 }));
    expect(hashJson({ a: 1 })).not.toBe(hashJson({ a: 2 }));
  });
});
