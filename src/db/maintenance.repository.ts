/**
 * SQL for housekeeping: the stale-device sweep and the retention deletes. Every function is one bounded
 * statement (at most `limit` rows), so no single delete holds locks or bloats WAL for long; callers loop.
 */
import { type SQL, sql } from 'drizzle-orm';
import { type Executor, query } from './client.ts';

/** Notifications that are done: only these (and their deliveries) are ever deleted. */
const FINISHED = sql`('completed', 'partially_failed', 'failed')`;

/**
 * The smallest UUIDv7 of the given millisecond: notification ids are UUIDv7, so `id < floor` walks the
 * primary key instead of scanning for created_at (which is still checked, so a non-v7 id is never deleted early).
 */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

async function countOf(ex: Executor, statement: SQL): Promise<number> {
  const [row] = await query<{ n: number }>(
    ex,
    sql`with d as (${statement} returning 1) select count(*)::int as n from d`,
  );
  return row?.n ?? 0;
}

/** Deactivates up to `limit` active devices not seen since `cutoff` (reason "stale"); returns them. */
export async function deactivateStaleDevices(
  ex: Executor,
  cutoff: Date,
  limit: number,
): Promise<{ id: string; api_client_id: string }[]> {
  return query<{ id: string; api_client_id: string }>(
    ex,
    sql`update devices d set is_active = false, deactivated_reason = 'stale', deactivated_at = now(),
        updated_at = now()
      where d.id in (select id from devices where is_active and deleted_at is null
          and last_seen_at < ${cutoff.toISOString()} order by last_seen_at limit ${limit} for update skip locked)
        and d.is_active
      returning d.id, d.api_client_id`,
  );
}

const oldFinished = (cutoff: Date) =>
  sql`n.id < ${uuidv7Floor(cutoff.getTime())}::uuid and n.created_at < ${cutoff.toISOString()}
    and n.status in ${FINISHED}`;

/**
 * Deliveries of finished notifications created before `cutoff`, in one partition of deliveries (retention
 * row-deletes only in the default and legacy partitions; weekly ones are dropped whole).
 */
export async function deleteOldDeliveries(
  ex: Executor,
  partition: string,
  cutoff: Date,
  limit: number,
): Promise<number> {
  const p = sql.identifier(partition);
  return countOf(
    ex,
    sql`delete from ${p} where id in (select dl.id from notifications n
      join ${p} dl on dl.notification_id = n.id where ${oldFinished(cutoff)} limit ${limit})`,
  );
}

/** Bulk recipients of finished notifications created before `cutoff`. */
export async function deleteOldRecipients(ex: Executor, cutoff: Date, limit: number): Promise<number> {
  return countOf(
    ex,
    sql`delete from notification_recipients r using (select r2.notification_id, r2.seq from notifications n
        join notification_recipients r2 on r2.notification_id = n.id where ${oldFinished(cutoff)} limit ${limit}) x
      where r.notification_id = x.notification_id and r.seq = x.seq`,
  );
}

/** Finished notifications created before `cutoff` whose deliveries and recipients are already gone. */
export async function deleteOldNotifications(ex: Executor, cutoff: Date, limit: number): Promise<number> {
  return countOf(
    ex,
    sql`delete from notifications where id in (select n.id from notifications n where ${oldFinished(cutoff)}
      and not exists (select 1 from deliveries dl where dl.notification_id = n.id)
      and not exists (select 1 from notification_recipients r where r.notification_id = n.id)
      order by n.id limit ${limit})`,
  );
}

/** Idempotency keys past their expires_at. */
export async function deleteExpiredIdempotencyKeys(ex: Executor, now: Date, limit: number): Promise<number> {
  return countOf(
    ex,
    sql`delete from idempotency_keys where ctid = any(array(select ctid from idempotency_keys
      where expires_at < ${now.toISOString()} limit ${limit}))`,
  );
}

/** Rows of a bigint-keyed log table (or one partition of it) created before `cutoff` (and matching `extra`). */
async function deleteOldRows(
  ex: Executor,
  table: string,
  cutoff: Date,
  limit: number,
  extra: SQL = sql`true`,
): Promise<number> {
  const t = sql.identifier(table);
  return countOf(
    ex,
    sql`delete from ${t} where id in (select id from ${t}
      where created_at < ${cutoff.toISOString()} and ${extra} order by created_at limit ${limit})`,
  );
}

export const deleteOldAuditLogs = (ex: Executor, cutoff: Date, limit: number) =>
  deleteOldRows(ex, 'audit_logs', cutoff, limit);

/** In one partition of webhook_deliveries (its default or legacy one). */
export const deleteOldWebhookDeliveries = (ex: Executor, partition: string, cutoff: Date, limit: number) =>
  deleteOldRows(ex, partition, cutoff, limit);

/**
 * In one partition of events (or the whole table). Only events the dispatcher has handed on: an undispatched
 * event is never lost to retention.
 */
export const deleteOldEvents = (ex: Executor, cutoff: Date, limit: number, partition = 'events') =>
  deleteOldRows(ex, partition, cutoff, limit, sql`dispatched_at is not null`);
