/** SQL for profiles (the tenant's users, found by id, phone number or external id). Soft-deleted rows are invisible. */
import { and, asc, eq, inArray, isNotNull, isNull, type SQL, sql } from 'drizzle-orm';
import { type Executor, query } from './client.ts';
import { afterCursor, type Page, toPage } from './pagination.ts';
import { profiles } from './schema.ts';

export type ProfileRow = typeof profiles.$inferSelect;

const live = (tenantId: string) => and(eq(profiles.apiClientId, tenantId), isNull(profiles.deletedAt));

export async function insertProfile(ex: Executor, row: typeof profiles.$inferInsert): Promise<ProfileRow> {
  const [created] = await ex.insert(profiles).values(row).returning();
  return created!;
}

export type ProfileKey = { id: string } | { phoneNumber: string } | { externalId: string };

export async function findProfile(
  ex: Executor,
  tenantId: string,
  key: ProfileKey,
): Promise<ProfileRow | undefined> {
  const match =
    'id' in key
      ? eq(profiles.id, key.id)
      : 'phoneNumber' in key
        ? eq(profiles.phoneNumber, key.phoneNumber)
        : eq(profiles.externalId, key.externalId);
  const [row] = await ex
    .select()
    .from(profiles)
    .where(and(live(tenantId), match));
  return row;
}

export interface ProfileFilter {
  phoneNumber?: string | undefined;
  externalId?: string | undefined;
}

export async function listProfiles(
  ex: Executor,
  tenantId: string,
  filter: ProfileFilter,
  limit: number,
  cursor: string | undefined,
): Promise<Page<ProfileRow>> {
  const conditions: (SQL | undefined)[] = [live(tenantId), afterCursor(profiles.id, cursor, false)];
  if (filter.phoneNumber) conditions.push(eq(profiles.phoneNumber, filter.phoneNumber));
  if (filter.externalId) conditions.push(eq(profiles.externalId, filter.externalId));
  const rows = await ex
    .select()
    .from(profiles)
    .where(and(...conditions))
    .orderBy(asc(profiles.id))
    .limit(limit + 1);
  return toPage(rows, limit);
}

export async function updateProfile(
  ex: Executor,
  tenantId: string,
  id: string,
  values: Partial<Pick<ProfileRow, 'phoneNumber' | 'externalId' | 'name' | 'metadata' | 'quietHours'>>,
): Promise<ProfileRow | undefined> {
  const [row] = await ex
    .update(profiles)
    .set({ ...values, updatedAt: new Date() })
    .where(and(live(tenantId), eq(profiles.id, id)))
    .returning();
  return row;
}

export async function softDeleteProfile(ex: Executor, tenantId: string, id: string): Promise<boolean> {
  const rows = await ex
    .update(profiles)
    .set({ deletedAt: new Date(), updatedAt: new Date() })
    .where(and(live(tenantId), eq(profiles.id, id)))
    .returning({ id: profiles.id });
  return rows.length > 0;
}

export async function findDeletedProfile(
  ex: Executor,
  tenantId: string,
  id: string,
): Promise<ProfileRow | undefined> {
  const [row] = await ex
    .select()
    .from(profiles)
    .where(and(eq(profiles.apiClientId, tenantId), eq(profiles.id, id), isNotNull(profiles.deletedAt)));
  return row;
}

export async function undeleteProfile(
  ex: Executor,
  tenantId: string,
  id: string,
): Promise<ProfileRow | undefined> {
  const [row] = await ex
    .update(profiles)
    .set({ deletedAt: null, updatedAt: new Date() })
    .where(and(eq(profiles.apiClientId, tenantId), eq(profiles.id, id), isNotNull(profiles.deletedAt)))
    .returning();
  return row;
}

/**
 * Server-wide maintenance (every tenant): locks up to `limit` profiles soft-deleted before `cutoff`, skipping
 * rows a concurrent purge holds. Call inside the transaction that deletes them.
 */
export async function lockPurgeableProfiles(ex: Executor, cutoff: Date, limit: number): Promise<string[]> {
  const rows = await query<{ id: string }>(
    ex,
    sql`select id from profiles where deleted_at < ${cutoff.toISOString()}::timestamptz
        order by deleted_at limit ${limit} for update skip locked`,
  );
  return rows.map((r) => r.id);
}

export async function deleteProfiles(ex: Executor, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await ex.delete(profiles).where(inArray(profiles.id, ids)).returning({ id: profiles.id });
  return rows.length;
}

/**
 * Device import: the ids of the tenant's live profiles with these phone numbers and external ids, creating in
 * one multi-row statement each those that do not exist yet (a concurrent import creating the same one is no
 * conflict: the unique indexes make the second insert a no-op and the lookup finds the first one's row).
 */
export async function ensureProfiles(
  ex: Executor,
  tenantId: string,
  keys: { phoneNumbers: string[]; externalIds: string[] },
  newId: () => string,
): Promise<{ byPhone: Map<string, string>; byExternalId: Map<string, string> }> {
  const phoneNumbers = [...new Set(keys.phoneNumbers)];
  const externalIds = [...new Set(keys.externalIds)];
  const rows = [
    ...phoneNumbers.map((phoneNumber) => ({ id: newId(), apiClientId: tenantId, phoneNumber })),
    ...externalIds.map((externalId) => ({ id: newId(), apiClientId: tenantId, externalId })),
  ];
  if (rows.length > 0) await ex.insert(profiles).values(rows).onConflictDoNothing();
  // One lookup per key, each on its own partial unique index (an OR of the two would scan the table).
  const lookup = (column: typeof profiles.phoneNumber | typeof profiles.externalId, values: string[]) =>
    values.length === 0
      ? []
      : ex
          .select({ id: profiles.id, phoneNumber: profiles.phoneNumber, externalId: profiles.externalId })
          .from(profiles)
          .where(and(live(tenantId), inArray(column, values)));
  const found = [
    ...(await lookup(profiles.phoneNumber, phoneNumbers)),
    ...(await lookup(profiles.externalId, externalIds)),
  ];
  const byPhone = new Map<string, string>();
  const byExternalId = new Map<string, string>();
  for (const row of found) {
    if (row.phoneNumber !== null) byPhone.set(row.phoneNumber, row.id);
    if (row.externalId !== null) byExternalId.set(row.externalId, row.id);
  }
  return { byPhone, byExternalId };
}

/** Device import: which of these ids are live profiles of the tenant. */
export async function findLiveProfileIds(
  ex: Executor,
  tenantId: string,
  ids: string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await ex
    .select({ id: profiles.id })
    .from(profiles)
    .where(and(live(tenantId), inArray(profiles.id, [...new Set(ids)])));
  return new Set(rows.map((r) => r.id));
}
