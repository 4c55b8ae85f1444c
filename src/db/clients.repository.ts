/** SQL for api_clients (tenants). */
import { eq } from 'drizzle-orm';
import type { Executor } from './client.ts';
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

export async function findClientByTokenHash(
  ex: Executor,
  tokenHash: string,
): Promise<ApiClientRow | undefined> {
  const [row] = await ex.select().from(apiClients).where(eq(apiClients.tokenHash, tokenHash));
  return row;
}
