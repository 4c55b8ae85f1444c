/**
 * Tenant isolation: tenant A holds valid credentials and B's ids, phone numbers and tokens, and tries to read,
 * change, send to and delete B's resources. Every attempt fails with 404 (never 403: no existence leak) and
 * B's data and devices are untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

let server: TestServer;
let a: Tenant;
let b: Tenant;
const bPhone = '+255754000111';
const bToken = `b-secret-token-${Date.now()}`;
let bProfile: { id: string };
let bDevice: { id: string };
let bNotification: string;

beforeAll(async () => {
  server = await startTestServer();
  a = await server.tenant('tenant-a');
  b = await server.tenant('tenant-b');
  const as = (t: Tenant, method: 'GET' | 'POST', url: string, payload?: object) =>
    server.app.inject({ method, url, headers: t.headers, ...(payload ? { payload } : {}) });
  bProfile = (
    await as(b, 'POST', '/api/v1/profiles/', { phone_number: bPhone, external_id: 'b-user' })
  ).json();
  bDevice = (
    await as(b, 'POST', '/api/v1/devices/', { platform: 'android', token: bToken, profile_id: bProfile.id })
  ).json();
  bNotification = (await as(b, 'POST', '/api/v1/notify/', { profile_id: bProfile.id, title: 'for B' })).json()
    .notification_id;
  await waitForNotification(server, b, bNotification);
  server.emulator.reset();
});
afterAll(() => server?.close());

const asA = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
  server.app.inject({ method, url, headers: a.headers, ...(payload ? { payload } : {}) });

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

    const profile = await server.app.inject({
      method: 'GET',
      url: `/api/v1/profiles/${bProfile.id}/`,
      headers: b.headers,
    });
    expect(profile.json().name).toBeNull();
    const device = await server.app.inject({
      method: 'GET',
      url: `/api/v1/devices/${bDevice.id}/`,
      headers: b.headers,
    });
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
    const device = await server.app.inject({
      method: 'GET',
      url: `/api/v1/devices/${bDevice.id}/`,
      headers: b.headers,
    });
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
