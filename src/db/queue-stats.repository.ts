/**
 * The one queue figure pg-boss does not hand out: how long the oldest ready job has waited. pg-boss computes it
 * only into persisted stats snapshots (`persistQueueStats`: a history table written on every monitor pass),
 * more machinery than one number is worth, so it is read here from pg-boss's tables (same database, schema
 * pgboss) through its ready-job index. The counts come from pg-boss itself (src/queue/pg-boss.ts).
 */
import { sql } from 'drizzle-orm';
import { type Executor, query } from './client.ts';

/** Seconds the oldest job that could run now has waited, per queue that has one (any name pg-boss holds). */
export async function oldestReadyJobAges(ex: Executor): Promise<Map<string, number>> {
  const rows = await query<{ queue: string; oldest: number | string }>(
    ex,
    sql`select name as queue, extract(epoch from now() - min(greatest(created_on, start_after)))::float8 as oldest
      from pgboss.job
      where state < 'active' and not blocked and start_after <= now()
      group by name`,
  );
  return new Map(rows.map((r) => [r.queue, Math.max(0, Number(r.oldest))]));
}
