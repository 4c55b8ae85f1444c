/** Encryption keys as configured: 32 bytes written as base64, base64url or hex, and the hint when they are not. */
import { ConfigError } from './errors.ts';

export const KEY_HINT =
  'must be 32 bytes, base64 or hex encoded (generate one with: openssl rand -base64 32)';

/** The key's 32 bytes, or undefined when the text is not one. */
export function decodeKey(value: string): Buffer | undefined {
  const trimmed = value.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : Buffer.from(trimmed, 'base64');
  return key.length === 32 ? key : undefined;
}

/** Parses a 32-byte key given as base64, base64url or hex. */
export function parseEncryptionKey(value: string): Buffer {
  const key = decodeKey(value);
  if (!key) throw new ConfigError(`ENCRYPTION_KEY ${KEY_HINT}`);
  return key;
}
