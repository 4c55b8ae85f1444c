/**
 * Verifies the webhooks the server sends (Standard Webhooks, https://www.standardwebhooks.com): the
 * `webhook-signature` header holds `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` per secret (several while
 * a secret rotates), under the endpoint's `whsec_` secret. WebCrypto only, so it runs in Node ≥ 22, browsers,
 * Deno, Bun and edge functions alike.
 */
import { WebhookVerificationError } from './errors.ts';

export interface WebhookEvent {
  id: string;
  type: string;
  created_at: string;
  data: Record<string, unknown>;
  [key: string]: unknown;
}

/** Headers as fetch (Headers) or Node's http (a record, names lower-cased) give them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

function header(headers: WebhookHeaders, name: string): string {
  const value = headers instanceof Headers ? headers.get(name) : headers[name];
  const one = Array.isArray(value) ? value[0] : value;
  if (!one) throw new WebhookVerificationError(`missing ${name} header`);
  return one;
}

function base64ToBytes(value: string): Uint8Array<ArrayBuffer> {
  const binary = atob(value);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Returns the event when one signature matches one of the secrets and the timestamp is within
 * `toleranceSeconds` of now (replays of old messages fail); throws WebhookVerificationError otherwise.
 * `body` is the raw request body, exactly as received: parsing and re-serialising it changes the bytes.
 */
export async function verifyWebhook(
  secrets: string | string[],
  headers: WebhookHeaders,
  body: string,
  options: { toleranceSeconds?: number; now?: Date } = {},
): Promise<WebhookEvent> {
  const id = header(headers, 'webhook-id');
  const timestamp = Number(header(headers, 'webhook-timestamp'));
  const signatures = header(headers, 'webhook-signature').split(' ');
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (!Number.isInteger(timestamp) || Math.abs(now - timestamp) > (options.toleranceSeconds ?? 300)) {
    throw new WebhookVerificationError('webhook-timestamp is too old or too new');
  }
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  for (const secret of Array.isArray(secrets) ? secrets : [secrets]) {
    let key: Awaited<ReturnType<typeof crypto.subtle.importKey>>;
    try {
      key = await crypto.subtle.importKey(
        'raw',
        base64ToBytes(secret.replace(/^whsec_/, '')),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      );
    } catch {
      throw new WebhookVerificationError('the secret is not a whsec_ base64 key');
    }
    for (const signature of signatures) {
      const [version, value] = signature.split(',', 2);
      if (version !== 'v1' || !value) continue;
      let candidate: Uint8Array<ArrayBuffer>;
      try {
        candidate = base64ToBytes(value);
      } catch {
        continue;
      }
      // subtle.verify compares in constant time.
      if (await crypto.subtle.verify('HMAC', key, candidate, signed)) {
        return JSON.parse(body) as WebhookEvent;
      }
    }
  }
  throw new WebhookVerificationError('no webhook-signature matches the secret');
}
