/**
 * The weekly partitions of the time-partitioned tables (deliveries, events, webhook_deliveries: PARTITION BY
 * RANGE on created_at, set up by migration 0010 (partition_by_week)). Each table has:
 * - `<table>_pYYYYMMDD`: one UTC week, Monday 00:00 to the next Monday; created ahead by the maintenance job;
 * - `<table>_default`: the safety net for a row no weekly partition covers (normally empty);
 * - `<table>_legacy` (an upgraded installation only): the pre-partitioning table, FROM (MINVALUE) to the week
 *   after the upgrade.
 * Retention drops a weekly (or the legacy) partition once its whole range is past the window, and row-DELETEs
 * only in the default and legacy partitions. Names come from the catalog, never from input.
 */
import { type SQL, sql } from 'drizzle-orm';
import { type Executor, query } from './client.ts';

export const PARTITIONED_TABLES = ['deliveries', 'events', 'webhook_deliveries'] as const;
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number];

export const WEEK_MS = 7 * 86_400_000;
const DAY_MS = 86_400_000;

/** Monday 00:00 UTC of the week holding `at` (1970-01-01 was a Thursday). */
export function weekStart(at: Date): Date {
  const day = Math.floor(at.getTime() / DAY_MS);
  return new Date((day - ((day + 3) % 7)) * DAY_MS);
}

/** `<table>_pYYYYMMDD` for the week starting at `start`. */
export function partitionName(table: PartitionedTable, start: Date): string {
  return `${table}_p${start.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

export interface Partition {
  name: string;
  /** null: the DEFAULT partition. */
  range: { from: Date | null; to: Date } | null;
}

/** The partitions of a table with their bounds (FROM MINVALUE is a null `from`). */
export async function listPartitions(ex: Executor, table: PartitionedTable): Promise<Partition[]> {
  const rows = await query<{ name: string; is_default: boolean; from: string | null; to: string | null }>(
    ex,
    sql`select c.relname as name, b.bound = 'DEFAULT' as is_default,
        (regexp_match(b.bound, 'FROM \\(''([^'']+)''\\)'))[1] as "from",
        (regexp_match(b.bound, 'TO \\(''([^'']+)''\\)'))[1] as "to"
      from pg_inherits i join pg_class c on c.oid = i.inhrelid
      cross join lateral (select pg_get_expr(c.relpartbound, c.oid) as bound) b
      where i.inhparent = ${table}::regclass order by c.relname`,
  );
  return rows.map((r) => ({
    name: r.name,
    range:
      r.is_default || r.to === null ? null : { from: r.from ? new Date(r.from) : null, to: new Date(r.to) },
  }));
}

const overlaps = (p: Partition, from: Date, to: Date) =>
  p.range !== null && (p.range.from === null || p.range.from < to) && p.range.to > from;

/**
 * Creates the weekly partition starting at `start` unless a partition already covers part of that week. Rows
 * of that week already in the DEFAULT partition move into it first (in the same transaction, so ATTACH's check
 * of the default partition passes). Returns its name when it created one.
 */
export async function createWeekPartition(
  ex: Executor,
  table: PartitionedTable,
  start: Date,
  existing: Partition[],
): Promise<string | null> {
  const end = new Date(start.getTime() + WEEK_MS);
  if (existing.some((p) => overlaps(p, start, end))) return null;
  const name = partitionName(table, start);
  const [from, to] = [start.toISOString(), end.toISOString()];
  const [t, p, d] = [sql.identifier(table), sql.identifier(name), sql.identifier(`${table}_default`)];
  await ex.transaction(async (tx) => {
    await tx.execute(sql`create table ${p} (like ${t} including defaults)`);
    await tx.execute(sql`with moved as (delete from ${d} where created_at >= ${from} and created_at < ${to}
      returning *) insert into ${p} select * from moved`);
    await tx.execute(
      sql`alter table ${t} attach partition ${p} for values from (${sql.raw(`'${from}'`)}) to (${sql.raw(`'${to}'`)})`,
    );
  });
  return name;
}

/** Detaches and drops a partition: the whole week goes at the cost of unlinking its files. */
export async function dropPartition(ex: Executor, table: PartitionedTable, name: string): Promise<void> {
  await ex.transaction(async (tx) => {
    await tx.execute(sql`alter table ${sql.identifier(table)} detach partition ${sql.identifier(name)}`);
    await tx.execute(sql`drop table ${sql.identifier(name)}`);
  });
}

/** Whether a partition holds a row retention must keep however old it is (see the callers' rules). */
export async function partitionHasKeeper(
  ex: Executor,
  table: PartitionedTable,
  name: string,
): Promise<boolean> {
  const p = sql.identifier(name);
  const keeper: Record<PartitionedTable, SQL | null> = {
    // A delivery of a notification still in flight (queued or sending), through its small partial index.
    deliveries: sql`select 1 from notifications n where n.status in ('queued', 'sending')
      and exists (select 1 from ${p} d where d.notification_id = n.id) limit 1`,
    // An event the dispatcher has not handed on (the partition's partial index on undispatched rows).
    events: sql`select 1 from ${p} where dispatched_at is null limit 1`,
    webhook_deliveries: null,
  };
  const statement = keeper[table];
  if (statement === null) return false;
  return (await query(ex, statement)).length > 0;
}
