/** SQL for devices. Tokens are stored encrypted; `token_hash` (a blind index) is what lookups and uniqueness use. */

import {
  and,
  arrayContains,
  asc,
  eq,
  inArray,
  isNotNull,
  isNull,
  like,
  not,
  or,
  type SQL,
  sql,
} from 'drizzle-orm';
import type { Platform } from '../domain/platform.ts';
import { type Executor, escapeLike, query } from './client.ts';
import { afterCursor, type Page, toPage } from './pagination.ts';
import { devices } from './schema.ts';

export type DeviceRow = typeof devices.$inferSelect;
export type DeviceInsert = typeof devices.$inferInsert;

const live = (tenantId: string) => and(eq(devices.apiClientId, tenantId), isNull(devices.deletedAt));

/** Every column an upsert of a known token overwrites, from the proposed row (`excluded`). */
const upsertedColumns = {
  profileId: sql`excluded.profile_id`,
  platform: sql`excluded.platform`,
  tokenCiphertext: sql`excluded.token_ciphertext`,
  tokenSuffix: sql`excluded.token_suffix`,
  appVersion: sql`excluded.app_version`,
  appVersionKey: sql`excluded.app_version_key`,
  osVersion: sql`excluded.os_version`,
  model: sql`excluded.model`,
  timezone: sql`excluded.timezone`,
  locale: sql`excluded.locale`,
  tags: sql`excluded.tags`,
  isActive: true,
  deactivatedReason: null,
  deactivatedAt: null,
  deletedAt: null,
  lastSeenAt: sql`excluded.last_seen_at`,
  updatedAt: sql`excluded.updated_at`,
};

/**
 * Registers a device, or, when the tenant already has this token, updates that device and reactivates it:
 * a re-installed app re-registering its token never creates a duplicate. Returns whether it was new.
 */
export async function upsertDevice(
  ex: Executor,
  row: DeviceInsert,
): Promise<{ device: DeviceRow; created: boolean }> {
  const [device] = await ex
    .insert(devices)
    .values(row)
    .onConflictDoUpdate({ target: [devices.apiClientId, devices.tokenHash], set: upsertedColumns })
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

/** The device holding a token, deleted or not (the token's unique index covers deleted devices too). */
export async function findDeviceHoldingToken(
  ex: Executor,
  tenantId: string,
  tokenHash: string,
): Promise<DeviceRow | undefined> {
  const [row] = await ex
    .select()
    .from(devices)
    .where(and(eq(devices.apiClientId, tenantId), eq(devices.tokenHash, tokenHash)));
  return row;
}

export interface DeviceFilter {
  platform?: Platform | undefined;
  active?: boolean | undefined;
  profileId?: string | undefined;
  tag?: string | undefined;
  /** The token ends with this (1 to 8 characters): an index lookup when all 8 are given. */
  tokenSuffix?: string | undefined;
}

/** How many of a token's last characters are stored in clear (devices.token_suffix) and shown. */
export const TOKEN_SUFFIX_LENGTH = 8;

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
  if (filter.tokenSuffix) {
    conditions.push(
      filter.tokenSuffix.length === TOKEN_SUFFIX_LENGTH
        ? eq(devices.tokenSuffix, filter.tokenSuffix)
        : like(devices.tokenSuffix, `%${escapeLike(filter.tokenSuffix)}`),
    );
  }
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

/**
 * DELETE: the device is soft-deleted (hidden, restorable during the retention period) and deactivated. An active
 * device gets the reason deactivated_by_client; one already inactive keeps the reason it had.
 */
export async function softDeleteDevice(
  ex: Executor,
  tenantId: string,
  id: string,
): Promise<DeviceRow | undefined> {
  const now = new Date();
  const [row] = await ex
    .update(devices)
    .set({
      deletedAt: now,
      updatedAt: now,
      isActive: false,
      deactivatedReason: sql`case when ${devices.isActive} then 'deactivated_by_client' else ${devices.deactivatedReason} end`,
      deactivatedAt: sql`case when ${devices.isActive} then ${now.toISOString()}::timestamptz else ${devices.deactivatedAt} end`,
    })
    .where(and(live(tenantId), eq(devices.id, id)))
    .returning();
  return row;
}

export async function findDeletedDevice(
  ex: Executor,
  tenantId: string,
  id: string,
): Promise<DeviceRow | undefined> {
  const [row] = await ex
    .select()
    .from(devices)
    .where(and(eq(devices.apiClientId, tenantId), eq(devices.id, id), isNotNull(devices.deletedAt)));
  return row;
}

/** Undeletes a device; `reactivate` also makes it active again (when its DELETE is what deactivated it). */
export async function undeleteDevice(
  ex: Executor,
  tenantId: string,
  id: string,
  reactivate: boolean,
): Promise<DeviceRow | undefined> {
  const now = new Date();
  const [row] = await ex
    .update(devices)
    .set({
      deletedAt: null,
      updatedAt: now,
      ...(reactivate ? { isActive: true, deactivatedReason: null, deactivatedAt: null } : {}),
    })
    .where(and(eq(devices.apiClientId, tenantId), eq(devices.id, id), isNotNull(devices.deletedAt)))
    .returning();
  return row;
}

/** Reactivates a profile's devices deactivated for `reason` (and only those), skipping deleted ones. */
export async function reactivateDevicesOfProfile(
  ex: Executor,
  tenantId: string,
  profileId: string,
  reason: string,
): Promise<DeviceRow[]> {
  return ex
    .update(devices)
    .set({ isActive: true, deactivatedReason: null, deactivatedAt: null, updatedAt: new Date() })
    .where(
      and(
        live(tenantId),
        eq(devices.profileId, profileId),
        eq(devices.isActive, false),
        eq(devices.deactivatedReason, reason),
      ),
    )
    .returning();
}

/**
 * Server-wide maintenance (every tenant): hard-deletes up to `limit` devices soft-deleted before `cutoff`, with
 * their deliveries and subscriptions (foreign-key cascades). Concurrent purges skip each other's rows.
 */
export async function purgeDeletedDevices(ex: Executor, cutoff: Date, limit: number): Promise<number> {
  const rows = await query<{ id: string }>(
    ex,
    sql`delete from devices where id in (
          select id from devices where deleted_at < ${cutoff.toISOString()}::timestamptz
          order by deleted_at limit ${limit} for update skip locked)
        returning id`,
  );
  return rows.length;
}

/** Hard-deletes the devices of profiles being purged that are inactive or deleted (all of them, normally). */
export async function deleteDevicesOfProfiles(ex: Executor, profileIds: string[]): Promise<number> {
  if (profileIds.length === 0) return 0;
  const rows = await ex
    .delete(devices)
    .where(
      and(inArray(devices.profileId, profileIds), or(not(devices.isActive), isNotNull(devices.deletedAt))),
    )
    .returning({ id: devices.id });
  return rows.length;
}

/**
 * Device import: upsertDevice for many rows in one statement (the rows' tokens must be distinct). Returns the
 * stored id of each token hash; an id equal to the proposed one means the row was inserted.
 */
export async function upsertDevices(ex: Executor, rows: DeviceInsert[]): Promise<Map<string, string>> {
  if (rows.length === 0) return new Map();
  const stored = await ex
    .insert(devices)
    .values(rows)
    .onConflictDoUpdate({ target: [devices.apiClientId, devices.tokenHash], set: upsertedColumns })
    .returning({ id: devices.id, tokenHash: devices.tokenHash });
  return new Map(stored.map((r) => [r.tokenHash, r.id]));
}

/** reindexDeviceToken for many tokens in one statement: each entry moves `previous` hashes onto `hash`. */
export async function reindexDeviceTokens(
  ex: Executor,
  tenantId: string,
  entries: { previous: string[]; hash: string; ciphertext: string }[],
): Promise<void> {
  const pairs = entries.flatMap((e) => e.previous.map((old) => ({ old, hash: e.hash, ct: e.ciphertext })));
  if (pairs.length === 0) return;
  await ex.execute(sql`update devices d set token_hash = v.hash, token_ciphertext = v.ct
    from jsonb_to_recordset(${JSON.stringify(pairs)}::jsonb) as v(old text, hash text, ct text)
    where d.api_client_id = ${tenantId} and d.token_hash = v.old
      and not exists (select 1 from devices o where o.api_client_id = ${tenantId} and o.token_hash = v.hash)`);
}

/** Backfill of token_suffix: devices of every tenant written before the column existed (it needs decryption). */
export async function devicesWithoutSuffix(
  ex: Executor,
  limit: number,
): Promise<{ id: string; tokenCiphertext: string }[]> {
  return ex
    .select({ id: devices.id, tokenCiphertext: devices.tokenCiphertext })
    .from(devices)
    .where(isNull(devices.tokenSuffix))
    .limit(limit);
}

export async function setTokenSuffixes(ex: Executor, rows: { id: string; suffix: string }[]): Promise<void> {
  if (rows.length === 0) return;
  await ex.execute(sql`update devices d set token_suffix = v.suffix
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(id uuid, suffix text)
    where d.id = v.id and d.token_suffix is null`);
}

/**
 * A sign of life: moves last_seen_at to `at`, but only when it is more than `resolutionSeconds` older, so a
 * device's storm of receipts writes its row at most once per resolution (the other calls read and change
 * nothing). Returns false when the tenant has no such (not deleted) device. One statement.
 */
export async function markDeviceSeen(
  ex: Executor,
  tenantId: string,
  id: string,
  at: Date,
  resolutionSeconds: number,
): Promise<boolean> {
  const [row] = await query<{ found: boolean }>(
    ex,
    sql`with d as (
        select id, last_seen_at from devices
        where api_client_id = ${tenantId} and id = ${id}::uuid and deleted_at is null
      ), moved as (
        update devices set last_seen_at = ${at.toISOString()}::timestamptz from d
        where devices.id = d.id
          and d.last_seen_at < ${at.toISOString()}::timestamptz - make_interval(secs => ${resolutionSeconds})
        returning 1
      ) select exists (select 1 from d) as found`,
  );
  return row?.found === true;
}
