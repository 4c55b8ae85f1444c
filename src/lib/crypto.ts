/**
 * Secrets at rest: AES-256-GCM for push tokens and Firebase credentials, a keyed hash (blind index) for
 * token lookups, HMAC receipt tokens for device receipts, and SHA-256 for client tokens.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

const VERSION = 'v1';

export interface Cipher {
  /** Short id of the current key (stored with each value, so keys can be rotated). */
  readonly keyId: string;
  /** Ids of the decrypt-only keys (ENCRYPTION_KEYS_PREVIOUS), in the order given. */
  readonly previousKeyIds: readonly string[];
  /** Encrypts under the current key. */
  encrypt(plaintext: string): string;
  /** Decrypts a value written under the current key or any previous one. */
  decrypt(ciphertext: string): string;
  /** Whether a value is already encrypted under the current key (key rotation skips those). */
  isCurrent(ciphertext: string): boolean;
  /** Deterministic keyed hash of a value: lets us find and de-duplicate tokens without storing them in clear. */
  blindIndex(value: string): string;
  /** The same value's blind index under each previous key: rows not yet re-indexed by a rotation carry one. */
  previousBlindIndexes(value: string): string[];
  /** Receipt token for a delivery: the mobile app proves it received the push by echoing it. */
  receiptToken(deliveryId: string): string;
  /** Accepts receipt tokens minted under the current key or a previous one (pushes sent before a rotation). */
  verifyReceiptToken(deliveryId: string, token: string): boolean;
  /** The signature of a registration token's payload (services/registration-tokens.service.ts). */
  signRegistrationToken(payload: string): string;
  /** Accepts signatures made under the current key or a previous one. */
  verifyRegistrationToken(payload: string, signature: string): boolean;
}

/** A KeyObject, not a Buffer: Node checks a raw key on every createHmac/createCipheriv call (~10 µs each). */
function subkey(master: Buffer, purpose: string): KeyObject {
  return createSecretKey(
    Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `fcm-server:${purpose}`, 32)),
  );
}

/** The id stored in every value: the first 8 hex digits of the key's SHA-256 (names the key, reveals nothing). */
export function keyIdOf(masterKey: Buffer): string {
  return createHash('sha256').update(masterKey).digest('hex').slice(0, 8);
}

/** Every value encrypted under a key starts with this (what key rotation looks for). */
export const ciphertextPrefix = (keyId: string) => `${VERSION}:${keyId}:`;

interface KeySet {
  id: string;
  enc: KeyObject;
  index: KeyObject;
  receipt: KeyObject;
  registration: KeyObject;
}

function deriveKeys(masterKey: Buffer): KeySet {
  if (masterKey.length !== 32) throw new Error('encryption key must be 32 bytes');
  return {
    id: keyIdOf(masterKey),
    enc: subkey(masterKey, 'encryption'),
    index: subkey(masterKey, 'blind-index'),
    receipt: subkey(masterKey, 'receipt'),
    registration: subkey(masterKey, 'registration-token'),
  };
}

const hmac = (key: KeyObject, value: string) => createHmac('sha256', key).update(value, 'utf8').digest();
const receiptTokenWith = (keys: KeySet, deliveryId: string) =>
  hmac(keys.receipt, deliveryId).subarray(0, 18).toString('base64url');
const registrationSignatureWith = (keys: KeySet, payload: string) =>
  hmac(keys.registration, payload).toString('base64url');

/** Whether `given` equals what one of the key sets makes, compared in constant time. */
function madeByOneOf(keySets: KeySet[], given: string, make: (keys: KeySet) => string): boolean {
  const bytes = Buffer.from(given);
  let valid = false;
  for (const keys of keySets) {
    const expected = Buffer.from(make(keys));
    if (expected.length === bytes.length && timingSafeEqual(expected, bytes)) valid = true;
  }
  return valid;
}

/**
 * A cipher that encrypts under `currentKey` and decrypts under it or any of `previousKeys` (each value names
 * its key). Blind indexes and receipt tokens are derived from the current key too, so a rotation re-indexes.
 */
export function createCipher(currentKey: Buffer, previousKeys: readonly Buffer[] = []): Cipher {
  const current = deriveKeys(currentKey);
  const previous = previousKeys.map(deriveKeys).filter((k, i, all) => {
    return k.id !== current.id && all.findIndex((other) => other.id === k.id) === i;
  });
  const byId = new Map([current, ...previous].map((k) => [k.id, k]));
  const currentPrefix = ciphertextPrefix(current.id);

  return {
    keyId: current.id,
    previousKeyIds: previous.map((k) => k.id),
    encrypt(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current.enc, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${currentPrefix}${iv.toString('base64url')}:${body.toString('base64url')}`;
    },
    decrypt(ciphertext) {
      const [version, id, ivText, bodyText] = ciphertext.split(':');
      if (version !== VERSION || !id || !ivText || !bodyText)
        throw new Error('unrecognised ciphertext format');
      const keys = byId.get(id);
      if (!keys) {
        throw new Error(
          `value was encrypted with key ${id}, which is neither ENCRYPTION_KEY (${current.id}) ` +
            'nor one of ENCRYPTION_KEYS_PREVIOUS',
        );
      }
      const body = Buffer.from(bodyText, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', keys.enc, Buffer.from(ivText, 'base64url'));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    },
    isCurrent(ciphertext) {
      return ciphertext.startsWith(currentPrefix);
    },
    blindIndex(value) {
      return hmac(current.index, value).toString('hex');
    },
    previousBlindIndexes(value) {
      return previous.map((k) => hmac(k.index, value).toString('hex'));
    },
    receiptToken(deliveryId) {
      return receiptTokenWith(current, deliveryId);
    },
    verifyReceiptToken(deliveryId, token) {
      return madeByOneOf([current, ...previous], token, (keys) => receiptTokenWith(keys, deliveryId));
    },
    signRegistrationToken(payload) {
      return registrationSignatureWith(current, payload);
    },
    verifyRegistrationToken(payload, signature) {
      return madeByOneOf([current, ...previous], signature, (keys) =>
        registrationSignatureWith(keys, payload),
      );
    },
  };
}

/** A new client token: 256 random bits, prefixed so leaked tokens are recognisable by secret scanners. */
export function generateClientToken(): string {
  return `fcms_${randomBytes(32).toString('base64url')}`;
}

/** Client tokens are high-entropy random values, so an unsalted SHA-256 is the right (fast, lookup-able) hash. */
export function hashClientToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** SHA-256 of a canonical JSON rendering (sorted keys): equal bodies hash equal whatever their key order. */
export function hashJson(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
