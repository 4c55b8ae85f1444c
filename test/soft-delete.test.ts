/**
 * Soft delete: DELETE hides a profile or device (and stops its pushes), restore brings it back within
 * SOFT_DELETE_RETENTION_DAYS without reviving devices that were deactivated for another reason, and the purge
 * hard-deletes what was deleted longer ago, in batches.
 */
import { inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../src/db/client.ts';
import { listEventsAfter } from '../src/db/events.repository.ts';
import { deliveries, devices, profiles } from '../src/db/schema.ts';
import { purgeSoftDeleted } from '../src/services/retention.service.ts';
import { errorOf, startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

let server: TestServer;
let tenant: Tenant;
let other: Tenant;

beforeAll(async () => {
  server = await startTestServer({ SOFT_DELETE_RETENTION_DAYS: '30' });
  tenant = await server.tenant('soft-delete');
  other = await server.tenant('soft-delete-other');
});
afterAll(() => server?.close());

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
const call = (method: Method, url: string, payload?: unknown, headers = tenant.headers) =>
  server.app.inject({
    method,
    url,
    headers,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

let counter = 0;
async function newProfile(fields: Record<string, unknown> = {}): Promise<string> {
  counter += 1;
  const response = await call('POST', '/api/v1/profiles/', { external_id: `sd-user-${counter}`, ...fields });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id;
}
async function newDevice(profileId?: string): Promise<{ id: string; token: string }> {
  counter += 1;
  const token = `sd-token-${counter}-${Date.now()}`;
  const response = await call('POST', '/api/v1/devices/', {
    platform: 'android',
    token,
    ...(profileId ? { profile_id: profileId } : {}),
  });
  expect(response.statusCode, response.body).toBe(201);
  return { id: response.json().id, token };
}
const device = async (id: string) =>
  (
    await query<{ is_active: boolean; deactivated_reason: string | null; deleted_at: Date | null }>(
      server.runtime.deps.db,
      sql`select is_active, deactivated_reason, deleted_at from devices where id = ${id}`,
    )
  )[0];
/** Marks a device's token dead, as FCM's UNREGISTERED does. */
const tokenDied = (id: string) =>
  query(
    server.runtime.deps.db,
    sql`update devices set is_active = false, deactivated_reason = 'unregistered', deactivated_at = now()
        where id = ${id}`,
  );
const deletedDaysAgo = (table: 'profiles' | 'devices', id: string, days: number) =>
  query(
    server.runtime.deps.db,
    table === 'profiles'
      ? sql`update profiles set deleted_at = now() - make_interval(days => ${days}) where id = ${id}`
      : sql`update devices set deleted_at = now() - make_interval(days => ${days}) where id = ${id}`,
  );

describe('devices', () => {
  it('DELETE hides and deactivates a device; restore brings it back active', async () => {
    const { id } = await newDevice();
    expect((await call('DELETE', `/api/v1/devices/${id}`)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/devices/${id}`)).statusCode).toBe(404);
    const list = (await call('GET', '/api/v1/devices/?limit=200')).json();
    expect(list.items.map((d: { id: string }) => d.id)).not.toContain(id);
    expect(await device(id)).toMatchObject({ is_active: false, deactivated_reason: 'deactivated_by_client' });
    expect((await call('DELETE', `/api/v1/devices/${id}`)).statusCode).toBe(404);

    const restored = await call('POST', `/api/v1/devices/${id}/restore`);
    expect(restored.statusCode).toBe(200);
    expect(restored.json()).toMatchObject({ id, is_active: true, deactivated_reason: null });
    expect((await call('GET', `/api/v1/devices/${id}`)).statusCode).toBe(200);

    const again = await call('POST', `/api/v1/devices/${id}/restore`);
    expect(again.statusCode).toBe(409);
    expect(errorOf(again).code).toBe('not_deleted');

    const events = await listEventsAfter(server.runtime.deps.db, tenant.clientId, '0', 1000);
    const forDevice = events.filter(
      (e) =>
        JSON.stringify(e.payload).includes(id) &&
        ['device.deactivated', 'device.registered'].includes(e.type),
    );
    expect(forDevice.map((e) => e.type)).toEqual([
      'device.registered',
      'device.deactivated',
      'device.registered',
    ]);
    expect(forDevice[2]!.payload).toMatchObject({ created: false, restored: true });
  });

  it('a restored device whose token died stays inactive', async () => {
    const { id } = await newDevice();
    await tokenDied(id);
    await call('DELETE', `/api/v1/devices/${id}`);
    expect(await device(id)).toMatchObject({ deactivated_reason: 'unregistered' });
    const restored = (await call('POST', `/api/v1/devices/${id}/restore`)).json();
    expect(restored).toMatchObject({ is_active: false, deactivated_reason: 'unregistered' });
  });

  it('registering a deleted device’s token brings it back; moving that token onto another device is a 409', async () => {
    const deleted = await newDevice();
    await call('DELETE', `/api/v1/devices/${deleted.id}`);
    const another = await newDevice();
    const clash = await call('PUT', `/api/v1/devices/${another.id}`, { token: deleted.token });
    expect(clash.statusCode).toBe(409);
    expect(errorOf(clash).details[0]).toMatchObject({ device_id: deleted.id, deleted: true });

    const again = await call('POST', '/api/v1/devices/', { platform: 'android', token: deleted.token });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: deleted.id, is_active: true });
  });

  it('cannot restore after the retention period, another tenant’s device, or an unknown one', async () => {
    const { id } = await newDevice();
    await call('DELETE', `/api/v1/devices/${id}`);
    expect((await call('POST', `/api/v1/devices/${id}/restore`, undefined, other.headers)).statusCode).toBe(
      404,
    );
    await deletedDaysAgo('devices', id, 31);
    const late = await call('POST', `/api/v1/devices/${id}/restore`);
    expect(late.statusCode).toBe(410);
    expect(errorOf(late).code).toBe('restore_window_passed');
    const unknown = await call('POST', '/api/v1/devices/0193e1b2-7c4a-7d1e-9a51-000000000000/restore');
    expect(unknown.statusCode).toBe(404);
  });
});

describe('profiles', () => {
  it('restore revives the devices the deletion deactivated, and only those', async () => {
    const profileId = await newProfile();
    const kept = await newDevice(profileId);
    const dead = await newDevice(profileId);
    const deletedOnItsOwn = await newDevice(profileId);
    await tokenDied(dead.id);
    await call('DELETE', `/api/v1/devices/${deletedOnItsOwn.id}`);

    expect((await call('DELETE', `/api/v1/profiles/${profileId}`)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/profiles/${profileId}`)).statusCode).toBe(404);
    expect(await device(kept.id)).toMatchObject({ is_active: false, deactivated_reason: 'profile_deleted' });
    expect(await device(dead.id)).toMatchObject({ deactivated_reason: 'unregistered' });

    const restored = await call('POST', `/api/v1/profiles/${profileId}/restore`);
    expect(restored.statusCode).toBe(200);
    expect(restored.json()).toMatchObject({ id: profileId, external_id: expect.stringMatching(/^sd-user-/) });
    expect(await device(kept.id)).toMatchObject({ is_active: true, deactivated_reason: null });
    expect(await device(dead.id)).toMatchObject({ is_active: false, deactivated_reason: 'unregistered' });
    expect(await device(deletedOnItsOwn.id)).toMatchObject({
      is_active: false,
      deleted_at: expect.anything(),
    });

    // Its own restore brings that device back active, now that its profile is live.
    const own = (await call('POST', `/api/v1/devices/${deletedOnItsOwn.id}/restore`)).json();
    expect(own).toMatchObject({ is_active: true, profile_id: profileId });
  });

  it('a device deleted with its profile comes back active once the profile is back', async () => {
    const profileId = await newProfile();
    const { id } = await newDevice(profileId);
    await call('DELETE', `/api/v1/profiles/${profileId}`);
    await call('DELETE', `/api/v1/devices/${id}`);
    expect(await device(id)).toMatchObject({
      deactivated_reason: 'profile_deleted',
      deleted_at: expect.anything(),
    });
    expect((await call('POST', `/api/v1/devices/${id}/restore`)).json()).toMatchObject({ is_active: false });
    await call('DELETE', `/api/v1/devices/${id}`);
    await call('POST', `/api/v1/profiles/${profileId}/restore`);
    expect((await call('POST', `/api/v1/devices/${id}/restore`)).json()).toMatchObject({ is_active: true });
  });

  it('refuses a restore when a live profile took the phone number, after the window, or across tenants', async () => {
    const first = await newProfile({ phone_number: '+255712000111' });
    await call('DELETE', `/api/v1/profiles/${first}`);
    const second = await newProfile({ phone_number: '+255712000111' });
    const clash = await call('POST', `/api/v1/profiles/${first}/restore`);
    expect(clash.statusCode).toBe(409);
    expect(errorOf(clash).details).toEqual([expect.objectContaining({ field: 'phone_number' })]);

    await call('DELETE', `/api/v1/profiles/${second}`);
    expect(
      (await call('POST', `/api/v1/profiles/${first}/restore`, undefined, other.headers)).statusCode,
    ).toBe(404);
    await deletedDaysAgo('profiles', first, 30);
    expect(errorOf(await call('POST', `/api/v1/profiles/${first}/restore`)).code).toBe(
      'restore_window_passed',
    );
    expect((await call('POST', `/api/v1/profiles/${second}/restore`)).statusCode).toBe(200);
    expect(errorOf(await call('POST', `/api/v1/profiles/${second}/restore`)).code).toBe('not_deleted');
  });
});

describe('purge', () => {
  it('hard-deletes what was deleted before the retention period, in batches, and keeps the rest', async () => {
    const db = server.runtime.deps.db;
    // Earlier tests left rows past the restore window: start from none.
    await purgeSoftDeleted(server.runtime.deps, { retentionDays: 30 });
    const oldProfiles = [await newProfile(), await newProfile(), await newProfile()];
    const oldProfileDevices = [await newDevice(oldProfiles[0]), await newDevice(oldProfiles[0])];
    const oldDevices = [await newDevice(), await newDevice(), await newDevice()];
    const recentProfile = await newProfile();
    const recentDevice = await newDevice();
    const liveDevice = await newDevice();
    // Deliveries hang off devices: a purged device's go with it.
    const sent = await call('POST', '/api/v1/notify/', {
      device_ids: [oldDevices[0]!.id, liveDevice.id],
      title: 'before the purge',
    });
    expect(sent.statusCode).toBe(202);
    await waitForNotification(server, tenant, sent.json().notification_id);

    for (const id of [...oldProfiles, recentProfile]) await call('DELETE', `/api/v1/profiles/${id}`);
    for (const { id } of [...oldDevices, recentDevice]) await call('DELETE', `/api/v1/devices/${id}`);
    for (const id of oldProfiles) await deletedDaysAgo('profiles', id, 40);
    for (const { id } of oldDevices) await deletedDaysAgo('devices', id, 40);

    const result = await purgeSoftDeleted(server.runtime.deps, { retentionDays: 30, batchSize: 2 });
    expect(result).toEqual({ profiles: 3, devices: 5 });

    const profilesLeft = async (ids: string[]) =>
      (await db.select({ id: profiles.id }).from(profiles).where(inArray(profiles.id, ids))).map((r) => r.id);
    const devicesLeft = async (ids: string[]) =>
      (await db.select({ id: devices.id }).from(devices).where(inArray(devices.id, ids))).map((r) => r.id);
    expect(await profilesLeft(oldProfiles)).toEqual([]);
    expect(await devicesLeft([...oldDevices, ...oldProfileDevices].map((d) => d.id))).toEqual([]);
    expect(await profilesLeft([recentProfile])).toEqual([recentProfile]);
    expect((await devicesLeft([recentDevice.id, liveDevice.id])).sort()).toEqual(
      [recentDevice.id, liveDevice.id].sort(),
    );
    const deliveryDevices = await db
      .select({ deviceId: deliveries.deviceId })
      .from(deliveries)
      .where(inArray(deliveries.deviceId, [oldDevices[0]!.id, liveDevice.id]));
    expect(deliveryDevices).toEqual([{ deviceId: liveDevice.id }]);
    expect(await purgeSoftDeleted(server.runtime.deps, { retentionDays: 30 })).toEqual({
      profiles: 0,
      devices: 0,
    });
  });

  it('is scheduled daily on the job queue', async () => {
    const rows = await query<{ name: string; cron: string }>(
      server.runtime.deps.db,
      sql`select name, cron from pgboss.schedule where name = 'purge'`,
    );
    expect(rows).toEqual([{ name: 'purge', cron: '17 3 * * *' }]);
  });
});
