/**
 * The queries the dashboard needed and the API lacked, through HTTP: devices searched by token suffix (stored in
 * clear, filled on register, update and import, backfilled for older rows), a device's delivery history, a
 * notification's webhook attempts, and sandbox faults injected per device. Each one scoped to the tenant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillTokenSuffixes } from '../src/services/devices.service.ts';
import {
  errorOf,
  seedDevices,
  startHookReceiver,
  startTestServer,
  type Tenant,
  type TestServer,
  waitFor,
  waitForNotification,
} from './helpers.ts';

let server: TestServer;
let a: Tenant;
let b: Tenant;
let receiver: Awaited<ReturnType<typeof startHookReceiver>>;

beforeAll(async () => {
  receiver = await startHookReceiver();
  // The in-process emulator is the FCM endpoint, as on `npm start`: the sandbox routes exist.
  server = await startTestServer({ FCM_EMULATOR: 'true', SEND_MAX_ATTEMPTS: '4' });
  a = await server.tenant('dash-a');
  b = await server.tenant('dash-b');
});
afterAll(async () => {
  await server?.close();
  await receiver?.close();
});

async function register(who: Tenant, token: string) {
  const response = await server.as(who, 'POST', '/api/v1/devices/', { platform: 'android', token });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { id: string; token_suffix: string };
}

const ids = (body: { items: { id: string }[] }) => body.items.map((d) => d.id);

async function send(who: Tenant, deviceIds: string[]): Promise<string> {
  const accepted = await server.as(who, 'POST', '/api/v1/notify/', { device_ids: deviceIds, title: 'Hi' });
  expect(accepted.statusCode, accepted.body).toBe(202);
  const id = accepted.json().notification_id as string;
  await waitForNotification(server, who, id);
  return id;
}

describe('GET /devices?token_suffix=', () => {
  it('finds devices by the end of their token, registered, updated or imported, in the tenant only', async () => {
    const one = await register(a, 'tok-search-aaaa-Q1w2E3r4');
    const two = await register(a, 'tok-search-bbbb-Z9x8C7v6');
    await register(b, 'tok-search-cccc-Q1w2E3r4-b'); // b's own device, never a's result
    const same = await register(b, 'tok-search-aaaa-Q1w2E3r4'); // the very same token at another tenant
    expect(one.token_suffix).toBe('Q1w2E3r4');

    const full = await server.as(a, 'GET', '/api/v1/devices/?token_suffix=Q1w2E3r4');
    expect(ids(full.json())).toEqual([one.id]);
    const part = await server.as(a, 'GET', '/api/v1/devices/?token_suffix=C7v6');
    expect(ids(part.json())).toEqual([two.id]);
    expect(ids((await server.as(b, 'GET', '/api/v1/devices/?token_suffix=Q1w2E3r4')).json())).toEqual([
      same.id,
    ]);
    // LIKE's wildcards match themselves only.
    expect((await server.as(a, 'GET', '/api/v1/devices/?token_suffix=%25')).json().items).toEqual([]);

    // A new token moves the suffix.
    const changed = await server.as(a, 'PUT', `/api/v1/devices/${two.id}/`, {
      token: 'tok-search-new-Kk55Ll66',
    });
    expect(changed.json().token_suffix).toBe('Kk55Ll66');
    expect(ids((await server.as(a, 'GET', '/api/v1/devices/?token_suffix=Ll66')).json())).toEqual([two.id]);
    expect((await server.as(a, 'GET', '/api/v1/devices/?token_suffix=C7v6')).json().items).toEqual([]);

    const imported = await server.as(a, 'POST', '/api/v1/devices/import', {
      devices: [{ platform: 'ios', token: 'tok-search-import-Im9Im9Im' }],
    });
    expect(imported.statusCode, imported.body).toBe(200);
    const found = (await server.as(a, 'GET', '/api/v1/devices/?token_suffix=Im9Im9Im')).json();
    expect(found.items).toMatchObject([{ platform: 'ios', token_suffix: 'Im9Im9Im' }]);
  });

  it('refuses a suffix longer than 8 characters or with spaces, with our error', async () => {
    for (const bad of ['123456789', 'a%20b', '']) {
      const response = await server.as(a, 'GET', `/api/v1/devices/?token_suffix=${bad}`);
      expect(response.statusCode, bad).toBe(400);
      expect(errorOf(response).code).toBe('invalid_query');
    }
  });

  it('backfills the suffix of devices stored without one (rows older than the column)', async () => {
    const seeded = await seedDevices(server, a, 'backfill', 3); // plain SQL: token_suffix is null
    const before = (await server.as(a, 'GET', '/api/v1/devices/?token_suffix=23456789')).json();
    expect(before.items).toEqual([]);
    expect(await backfillTokenSuffixes(server.runtime.deps, 2)).toBeGreaterThanOrEqual(3);
    const after = (await server.as(a, 'GET', '/api/v1/devices/?token_suffix=23456789')).json();
    expect(ids(after).sort()).toEqual([...seeded].sort());
    expect(await backfillTokenSuffixes(server.runtime.deps)).toBe(0);
  });
});

describe('GET /devices/{id}/deliveries', () => {
  it("pages a device's deliveries newest first, and is 404 to another tenant", async () => {
    const device = await register(a, 'tok-history-0001-abcdefgh');
    const sent: string[] = [];
    for (let i = 0; i < 3; i += 1) sent.push(await send(a, [device.id]));
    const first = await server.as(a, 'GET', `/api/v1/devices/${device.id}/deliveries/?limit=2`);
    expect(first.statusCode, first.body).toBe(200);
    const page1 = first.json();
    expect(page1.items.map((d: { notification_id: string }) => d.notification_id)).toEqual([
      sent[2],
      sent[1],
    ]);
    expect(page1.items[0]).toMatchObject({ device_id: device.id, status: 'sent', attempts: 1 });
    const rest = await server.as(
      a,
      'GET',
      `/api/v1/devices/${device.id}/deliveries/?limit=2&cursor=${page1.next_cursor}`,
    );
    expect(rest.json().items.map((d: { notification_id: string }) => d.notification_id)).toEqual([sent[0]]);
    expect(rest.json().next_cursor).toBeNull();

    const foreign = await server.as(b, 'GET', `/api/v1/devices/${device.id}/deliveries/`);
    expect(foreign.statusCode).toBe(404);
    const badCursor = await server.as(a, 'GET', `/api/v1/devices/${device.id}/deliveries/?cursor=x`);
    expect(errorOf(badCursor).code).toBe('invalid_cursor');
  });
});

describe('GET /notifications/{id}/webhook-attempts', () => {
  it("lists the attempts of this notification's events only, and is 404 to another tenant", async () => {
    const hook = await server.as(a, 'POST', '/api/v1/webhooks/', { url: receiver.url('/hooks') });
    expect(hook.statusCode, hook.body).toBe(201);
    const device = await register(a, 'tok-hooks-0001-abcdefgh');
    const first = await send(a, [device.id]);
    const second = await send(a, [device.id]);
    const attempts = await waitFor(async () => {
      const page = (await server.as(a, 'GET', `/api/v1/notifications/${first}/webhook-attempts/`)).json();
      return page.items.some((t: { event_type: string }) => t.event_type === 'notification.completed')
        ? page
        : undefined;
    });
    expect(attempts.items.length).toBeGreaterThan(0);
    for (const attempt of attempts.items) {
      expect(attempt).toMatchObject({ endpoint_id: hook.json().id, status: 'succeeded' });
    }
    const ofSecond = await waitFor(async () => {
      const page = (await server.as(a, 'GET', `/api/v1/notifications/${second}/webhook-attempts/`)).json();
      return page.items.length > 0 ? page : undefined;
    });
    const firstEvents = new Set(attempts.items.map((t: { event_id: string }) => t.event_id));
    expect(ofSecond.items.filter((t: { event_id: string }) => firstEvents.has(t.event_id))).toEqual([]);

    const foreign = await server.as(b, 'GET', `/api/v1/notifications/${first}/webhook-attempts/`);
    expect(foreign.statusCode).toBe(404);
  });
});

describe('PUT /sandbox/devices/{id}/fault', () => {
  it('a 503 burst is retried until the send gets through', async () => {
    const device = await register(a, 'tok-fault-0001-abcdefgh');
    const set = await server.as(a, 'PUT', `/api/v1/sandbox/devices/${device.id}/fault`, {
      fault: 'unavailable',
      count: 2,
    });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json()).toEqual({ device_id: device.id, fault: 'UNAVAILABLE', remaining: 2 });
    const notification = await send(a, [device.id]);
    const history = (await server.as(a, 'GET', `/api/v1/devices/${device.id}/deliveries/`)).json();
    expect(history.items[0]).toMatchObject({ notification_id: notification, status: 'sent', attempts: 3 });
    const inbox = (
      await server.as(a, 'GET', `/api/v1/sandbox/messages/?notification_id=${notification}`)
    ).json();
    expect(inbox.items.map((m: { outcome: string }) => m.outcome)).toEqual([
      'sent',
      'UNAVAILABLE',
      'UNAVAILABLE',
    ]);
  });

  it('unregistered deactivates the device at the first send; none clears it', async () => {
    const device = await register(a, 'tok-fault-0002-abcdefgh');
    const set = await server.as(a, 'PUT', `/api/v1/sandbox/devices/${device.id}/fault`, {
      fault: 'unregistered',
    });
    expect(set.json()).toEqual({ device_id: device.id, fault: 'UNREGISTERED', remaining: null });
    await send(a, [device.id]);
    expect((await server.as(a, 'GET', `/api/v1/devices/${device.id}/`)).json()).toMatchObject({
      is_active: false,
      deactivated_reason: 'UNREGISTERED',
    });
    const cleared = await server.as(a, 'PUT', `/api/v1/sandbox/devices/${device.id}/fault`, {
      fault: 'none',
    });
    expect(cleared.json()).toEqual({ device_id: device.id, fault: null, remaining: null });
    expect(server.emulator.faults().tokens?.['tok-fault-0002-abcdefgh']).toBeUndefined();
  });

  it("is 404 for another tenant's device and 422 for a count without a burst", async () => {
    const device = await register(a, 'tok-fault-0003-abcdefgh');
    const foreign = await server.as(b, 'PUT', `/api/v1/sandbox/devices/${device.id}/fault`, {
      fault: 'unregistered',
    });
    expect(foreign.statusCode).toBe(404);
    expect(server.emulator.faults().tokens?.['tok-fault-0003-abcdefgh']).toBeUndefined();
    const bad = await server.as(a, 'PUT', `/api/v1/sandbox/devices/${device.id}/fault`, {
      fault: 'unregistered',
      count: 2,
    });
    expect(bad.statusCode).toBe(422);
  });
});
