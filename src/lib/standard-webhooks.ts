/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): `whsec_` secrets and the `webhook-signature`
 * header, `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret, space-separated.
 */
import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new signing secret: 32 random bytes, base64, with the `whsec_` prefix receivers' libraries expect. */
export function generateWebhookSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('base64')}`;
}

/** One `v1,…` signature of a message with one secret. */
export function sign(secret: string, messageId: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
  const digest = createHmac('sha256', key)
    .update(`${messageId}.${timestampSeconds}.${body}`)
    .digest('base64');
  return `v1,${digest}`;
}

/** The `webhook-signature` header value: a signature per secret (several while a secret is being rotated). */
export function signatureHeader(
  secrets: string[],
  messageId: string,
  timestampSeconds: number,
  body: string,
): string {
  return secrets.map((secret) => sign(secret, messageId, timestampSeconds, body)).join(' ');
}
