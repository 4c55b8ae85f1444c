/**
 * A back end's use of the TypeScript SDK (docs/sdk.md walks through it): it receives the push server's webhooks
 * and verifies their signatures, registers its users' devices, sends one of them a notification, and waits for
 * the signed webhook that says the notification completed.
 *
 *   FCMS_URL=http://localhost:8080 FCMS_CLIENT_ID=… FCMS_TOKEN=… node examples/node-app/app.ts
 *
 * The push server must be able to reach this process's webhook receiver (on loopback, as in the sandbox).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, verifyWebhook, type WebhookEvent, WebhookVerificationError } from '@fcm-server/client';

const { FCMS_URL = 'http://localhost:8080', FCMS_CLIENT_ID, FCMS_TOKEN } = process.env;
const fcm = createClient({ baseUrl: FCMS_URL, clientId: FCMS_CLIENT_ID, token: FCMS_TOKEN });

// 1. The webhook receiver: only a message signed with our endpoint's secret is acted on.
let secret = '';
const completions = new Map<string, (event: WebhookEvent) => void>();
const receiver = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  request.on('end', async () => {
    try {
      const event = await verifyWebhook(secret, request.headers, body);
      response.writeHead(204).end();
      completions.get(String(event.data.notification_id))?.(event);
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      console.warn('refused a webhook:', error.message);
      response.writeHead(400).end();
    }
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/fcm-webhooks`;
const { data: webhook } = await fcm.POST('/api/v1/webhooks', {
  body: { url: receiverUrl, event_types: ['notification.completed'] },
});
secret = webhook!.secret;

try {
  // 2. Devices, as the app reports them to this back end after sign-in (FCM token, platform, user).
  const users = [
    { external_id: 'asha', platform: 'android', token: 'example-app-android-0001' },
    { external_id: 'juma', platform: 'ios', token: 'example-app-ios-0001' },
  ] as const;
  for (const user of users) await fcm.POST('/api/v1/devices', { body: user });
  let registered = 0;
  for await (const _device of fcm.paginate('/api/v1/devices', { query: { active: 'true' } })) registered += 1;
  console.log(`registered ${users.length} devices (${registered} active in all)`);

  // 3. A send. The SDK gives it an idempotency key, so a retry after a timeout never sends twice.
  const { data: sent } = await fcm.POST('/api/v1/notify', {
    body: { external_id: 'asha', title: 'Your order has shipped', data: { order_id: '1234' } },
  });
  const notificationId = sent!.notification_id;
  console.log(`sent notification ${notificationId}`);

  // 4. The signed webhook that reports the outcome.
  const event = await new Promise<WebhookEvent>((resolve, reject) => {
    completions.set(notificationId, resolve);
    setTimeout(() => reject(new Error('no notification.completed webhook within 30 s')), 30_000).unref();
  });
  const { status, counts } = event.data as { status: string; counts: { sent: number; failed: number } };
  console.log(`verified webhook ${event.type}: ${status}, sent ${counts.sent}, failed ${counts.failed}`);
} finally {
  await fcm.DELETE('/api/v1/webhooks/{id}', { params: { path: { id: webhook!.id } } });
  receiver.close();
}
