/**
 * Delivery reliability, through the HTTP API against the FCM emulator's faults: what is retried and what is
 * not, the max age, the shared 429 throttle, the circuit breaker while FCM is down, dead letters, token
 * hygiene, idempotency, re-run jobs and retention. (SIGTERM draining is in test/shutdown.test.ts.)
 */
import { type SQL, sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { deleteOldEvents } from '../src/db/maintenance.repository.ts';
import type { FaultCode } from '../src/emulator/emulator.ts';
import { sendBatch } from '../src/jobs/send.job.ts';
import { uuidv7 } from '../src/lib/ids.ts';
import { createClient } from '../src/services/clients.service.ts';
import { deactivateStaleDevices, runRetention } from '../src/services/maintenance.service.ts';
import {
  errorOf,
  startTestServer,
  type Tenant,
  type TestServer,
  waitFor,
  waitForNotification,
} from './helpers.ts';

let server: TestServer;
let shop: Tenant;

beforeAll(async () => {
  server = await startTestServer({
    VALIDATE_TOKENS_ON_REGISTER: 'true',
    // Short enough for the timeout test, long enough that a loaded CI machine answers every other test in time.
    FCM_TIMEOUT_MS: '1500',
    SEND_MAX_ATTEMPTS: '3',
    SEND_RETRY_BASE_MS: '100',
    SEND_RETRY_MAX_MS: '400',
    // High enough that the failure tests below never open a circuit (the outage test has its own server).
    FCM_CIRCUIT_FAILURES: '1000',
  });
  shop = await server.tenant('shop');
});
afterAll(() => server?.close());
afterEach(() => server.emulator.setFaults({}));

const call = (
  tenant: Tenant | undefined,
  method: 'GET' | 'POST' | 'PUT',
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
) =>
  server.app.inject({
    method,
    url,
    headers: { ...tenant?.headers, ...headers },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

const rows = <T>(statement: SQL) => query<T>(server.runtime.deps.db, statement);

let tokenCounter = 0;
const newToken = (label: string) => `${label}-${Date.now()}-${++tokenCounter}`;

async function register(tenant: Tenant, token: string, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await call(tenant, 'POST', '/api/v1/devices/', { platform: 'android', token, ...extra });
  expect(response.statusCode, response.body).toBeLessThan(300);
  return response.json().id;
}

async function notify(tenant: Tenant, deviceIds: string[], title = 'Hello'): Promise<string> {
  const response = await call(tenant, 'POST', '/api/v1/notify/', { device_ids: deviceIds, title });
  expect(response.statusCode, response.body).toBe(202);
  return response.json().notification_id;
}

interface DeliveryReport {
  id: string;
  device_id: string;
  status: string;
  attempts: number;
  error_code: string | null;
  error_message: string | null;
}

async function deliveries(tenant: Tenant, notificationId: string): Promise<DeliveryReport[]> {
  const response = await call(tenant, 'GET', `/api/v1/notifications/${notificationId}/status/?limit=200`);
  return response.json().deliveries;
}

/** { code: token } → the emulator's { token: code } */
const faultsFor = (tokens: Partial<Record<FaultCode, string>>): Record<string, FaultCode> =>
  Object.fromEntries(Object.entries(tokens).map(([code, token]) => [token, code as FaultCode]));

/** What the emulator received for a token, sends only (validate_only dry runs left out). */
const sendsTo = (token: string) =>
  server.emulator.received().filter((r) => r.message.token === token && !r.validateOnly);

describe('retry policy', () => {
  it('retries 503, 500, 429 and reset streams up to SEND_MAX_ATTEMPTS, then the delivery is dead; permanent errors are tried once', async () => {
    const tokens = {
      UNAVAILABLE: newToken('down'),
      INTERNAL: newToken('broken'),
      QUOTA_EXCEEDED: newToken('quota'),
      CONNECTION_RESET: newToken('reset'),
      SENDER_ID_MISMATCH: newToken('other-sender'),
    } as const;
    const devices = new Map<string, string>();
    for (const [code, token] of Object.entries(tokens)) devices.set(await register(shop, token), code);
    server.emulator.setFaults({
      tokens: faultsFor(tokens),
      retryAfter: 0,
    });

    const id = await notify(shop, [...devices.keys()]);
    const notification = await waitForNotification(server, shop, id);
    expect(notification).toMatchObject({ status: 'failed', counts: { total: 5, sent: 0, failed: 5 } });

    const byCode = new Map((await deliveries(shop, id)).map((d) => [devices.get(d.device_id)!, d]));
    for (const code of ['UNAVAILABLE', 'INTERNAL', 'QUOTA_EXCEEDED'] as const) {
      expect(byCode.get(code)).toMatchObject({ status: 'dead', attempts: 3, error_code: code });
      expect(sendsTo(tokens[code])).toHaveLength(3);
    }
    expect(byCode.get('CONNECTION_RESET')).toMatchObject({
      status: 'dead',
      attempts: 3,
      error_code: 'CONNECTION_ERROR',
    });
    expect(sendsTo(tokens.CONNECTION_RESET)).toHaveLength(3);
    expect(byCode.get('SENDER_ID_MISMATCH')).toMatchObject({ status: 'failed', attempts: 1 });
    expect(sendsTo(tokens.SENDER_ID_MISMATCH)).toHaveLength(1);
  });

  it('an answer slower than FCM_TIMEOUT_MS is a TIMEOUT and retried', async () => {
    const token = newToken('slow');
    const device = await register(shop, token);
    server.emulator.setFaults({ latencyMs: 2000 });
    const id = await notify(shop, [device]);
    await waitForNotification(server, shop, id);
    expect((await deliveries(shop, id))[0]).toMatchObject({
      status: 'dead',
      attempts: 3,
      error_code: 'TIMEOUT',
    });
  });

  it('connections dropped mid-send are retried on a new connection', async () => {
    const tokens = [newToken('drop'), newToken('drop')];
    const ids = [await register(shop, tokens[0]!), await register(shop, tokens[1]!)];
    server.emulator.setFaults({ latencyMs: 300 });
    const before = server.emulator.stats().sendRequests;
    const id = await notify(shop, ids);
    await waitFor(async () => (server.emulator.stats().sendRequests >= before + 2 ? true : undefined));
    server.emulator.dropConnections();
    server.emulator.setFaults({});

    const notification = await waitForNotification(server, shop, id);
    expect(notification).toMatchObject({ status: 'completed', counts: { sent: 2 } });
    for (const delivery of await deliveries(shop, id)) {
      expect(delivery.status).toBe('sent');
      expect(delivery.attempts).toBeLessThanOrEqual(2);
    }
  });

  it('a delivery whose notification is older than SEND_MAX_AGE_SECONDS ends dead (EXPIRED) instead of retried', async () => {
    const token = newToken('late');
    const device = await register(shop, token);
    server.emulator.setFaults({ tokens: { [token]: 'UNAVAILABLE' }, retryAfter: 2 });
    const id = await notify(shop, [device]);
    // The first attempt recorded (retrying), so the backdating below does not race its recording.
    await waitFor(async () => ((await deliveries(shop, id))[0]?.status === 'retrying' ? true : undefined));
    // The notification is a day and a bit old by the time its retry runs (its deliveries carry its created_at,
    // as the fan-out writes them).
    await server.runtime.deps.db.execute(
      sql`with n as (update notifications set created_at = now() - interval '25 hours' where id = ${id}
          returning created_at)
        update deliveries set created_at = (select created_at from n) where notification_id = ${id}`,
    );
    server.emulator.setFaults({});

    const notification = await waitForNotification(server, shop, id);
    expect(notification).toMatchObject({ status: 'failed', counts: { sent: 0, failed: 1 } });
    expect((await deliveries(shop, id))[0]).toMatchObject({
      status: 'dead',
      error_code: 'EXPIRED',
      attempts: 2,
    });
    expect(sendsTo(token)).toHaveLength(1);
  });
});

describe('429: the whole Firebase project slows down', () => {
  it('after a 429 burst no request to the project reaches FCM before the Retry-After, from any notification', async () => {
    const project = shop.account.project_id;
    const tokens = Array.from({ length: 6 }, () => newToken('burst'));
    const ids: string[] = [];
    for (const token of tokens) ids.push(await register(shop, token));
    server.emulator.reset();
    server.emulator.setFaults({ rates: { QUOTA_EXCEEDED: 1 }, retryAfter: 2 });

    const [first, second] = await Promise.all([notify(shop, ids.slice(0, 3)), notify(shop, ids.slice(3))]);
    const throttle = await waitFor(async () => {
      const [row] = await rows<{ not_before: Date }>(
        sql`select not_before from send_throttles where project_key = ${project} and not_before > now()`,
      );
      return row;
    });
    // Let anything already on the wire land (as a 429) before FCM recovers.
    await new Promise((resolve) => setTimeout(resolve, 150));
    server.emulator.setFaults({});

    // A third notification sent while the project is throttled waits too, without spending an attempt.
    const thirdToken = newToken('burst-late');
    const thirdDevice = await register(shop, thirdToken);
    const third = await notify(shop, [thirdDevice]);
    for (const id of [first, second, third]) {
      expect(await waitForNotification(server, shop, id)).toMatchObject({ status: 'completed' });
    }

    const received = server.emulator.received({ projectId: project }).filter((r) => !r.validateOnly);
    const refused = received.filter((r) => r.status === 429);
    const accepted = received.filter((r) => r.status === 200);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(accepted).toHaveLength(7);
    const lastRefusal = Math.max(...refused.map((r) => r.receivedAt));
    const firstSuccess = Math.min(...accepted.map((r) => r.receivedAt));
    expect(firstSuccess).toBeGreaterThanOrEqual(lastRefusal + 2000);
    expect(firstSuccess).toBeGreaterThanOrEqual(new Date(throttle.not_before).getTime());
    expect((await deliveries(shop, third))[0]).toMatchObject({ status: 'sent', attempts: 1 });
  });
});

describe('dead letters API', () => {
  let other: Tenant;
  let notificationId: string;
  let dead: DeliveryReport[];
  const failing = [newToken('dl-a'), newToken('dl-b'), newToken('dl-c')];

  beforeAll(async () => {
    other = await server.tenant('other');
    const devices = [
      await register(shop, failing[0]!, { platform: 'android' }),
      await register(shop, failing[1]!, { platform: 'ios' }),
      await register(shop, failing[2]!, { platform: 'web' }),
      await register(shop, newToken('dl-ok')),
    ];
    server.emulator.setFaults({
      tokens: { [failing[0]!]: 'UNAVAILABLE', [failing[1]!]: 'INTERNAL', [failing[2]!]: 'UNAVAILABLE' },
    });
    notificationId = await notify(shop, devices, 'Dead letter story');
    const notification = await waitForNotification(server, shop, notificationId);
    expect(notification).toMatchObject({ status: 'partially_failed', counts: { sent: 1, failed: 3 } });
    server.emulator.setFaults({});
    dead = (await deliveries(shop, notificationId)).filter((d) => d.status === 'dead');
    expect(dead).toHaveLength(3);
  });

  it('lists the tenant dead letters with filters and keyset pagination, newest first', async () => {
    const list = await call(shop, 'GET', `/api/v1/dead-letters/?notification_id=${notificationId}`);
    expect(list.statusCode).toBe(200);
    const items = list.json().items as { id: string; error_code: string; platform: string }[];
    expect(items.map((i) => i.id)).toEqual(dead.map((d) => d.id).sort((a, b) => Number(b) - Number(a)));
    expect(items[0]).toMatchObject({ notification_id: notificationId, attempts: 3 });

    const internal = await call(
      shop,
      'GET',
      `/api/v1/dead-letters/?notification_id=${notificationId}&error_code=INTERNAL`,
    );
    expect(internal.json().items).toHaveLength(1);
    const web = await call(
      shop,
      'GET',
      `/api/v1/dead-letters/?notification_id=${notificationId}&platform=web`,
    );
    expect(web.json().items.map((i: { platform: string }) => i.platform)).toEqual(['web']);
    const future = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
    const none = await call(
      shop,
      'GET',
      `/api/v1/dead-letters/?notification_id=${notificationId}&failed_from=${future}`,
    );
    expect(none.json().items).toEqual([]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/v1/dead-letters/?notification_id=${notificationId}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page: { items: { id: string }[]; next_cursor: string | null } = (
        await call(shop, 'GET', url)
      ).json();
      seen.push(...page.items.map((i) => i.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(items.map((i) => i.id));

    const bad = await call(shop, 'GET', '/api/v1/dead-letters/?cursor=nonsense');
    expect(errorOf(bad).code).toBe('invalid_cursor');
  });

  it('gets one dead letter; another tenant gets 404 and can requeue nothing', async () => {
    const one = await call(shop, 'GET', `/api/v1/dead-letters/${dead[0]!.id}/`);
    expect(one.json()).toMatchObject({ id: dead[0]!.id, error_code: dead[0]!.error_code });
    expect((await call(other, 'GET', `/api/v1/dead-letters/${dead[0]!.id}/`)).statusCode).toBe(404);
    expect((await call(other, 'GET', '/api/v1/dead-letters/')).json().items).toEqual([]);
    const sent = (await deliveries(shop, notificationId)).find((d) => d.status === 'sent')!;
    expect((await call(shop, 'GET', `/api/v1/dead-letters/${sent.id}/`)).statusCode).toBe(404);

    const stolen = await call(other, 'POST', '/api/v1/dead-letters/requeue/', { ids: dead.map((d) => d.id) });
    expect(stolen.json()).toMatchObject({ requeued: 0, skipped_ids: dead.map((d) => d.id) });
    const byNotification = await call(other, 'POST', '/api/v1/dead-letters/discard/', {
      notification_id: notificationId,
    });
    expect(byNotification.statusCode).toBe(404);
  });

  it('needs the send scope to requeue and the manage scope to discard', async () => {
    const reader = await createClient(server.runtime.deps, { name: 'reader', scopes: ['read', 'send'] });
    const headers = { 'client-id': reader.clientId, 'client-token': reader.clientToken };
    const discard = await server.app.inject({
      method: 'POST',
      url: '/api/v1/dead-letters/discard/',
      headers,
      payload: { ids: ['1'] },
    });
    expect(discard.statusCode).toBe(403);
    const bad = await call(shop, 'POST', '/api/v1/dead-letters/requeue/', {
      ids: ['1'],
      notification_id: notificationId,
    });
    expect(bad.statusCode).toBe(422);
  });

  it('requeue sends them again through the normal path, and the counts end right', async () => {
    const [firstDead, ...rest] = dead;
    const requeued = await call(
      shop,
      'POST',
      '/api/v1/dead-letters/requeue/',
      { ids: [firstDead!.id, '999999999'] },
      { 'idempotency-key': `requeue-${notificationId}` },
    );
    expect(requeued.statusCode).toBe(200);
    expect(requeued.json()).toEqual({
      requeued: 1,
      notifications: 1,
      skipped_ids: ['999999999'],
      has_more: false,
    });

    const all = await call(shop, 'POST', '/api/v1/dead-letters/requeue/', {
      all: { notification_id: notificationId, error_code: rest[0]!.error_code! },
    });
    const byAll = all.json().requeued;
    const remaining = rest.length - byAll;
    if (remaining > 0) {
      const rest2 = await call(shop, 'POST', '/api/v1/dead-letters/requeue/', {
        notification_id: notificationId,
      });
      expect(rest2.json().requeued).toBe(remaining);
    }

    const notification = await waitForNotification(server, shop, notificationId);
    expect(notification).toMatchObject({ status: 'completed', counts: { total: 4, sent: 4, failed: 0 } });
    for (const d of await deliveries(shop, notificationId)) expect(d.status).toBe('sent');
    for (const token of failing) expect(sendsTo(token).filter((r) => r.status === 200)).toHaveLength(1);
    expect(
      (await call(shop, 'GET', `/api/v1/dead-letters/?notification_id=${notificationId}`)).json().items,
    ).toEqual([]);

    const completions = await rows<{ payload: { status: string } }>(
      sql`select payload from events where notification_id = ${notificationId} and type = 'notification.completed' order by id`,
    );
    // Completed once before the requeue and once per time it settled again (the first requeued delivery may
    // finish before the next requeue call reopens the notification).
    const statuses = completions.map((e) => e.payload.status);
    expect(statuses[0]).toBe('partially_failed');
    expect(statuses.at(-1)).toBe('completed');
    expect(statuses.length).toBeLessThanOrEqual(3);

    const replay = await call(
      shop,
      'POST',
      '/api/v1/dead-letters/requeue/',
      { ids: [firstDead!.id, '999999999'] },
      { 'idempotency-key': `requeue-${notificationId}` },
    );
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(requeued.json());
  });

  it('discard gives them up: failed, error kept, counts unchanged', async () => {
    const token = newToken('dl-discard');
    const device = await register(shop, token);
    server.emulator.setFaults({ tokens: { [token]: 'UNAVAILABLE' } });
    const id = await notify(shop, [device]);
    const before = await waitForNotification(server, shop, id);
    server.emulator.setFaults({});

    const discarded = await call(shop, 'POST', '/api/v1/dead-letters/discard/', { notification_id: id });
    expect(discarded.json()).toEqual({ discarded: 1, skipped_ids: [] });
    expect((await deliveries(shop, id))[0]).toMatchObject({ status: 'failed', error_code: 'UNAVAILABLE' });
    const after = (await call(shop, 'GET', `/api/v1/notifications/${id}/`)).json();
    expect(after).toMatchObject({ status: before.status, counts: before.counts });
    expect((await call(shop, 'GET', `/api/v1/dead-letters/?notification_id=${id}`)).json().items).toEqual([]);
  });
});

describe('token hygiene', () => {
  it('registration dry-runs the token: FCM-invalid tokens get 422 invalid_token and nothing is stored', async () => {
    const before = (await call(shop, 'GET', '/api/v1/devices/?limit=200')).json().items.length;
    // Tokens configured dead (the magic prefixes fail real sends only, so they are not used here).
    const dead = { [newToken('gone')]: 'UNREGISTERED', [newToken('bad')]: 'INVALID_ARGUMENT' } as const;
    server.emulator.setFaults({ tokens: dead });
    for (const token of Object.keys(dead)) {
      const response = await call(shop, 'POST', '/api/v1/devices/', { platform: 'ios', token });
      expect(response.statusCode).toBe(422);
      expect(errorOf(response)).toMatchObject({ code: 'invalid_token' });
      expect(errorOf(response).message).toMatch(/FCM rejected this registration token/);
    }
    expect((await call(shop, 'GET', '/api/v1/devices/?limit=200')).json().items.length).toBe(before);

    const token = newToken('fine');
    const created = await call(shop, 'POST', '/api/v1/devices/', {
      platform: 'ios',
      token,
      app_version: '1.0.0',
    });
    expect(created.statusCode).toBe(201);
    expect(server.emulator.received().filter((r) => r.message.token === token)).toMatchObject([
      { validateOnly: true, status: 200 },
    ]);

    // Re-registering a known token updates that device.
    const again = await call(shop, 'POST', '/api/v1/devices/', {
      platform: 'ios',
      token,
      app_version: '1.1.0',
    });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: created.json().id, app_version: '1.1.0' });

    const changed = await call(shop, 'PUT', `/api/v1/devices/${created.json().id}/`, {
      token: Object.keys(dead)[1],
    });
    expect(errorOf(changed).code).toBe('invalid_token');
  });

  it('a transient FCM failure during validation accepts the registration', async () => {
    const token = newToken('outage');
    server.emulator.setFaults({ tokens: { [token]: 'UNAVAILABLE' } });
    const response = await call(shop, 'POST', '/api/v1/devices/', { platform: 'android', token });
    expect(response.statusCode).toBe(201);
  });

  it('UNREGISTERED, SENDER_ID_MISMATCH and token INVALID_ARGUMENT deactivate the device with the reason and emit device.deactivated', async () => {
    const tokens = {
      UNREGISTERED: newToken('gone'),
      SENDER_ID_MISMATCH: newToken('wrong-sender'),
      INVALID_ARGUMENT: newToken('mangled'),
    } as const;
    const devices: Record<string, string> = {};
    for (const [code, token] of Object.entries(tokens)) devices[code] = await register(shop, token);
    const healthy = await register(shop, newToken('healthy'));
    server.emulator.setFaults({ tokens: faultsFor(tokens) });
    const id = await notify(shop, [...Object.values(devices), healthy]);
    await waitForNotification(server, shop, id);

    for (const [code, deviceId] of Object.entries(devices)) {
      const device = (await call(shop, 'GET', `/api/v1/devices/${deviceId}/`)).json();
      expect(device).toMatchObject({ is_active: false, deactivated_reason: code });
    }
    expect((await call(shop, 'GET', `/api/v1/devices/${healthy}/`)).json().is_active).toBe(true);
    const events = await rows<{ payload: { device_ids: string[]; reason: string } }>(
      sql`select payload from events where api_client_id = ${shop.clientId} and type = 'device.deactivated'`,
    );
    for (const [code, deviceId] of Object.entries(devices)) {
      expect(events.some((e) => e.payload.reason === code && e.payload.device_ids.includes(deviceId))).toBe(
        true,
      );
    }
  });

  it('devices not seen for STALE_DEVICE_DAYS are deactivated as stale, in bounded batches', async () => {
    const stale: string[] = [];
    for (let i = 0; i < 5; i++) stale.push(await register(shop, newToken('stale')));
    const fresh = await register(shop, newToken('fresh'));
    await server.runtime.deps.db.execute(sql`update devices set last_seen_at = now() - interval '271 days'
      where id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(stale)}::jsonb))`);

    const count = await deactivateStaleDevices(server.runtime.deps, { batchSize: 2 });
    expect(count).toBe(5);
    for (const id of stale) {
      expect((await call(shop, 'GET', `/api/v1/devices/${id}/`)).json()).toMatchObject({
        is_active: false,
        deactivated_reason: 'stale',
      });
    }
    expect((await call(shop, 'GET', `/api/v1/devices/${fresh}/`)).json().is_active).toBe(true);
    const events = await rows<{ payload: { device_ids: string[] } }>(
      sql`select payload from events where type = 'device.deactivated' and payload->>'reason' = 'stale'`,
    );
    expect(events.flatMap((e) => e.payload.device_ids).sort()).toEqual([...stale].sort());
    expect(await deactivateStaleDevices(server.runtime.deps)).toBe(0);
  });
});

describe('idempotency', () => {
  it('a second request with a key still in flight gets 409; once done it replays', async () => {
    const body = { platform: 'android', token: newToken('slow-registration') };
    const headers = { 'idempotency-key': `register-${body.token}` };
    // The token dry run holds the first request at the (slow) emulator.
    server.emulator.setFaults({ latencyMs: 400 });
    const before = server.emulator.stats().sendRequests;
    const first = call(shop, 'POST', '/api/v1/devices/', body, headers);
    await waitFor(async () => (server.emulator.stats().sendRequests > before ? true : undefined));
    const second = await call(shop, 'POST', '/api/v1/devices/', body, headers);
    expect(second.statusCode).toBe(409);
    expect(errorOf(second).code).toBe('idempotency_request_in_flight');
    expect(second.headers['retry-after']).toBe('1');
    expect((await first).statusCode).toBe(201);
    const third = await call(shop, 'POST', '/api/v1/devices/', body, headers);
    expect(third.statusCode).toBe(201);
    expect(third.headers['idempotent-replayed']).toBe('true');
    expect(third.json().id).toBe((await first).json().id);
  });

  it('keys are per tenant: the same key in two tenants makes two notifications', async () => {
    const other = await server.tenant('key-sharer');
    const key = { 'idempotency-key': 'order-42' };
    const mine = await call(
      shop,
      'POST',
      '/api/v1/notify/',
      { device_ids: [await register(shop, newToken('k'))], title: 'A' },
      key,
    );
    const theirs = await call(
      other,
      'POST',
      '/api/v1/notify/',
      { device_ids: [await register(other, newToken('k'))], title: 'A' },
      key,
    );
    expect(mine.statusCode).toBe(202);
    expect(theirs.statusCode).toBe(202);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.json().notification_id).not.toBe(mine.json().notification_id);
  });

  it('every POST that creates or sends replays with the same key', async () => {
    const device = await register(shop, newToken('idem'));
    const topic = `idem-topic-${Date.now()}`;
    await call(shop, 'POST', '/api/v1/topics/', { name: topic });
    const cases: [string, unknown][] = [
      ['/api/v1/profiles/', { external_id: `idem-${Date.now()}` }],
      ['/api/v1/topics/', { name: `${topic}-2` }],
      ['/api/v1/templates/', { name: `idem-${Date.now()}`, title: 'Hi {{name}}' }],
      ['/api/v1/devices/', { platform: 'web', token: newToken('idem-device') }],
      ['/api/v1/notify/', { device_ids: [device], title: 'once' }],
      ['/api/v1/notify/bulk/', { targets: [{ device_id: device }], title: 'once' }],
      [`/api/v1/notify/topic/${topic}/`, { title: 'once' }],
      [
        '/api/v1/notify/schedule/',
        {
          device_ids: [device],
          title: 'later',
          scheduled_at: new Date(Date.now() + 3_600_000).toISOString(),
        },
      ],
      ['/api/v1/dead-letters/requeue/', { ids: ['1'] }],
      ['/api/v1/firebase-projects/', { service_account: shop.account }],
    ];
    for (const [url, body] of cases) {
      const headers = { 'idempotency-key': `idem-${url}-${Date.now()}` };
      const first = await call(shop, 'POST', url, body, headers);
      expect(first.statusCode, `${url}: ${first.body}`).toBeLessThan(300);
      const second = await call(shop, 'POST', url, body, headers);
      expect(second.headers['idempotent-replayed'], url).toBe('true');
      expect(second.body).toBe(first.body);
    }
  });
});

describe('crash safety', () => {
  it('re-running a finished send job (first attempt or a retry) sends nothing again', async () => {
    const token = newToken('once');
    const id = await notify(shop, [await register(shop, token)]);
    const done = await waitForNotification(server, shop, id);
    const deliveryIds = (await deliveries(shop, id)).map((d) => d.id);
    for (const attempt of [1, 2, 3]) {
      await sendBatch(server.runtime.deps, { notificationId: id, deliveryIds, attempt });
    }
    expect(sendsTo(token)).toHaveLength(1);
    expect((await call(shop, 'GET', `/api/v1/notifications/${id}/`)).json().counts).toEqual(done.counts);
  });
});

describe('retention', () => {
  it('deletes old rows in bounded batches and keeps recent and unfinished ones', async () => {
    const tenant = shop.clientId;
    const devices: string[] = [];
    for (let i = 0; i < 3; i++) devices.push(await register(shop, newToken('ret')));
    const day = 86_400_000;
    const ago = (days: number) => new Date(Date.now() - days * day).toISOString();
    const notification = async (days: number, status: string) => {
      const id = uuidv7(Date.now() - days * day);
      await server.runtime.deps.db.execute(sql`insert into notifications
        (id, api_client_id, target, content, status, fanout_done, total_count, created_at)
        values (${id}, ${tenant}, '{}', '{}', ${status}, true, 3, ${ago(days)})`);
      // A delivery carries its notification's created_at (the partition key): no weekly partition covers
      // these days, so they are in the default partition, which retention trims row by row.
      await server.runtime.deps.db.execute(sql`insert into deliveries (notification_id, api_client_id, device_id, platform, status, created_at)
        select ${id}, ${tenant}, value::uuid, 'android', 'sent', ${ago(days)}
        from jsonb_array_elements_text(${JSON.stringify(devices)}::jsonb)`);
      await server.runtime.deps.db.execute(sql`insert into notification_recipients (notification_id, seq, device_id)
        select ${id}, ordinality::int, value::uuid
        from jsonb_array_elements_text(${JSON.stringify(devices)}::jsonb) with ordinality`);
      return id;
    };
    const old = await notification(100, 'completed');
    const oldButSending = await notification(100, 'sending');
    const recent = await notification(10, 'completed');

    const endpoint = uuidv7();
    // Inactive, so the webhook dispatcher leaves it alone: only its attempt log matters here.
    await server.runtime.deps.db.execute(sql`insert into webhook_endpoints (id, api_client_id, url, secret_ciphertext, is_active)
      values (${endpoint}, ${tenant}, 'https://example.com/hook', 'x', false)`);
    for (const days of [40, 40, 40, 1]) {
      await server.runtime.deps.db.execute(sql`insert into webhook_deliveries
        (endpoint_id, api_client_id, event_id, event_type, attempt, status, created_at)
        values (${endpoint}, ${tenant}, 'evt_x', 'notification.sent', 1, 'succeeded', ${ago(days)})`);
    }
    for (const days of [400, 400, 400, 10]) {
      await server.runtime.deps.db.execute(sql`insert into audit_logs (api_client_id, action, created_at)
        values (${tenant}, 'test.retention', ${ago(days)})`);
    }
    // Dispatched ones only: the webhook dispatcher would dispatch an undispatched row before retention runs
    // (the next test checks that rule inside a transaction).
    for (const days of [40, 40, 1]) {
      await server.runtime.deps.db.execute(sql`insert into events (event_id, api_client_id, type, payload, dispatched_at, created_at)
        values (${`evt_ret_${uuidv7()}`}, ${tenant}, 'test.retention', '{}', ${ago(days)}, ${ago(days)})`);
    }
    for (const [key, hours] of [
      ['expired-1', -1],
      ['expired-2', -2],
      ['alive', 5],
    ] as const) {
      await server.runtime.deps.db.execute(sql`insert into idempotency_keys (api_client_id, key, request_hash, expires_at)
        values (${tenant}, ${`ret-${key}`}, 'h', ${new Date(Date.now() + hours * 3_600_000).toISOString()})`);
    }

    const report = await runRetention(server.runtime.deps, { batchSize: 2 });
    expect(report).toMatchObject({
      deliveries: 3,
      notification_recipients: 3,
      notifications: 1,
      webhook_deliveries: 3,
      audit_logs: 3,
      events: 2,
      dropped_partitions: [],
    });
    expect(report.idempotency_keys).toBeGreaterThanOrEqual(2);

    const count = async (statement: SQL) => (await rows<{ n: number }>(statement))[0]!.n;
    expect(await count(sql`select count(*)::int as n from notifications where id = ${old}`)).toBe(0);
    for (const kept of [oldButSending, recent]) {
      expect(
        await count(sql`select count(*)::int as n from deliveries where notification_id = ${kept}`),
      ).toBe(3);
    }
    expect(await count(sql`select count(*)::int as n from webhook_deliveries`)).toBe(1);
    expect(await count(sql`select count(*)::int as n from audit_logs where action = 'test.retention'`)).toBe(
      1,
    );
    expect(await count(sql`select count(*)::int as n from events where type = 'test.retention'`)).toBe(1);
    expect(await count(sql`select count(*)::int as n from idempotency_keys where key like 'ret-%'`)).toBe(1);
    expect(await runRetention(server.runtime.deps)).toMatchObject({
      deliveries: 0,
      notifications: 0,
      events: 0,
    });
  });

  it('never deletes an event the dispatcher has not handed on, however old', async () => {
    // Inside a transaction the webhook dispatcher cannot claim (dispatch) the row first.
    const rolledBack = new Error('roll back');
    await server.runtime.deps.db
      .transaction(async (tx) => {
        const eventId = `evt_ret_${uuidv7()}`;
        await tx.execute(sql`insert into events (event_id, api_client_id, type, payload, created_at)
          values (${eventId}, ${shop.clientId}, 'test.retention', '{}', now() - interval '400 days')`);
        expect(await deleteOldEvents(tx, new Date(Date.now() - 30 * 86_400_000), 100)).toBe(0);
        const [row] = await query<{ n: number }>(
          tx,
          sql`select count(*)::int as n from events where event_id = ${eventId}`,
        );
        expect(row!.n).toBe(1);
        throw rolledBack;
      })
      .catch((error: unknown) => {
        if (error !== rolledBack) throw error;
      });
  });
});

describe('FCM down (circuit breaker)', () => {
  let outage: TestServer;
  let tenant: Tenant;

  beforeAll(async () => {
    outage = await startTestServer({
      VALIDATE_TOKENS_ON_REGISTER: 'true',
      SEND_MAX_ATTEMPTS: '20',
      SEND_RETRY_BASE_MS: '100',
      SEND_RETRY_MAX_MS: '300',
      FCM_CIRCUIT_FAILURES: '3',
      FCM_CIRCUIT_COOLDOWN_MS: '1500',
      SEND_BATCH_SIZE: '2',
    });
    tenant = await outage.tenant('outage');
  });
  afterAll(() => outage?.close());

  it('keeps accepting while FCM answers 503 to everything, opens the circuit, then completes everything once FCM is back', async () => {
    const project = tenant.account.project_id;
    const { circuit } = outage.runtime.deps;
    outage.emulator.setFaults({ rates: { UNAVAILABLE: 1 } });
    const post = (url: string, payload: unknown) =>
      outage.app.inject({ method: 'POST', url, headers: tenant.headers, payload: payload as object });

    // Registrations are accepted although FCM cannot validate; after three failures validation stops asking.
    const tokens = Array.from({ length: 4 }, (_, i) => `outage-${Date.now()}-${i}`);
    const devices: string[] = [];
    for (const token of tokens) {
      const response = await post('/api/v1/devices/', { platform: 'android', token });
      expect(response.statusCode).toBe(201);
      devices.push(response.json().id);
    }
    expect(outage.emulator.received().filter((r) => r.validateOnly)).toHaveLength(3);
    expect(circuit.state(project)).not.toBe('closed');
    expect(circuit.fcmState()).toBe('down');
    // Readiness: FCM is not required, so the process is degraded (200), not down.
    const ready = await outage.app.inject({ method: 'GET', url: '/api/v1/health/ready/' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'degraded', checks: { fcm_sends: { status: 'down' } } });
    expect(ready.json().checks.fcm_sends.circuits[0]).toMatchObject({ project });

    const accepted = [
      await post('/api/v1/notify/', { device_ids: devices.slice(0, 2), title: 'during the outage' }),
      await post('/api/v1/notify/', { device_ids: devices.slice(2), title: 'during the outage too' }),
    ];
    for (const response of accepted) expect(response.statusCode).toBe(202);
    const ids = accepted.map((r) => r.json().notification_id as string);

    await new Promise((resolve) => setTimeout(resolve, 4000));
    const sendsOf = (token: string) =>
      outage.emulator.received().filter((r) => r.message.token === token && !r.validateOnly);
    for (const id of ids) {
      const status = (
        await outage.app.inject({
          method: 'GET',
          url: `/api/v1/notifications/${id}/status/`,
          headers: tenant.headers,
        })
      ).json();
      expect(status.notification.status).toBe('sending');
      for (const delivery of status.deliveries as DeliveryReport[]) {
        expect(['pending', 'retrying']).toContain(delivery.status);
        const token = tokens[devices.indexOf(delivery.device_id)]!;
        // Rescheduled batches are not attempts: every attempt is a request FCM really got.
        // (A probe may be in flight when the status is read: FCM has it, its outcome is not recorded yet.)
        const sends = sendsOf(token).length;
        expect(delivery.attempts).toBeLessThanOrEqual(sends);
        expect(delivery.attempts).toBeGreaterThanOrEqual(sends - 1);
        // Without the breaker, 4 s of 100-300 ms backoff would be a dozen attempts each.
        expect(delivery.attempts).toBeLessThanOrEqual(4);
      }
    }

    outage.emulator.setFaults({});
    for (const id of ids) {
      const done = await waitForNotification(outage, tenant, id);
      expect(done).toMatchObject({ status: 'completed', counts: { total: 2, sent: 2, failed: 0 } });
    }
    for (const token of tokens) expect(sendsOf(token).filter((r) => r.status === 200)).toHaveLength(1);
    expect(circuit.state(project)).toBe('closed');
    expect(circuit.fcmState()).toBe('ok');
  });
});
