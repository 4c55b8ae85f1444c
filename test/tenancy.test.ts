/**
 * Tenant isolation: tenant A holds valid credentials and B's ids, phone numbers and tokens, and tries to read,
 * change, send to and delete B's resources. Every attempt fails with 404 (never 403: no existence leak) and
 * B's data and devices are untouched.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import {
  type Method,
  startTestServer,
  type Tenant,
  type TestServer,
  waitForNotification,
} from './helpers.ts';
import { readApi } from './openapi-tools.ts';

let server: TestServer;
let a: Tenant;
let b: Tenant;
const bPhone = '+255754000111';
const bToken = `b-secret-token-${Date.now()}`;
let bProfile: { id: string };
let bDevice: { id: string };
let bNotification: string;
const bOthers: Record<string, string> = {};

beforeAll(async () => {
  server = await startTestServer();
  a = await server.tenant('tenant-a');
  b = await server.tenant('tenant-b');
  bProfile = (
    await server.as(b, 'POST', '/api/v1/profiles/', { phone_number: bPhone, external_id: 'b-user' })
  ).json();
  bDevice = (
    await server.as(b, 'POST', '/api/v1/devices/', {
      platform: 'android',
      token: bToken,
      profile_id: bProfile.id,
    })
  ).json();
  bNotification = (
    await server.as(b, 'POST', '/api/v1/notify/', { profile_id: bProfile.id, title: 'for B' })
  ).json().notification_id;
  await waitForNotification(server, b, bNotification);
  const topic = await server.as(b, 'POST', '/api/v1/topics/', { name: 'b-topic' });
  bOthers.topic = topic.json().id;
  await server.as(b, 'POST', `/api/v1/topics/${bOthers.topic}/subscribe/`, { device_ids: [bDevice.id] });
  bOthers.template = (
    await server.as(b, 'POST', '/api/v1/templates/', { name: 'b-template', title: 'Hi {{name}}' })
  ).json().id;
  bOthers.schedule = (
    await server.as(b, 'POST', '/api/v1/notify/schedule/', {
      profile_id: bProfile.id,
      title: 'later',
      scheduled_at: new Date(Date.now() + 86_400_000).toISOString(),
    })
  ).json().id;
  for (const [name, id] of Object.entries(bOthers)) expect(id, name).toMatch(/^[0-9a-f-]{36}$/);
  server.emulator.reset();
});
afterAll(() => server?.close());

const asA = (method: Method, url: string, payload?: object) => server.as(a, method, url, payload);

describe("tenant A cannot touch tenant B's resources", () => {
  it('reads by id: 404', async () => {
    for (const url of [
      `/api/v1/profiles/${bProfile.id}/`,
      `/api/v1/devices/${bDevice.id}/`,
      `/api/v1/notifications/${bNotification}/`,
      `/api/v1/notifications/${bNotification}/status/`,
      `/api/v1/firebase-projects/${b.firebaseProjectId}/`,
    ]) {
      const response = await asA('GET', url);
      expect(response.statusCode, url).toBe(404);
    }
  });

  it('lists never include B', async () => {
    for (const url of [
      '/api/v1/profiles/',
      '/api/v1/devices/',
      '/api/v1/notifications/',
      '/api/v1/firebase-projects/',
    ]) {
      const body = (await asA('GET', url)).body;
      for (const id of [bProfile.id, bDevice.id, bNotification, b.firebaseProjectId])
        expect(body, url).not.toContain(id);
    }
    const byPhone = (await asA('GET', `/api/v1/profiles/?phone_number=${encodeURIComponent(bPhone)}`)).json();
    expect(byPhone.items).toHaveLength(0);
  });

  it('changes and deletes: 404, and B is unchanged', async () => {
    expect((await asA('PUT', `/api/v1/profiles/${bProfile.id}/`, { name: 'hacked' })).statusCode).toBe(404);
    expect((await asA('DELETE', `/api/v1/profiles/${bProfile.id}/`)).statusCode).toBe(404);
    expect((await asA('PUT', `/api/v1/devices/${bDevice.id}/`, { app_version: '6.6.6' })).statusCode).toBe(
      404,
    );
    expect((await asA('DELETE', `/api/v1/devices/${bDevice.id}/`)).statusCode).toBe(404);
    expect((await asA('DELETE', `/api/v1/firebase-projects/${b.firebaseProjectId}/`)).statusCode).toBe(404);
    expect((await asA('POST', `/api/v1/firebase-projects/${b.firebaseProjectId}/default/`)).statusCode).toBe(
      404,
    );
    // Attaching a device of A to B's profile is refused too.
    expect(
      (
        await asA('POST', '/api/v1/devices/', {
          platform: 'ios',
          token: `a-${Date.now()}`,
          profile_id: bProfile.id,
        })
      ).statusCode,
    ).toBe(404);

    const profile = await server.as(b, 'GET', `/api/v1/profiles/${bProfile.id}/`);
    expect(profile.json().name).toBeNull();
    const device = await server.as(b, 'GET', `/api/v1/devices/${bDevice.id}/`);
    expect(device.json()).toMatchObject({ is_active: true, app_version: null });
  });

  it("sending by B's profile id, phone number, external id, device id or through B's project reaches nothing of B", async () => {
    expect((await asA('POST', '/api/v1/notify/', { profile_id: bProfile.id, title: 'x' })).statusCode).toBe(
      404,
    );
    expect((await asA('POST', '/api/v1/notify/', { phone_number: bPhone, title: 'x' })).statusCode).toBe(404);
    expect((await asA('POST', '/api/v1/notify/', { external_id: 'b-user', title: 'x' })).statusCode).toBe(
      404,
    );
    expect(
      (
        await asA('POST', '/api/v1/notify/', {
          external_id: 'b-user',
          title: 'x',
          firebase_project_id: b.firebaseProjectId,
        })
      ).statusCode,
    ).toBe(404);
    const byDevice = await asA('POST', '/api/v1/notify/', { device_ids: [bDevice.id], title: 'x' });
    expect(byDevice.statusCode).toBe(202);
    const notification = await waitForNotification(server, a, byDevice.json().notification_id);
    expect(notification).toMatchObject({ status: 'failed', counts: { total: 0 } });
    expect(server.emulator.received().filter((r) => r.message.token === bToken)).toHaveLength(0);
  });

  it("registering B's token as A creates A's own device and leaves B's alone", async () => {
    const response = await asA('POST', '/api/v1/devices/', { platform: 'android', token: bToken });
    expect(response.statusCode).toBe(201);
    expect(response.json().id).not.toBe(bDevice.id);
    const device = await server.as(b, 'GET', `/api/v1/devices/${bDevice.id}/`);
    expect(device.json()).toMatchObject({ is_active: true, profile_id: bProfile.id });
  });

  it("B's receipts cannot be replayed against other deliveries", async () => {
    const forged = await server.app.inject({
      method: 'POST',
      url: '/api/v1/receipts/',
      payload: {
        delivery_id: '1',
        receipt_token: server.runtime.deps.cipher.receiptToken('2'),
        status: 'read',
      },
    });
    expect(forged.statusCode).toBe(404);
  });
});

/** A digest of every row that belongs to B, across every table with an api_client_id column. */
async function digestOfB(): Promise<string> {
  const tables = await query<{ table_name: string }>(
    server.runtime.deps.db,
    sql`select table_name from information_schema.columns
      where table_schema = 'public' and column_name = 'api_client_id'
        and table_name <> 'analytics_daily' -- derived by a periodic job, not B's data
      order by table_name`,
  );
  const parts = tables.map(
    (t) =>
      `(select coalesce(md5(string_agg(x::text, ',' order by x::text)), '') from "${t.table_name}" x where x.api_client_id = '${b.clientId}')`,
  );
  const [row] = await query<{ d: string }>(
    server.runtime.deps.db,
    sql.raw(`select concat_ws('|', ${parts.join(', ')}) as d`),
  );
  return row!.d;
}

describe("every route that takes an id or a name: B's answer exactly like ones that do not exist", () => {
  it("gives A the same status and error code for B's ids as for unknown ids, and leaves B unchanged", async () => {
    const api = await readApi(server.app);
    const before = await digestOfB();
    const bIds = [bProfile.id, bDevice.id, bNotification, b.firebaseProjectId, ...Object.values(bOthers)];
    const routes = api.operations.filter((op) => op.path.includes('{'));
    expect(routes.length).toBeGreaterThan(15);
    const problems: string[] = [];
    for (const op of routes) {
      const body =
        op.method === 'GET' || op.method === 'DELETE'
          ? undefined
          : api.plausible(op.bodySchema, randomUUID());
      const call = (value: string) =>
        server.as(a, op.method, op.path.replace(/\{[^}]+\}/g, encodeURIComponent(value)), body);
      const byName = /\{(topic_name|name)\}/.test(op.path);
      const candidates = byName ? ['b-topic', 'b-template'] : bIds;
      const reference = await call(byName ? 'no-such-name-42' : randomUUID());
      const referenceCode = reference.statusCode >= 400 ? reference.json().error?.code : undefined;
      for (const value of candidates) {
        const response = await call(value);
        const code = response.statusCode >= 400 ? response.json().error?.code : undefined;
        if (response.statusCode !== reference.statusCode || code !== referenceCode) {
          problems.push(
            `${op.method} ${op.path} with ${value}: ${response.statusCode} ${code} vs ${reference.statusCode} ${referenceCode}`,
          );
        }
        if (response.statusCode < 300 && op.method !== 'GET') {
          problems.push(`${op.method} ${op.path} with ${value}: accepted (${response.statusCode})`);
        }
        for (const id of bIds) {
          if (response.statusCode < 300 && response.body.includes(id))
            problems.push(`${op.method} ${op.path} leaks ${id}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(await digestOfB()).toBe(before);
  });

  it("B's devices, profiles, topic and template given inside A's requests reach nothing of B", async () => {
    const before = await digestOfB();
    const topic = await asA('POST', '/api/v1/topics/', { name: 'a-topic' });
    const subscribe = await asA('POST', `/api/v1/topics/${topic.json().id}/subscribe/`, {
      device_ids: [bDevice.id],
      profile_ids: [bProfile.id],
    });
    expect(subscribe.json()).toMatchObject({
      subscribed: 0,
      not_found: { device_ids: [bDevice.id], profile_ids: [bProfile.id] },
    });
    const bulk = await asA('POST', '/api/v1/notify/bulk/', {
      title: 'x',
      targets: [
        { device_id: bDevice.id },
        { profile_id: bProfile.id },
        { phone_number: bPhone },
        { external_id: 'b-user' },
      ],
    });
    expect(bulk.statusCode).toBe(422);
    expect((await asA('POST', '/api/v1/notify/', { topic: 'b-topic', title: 'x' })).statusCode).toBe(404);
    expect(
      (
        await asA('POST', '/api/v1/notify/', {
          all_devices: true,
          template: 'b-template',
          variables: { name: 'x' },
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (
        await asA('POST', '/api/v1/notify/', {
          all_devices: true,
          template: bOthers.template!,
          variables: { name: 'x' },
        })
      ).statusCode,
    ).toBe(404);
    const schedule = await asA('POST', '/api/v1/notify/schedule/', {
      profile_id: bProfile.id,
      title: 'x',
      scheduled_at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(schedule.statusCode).toBe(404);
    expect(server.emulator.received().filter((r) => r.message.token === bToken)).toHaveLength(0);
    expect(await digestOfB()).toBe(before);
  });
});
