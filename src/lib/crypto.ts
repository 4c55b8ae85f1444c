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
  /** Short id of the key a value was encrypted with (stored with each value, so keys can be rotated). */
  readonly keyId: string;
  encrypt(plaintext: string): string;
  decrypt(ciphertext: string): string;
  /** Deterministic keyed hash of a value: lets us find and de-duplicate tokens without storing them in clear. */
  blindIndex(value: string): string;
  /** Receipt token for a delivery: the mobile app proves it received the push by echoing it. */
  receiptToken(deliveryId: string): string;
  verifyReceiptToken(deliveryId: string, token: string): boolean;
}

/** A KeyObject, not a Buffer: Node checks a raw key on every createHmac/createCipheriv call (~10 µs each). */
function subkey(master: Buffer, purpose: string): KeyObject {
  return createSecretKey(
    Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `fcm-server:${purpose}`, 32)),
  );
}

export function createCipher(masterKey: Buffer): Cipher {
  if (masterKey.length !== 32) throw new Error('encryption key must be 32 bytes');
  const encKey = subkey(masterKey, 'encryption');
  const indexKey = subkey(masterKey, 'blind-index');
  const receiptKey = subkey(masterKey, 'receipt');
  const keyId = createHash('sha256').update(masterKey).digest('hex').slice(0, 8);

  const hmac = (key: KeyObject, value: string) => createHmac('sha256', key).update(value, 'utf8').digest();

  return {
    keyId,
    encrypt(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', encKey, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${VERSION}:${keyId}:${iv.toString('base64url')}:${body.toString('base64url')}`;
    },
    decrypt(ciphertext) {
      const [version, id, ivText, bodyText] = ciphertext.split(':');
      if (version !== VERSION || !ivText || !bodyText) throw new Error('unrecognised ciphertext format');
      if (id !== keyId)
        throw new Error(`value was encrypted with key ${id}, not the configured key ${keyId}`);
      const body = Buffer.from(bodyText, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', encKey, Buffer.from(ivText, 'base64url'));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    },
    blindIndex(value) {
      return hmac(indexKey, value).toString('hex');
    },
    receiptToken(deliveryId) {
      return hmac(receiptKey, deliveryId).subarray(0, 18).toString('base64url');
    },
    verifyReceiptToken(deliveryId, token) {
      const expected = Buffer.from(this.receiptToken(deliveryId));
      const given = Buffer.from(token);
      return expected.length === given.length && timingSafeEqual(expected, given);
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
