import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, sign, signatureHeader } from './standard-webhooks.ts';

describe('Standard Webhooks signing', () => {
  const body = JSON.stringify({ type: 'webhook.test', timestamp: '2026-01-01T00:00:00.000Z', data: {} });

  it('makes whsec_ secrets of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });

  it('signs exactly as the reference library does', () => {
    const secret = generateWebhookSecret();
    const now = new Date();
    const seconds = Math.floor(now.getTime() / 1000);
    expect(sign(secret, 'evt_1', seconds, body)).toBe(new Webhook(secret).sign('evt_1', now, body));
  });

  it('puts one signature per secret in the header, each verifiable on its own', () => {
    const [current, previous] = [generateWebhookSecret(), generateWebhookSecret()];
    const seconds = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'evt_2',
      'webhook-timestamp': String(seconds),
      'webhook-signature': signatureHeader([current, previous], 'evt_2', seconds, body),
    };
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(current).verify(body, headers)).toMatchObject({ type: 'webhook.test' });
    expect(new Webhook(previous).verify(body, headers)).toMatchObject({ type: 'webhook.test' });
    expect(() => new Webhook(generateWebhookSecret()).verify(body, headers)).toThrow(/No matching signature/);
    expect(() => new Webhook(current).verify(`${body} `, headers)).toThrow(/No matching signature/);
  });
});
