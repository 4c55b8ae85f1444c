/** SQL for audit_logs: one row per recorded change, and keyset-paginated queries (newest first). */
import { and, desc, eq, gte, like, lt, type SQL } from 'drizzle-orm';
import { AppError } from '../lib/errors.ts';
import { type Executor, escapeLike } from './client.ts';
import { auditLogs } from './schema.ts';

export type AuditRow = typeof auditLogs.$inferSelect;
export type AuditInsert = typeof auditLogs.$inferInsert;

export async function insertAuditRow(ex: Executor, row: AuditInsert): Promise<void> {
  await ex.insert(auditLogs).values(row);
}

/** Several audit rows in one statement (the HTTP layer's group commit). */
export async function insertAuditRows(ex: Executor, rows: AuditInsert[]): Promise<void> {
  if (rows.length > 0) await ex.insert(auditLogs).values(rows);
}

export interface AuditFilter {
  /** The tenant whose data changed. */
  tenantId?: string | undefined;
  actorId?: string | undefined;
  /** An exact action, or a prefix ending in "*" ("device.*"). */
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

/** Audit ids are a bigint sequence, not UUIDs: their own opaque cursor. */
export function encodeAuditCursor(id: bigint): string {
  return Buffer.from(`a1:${id}`, 'utf8').toString('base64url');
}

function decodeAuditCursor(text: string): bigint {
  const decoded = Buffer.from(text, 'base64url').toString('utf8');
  const match = /^a1:([1-9]\d{0,18})$/.exec(decoded);
  if (!match) {
    throw new AppError(
      'invalid_cursor',
      400,
      'cursor is not valid: pass back the next_cursor of a previous page',
    );
  }
  return BigInt(match[1]!);
}

export async function listAuditRows(
  ex: Executor,
  filter: AuditFilter,
  limit: number,
  cursor: string | undefined,
): Promise<{ items: AuditRow[]; nextCursor: string | null }> {
  const conditions: (SQL | undefined)[] = [];
  if (cursor !== undefined) conditions.push(lt(auditLogs.id, decodeAuditCursor(cursor)));
  if (filter.tenantId) conditions.push(eq(auditLogs.apiClientId, filter.tenantId));
  if (filter.actorId) conditions.push(eq(auditLogs.actorClientId, filter.actorId));
  if (filter.action?.endsWith('*')) {
    conditions.push(like(auditLogs.action, `${escapeLike(filter.action.slice(0, -1))}%`));
  } else if (filter.action) {
    conditions.push(eq(auditLogs.action, filter.action));
  }
  if (filter.targetType) conditions.push(eq(auditLogs.targetType, filter.targetType));
  if (filter.targetId) conditions.push(eq(auditLogs.targetId, filter.targetId));
  if (filter.since) conditions.push(gte(auditLogs.createdAt, filter.since));
  if (filter.until) conditions.push(lt(auditLogs.createdAt, filter.until));
  const rows = await ex
    .select()
    .from(auditLogs)
    .where(and(...conditions))
    .orderBy(desc(auditLogs.id))
    .limit(limit + 1);
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeAuditCursor(last.id) : null };
}
