/**
 * The TypeScript SDK (packages/client) against a live server over real HTTP: every operation of the OpenAPI
 * document is called through it at least once (the last test fails naming any that is not), with its helpers:
 * credentials, idempotency keys, typed errors, cursor iteration, webhook verification and the event stream.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDevice as registerAppDevice } from '../packages/client/src/browser.ts';
import {
  createClient,
  type FcmClient,
  FcmServerError,
  type StreamEvent,
  verifyWebhook,
  WebhookVerificationError,
} from '../packages/client/src/index.ts';
import { createTestServiceAccount } from '../src/emulator/test-account.ts';
import { createCipher } from '../src/lib/crypto.ts';
import { createClient as createApiClient } from '../src/services/clients.service.ts';
import {
  receiptOfLastPush,
  startTestServer,
  TEST_ENCRYPTION_KEY,
  type TestServer,
  waitFor,
} from './helpers.ts';

let server: TestServer;
let baseUrl: string;
let fcm: FcmClient;
let admin: FcmClient;
/** The last event the first stream saw: where the resumed stream starts. */
let lastEventId: string;
/** The tenant's client token, which the app-side route must refuse. */
let ownToken: string;
let receiver: Server;
let receiverUrl: string;
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
/** `METHOD /path` of every request the SDK made, to tell which operations the tests exercised. */
const requests: string[] = [];

const recordingFetch = (request: Request) => {
  requests.push(`${request.method} ${new URL(request.url).pathname}`);
  return fetch(request);
};

beforeAll(async () => {
  server = await startTestServer({
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_ALLOW_HTTP: 'true',
    SEND_MAX_ATTEMPTS: '1',
    // Small, so that a resumed stream pages through its replay (close 4010, reconnect with `after`).
    EVENT_STREAM_REPLAY_LIMIT: '2',
  });
  baseUrl = (await server.app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  const created = await createApiClient(server.runtime.deps, { name: 'sdk' });
  ownToken = created.clientToken;
  fcm = createClient({
    baseUrl,
    clientId: created.clientId,
    token: created.clientToken,
    fetch: recordingFetch,
  });
  const ops = await createApiClient(server.runtime.deps, { name: 'ops', scopes: ['admin'] });
  admin = createClient({ baseUrl, token: ops.clientToken, fetch: recordingFetch });
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
});

afterAll(async () => {
  await server?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

async function finished(notificationId: string) {
  return waitFor(async () => {
    const { data } = await fcm.GET('/api/v1/notifications/{id}/status', {
      params: { path: { id: notificationId } },
    });
    return ['queued', 'sending'].includes(data!.notification.status) ? undefined : data;
  });
}

describe('the TypeScript SDK against a live server', () => {
  let deviceId: string;
  let profileId: string;
  let topicId: string;

  it("health, metrics and the caller's own client", async () => {
    expect((await fcm.GET('/api/v1/health')).data?.status).toBe('ok');
    expect((await fcm.GET('/api/v1/health/ready')).response.status).toBe(200);
    const metrics = await fcm.GET('/metrics', { parseAs: 'text' });
    expect(metrics.data).toContain('# HELP');
    expect((await fcm.GET('/api/v1/clients/me')).data?.name).toBe('sdk');
  });

  it('tenant settings', async () => {
    const { data: changed } = await fcm.PATCH('/api/v1/settings', {
      body: { quiet_hours: { start: '22:00', end: '08:00' }, throttle_per_minute: 500 },
    });
    expect(changed?.quiet_hours).toEqual({ start: '22:00', end: '08:00' });
    expect((await fcm.GET('/api/v1/settings')).data?.throttle_per_minute).toBe(500);
    await fcm.PATCH('/api/v1/settings', { body: { quiet_hours: null, throttle_per_minute: null } });
  });

  it('Firebase projects', async () => {
    const { account } = createTestServiceAccount({
      projectId: `sdk-${process.pid}`,
      tokenUri: server.emulator.tokenUri,
    });
    server.emulator.addServiceAccount(account);
    const { data: project } = await fcm.POST('/api/v1/firebase-projects', {
      body: { service_account: { ...account } },
    });
    const id = project!.id;
    expect((await fcm.GET('/api/v1/firebase-projects')).data?.items.map((p) => p.id)).toContain(id);
    expect((await fcm.GET('/api/v1/firebase-projects/{id}', { params: { path: { id } } })).data?.id).toBe(id);
    await fcm.POST('/api/v1/firebase-projects/{id}/default', { params: { path: { id } } });
  });

  it('profiles and devices, and paginate() walks every page', async () => {
    const { data: profile } = await fcm.POST('/api/v1/profiles', {
      body: { external_id: 'sdk-user-1', name: 'Asha', phone_number: '+255712345678' },
    });
    profileId = profile!.id;
    expect(
      (await fcm.GET('/api/v1/profiles', { params: { query: { limit: 10 } } })).data?.items,
    ).toHaveLength(1);
    await fcm.GET('/api/v1/profiles/{id}', { params: { path: { id: profileId } } });
    const { data: renamed } = await fcm.PUT('/api/v1/profiles/{id}', {
      params: { path: { id: profileId } },
      body: { name: 'Asha Mwangi' },
    });
    expect(renamed?.name).toBe('Asha Mwangi');

    for (let i = 0; i < 5; i += 1) {
      const { data } = await fcm.POST('/api/v1/devices', {
        body: { platform: 'android', token: `sdk-device-token-${i}-0123456789`, external_id: 'sdk-user-1' },
      });
      deviceId ??= data!.id;
    }
    const walked: string[] = [];
    for await (const device of fcm.paginate('/api/v1/devices', { query: { limit: 2 } }))
      walked.push(device.id);
    expect(walked).toHaveLength(5);
    expect(new Set(walked).size).toBe(5);
    await fcm.GET('/api/v1/devices/{id}', { params: { path: { id: deviceId } } });
    const { data: updated } = await fcm.PUT('/api/v1/devices/{id}', {
      params: { path: { id: deviceId } },
      body: { tags: ['beta'] },
    });
    expect(updated?.tags).toEqual(['beta']);
    const { response: seen } = await fcm.POST('/api/v1/devices/{id}/seen', {
      params: { path: { id: deviceId } },
    });
    expect(seen.status).toBe(204);
  });

  it('frequency caps', async () => {
    const { data: cap } = await fcm.POST('/api/v1/frequency-caps', {
      body: { max: 3, per: '24h', scope: 'profile', topic: 'sdk.promotions' },
    });
    const path = { id: cap!.id };
    expect((await fcm.GET('/api/v1/frequency-caps')).data?.items).toHaveLength(1);
    await fcm.GET('/api/v1/frequency-caps/{id}', { params: { path } });
    const { data: changed } = await fcm.PATCH('/api/v1/frequency-caps/{id}', {
      params: { path },
      body: { max: 5 },
    });
    expect(changed).toMatchObject({ max: 5, per: '24h', topic: 'sdk.promotions' });
    await fcm.DELETE('/api/v1/frequency-caps/{id}', { params: { path } });
  });

  it('throws FcmServerError with our error code, status and request id', async () => {
    const error = await fcm
      .GET('/api/v1/devices/{id}', { params: { path: { id: '0193e1b2-8d10-7f3a-8b22-1c2d3e4f5a6b' } } })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FcmServerError);
    expect(error).toMatchObject({ code: 'not_found', status: 404 });
    expect((error as FcmServerError).requestId).toMatch(/.+/);
    const wrong = createClient({ baseUrl, clientId: 'nobody', token: 'fcms_wrong' });
    await expect(wrong.GET('/api/v1/clients/me')).rejects.toMatchObject({ status: 401 });
  });

  it('topics', async () => {
    const { data: topic } = await fcm.POST('/api/v1/topics', { body: { name: 'sdk.news' } });
    topicId = topic!.id;
    const path = { id: topicId };
    await fcm.GET('/api/v1/topics');
    await fcm.GET('/api/v1/topics/{id}', { params: { path } });
    await fcm.PUT('/api/v1/topics/{id}', {
      params: { path },
      body: { name: 'sdk.news', description: 'News' },
    });
    await fcm.POST('/api/v1/topics/{id}/subscribe', { params: { path }, body: { device_ids: [deviceId] } });
    const subscribers = [];
    for await (const subscriber of fcm.paginate('/api/v1/topics/{id}/subscribers', { path })) {
      subscribers.push(subscriber);
    }
    expect(subscribers).toHaveLength(1);
  });

  it('templates', async () => {
    const body = { name: 'sdk_welcome', title: 'Hi {{name}}', body: 'Welcome, {{name}}' };
    const { data: template } = await fcm.POST('/api/v1/templates', { body });
    const path = { id: template!.id };
    await fcm.GET('/api/v1/templates');
    await fcm.GET('/api/v1/templates/{id}', { params: { path } });
    await fcm.PUT('/api/v1/templates/{id}', {
      params: { path },
      body: { ...body, body: 'Karibu, {{name}}' },
    });
    const { data: preview } = await fcm.POST('/api/v1/templates/{id}/preview', {
      params: { path },
      body: { variables: { name: 'Asha' } },
    });
    expect(preview?.rendered.title).toBe('Hi Asha');
  });

  it('webhooks: the messages the server signs verify with verifyWebhook, a tampered one does not', async () => {
    const { data: webhook } = await fcm.POST('/api/v1/webhooks', { body: { url: receiverUrl } });
    const path = { id: webhook!.id };
    await fcm.GET('/api/v1/webhooks');
    await fcm.GET('/api/v1/webhooks/{id}', { params: { path } });
    await fcm.PUT('/api/v1/webhooks/{id}', { params: { path }, body: { description: 'SDK test' } });
    const { data: rotated } = await fcm.POST('/api/v1/webhooks/{id}/rotate-secret', {
      params: { path },
      body: { grace_seconds: 60 },
    });
    await fcm.POST('/api/v1/webhooks/{id}/test', { params: { path } });
    const message = await waitFor(async () => received.find((m) => m.body.includes('webhook.test')));
    const event = await verifyWebhook(rotated!.secret, message.headers, message.body);
    expect(event.type).toBe('webhook.test');
    // The pre-rotation secret still verifies during the grace period: the message carries both signatures.
    await expect(verifyWebhook(webhook!.secret, message.headers, message.body)).resolves.toMatchObject({
      type: 'webhook.test',
    });
    await expect(verifyWebhook(rotated!.secret, message.headers, `${message.body} `)).rejects.toBeInstanceOf(
      WebhookVerificationError,
    );
    await expect(
      verifyWebhook(rotated!.secret, message.headers, message.body, {
        now: new Date(Date.now() + 3_600_000),
      }),
    ).rejects.toThrow(/timestamp/);
    await waitFor(async () => {
      const { data } = await fcm.GET('/api/v1/webhooks/{id}/deliveries', { params: { path } });
      return data!.items.length > 0 ? data : undefined;
    });
    await fcm.DELETE('/api/v1/webhooks/{id}', { params: { path } });
  });

  it('sends with an idempotency key of its own, streams the events, and records receipts', async () => {
    const controller = new AbortController();
    const events: StreamEvent[] = [];
    const streaming = (async () => {
      const stream = fcm.events({
        types: ['notification.completed'],
        signal: controller.signal,
        onConnect: () => requests.push('GET /api/v1/events/stream'),
      });
      for await (const event of stream) events.push(event);
    })();
    // The stream replays nothing without `after`: wait until it is connected before sending.
    await waitFor(async () => (requests.includes('GET /api/v1/events/stream') ? true : undefined));
    const { data: sent, response } = await fcm.POST('/api/v1/notify', {
      body: { device_ids: [deviceId], title: 'Hello from the SDK' },
    });
    expect(response.status).toBe(202);
    const notificationId = sent!.notification_id;
    await finished(notificationId);
    await waitFor(async () => (events.some((e) => e.notification_id === notificationId) ? true : undefined));
    controller.abort();
    await streaming;
    lastEventId = events.at(-1)!.id;

    const receipt = await receiptOfLastPush(server.emulator);
    const { data: recorded } = await fcm.POST('/api/v1/receipts', { body: { ...receipt, status: 'read' } });
    expect(recorded?.status).toBe('read');
    const { data: notification } = await fcm.GET('/api/v1/notifications/{id}', {
      params: { path: { id: notificationId } },
    });
    expect(notification?.counts.read).toBe(1);
    await fcm.GET('/api/v1/notifications');
    const { data: history } = await fcm.GET('/api/v1/devices/{id}/deliveries', {
      params: { path: { id: deviceId } },
    });
    expect(history?.items[0]?.notification_id).toBe(notificationId);
    const { data: attempts } = await fcm.GET('/api/v1/notifications/{id}/webhook-attempts', {
      params: { path: { id: notificationId } },
    });
    expect(attempts?.items).toBeInstanceOf(Array);

    await fcm.POST('/api/v1/notify/topic/{topic_name}', {
      params: { path: { topic_name: 'sdk.news' } },
      body: { title: 'Topic news' },
    });
    await fcm.POST('/api/v1/notify/bulk', {
      body: { template: 'sdk_welcome', targets: [{ device_id: deviceId, variables: { name: 'Asha' } }] },
    });
  });

  it('events() resumes with `after`, reconnecting through a replay longer than one connection may carry', async () => {
    const registered: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const { data } = await fcm.POST('/api/v1/devices', {
        body: { platform: 'web', token: `sdk-resume-token-${i}-0123456789` },
      });
      registered.push(data!.id);
    }
    const controller = new AbortController();
    let connections = 0;
    const seen: string[] = [];
    for await (const event of fcm.events({
      after: lastEventId,
      types: ['device.registered'],
      signal: controller.signal,
      onConnect: () => (connections += 1),
    })) {
      seen.push(String((event.data.device as { id: string }).id));
      if (registered.every((id) => seen.includes(id))) controller.abort();
    }
    expect(seen).toEqual(registered);
    expect(connections).toBeGreaterThanOrEqual(3);
  });

  it('schedules, analytics and dead letters', async () => {
    const { data: schedule } = await fcm.POST('/api/v1/notify/schedule', {
      body: {
        name: 'sdk-daily',
        topic: 'sdk.news',
        title: 'Daily',
        recurrence: 'cron',
        cron: '0 7 * * *',
        timezone: 'UTC',
      },
    });
    const path = { id: schedule!.id };
    await fcm.GET('/api/v1/schedules');
    await fcm.GET('/api/v1/schedules/{id}', { params: { path } });
    await fcm.POST('/api/v1/schedules/{id}/pause', { params: { path } });
    await fcm.POST('/api/v1/schedules/{id}/resume', { params: { path } });
    expect((await fcm.POST('/api/v1/schedules/{id}/cancel', { params: { path } })).data?.status).toBe(
      'cancelled',
    );

    expect((await fcm.GET('/api/v1/analytics')).response.status).toBe(200);
    await fcm.GET('/api/v1/analytics/daily');
    await fcm.GET('/api/v1/analytics/weekly');
    await fcm.GET('/api/v1/analytics/monthly');

    const { data: doomed } = await fcm.POST('/api/v1/devices', {
      body: { platform: 'android', token: 'sdk-dead-letter-token-0123456789' },
    });
    server.emulator.setFaults({ tokens: { 'sdk-dead-letter-token-0123456789': 'UNAVAILABLE' } });
    const { data: failing } = await fcm.POST('/api/v1/notify', {
      body: { device_ids: [doomed!.id], title: 'Will fail' },
    });
    const notificationId = failing!.notification_id;
    await finished(notificationId);
    server.emulator.setFaults({});
    const { data: dead } = await fcm.GET('/api/v1/dead-letters', {
      params: { query: { notification_id: notificationId } },
    });
    const deadLetterId = dead!.items[0]!.id;
    await fcm.GET('/api/v1/dead-letters/{id}', { params: { path: { id: deadLetterId } } });
    await fcm.POST('/api/v1/dead-letters/requeue', { body: { ids: [deadLetterId] } });
    await fcm.POST('/api/v1/dead-letters/discard', { body: { notification_id: notificationId } });
  });

  it('administration: clients and audit logs', async () => {
    const { data: client } = await admin.POST('/api/v1/admin/clients', {
      body: { name: 'sdk-backend', scopes: ['send', 'read'] },
    });
    const path = { id: client!.id };
    await admin.GET('/api/v1/admin/clients');
    await admin.GET('/api/v1/admin/clients/{id}', { params: { path } });
    await admin.PUT('/api/v1/admin/clients/{id}', { params: { path }, body: { scopes: ['send'] } });
    const { data: rotated } = await admin.POST('/api/v1/admin/clients/{id}/rotate', {
      params: { path },
      body: { grace_seconds: 0 },
    });
    expect(rotated?.client_token).toMatch(/.+/);
    await admin.POST('/api/v1/admin/clients/{id}/revoke', { params: { path } });
    expect((await admin.GET('/api/v1/admin/audit-logs')).data?.items.length).toBeGreaterThan(0);
    await fcm.GET('/api/v1/audit-logs');
  });

  it('a send repeated with the same idempotency key is one notification', async () => {
    const body = { device_ids: [deviceId], title: 'Once' };
    const headers = { 'Idempotency-Key': 'sdk-once-1' };
    const first = await fcm.POST('/api/v1/notify', { body, headers });
    const second = await fcm.POST('/api/v1/notify', { body, headers });
    expect(second.data?.notification_id).toBe(first.data?.notification_id);
    expect(second.response.headers.get('idempotent-replayed')).toBe('true');
  });

  it('retries 429 and 503 after Retry-After, with the same idempotency key', async () => {
    const seen: (string | null)[] = [];
    let refusals = 2;
    const flaky = createClient({
      baseUrl,
      clientId: 'sdk-client',
      token: 'unused',
      retry: { attempts: 3, maxDelayMs: 1000 },
      fetch: async (request) => {
        seen.push(request.headers.get('idempotency-key'));
        if (refusals-- > 0) {
          return new Response('{"error":{"code":"rate_limited","message":"slow down"}}', {
            status: refusals === 1 ? 429 : 503,
            headers: { 'retry-after': '0' },
          });
        }
        return new Response('{"notification_id":"n1","status":"queued"}', { status: 202 });
      },
    });
    const { data } = await flaky.POST('/api/v1/notify', { body: { all_devices: true, title: 'x' } });
    expect(data?.notification_id).toBe('n1');
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(1);
    expect(seen[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('registration tokens: the app registers for its user alone, never with a client token', async () => {
    const { data: minted, response } = await fcm.POST('/api/v1/registration-tokens', {
      body: { external_id: 'sdk-app-user', ttl_seconds: 120 },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const registrationToken = minted!.registration_token;
    const device = await registerAppDevice({
      baseUrl,
      registrationToken,
      token: 'sdk-app-web-token-0123456789',
      locale: 'sw-TZ',
      fetch: recordingFetch,
    });
    expect(device.platform).toBe('web');
    const { data: owner } = await fcm.GET('/api/v1/profiles/{id}', {
      params: { path: { id: device.profile_id! } },
    });
    expect(owner?.external_id).toBe('sdk-app-user');
    // The same FCM token again (FCM rotated nothing): the device is updated, not duplicated.
    const again = await registerAppDevice({
      baseUrl,
      registrationToken,
      token: 'sdk-app-web-token-0123456789',
    });
    expect(again.id).toBe(device.id);

    const refused = (token: string) =>
      registerAppDevice({ baseUrl, registrationToken: token, token: 'sdk-app-web-token-9876543210' }).catch(
        (error: unknown) => error,
      );
    expect(await refused(ownToken)).toMatchObject({ status: 401, code: 'invalid_registration_token' });
    expect(await refused(`${registrationToken.slice(0, -2)}xx`)).toMatchObject({
      status: 401,
      code: 'invalid_registration_token',
    });
    const tampered = `fcmr_${Buffer.from(JSON.stringify({ c: 'x', e: 'sdk-app-user', x: 9e9 })).toString('base64url')}.${registrationToken.split('.')[1]}`;
    expect(await refused(tampered)).toMatchObject({ status: 401 });

    // Signed by this server but past its expiry.
    const expiredPayload = Buffer.from(JSON.stringify({ c: device.id, e: 'sdk-app-user', x: 1 })).toString(
      'base64url',
    );
    const signer = createCipher(Buffer.from(TEST_ENCRYPTION_KEY, 'base64'));
    expect(
      await refused(`fcmr_${expiredPayload}.${signer.signRegistrationToken(expiredPayload)}`),
    ).toMatchObject({
      status: 401,
      code: 'registration_token_expired',
    });

    // A token of a client revoked since is refused.
    const { data: other } = await admin.POST('/api/v1/admin/clients', { body: { name: 'sdk-app-minter' } });
    const minter = createClient({ baseUrl, clientId: other!.id, token: other!.client_token });
    const { data: doomed } = await minter.POST('/api/v1/registration-tokens', { body: { external_id: 'u' } });
    await admin.POST('/api/v1/admin/clients/{id}/revoke', { params: { path: { id: other!.id } } });
    expect(await refused(doomed!.registration_token)).toMatchObject({
      status: 401,
      code: 'invalid_registration_token',
    });
  });

  it('imports devices, previews a send and cancels one', async () => {
    const { data: imported } = await fcm.POST('/api/v1/devices/import', {
      body: {
        devices: [
          { platform: 'android', token: 'sdk-import-token-0001', external_id: 'sdk-imported' },
          { platform: 'android', token: 'x' },
        ],
      },
    });
    expect(imported?.results.map((r) => r.status)).toEqual(['created', 'rejected']);
    const { data: preview } = await fcm.POST('/api/v1/notify/preview', {
      body: { title: 'Preview from the SDK', body: 'Not sent' },
    });
    expect(JSON.stringify(preview)).toContain('Preview from the SDK');
    const { data: sent } = await fcm.POST('/api/v1/notify', {
      body: { device_ids: [deviceId], title: 'Sent, then cancelled too late' },
    });
    await finished(sent!.notification_id);
    const { data: cancel } = await fcm.POST('/api/v1/notifications/{id}/cancel', {
      params: { path: { id: sent!.notification_id } },
    });
    expect(cancel?.cancelled).toBe(0);
  });

  it('deletes and restores', async () => {
    await fcm.POST('/api/v1/topics/{id}/unsubscribe', {
      params: { path: { id: topicId } },
      body: { device_ids: [deviceId] },
    });
    await fcm.DELETE('/api/v1/topics/{id}', { params: { path: { id: topicId } } });
    await fcm.DELETE('/api/v1/devices/{id}', { params: { path: { id: deviceId } } });
    await fcm.POST('/api/v1/devices/{id}/restore', { params: { path: { id: deviceId } } });
    await fcm.DELETE('/api/v1/profiles/{id}', { params: { path: { id: profileId } } });
    await fcm.POST('/api/v1/profiles/{id}/restore', { params: { path: { id: profileId } } });
    const { data: templates } = await fcm.GET('/api/v1/templates');
    await fcm.DELETE('/api/v1/templates/{id}', { params: { path: { id: templates!.items[0]!.id } } });
    const { data: projects } = await fcm.GET('/api/v1/firebase-projects');
    await fcm.DELETE('/api/v1/firebase-projects/{id}', { params: { path: { id: projects!.items[0]!.id } } });
    const { data: rotated } = await fcm.POST('/api/v1/clients/me/rotate', { body: { grace_seconds: 0 } });
    expect(rotated?.client_token).toMatch(/.+/);
  });
});

describe('the SDK tests', () => {
  it('called every operation of the OpenAPI document', async () => {
    const { data: doc } = await fcm.GET('/openapi.json' as '/api/v1/health');
    const paths = (doc as unknown as { paths: Record<string, Record<string, { operationId: string }>> })
      .paths;
    const missed = Object.entries(paths).flatMap(([path, methods]) => {
      const pattern = new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}/?$`);
      return Object.entries(methods)
        .filter(
          ([method]) =>
            !requests.some((r) => r.startsWith(`${method.toUpperCase()} `) && pattern.test(r.split(' ')[1]!)),
        )
        .map(([, op]) => op.operationId);
    });
    expect(missed).toEqual([]);
  });
});
