/** SQL for api_clients (tenants and their credentials). Server-wide: these queries are the admin's, not a tenant's. */
import { and, asc, eq, or, type SQL, sql } from 'drizzle-orm';
import type { Executor } from './client.ts';
import { afterCursor, type Page, toPage } from './pagination.ts';
import { apiClients } from './schema.ts';

export type ApiClientRow = typeof apiClients.$inferSelect;

export async function insertClient(ex: Executor, row: typeof apiClients.$inferInsert): Promise<ApiClientRow> {
  const [created] = await ex.insert(apiClients).values(row).returning();
  return created!;
}

export async function findClientById(ex: Executor, id: string): Promise<ApiClientRow | undefined> {
  const [row] = await ex.select().from(apiClients).where(eq(apiClients.id, id));
  return row;
}

/** The client whose current or previous (rotated-out) token has this hash: both columns have a unique index. */
export async function findClientByTokenHash(
  ex: Executor,
  tokenHash: string,
): Promise<ApiClientRow | undefined> {
  const [row] = await ex
    .select()
    .from(apiClients)
    .where(or(eq(apiClients.tokenHash, tokenHash), eq(apiClients.previousTokenHash, tokenHash)))
    .limit(1);
  return row;
}

export async function listClients(
  ex: Executor,
  filter: { active?: boolean | undefined },
  limit: number,
  cursor: string | undefined,
): Promise<Page<ApiClientRow>> {
  const conditions: (SQL | undefined)[] = [afterCursor(apiClients.id, cursor, false)];
  if (filter.active !== undefined) conditions.push(eq(apiClients.isActive, filter.active));
  const rows = await ex
    .select()
    .from(apiClients)
    .where(and(...conditions))
    .orderBy(asc(apiClients.id))
    .limit(limit + 1);
  return toPage(rows, limit);
}

export async function updateClient(
  ex: Executor,
  id: string,
  values: Partial<
    Pick<ApiClientRow, 'name' | 'scopes' | 'ipAllowlist' | 'rateLimits' | 'expiresAt' | 'isActive'>
  >,
): Promise<ApiClientRow | undefined> {
  const [row] = await ex
    .update(apiClients)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(apiClients.id, id))
    .returning();
  return row;
}

/**
 * Swaps in a new token hash. With a grace period the current token becomes the previous one until
 * `previousExpiresAt`; without one (or when the client is revoked) the current token stops at once. Any older
 * previous token is dropped either way. Rotating clears a revocation: the new token is a fresh credential.
 */
export async function rotateClientTokenHash(
  ex: Executor,
  id: string,
  tokenHash: string,
  previousExpiresAt: Date | null,
): Promise<ApiClientRow | undefined> {
  const keepPrevious = previousExpiresAt === null ? sql`false` : sql`${apiClients.revokedAt} is null`;
  const [row] = await ex
    .update(apiClients)
    .set({
      previousTokenHash: sql`case when ${keepPrevious} then ${apiClients.tokenHash} end`,
      previousTokenExpiresAt: sql`case when ${keepPrevious} then ${previousExpiresAt?.toISOString() ?? null}::timestamptz end`,
      tokenHash,
      revokedAt: null,
      updatedAt: new Date(),
    })
    .where(eq(apiClients.id, id))
    .returning();
  return row;
}

/** Revokes both tokens at once (a revocation already made keeps its time). */
export async function revokeClient(ex: Executor, id: string): Promise<ApiClientRow | undefined> {
  const now = new Date();
  const [row] = await ex
    .update(apiClients)
    .set({
      revokedAt: sql`coalesce(${apiClients.revokedAt}, ${now.toISOString()}::timestamptz)`,
      updatedAt: now,
    })
    .where(eq(apiClients.id, id))
    .returning();
  return row;
}
