/**
 * SQL for dead letters: deliveries that ended `dead` (retryable errors until the last attempt, or EXPIRED).
 * Listed by keyset on the bigint delivery id; requeued and discarded in bounded multi-row statements.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { Platform } from '../domain/platform.ts';
import { type Executor, query } from './client.ts';

export interface DeadLetterFilter {
  notificationId?: string | undefined;
  errorCode?: string | undefined;
  platform?: Platform | undefined;
  /** failed_at >= failedFrom */
  failedFrom?: Date | undefined;
  /** failed_at < failedTo */
  failedTo?: Date | undefined;
}

export interface DeadLetterRow {
  id: string;
  notification_id: string;
  device_id: string;
  platform: Platform;
  attempts: number;
  error_code: string | null;
  error_message: string | null;
  failed_at: Date | null;
  created_at: Date;
}

const idList = (ids: readonly string[]) =>
  sql`(select value::bigint from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))`;

/** The tenant's dead deliveries matching the filter, as SQL over the alias `dl`. */
function deadWhere(tenantId: string, filter: DeadLetterFilter): SQL {
  const parts: SQL[] = [sql`dl.api_client_id = ${tenantId}`, sql`dl.status = 'dead'`];
  if (filter.notificationId) parts.push(sql`dl.notification_id = ${filter.notificationId}`);
  if (filter.errorCode) parts.push(sql`dl.error_code = ${filter.errorCode}`);
  if (filter.platform) parts.push(sql`dl.platform = ${filter.platform}`);
  if (filter.failedFrom) parts.push(sql`dl.failed_at >= ${filter.failedFrom.toISOString()}`);
  if (filter.failedTo) parts.push(sql`dl.failed_at < ${filter.failedTo.toISOString()}`);
  return sql.join(parts, sql` and `);
}

const COLUMNS = sql`dl.id::text as id, dl.notification_id, dl.device_id, dl.platform, dl.attempts, dl.error_code,
  dl.error_message, dl.failed_at, dl.created_at`;

/** Newest first: `limit + 1` rows below `beforeId`, so the caller can tell whether there is a next page. */
export async function listDeadLetters(
  ex: Executor,
  tenantId: string,
  filter: DeadLetterFilter,
  limit: number,
  beforeId: string | undefined,
): Promise<DeadLetterRow[]> {
  return query<DeadLetterRow>(
    ex,
    sql`select ${COLUMNS} from deliveries dl
      where ${deadWhere(tenantId, filter)} ${beforeId === undefined ? sql`` : sql`and dl.id < ${beforeId}::bigint`}
      order by dl.id desc limit ${limit + 1}`,
  );
}

export async function findDeadLetter(
  ex: Executor,
  tenantId: string,
  id: string,
): Promise<DeadLetterRow | undefined> {
  const [row] = await query<DeadLetterRow>(
    ex,
    sql`select ${COLUMNS} from deliveries dl where ${deadWhere(tenantId, {})} and dl.id = ${id}::bigint`,
  );
  return row;
}

/** Which dead letters a requeue or discard takes: explicit ids, or the next `limit` matches after `afterId`. */
export type DeadLetterPick =
  | { ids: string[] }
  | { filter: DeadLetterFilter; afterId: string | undefined; limit: number };

function picked(tenantId: string, pick: DeadLetterPick): SQL {
  if ('ids' in pick) {
    return sql`select dl.id from deliveries dl where ${deadWhere(tenantId, {})} and dl.id in ${idList(pick.ids)}`;
  }
  return sql`select dl.id from deliveries dl where ${deadWhere(tenantId, pick.filter)}
    ${pick.afterId === undefined ? sql`` : sql`and dl.id > ${pick.afterId}::bigint`}
    order by dl.id limit ${pick.limit}`;
}

/**
 * Puts dead letters back to pending with their attempts reset (the last error stays in error_code /
 * error_message until the next attempt overwrites it). Re-checking `status = 'dead'` in the UPDATE makes a
 * concurrent requeue of the same rows a no-op. Returns the requeued ids per notification.
 */
export async function requeueDeadLetters(
  ex: Executor,
  tenantId: string,
  pick: DeadLetterPick,
): Promise<{ notificationId: string; ids: string[] }[]> {
  const rows = await query<{ notification_id: string; ids: unknown }>(
    ex,
    sql`with picked as (${picked(tenantId, pick)}), upd as (
        update deliveries d set status = 'pending', attempts = 0, next_attempt_at = null, failed_at = null,
          updated_at = now()
        from picked where d.id = picked.id and d.status = 'dead'
        returning d.id, d.notification_id
      )
      select notification_id, json_agg(id::text order by id) as ids from upd group by notification_id
      order by notification_id`,
  );
  return rows.map((r) => ({
    notificationId: r.notification_id,
    ids: (typeof r.ids === 'string' ? JSON.parse(r.ids) : r.ids) as string[],
  }));
}

/**
 * Gives dead letters up for good: status `failed`, error kept. The notification's counters do not move (a dead
 * delivery already counts as failed). Returns the ids discarded.
 */
export async function discardDeadLetters(
  ex: Executor,
  tenantId: string,
  pick: DeadLetterPick,
): Promise<string[]> {
  const rows = await query<{ id: string }>(
    ex,
    sql`with picked as (${picked(tenantId, pick)})
      update deliveries d set status = 'failed', updated_at = now()
      from picked where d.id = picked.id and d.status = 'dead'
      returning d.id::text as id`,
  );
  return rows.map((r) => r.id);
}
