/**
 * Webhooks: a tenant registers endpoints and receives its events as signed Standard Webhooks messages, which a
 * local receiver verifies with the `standardwebhooks` library; failures are retried with backoff and logged,
 * an endpoint that keeps failing is switched off, and URLs that could reach our own network are refused.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { query } from '../src/db/client.ts';
import { insertDispatchedEvent } from '../src/db/webhooks.repository.ts';
import { createWebhookSender } from '../src/lib/webhook-sender.ts';
import { createClient } from '../src/services/clients.service.ts';
import { newEventId } from '../src/services/events.ts';
import { deliverWebhook } from '../src/services/webhook-delivery.service.ts';
import {
  errorOf,
  startTestServer,
  type Tenant,
  type TestServer,
  waitFor,
  waitForNotification,
} from './helpers.ts';

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A webhook receiver on 127.0.0.1: records every request; a path's status script says what to answer. */
function startReceiver() {
  const received: Received[] = [];
  const scripts = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: flatten(req.headers), body });
      const script = scripts.get(req.url ?? '');
      const status = script && script.length > 1 ? script.shift()! : (script?.[0] ?? 200);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'receiver is down');
    });
  });
  return {
    received,
    /** Answer these statuses in turn on this path; the last one repeats. */
    script: (path: string, statuses: number[]) => scripts.set(path, [...statuses]),
    at: (path: string) => received.filter((r) => r.path === path),
    listen: () => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)),
    url: (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
  );
}

const verify = (secret: string, message: Received) =>
  new Webhook(secret).verify(message.body, message.headers) as {
    type: string;
    timestamp: string;
    data: Record<string, unknown>;
  };

let server: TestServer;
let receiver: ReturnType<typeof startReceiver>;
let tenant: Tenant;
let other: Tenant;
/** The same API with the production policy: https only, no private targets. */
let strictApp: FastifyInstance;

beforeAll(async () => {
  receiver = startReceiver();
  await receiver.listen();
  server = await startTestServer({
    WEBHOOK_MAX_ATTEMPTS: '3',
    WEBHOOK_RETRY_BASE_MS: '300',
    WEBHOOK_RETRY_MAX_MS: '600',
    WEBHOOK_DISABLE_AFTER_FAILURES: '4',
    WEBHOOK_TIMEOUT_MS: '3000',
  });
  tenant = await server.tenant('webhooks');
  other = await server.tenant('webhooks-other');
  const { deps } = server.runtime;
  strictApp = await buildApp({
    ...deps,
    config: Object.freeze({
      ...deps.config,
      webhooks: { ...deps.config.webhooks, allowHttp: false, allowPrivateTargets: false },
    }),
  });
  await strictApp.ready();
});
afterAll(async () => {
  await strictApp?.close();
  await server?.close();
  await receiver?.close();
});

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object, who = tenant) =>
  server.app.inject({ method, url, headers: who.headers, ...(payload ? { payload } : {}) });

async function createHook(path: string, extra: object = {}) {
  const response = await call('POST', '/api/v1/webhooks', { url: receiver.url(path), ...extra });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { id: string; secret: string; url: string; event_types: string[] };
}

async function attempts(id: string, query = '') {
  const response = await call('GET', `/api/v1/webhooks/${id}/deliveries?limit=200${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return (
    response.json() as {
      items: {
        attempt: number;
        status: string;
        event_id: string;
        event_type: string;
        response_status: number | null;
        error: string | null;
        next_attempt_at: string | null;
        created_at: string;
      }[];
    }
  ).items.reverse();
}

const webhookRowCount = async () =>
  Number(
    (
      await query<{ n: string }>(
        server.runtime.deps.db,
        sql`select count(*)::text as n from webhook_endpoints`,
      )
    )[0]!.n,
  );

describe('webhooks', () => {
  it('delivers the events of a real send, signed, to each endpoint the types it subscribed to', async () => {
    const all = await createHook('/all');
    const completedOnly = await createHook('/completed', {
      event_types: ['notification.completed'],
      description: 'completions only',
    });
    expect(all.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(all.event_types).toEqual([]);
    expect(completedOnly.event_types).toEqual(['notification.completed']);

    // The secret is shown once: never in a read, and stored encrypted.
    const read = await call('GET', `/api/v1/webhooks/${all.id}`);
    expect(read.statusCode).toBe(200);
    expect(read.body).not.toContain(all.secret);
    expect(read.json()).not.toHaveProperty('secret');
    const listed = await call('GET', '/api/v1/webhooks');
    expect(listed.body).not.toContain(all.secret);
    const stored = await query<{ secret_ciphertext: string }>(
      server.runtime.deps.db,
      sql`select secret_ciphertext from webhook_endpoints where id = ${all.id}`,
    );
    expect(stored[0]!.secret_ciphertext).not.toContain(all.secret.slice(6, 20));

    const phone = '+255714000901';
    for (const token of ['wh-device-token-00000000001', 'wh-device-token-00000000002']) {
      const registered = await call('POST', '/api/v1/devices/', {
        platform: 'android',
        token,
        phone_number: phone,
      });
      expect(registered.statusCode).toBe(201);
    }
    const accepted = await call('POST', '/api/v1/notify/', { phone_number: phone, title: 'Hello' });
    const notificationId = accepted.json().notification_id as string;
    await waitForNotification(server, tenant, notificationId);

    const messages = await waitFor(
      async () => {
        // Messages are delivered concurrently: wait for all of them, in whatever order they came.
        const got = receiver.at('/all').map((m) => verify(all.secret, m));
        const count = (type: string) => got.filter((m) => m.type === type).length;
        const sentCount = got
          .filter((m) => m.type === 'notification.sent')
          .reduce((n, m) => n + (m.data.count as number), 0);
        const complete = count('notification.completed') === 1 && count('device.registered') === 2;
        return complete && sentCount === 2 ? got : undefined;
      },
      10_000,
      'the registration and completion webhooks',
    );
    const types = messages.map((m) => m.type);
    expect(types.filter((t) => t === 'device.registered')).toHaveLength(2);
    expect(types).toContain('notification.sent');
    const sent = messages.filter((m) => m.type === 'notification.sent');
    expect(sent.reduce((n, m) => n + (m.data.count as number), 0)).toBe(2);
    expect(sent[0]!.data).toMatchObject({ notification_id: notificationId });
    const completed = messages.find((m) => m.type === 'notification.completed')!;
    expect(completed.data).toMatchObject({ notification_id: notificationId, status: 'completed' });
    expect(Number.isNaN(Date.parse(completed.timestamp))).toBe(false);

    for (const message of receiver.at('/all')) {
      expect(message.headers['content-type']).toBe('application/json');
      expect(message.headers['user-agent']).toMatch(/^fcm-server-webhooks\//);
      expect(message.headers['webhook-id']).toMatch(/^evt_[0-9a-f]{32}$/);
      expect(Math.abs(Number(message.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
      expect(message.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      for (const token of ['wh-device-token-00000000001', 'wh-device-token-00000000002'])
        expect(message.body).not.toContain(token);
    }
    expect(new Set(receiver.at('/all').map((m) => m.headers['webhook-id'])).size).toBe(
      receiver.at('/all').length,
    );

    // Filtering: the other endpoint got the completion only, signed with its own secret.
    await waitFor(
      async () => (receiver.at('/completed').length > 0 ? true : undefined),
      5_000,
      'filtered hook',
    );
    expect(receiver.at('/completed').map((m) => verify(completedOnly.secret, m).type)).toEqual([
      'notification.completed',
    ]);
    expect(() => verify(all.secret, receiver.at('/completed')[0]!)).toThrow(/No matching signature/);

    // The attempt is logged just after the receiver answered.
    const log = await waitFor(
      async () => {
        const rows = await attempts(all.id);
        return rows.length === receiver.at('/all').length ? rows : undefined;
      },
      5_000,
      'the attempt log',
    );
    expect(log.every((a) => a.status === 'succeeded' && a.response_status === 200 && a.attempt === 1)).toBe(
      true,
    );
    const after = (await call('GET', `/api/v1/webhooks/${all.id}`)).json();
    expect(after).toMatchObject({ consecutive_failures: 0, is_active: true });
    expect(after.last_success_at).not.toBeNull();
  });

  it('signs with both secrets during a rotation grace period, then with the new one only', async () => {
    const hook = await createHook('/rotating');
    const rotated = await call('POST', `/api/v1/webhooks/${hook.id}/rotate-secret`, { grace_seconds: 3600 });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const fresh = rotated.json() as { secret: string; previous_secret_expires_at: string };
    expect(fresh.secret).not.toBe(hook.secret);
    expect(Date.parse(fresh.previous_secret_expires_at) - Date.now()).toBeGreaterThan(3500_000);

    const test = await call('POST', `/api/v1/webhooks/${hook.id}/test`);
    expect(test.statusCode, test.body).toBe(202);
    const eventId = test.json().event_id as string;
    const during = await waitFor(
      async () => receiver.at('/rotating').find((m) => m.headers['webhook-id'] === eventId),
      5_000,
      'the test event',
    );
    expect(during.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verify(fresh.secret, during)).toMatchObject({
      type: 'webhook.test',
      data: { webhook_id: hook.id },
    });
    expect(verify(hook.secret, during).type).toBe('webhook.test');

    const immediate = await call('POST', `/api/v1/webhooks/${hook.id}/rotate-secret`, { grace_seconds: 0 });
    const newest = immediate.json() as { secret: string; previous_secret_expires_at: string | null };
    expect(newest.previous_secret_expires_at).toBeNull();
    const second = (await call('POST', `/api/v1/webhooks/${hook.id}/test`)).json().event_id as string;
    const after = await waitFor(
      async () => receiver.at('/rotating').find((m) => m.headers['webhook-id'] === second),
      5_000,
      'the second test event',
    );
    expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(verify(newest.secret, after).type).toBe('webhook.test');
    expect(() => verify(fresh.secret, after)).toThrow(/No matching signature/);

    // Without a body the grace period is the default (24 h).
    const byDefault = (await call('POST', `/api/v1/webhooks/${hook.id}/rotate-secret`)).json();
    expect(Date.parse(byDefault.previous_secret_expires_at) - Date.now()).toBeGreaterThan(23 * 3600_000);
  });

  it('retries a failed delivery with backoff and logs every attempt', async () => {
    receiver.script('/flaky', [500, 200]);
    const hook = await createHook('/flaky');
    const eventId = (await call('POST', `/api/v1/webhooks/${hook.id}/test`)).json().event_id as string;
    const log = await waitFor(
      async () => {
        const rows = await attempts(hook.id);
        return rows.some((a) => a.status === 'succeeded') ? rows : undefined;
      },
      10_000,
      'the retry to succeed',
    );
    expect(log.map((a) => [a.attempt, a.status, a.response_status])).toEqual([
      [1, 'failed', 500],
      [2, 'succeeded', 200],
    ]);
    const [first, second] = log as [(typeof log)[0], (typeof log)[0]];
    expect(first.event_id).toBe(eventId);
    expect(first.error).toMatch(/^HTTP 500: receiver is down/);
    // Equal jitter: between half and all of the 300 ms base before the second attempt.
    const delay = Date.parse(first.next_attempt_at!) - Date.parse(first.created_at);
    expect(delay).toBeGreaterThanOrEqual(150);
    // (created_at is the database's transaction time, taken a moment before the delay is computed)
    expect(delay).toBeLessThanOrEqual(300 + 200);
    expect(Date.parse(second.created_at)).toBeGreaterThanOrEqual(Date.parse(first.next_attempt_at!) - 50);
    expect(second.next_attempt_at).toBeNull();

    const requests = receiver.at('/flaky');
    expect(requests.map((m) => m.headers['webhook-id'])).toEqual([eventId, eventId]);
    for (const m of requests) expect(verify(hook.secret, m).type).toBe('webhook.test');
    expect((await call('GET', `/api/v1/webhooks/${hook.id}`)).json().consecutive_failures).toBe(0);
    expect((await attempts(hook.id, '&status=failed')).map((a) => a.attempt)).toEqual([1]);
  });

  it('gives up after the last attempt and disables an endpoint that keeps failing, telling the tenant', async () => {
    receiver.script('/down', [503]);
    const watcher = await createHook('/watcher', { event_types: ['webhook.disabled'] });
    const down = await createHook('/down');

    await call('POST', `/api/v1/webhooks/${down.id}/test`);
    const exhausted = await waitFor(
      async () => {
        const rows = await attempts(down.id);
        return rows.length === 3 ? rows : undefined;
      },
      10_000,
      'three attempts',
    );
    expect(exhausted.map((a) => a.status)).toEqual(['failed', 'failed', 'exhausted']);
    expect(exhausted[2]!.next_attempt_at).toBeNull();
    expect((await call('GET', `/api/v1/webhooks/${down.id}`)).json()).toMatchObject({
      is_active: true,
      consecutive_failures: 3,
    });

    // The fourth failure in a row (WEBHOOK_DISABLE_AFTER_FAILURES=4) switches it off.
    await call('POST', `/api/v1/webhooks/${down.id}/test`);
    const disabled = await waitFor(
      async () => {
        const body = (await call('GET', `/api/v1/webhooks/${down.id}`)).json();
        return body.is_active ? undefined : body;
      },
      10_000,
      'the endpoint to be disabled',
    );
    expect(disabled).toMatchObject({ disabled_reason: 'consecutive_failures', consecutive_failures: 4 });
    expect(disabled.disabled_at).not.toBeNull();
    const last = (await attempts(down.id)).at(-1)!;
    expect(last).toMatchObject({ attempt: 1, status: 'exhausted' });
    expect(last.error).toMatch(/endpoint disabled after 4 consecutive failures/);

    const notice = await waitFor(async () => receiver.at('/watcher')[0], 5_000, 'the webhook.disabled event');
    expect(verify(watcher.secret, notice)).toMatchObject({
      type: 'webhook.disabled',
      data: { webhook_id: down.id, reason: 'consecutive_failures', consecutive_failures: 4, url: down.url },
    });
    expect(receiver.at('/down')).toHaveLength(4);

    const refused = await call('POST', `/api/v1/webhooks/${down.id}/test`);
    expect(refused.statusCode).toBe(409);
    expect(errorOf(refused).code).toBe('webhook_inactive');
    const inactive = await call('GET', '/api/v1/webhooks?active=false');
    expect(inactive.json().items.map((w: { id: string }) => w.id)).toContain(down.id);

    const enabled = await call('PUT', `/api/v1/webhooks/${down.id}`, { is_active: true });
    expect(enabled.json()).toMatchObject({
      is_active: true,
      consecutive_failures: 0,
      disabled_reason: null,
      disabled_at: null,
    });
    const byClient = await call('PUT', `/api/v1/webhooks/${down.id}`, { is_active: false });
    expect(byClient.json()).toMatchObject({ is_active: false, disabled_reason: 'disabled_by_client' });
  });

  it('updates, lists with a cursor and deletes endpoints', async () => {
    const hook = await createHook('/crud', { description: 'before' });
    const updated = await call('PUT', `/api/v1/webhooks/${hook.id}`, {
      url: receiver.url('/crud-moved'),
      description: null,
      event_types: ['device.registered', 'device.registered', 'device.deactivated'],
    });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({
      url: receiver.url('/crud-moved'),
      description: null,
      event_types: ['device.deactivated', 'device.registered'],
    });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await call('GET', `/api/v1/webhooks?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(response.statusCode).toBe(200);
      const body = response.json() as { items: { id: string }[]; next_cursor: string | null };
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((w) => w.id));
      cursor = body.next_cursor;
    } while (cursor);
    expect(seen).toContain(hook.id);
    expect(new Set(seen).size).toBe(seen.length);

    expect((await call('DELETE', `/api/v1/webhooks/${hook.id}`)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/webhooks/${hook.id}`)).statusCode).toBe(404);
    expect((await call('DELETE', `/api/v1/webhooks/${hook.id}`)).statusCode).toBe(404);
  });

  it('refuses bad input with a 422 and writes nothing', async () => {
    const before = await webhookRowCount();
    const post = (app: FastifyInstance, payload: object) =>
      app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: tenant.headers, payload });
    const cases: [FastifyInstance, object, string, RegExp][] = [
      [
        server.app,
        { url: receiver.url('/x'), event_types: ['notification.exploded'] },
        'validation_error',
        /event_types/,
      ],
      [
        server.app,
        { url: receiver.url('/x'), secret: 'whsec_mine' },
        'validation_error',
        /secret|Unrecognized/,
      ],
      [server.app, { url: 'not a url' }, 'validation_error', /url/],
      [server.app, { url: 'ftp://files.example.com/' }, 'validation_error', /url/],
      [server.app, { url: 'https://user:pw@hooks.example.com/' }, 'validation_error', /credentials/],
      [strictApp, { url: 'http://hooks.example.com/' }, 'validation_error', /https/],
      [strictApp, { url: 'https://127.0.0.1/hook' }, 'webhook_url_not_allowed', /127\.0\.0\.1/],
      [strictApp, { url: 'https://[::1]/hook' }, 'webhook_url_not_allowed', /::1/],
      [strictApp, { url: 'https://[::ffff:10.0.0.1]/hook' }, 'webhook_url_not_allowed', /not a public/],
      [strictApp, { url: 'https://169.254.169.254/latest' }, 'webhook_url_not_allowed', /169\.254/],
      [strictApp, { url: 'https://localhost:8443/hook' }, 'webhook_url_not_allowed', /loopback/],
    ];
    for (const [app, payload, code, detail] of cases) {
      const response = await post(app, payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(422);
      const error = errorOf(response);
      expect(error.code, JSON.stringify(payload)).toBe(code);
      expect(JSON.stringify(error), JSON.stringify(payload)).toMatch(detail);
    }
    expect(errorOf(await post(strictApp, { url: 'https://10.1.2.3/' })).message).toMatch(
      /public internet addresses/,
    );

    // An update to a private URL is refused the same way and changes nothing.
    const hook = await createHook('/strict');
    const moved = await strictApp.inject({
      method: 'PUT',
      url: `/api/v1/webhooks/${hook.id}`,
      headers: tenant.headers,
      payload: { url: 'https://192.168.1.10/hook' },
    });
    expect(moved.statusCode).toBe(422);
    expect((await call('GET', `/api/v1/webhooks/${hook.id}`)).json().url).toBe(hook.url);
    const badGrace = await call('POST', `/api/v1/webhooks/${hook.id}/rotate-secret`, {
      grace_seconds: 8 * 86400,
    });
    expect(badGrace.statusCode).toBe(422);
    expect(await webhookRowCount()).toBe(before + 1);
  });

  it('refuses at delivery time a target that is (or now resolves to) a private address', async () => {
    const hook = await createHook('/rebound');
    const { deps } = server.runtime;
    const strictSender = createWebhookSender({
      timeoutMs: 2000,
      allowPrivateTargets: false,
      userAgent: 'test',
    });
    try {
      const eventId = newEventId();
      await insertDispatchedEvent(deps.db, {
        eventId,
        tenantId: tenant.clientId,
        type: 'webhook.test',
        payload: { webhook_id: hook.id },
      });
      await deliverWebhook(deps, strictSender, {
        tenantId: tenant.clientId,
        endpointId: hook.id,
        eventId,
        attempt: 3,
      });
    } finally {
      await strictSender.close();
    }
    const [attempt] = await attempts(hook.id);
    expect(attempt).toMatchObject({ status: 'exhausted', response_status: null });
    expect(attempt!.error).toMatch(/^refused: 127\.0\.0\.1 is not a public address/);
    expect(receiver.at('/rebound')).toHaveLength(0);
  });

  it('keeps tenants apart and checks scopes', async () => {
    const hook = await createHook('/private');
    for (const [method, url] of [
      ['GET', `/api/v1/webhooks/${hook.id}`],
      ['PUT', `/api/v1/webhooks/${hook.id}`],
      ['DELETE', `/api/v1/webhooks/${hook.id}`],
      ['POST', `/api/v1/webhooks/${hook.id}/rotate-secret`],
      ['POST', `/api/v1/webhooks/${hook.id}/test`],
      ['GET', `/api/v1/webhooks/${hook.id}/deliveries`],
    ] as const) {
      const response = await call(method, url, method === 'PUT' ? { is_active: false } : undefined, other);
      expect(response.statusCode, `${method} ${url}`).toBe(404);
    }
    const list = await call('GET', '/api/v1/webhooks', undefined, other);
    expect(list.json().items).toEqual([]);
    expect((await call('GET', `/api/v1/webhooks/${hook.id}`)).json().is_active).toBe(true);

    // The other tenant's events do not reach this tenant's endpoints.
    const registered = await call(
      'POST',
      '/api/v1/devices/',
      { platform: 'ios', token: 'wh-other-dev', phone_number: '+255714000902' },
      other,
    );
    expect(registered.statusCode).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 600));
    for (const m of receiver.received) expect(m.body).not.toContain(registered.json().id);

    const reader = await createClient(server.runtime.deps, { name: 'reader', scopes: ['read'] });
    const headers = { 'client-id': reader.clientId, 'client-token': reader.clientToken };
    const denied = await server.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers,
      payload: { url: receiver.url('/reader') },
    });
    expect(denied.statusCode).toBe(403);
    const allowed = await server.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers });
    expect(allowed.statusCode).toBe(200);
  });
});
