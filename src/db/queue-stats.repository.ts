/**
 * How much work waits in the job queues, read straight from pg-boss's tables (same database, schema pgboss):
 * one statement over the live-job index, for the metrics scrape and the readiness check.
 */
import { sql } from 'drizzle-orm';
import type { QueueDepth } from '../observability/metrics.ts';
import { type Executor, query } from './client.ts';

/** Every queue of ours (pg-boss's internal ones left out), with zeros for a queue with nothing waiting. */
export async function queueDepths(ex: Executor): Promise<QueueDepth[]> {
  const rows = await query<{
    queue: string;
    ready: number;
    deferred: number;
    active: number;
    oldest: number | string | null;
  }>(
    ex,
    sql`select q.name as queue,
        coalesce(j.ready, 0) as ready, coalesce(j.deferred, 0) as deferred, coalesce(j.active, 0) as active,
        j.oldest
      from pgboss.queue q
      left join lateral (
        select
          (count(*) filter (where state < 'active' and not blocked and start_after <= now()))::int as ready,
          (count(*) filter (where state < 'active' and (blocked or start_after > now())))::int as deferred,
          (count(*) filter (where state = 'active'))::int as active,
          extract(epoch from now() - min(greatest(created_on, start_after))
            filter (where state < 'active' and not blocked and start_after <= now()))::float8 as oldest
        from pgboss.job
        where name = q.name and state <= 'active'
      ) j on true
      where q.name not like '\\_\\_%'
      order by q.name`,
  );
  return rows.map((r) => ({
    queue: r.queue,
    ready: r.ready,
    deferred: r.deferred,
    active: r.active,
    oldestReadySeconds: Math.max(0, Number(r.oldest ?? 0)),
  }));
}
