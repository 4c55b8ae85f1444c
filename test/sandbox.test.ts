/**
 * The sandbox you can see: with the in-process emulator as the FCM endpoint, a tenant reads what the emulator
 * received for its own devices (GET /api/v1/sandbox/messages), and the documented magic tokens work end to end
 * from device registration (the registration dry run lets them in; the send fails as the prefix says).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../src/services/clients.service.ts';
import { errorOf, startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

let server: TestServer;
let a: Tenant;
/** A tenant with no Firebase project of its own: it sends through the sandbox's shared default account. */
let b: { headers: Record<string, string> };

interface SandboxPage {
  items: Array<{
    id: string;
    received_at: string;
    device_id: string;
    notification_id: string | null;
    platform: string;
    message: Record<string, unknown> & { token_suffix: string; data: Record<string, string> };
    outcome: string;
  }>;
  next_cursor: string | null;
}

beforeAll(async () => {
  // FCM_EMULATOR=true: the emulator is the FCM endpoint (FCM_BASE_URL is ignored), as on `npm start`.
  server = await startTestServer({ FCM_EMULATOR: 'true', VALIDATE_TOKENS_ON_REGISTER: 'true' });
  a = await server.tenant('sandbox-a');
  const created = await createClient(server.runtime.deps, { name: 'sandbox-b' });
  b = { headers: { 'client-id': created.clientId, 'client-token': created.clientToken } };
});
afterAll(() => server?.close());

async function register(who: Tenant | typeof b, token: string, platform = 'android') {
  const response = await server.as(who.headers, 'POST', '/api/v1/devices/', { platform, token });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { id: string };
}

async function sendTo(who: Tenant | typeof b, deviceIds: string[], title = 'Hello') {
  const accepted = await server.as(who.headers, 'POST', '/api/v1/notify/', { device_ids: deviceIds, title });
  expect(accepted.statusCode, accepted.body).toBe(202);
  const id = accepted.json().notification_id as string;
  await waitForNotification(server, who as Tenant, id);
  return id;
}

async function inbox(who: Tenant | typeof b, query = ''): Promise<SandboxPage> {
  const response = await server.as(who.headers, 'GET', `/api/v1/sandbox/messages/${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

describe('magic tokens from device registration to the sandbox inbox', () => {
  it('registers unregistered-… and invalid-… tokens, then the send fails as the prefix says', async () => {
    const deadToken = `unregistered-abc${Date.now()}`;
    const badToken = `invalid-abc${Date.now()}`;
    const dead = await register(a, deadToken, 'ios');
    const bad = await register(a, badToken);
    // Each registration dry-ran its token, and the dry run passed.
    for (const token of [deadToken, badToken]) {
      expect(server.emulator.received().filter((r) => r.message.token === token)).toMatchObject([
        { validateOnly: true, status: 200 },
      ]);
    }

    const notificationId = await sendTo(a, [dead.id, bad.id]);
    const notification = (await server.as(a, 'GET', `/api/v1/notifications/${notificationId}/`)).json();
    expect(notification).toMatchObject({ status: 'failed', counts: { total: 2, failed: 2 } });
    expect((await server.as(a, 'GET', `/api/v1/devices/${dead.id}/`)).json()).toMatchObject({
      is_active: false,
      deactivated_reason: 'UNREGISTERED',
    });
    const report = (await server.as(a, 'GET', `/api/v1/notifications/${notificationId}/status/`)).json();
    expect(
      Object.fromEntries(
        (report.deliveries as { device_id: string; error_code: string }[]).map((d) => [
          d.device_id,
          d.error_code,
        ]),
      ),
    ).toEqual({ [dead.id]: 'UNREGISTERED', [bad.id]: 'INVALID_ARGUMENT' });

    const page = await inbox(a, `?notification_id=${notificationId}`);
    expect(page.next_cursor).toBeNull();
    expect(page.items.map((item) => [item.device_id, item.outcome]).sort()).toEqual(
      [
        [dead.id, 'UNREGISTERED'],
        [bad.id, 'INVALID_ARGUMENT'],
      ].sort(),
    );
    const deadItem = page.items.find((item) => item.device_id === dead.id)!;
    expect(deadItem).toMatchObject({ notification_id: notificationId, platform: 'ios' });
    expect(deadItem.message.token_suffix).toBe(deadToken.slice(-8));
    expect(deadItem.message).not.toHaveProperty('token');
    expect(JSON.stringify(page)).not.toContain(deadToken);
    expect(deadItem.message.data.fcms_delivery_id).toMatch(/^\d+$/);
    expect(deadItem.message).toMatchObject({ notification: { title: 'Hello' }, apns: expect.any(Object) });
    expect(Date.parse(deadItem.received_at)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('the documented token rules', () => {
  it('takes 8 to 4,096 printable ASCII characters without spaces, and refuses anything else with 422', async () => {
    for (const token of ['1234567', 'has space-123', 'ünïcode-token', 'x'.repeat(4097)]) {
      const response = await server.as(a, 'POST', '/api/v1/devices/', { platform: 'web', token });
      expect(response.statusCode, token).toBe(422);
      expect(errorOf(response)).toMatchObject({ code: 'validation_error' });
    }
    for (const token of ['12345678', `y${'!~'.repeat(2047)}z`]) {
      const response = await server.as(a, 'POST', '/api/v1/devices/', { platform: 'web', token });
      expect(response.statusCode, token.slice(0, 20)).toBe(201);
    }
  });
});

describe('GET /api/v1/sandbox/messages', () => {
  it('lists only real sends, newest first, with cursor paging and the device and notification filters', async () => {
    const token = `good-token-${Date.now()}`;
    const device = await register(a, token);
    const other = await register(a, `other-token-${Date.now()}`);
    const sent: string[] = [];
    for (const title of ['one', 'two', 'three']) sent.push(await sendTo(a, [device.id], title));
    await sendTo(a, [other.id], 'elsewhere');

    const all = await inbox(a, `?device_id=${device.id}`);
    expect(all.items.map((item) => item.notification_id)).toEqual([...sent].reverse());
    expect(all.items.every((item) => item.outcome === 'sent' && item.platform === 'android')).toBe(true);
    // The registration dry run of the token is not a message the device received.
    expect(all.items).toHaveLength(3);

    const first = await inbox(a, `?device_id=${device.id}&limit=2`);
    expect(first.items.map((item) => item.notification_id)).toEqual([sent[2], sent[1]]);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await inbox(a, `?device_id=${device.id}&limit=2&cursor=${first.next_cursor}`);
    expect(second.items.map((item) => item.notification_id)).toEqual([sent[0]]);
    expect(second.next_cursor).toBeNull();

    const unfiltered = await inbox(a, '?limit=200');
    expect(unfiltered.items.map((item) => Number(item.id))).toEqual(
      [...unfiltered.items.map((item) => Number(item.id))].sort((x, y) => y - x),
    );
    expect(unfiltered.items.map((item) => item.device_id)).toContain(other.id);

    const bad = await server.as(a, 'GET', '/api/v1/sandbox/messages/?cursor=bm9wZQ');
    expect(bad.statusCode).toBe(400);
    expect(errorOf(bad).code).toBe('invalid_cursor');
  });

  it("is tenant-scoped: another tenant's messages are invisible, even to the same device token", async () => {
    const shared = `shared-token-${Date.now()}`;
    const aDevice = await register(a, shared);
    const bDevice = await register(b, shared);
    const bOnly = await register(b, `b-only-${Date.now()}`);
    const bNotification = await sendTo(b, [bDevice.id, bOnly.id]);
    const aNotification = await sendTo(a, [aDevice.id]);

    const seenByA = await inbox(a, '?limit=200');
    expect(seenByA.items.map((item) => item.notification_id)).not.toContain(bNotification);
    expect(JSON.stringify(seenByA)).not.toContain(bOnly.id);
    expect((await inbox(a, `?notification_id=${bNotification}`)).items).toEqual([]);

    const seenByB = await inbox(b, '?limit=200');
    expect(seenByB.items.map((item) => [item.notification_id, item.device_id]).sort()).toEqual(
      [
        [bNotification, bDevice.id],
        [bNotification, bOnly.id],
      ].sort(),
    );
    expect(seenByB.items.map((item) => item.notification_id)).not.toContain(aNotification);
  });

  it('is documented with its schema, an example and its statuses', async () => {
    const doc = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const [, operation] = Object.entries(doc.paths).find(([path]) =>
      path.startsWith('/api/v1/sandbox/messages'),
    )!;
    const get = (
      operation as Record<
        string,
        { responses: Record<string, unknown>; summary: string; operationId: string }
      >
    ).get!;
    expect(get.summary).toMatch(/sandbox/i);
    expect(get).toMatchObject({ operationId: 'listSandboxMessages' });
    expect(Object.keys(get.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '403', '429']));
    expect(doc.components.schemas.SandboxMessage.example).toMatchObject({ outcome: 'sent' });
  });
});

describe('outside sandbox mode', () => {
  it('does not exist: 404, and absent from the API document', async () => {
    const production = await startTestServer();
    try {
      const tenant = await production.tenant();
      const response = await production.as(tenant, 'GET', '/api/v1/sandbox/messages/');
      expect(response.statusCode).toBe(404);
      const doc = (await production.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      expect(Object.keys(doc.paths).filter((path) => path.includes('sandbox'))).toEqual([]);
    } finally {
      await production.close();
    }
  });
});
