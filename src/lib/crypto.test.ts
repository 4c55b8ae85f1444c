import { describe, expect, it } from 'vitest';
import {
  createCipher,
  generateClientToken,
  hashClientToken,
  hashJson,
  keyIdOf,
  sameDigest,
} from './crypto.ts';

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
    expect(() => other.decrypt(value)).toThrow(/encrypted with key .* ENCRYPTION_KEYS_PREVIOUS/);
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

describe('cipher with previous keys (rotation)', () => {
  const keyA = Buffer.alloc(32, 3);
  const keyB = Buffer.alloc(32, 5);
  const keyC = Buffer.alloc(32, 6);
  const underA = createCipher(keyA);
  const rotated = createCipher(keyB, [keyC, keyA]);

  it('encrypts under the current key and decrypts values of every configured key', () => {
    const old = underA.encrypt('token-from-before');
    const fresh = rotated.encrypt('token-after');
    expect(fresh.split(':')[1]).toBe(keyIdOf(keyB));
    expect(rotated.keyId).toBe(keyIdOf(keyB));
    expect(rotated.previousKeyIds).toEqual([keyIdOf(keyC), keyIdOf(keyA)]);
    expect(rotated.decrypt(old)).toBe('token-from-before');
    expect(rotated.decrypt(fresh)).toBe('token-after');
    expect(rotated.decrypt(createCipher(keyC).encrypt('c'))).toBe('c');
    expect(rotated.isCurrent(fresh)).toBe(true);
    expect(rotated.isCurrent(old)).toBe(false);
    expect(() => underA.decrypt(fresh)).toThrow(new RegExp(`encrypted with key ${keyIdOf(keyB)}`));
  });

  it('once the old key is dropped, its values no longer decrypt', () => {
    const old = underA.encrypt('x');
    expect(() => createCipher(keyB, [keyC]).decrypt(old)).toThrow(/neither ENCRYPTION_KEY/);
  });

  it('indexes under the current key and knows the index each previous key gave', () => {
    expect(rotated.blindIndex('t')).toBe(createCipher(keyB).blindIndex('t'));
    expect(rotated.previousBlindIndexes('t')).toEqual([
      createCipher(keyC).blindIndex('t'),
      underA.blindIndex('t'),
    ]);
    expect(underA.previousBlindIndexes('t')).toEqual([]);
  });

  it('accepts receipt tokens minted before the rotation, mints new ones under the current key', () => {
    const before = underA.receiptToken('42');
    expect(rotated.verifyReceiptToken('42', before)).toBe(true);
    expect(rotated.verifyReceiptToken('43', before)).toBe(false);
    expect(rotated.receiptToken('42')).toBe(createCipher(keyB).receiptToken('42'));
    expect(createCipher(keyB).verifyReceiptToken('42', before)).toBe(false);
  });

  it('ignores the current key or duplicates listed among the previous ones', () => {
    expect(createCipher(keyA, [keyA, keyC, keyC]).previousKeyIds).toEqual([keyIdOf(keyC)]);
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
