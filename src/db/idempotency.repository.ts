/** SQL for idempotency_keys: the first request with a key claims it; its response is stored for replays. */
import { and, eq, sql } from 'drizzle-orm';
import { type Executor, query } from './client.ts';
import { idempotencyKeys } from './schema.ts';

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

/** Claims the key; returns undefined when claimed, or the existing (unexpired) row when the key was taken. */
export async function claimIdempotencyKey(
  ex: Executor,
  params: { tenantId: string; key: string; requestHash: string; expiresAt: Date; staleBefore: Date },
): Promise<IdempotencyRow | undefined> {
  // An expired row, or one whose request never finished (a crash), is replaced instead of blocking the key forever.
  await ex
    .delete(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.apiClientId, params.tenantId),
        eq(idempotencyKeys.key, params.key),
        sql`(${idempotencyKeys.expiresAt} < now() or (${idempotencyKeys.responseStatus} is null and ${idempotencyKeys.createdAt} < ${params.staleBefore}))`,
      ),
    );
  const inserted = await query<{ key: string }>(
    ex,
    sql`insert into idempotency_keys (api_client_id, key, request_hash, expires_at)
      values (${params.tenantId}, ${params.key}, ${params.requestHash}, ${params.expiresAt})
      on conflict do nothing returning key`,
  );
  if (inserted.length > 0) return undefined;
  const [existing] = await ex
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.apiClientId, params.tenantId), eq(idempotencyKeys.key, params.key)));
  return existing;
}

export async function storeIdempotentResponse(
  ex: Executor,
  tenantId: string,
  key: string,
  status: number,
  body: string,
): Promise<void> {
  await ex
    .update(idempotencyKeys)
    .set({ responseStatus: status, responseBody: body })
    .where(and(eq(idempotencyKeys.apiClientId, tenantId), eq(idempotencyKeys.key, key)));
}

/** Frees the key again (the request failed in a way the client may retry with the same key). */
export async function releaseIdempotencyKey(ex: Executor, tenantId: string, key: string): Promise<void> {
  await ex
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.apiClientId, tenantId), eq(idempotencyKeys.key, key)));
}
