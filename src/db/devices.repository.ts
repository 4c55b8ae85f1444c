/** SQL for devices. Tokens are stored encrypted; `token_hash` (a blind index) is what lookups and uniqueness use. */
import { and, arrayContains, asc, eq, inArray, isNull, type SQL, sql } from 'drizzle-orm';
import type { Executor } from './client.ts';
import { afterCursor, type Page, toPage } from './pagination.ts';
import { devices } from './schema.ts';

export type DeviceRow = typeof devices.$inferSelect;
export type DeviceInsert = typeof devices.$inferInsert;

const live = (tenantId: string) => and(eq(devices.apiClientId, tenantId), isNull(devices.deletedAt));

/**
 * Registers a device, or, when the tenant already has this token, updates that device and reactivates it:
 * a re-installed app re-registering its token never creates a duplicate. Returns whether it was new.
 */
export async function upsertDevice(
  ex: Executor,
  row: DeviceInsert,
): Promise<{ device: DeviceRow; created: boolean }> {
  const now = new Date();
  const [device] = await ex
    .insert(devices)
    .values(row)
    .onConflictDoUpdate({
      target: [devices.apiClientId, devices.tokenHash],
      set: {
        profileId: row.profileId ?? null,
        platform: row.platform,
        tokenCiphertext: row.tokenCiphertext,
        appVersion: row.appVersion ?? null,
        appVersionKey: row.appVersionKey ?? null,
        osVersion: row.osVersion ?? null,
        model: row.model ?? null,
        timezone: row.timezone ?? null,
        locale: row.locale ?? null,
        tags: row.tags ?? [],
        isActive: true,
        deactivatedReason: null,
        deactivatedAt: null,
        deletedAt: null,
        lastSeenAt: now,
        updatedAt: now,
      },
    })
    .returning();
  // On conflict the existing row keeps its id, so a returned id equal to the proposed one means "inserted".
  return { device: device!, created: device!.id === row.id };
}

export async function findDevice(ex: Executor, tenantId: string, id: string): Promise<DeviceRow | undefined> {
  const [row] = await ex
    .select()
    .from(devices)
    .where(and(live(tenantId), eq(devices.id, id)));
  return row;
}

export async function findDeviceByTokenHash(
  ex: Executor,
  tenantId: string,
  tokenHash: string,
): Promise<DeviceRow | undefined> {
  const [row] = await ex
    .select()
    .from(devices)
    .where(and(live(tenantId), eq(devices.tokenHash, tokenHash)));
  return row;
}

export interface DeviceFilter {
  platform?: 'ios' | 'android' | 'web' | undefined;
  active?: boolean | undefined;
  profileId?: string | undefined;
  tag?: string | undefined;
}

export async function listDevices(
  ex: Executor,
  tenantId: string,
  filter: DeviceFilter,
  limit: number,
  cursor: string | undefined,
): Promise<Page<DeviceRow>> {
  const conditions: (SQL | undefined)[] = [live(tenantId), afterCursor(devices.id, cursor, false)];
  if (filter.platform) conditions.push(eq(devices.platform, filter.platform));
  if (filter.active !== undefined) conditions.push(eq(devices.isActive, filter.active));
  if (filter.profileId) conditions.push(eq(devices.profileId, filter.profileId));
  if (filter.tag) conditions.push(arrayContains(devices.tags, [filter.tag]));
  const rows = await ex
    .select()
    .from(devices)
    .where(and(...conditions))
    .orderBy(asc(devices.id))
    .limit(limit + 1);
  return toPage(rows, limit);
}

export async function updateDevice(
  ex: Executor,
  tenantId: string,
  id: string,
  values: Partial<DeviceInsert>,
): Promise<DeviceRow | undefined> {
  const [row] = await ex
    .update(devices)
    .set({ ...values, updatedAt: new Date() })
    .where(and(live(tenantId), eq(devices.id, id)))
    .returning();
  return row;
}

/** Deactivates devices (DELETE by the tenant, or a dead token reported by FCM). Already inactive ones are left as they are. */
export async function deactivateDevices(
  ex: Executor,
  tenantId: string,
  ids: string[],
  reason: string,
): Promise<DeviceRow[]> {
  if (ids.length === 0) return [];
  const now = new Date();
  return ex
    .update(devices)
    .set({ isActive: false, deactivatedReason: reason, deactivatedAt: now, updatedAt: now })
    .where(and(live(tenantId), inArray(devices.id, ids), eq(devices.isActive, true)))
    .returning();
}

export async function deactivateDevicesOfProfile(
  ex: Executor,
  tenantId: string,
  profileId: string,
  reason: string,
): Promise<string[]> {
  const now = new Date();
  const rows = await ex
    .update(devices)
    .set({ isActive: false, deactivatedReason: reason, deactivatedAt: now, updatedAt: now })
    .where(and(live(tenantId), eq(devices.profileId, profileId), eq(devices.isActive, true)))
    .returning({ id: devices.id });
  return rows.map((r) => r.id);
}

/**
 * Key rotation: moves the tenant's device indexed under a previous key's blind index onto the current one (with
 * the token re-encrypted), so a lookup or upsert by the current index finds it before the rotation command
 * reaches it. Leaves it alone if another device already holds the current index.
 */
export async function reindexDeviceToken(
  ex: Executor,
  tenantId: string,
  previousHashes: string[],
  tokenHash: string,
  tokenCiphertext: string,
): Promise<void> {
  if (previousHashes.length === 0) return;
  await ex.execute(sql`update devices set token_hash = ${tokenHash}, token_ciphertext = ${tokenCiphertext}
    where api_client_id = ${tenantId}
      and token_hash in (select jsonb_array_elements_text(${JSON.stringify(previousHashes)}::jsonb))
      and not exists (select 1 from devices o where o.api_client_id = ${tenantId} and o.token_hash = ${tokenHash})`);
}
