/** SQL for firebase_projects (per-tenant service accounts, stored encrypted). */
import { and, asc, eq, ne, type SQL, sql } from 'drizzle-orm';
import type { Executor } from './client.ts';
import { afterCursor, type Page, toPage } from './pagination.ts';
import { firebaseProjects } from './schema.ts';

export type FirebaseProjectRow = typeof firebaseProjects.$inferSelect;

export async function insertFirebaseProject(
  ex: Executor,
  row: typeof firebaseProjects.$inferInsert,
): Promise<FirebaseProjectRow> {
  const [created] = await ex.insert(firebaseProjects).values(row).returning();
  return created!;
}

export async function updateFirebaseProjectCredentials(
  ex: Executor,
  tenantId: string,
  id: string,
  values: Pick<FirebaseProjectRow, 'clientEmail' | 'privateKeyId' | 'credentialsCiphertext'>,
): Promise<FirebaseProjectRow | undefined> {
  const [row] = await ex
    .update(firebaseProjects)
    .set({ ...values, updatedAt: new Date() })
    .where(and(eq(firebaseProjects.apiClientId, tenantId), eq(firebaseProjects.id, id)))
    .returning();
  return row;
}

export async function listFirebaseProjects(ex: Executor, tenantId: string): Promise<FirebaseProjectRow[]> {
  return ex
    .select()
    .from(firebaseProjects)
    .where(eq(firebaseProjects.apiClientId, tenantId))
    .orderBy(asc(firebaseProjects.createdAt), asc(firebaseProjects.id));
}

/** One page of the tenant's projects in id (creation) order, for the list endpoint. */
export async function listFirebaseProjectPage(
  ex: Executor,
  tenantId: string,
  limit: number,
  cursor: string | undefined,
): Promise<Page<FirebaseProjectRow>> {
  const rows = await ex
    .select()
    .from(firebaseProjects)
    .where(and(eq(firebaseProjects.apiClientId, tenantId), afterCursor(firebaseProjects.id, cursor, false)))
    .orderBy(asc(firebaseProjects.id))
    .limit(limit + 1);
  return toPage(rows, limit);
}

export async function findFirebaseProject(
  ex: Executor,
  tenantId: string,
  id: string,
): Promise<FirebaseProjectRow | undefined> {
  const [row] = await ex
    .select()
    .from(firebaseProjects)
    .where(and(eq(firebaseProjects.apiClientId, tenantId), eq(firebaseProjects.id, id)));
  return row;
}

export async function findFirebaseProjectByProjectId(
  ex: Executor,
  tenantId: string,
  projectId: string,
): Promise<FirebaseProjectRow | undefined> {
  const [row] = await ex
    .select()
    .from(firebaseProjects)
    .where(and(eq(firebaseProjects.apiClientId, tenantId), eq(firebaseProjects.projectId, projectId)));
  return row;
}

export async function findDefaultFirebaseProject(
  ex: Executor,
  tenantId: string,
): Promise<FirebaseProjectRow | undefined> {
  const [row] = await ex
    .select()
    .from(firebaseProjects)
    .where(and(eq(firebaseProjects.apiClientId, tenantId), eq(firebaseProjects.isDefault, true)));
  return row;
}

/**
 * The tenant's default project's id (null when it has none) as a subquery, so that the insert of a
 * notification picks it without a round trip of its own.
 */
export function defaultFirebaseProjectId(tenantId: string): SQL<string | null> {
  return sql<string | null>`(select ${firebaseProjects.id} from ${firebaseProjects}
    where ${firebaseProjects.apiClientId} = ${tenantId} and ${firebaseProjects.isDefault} limit 1)`;
}

/** Makes one project the tenant's default (the partial unique index allows only one). */
export async function setDefaultFirebaseProject(ex: Executor, tenantId: string, id: string): Promise<void> {
  await ex
    .update(firebaseProjects)
    .set({ isDefault: false })
    .where(
      and(
        eq(firebaseProjects.apiClientId, tenantId),
        eq(firebaseProjects.isDefault, true),
        ne(firebaseProjects.id, id),
      ),
    );
  await ex
    .update(firebaseProjects)
    .set({ isDefault: true, updatedAt: new Date() })
    .where(and(eq(firebaseProjects.apiClientId, tenantId), eq(firebaseProjects.id, id)));
}

export async function deleteFirebaseProject(ex: Executor, tenantId: string, id: string): Promise<boolean> {
  const rows = await ex
    .delete(firebaseProjects)
    .where(and(eq(firebaseProjects.apiClientId, tenantId), eq(firebaseProjects.id, id)))
    .returning({ id: firebaseProjects.id });
  return rows.length > 0;
}
