/**
 * SQL for analytics: the daily roll-up (analytics_daily, written by the periodic job) and the reads that merge
 * stored days with a live aggregate of the days still changing.
 *
 * A day is a UTC calendar day, and every number of a notification belongs to the day the notification was
 * created: its deliveries, sends, receipts and failures stay on that day even when they happen later.
 * Rows come as a cube: for each (day, tenant) one row per (topic_key, platform), plus roll-up rows where
 * topic_key and/or platform is '*' (all topics / all platforms), so that any filter combination of one day is
 * read from exactly one row and its p95 is exact. topic_key '' stands for sends that were not to a topic.
 */
import { type SQL, sql } from 'drizzle-orm';
import { addDays, earlierDay, laterDay } from '../lib/days.ts';
import { type Executor, query } from './client.ts';
import type { analyticsDaily } from './schema.ts';

/** The topic_key / platform of a roll-up row over all topics / all platforms. */
export const ALL = '*';

type AnalyticsDailyRow = typeof analyticsDaily.$inferSelect;

/** The counters of one group (what a row of analytics_daily counts; the API shows them under the same names). */
export type AnalyticsCounters = Pick<
  AnalyticsDailyRow,
  | 'notifications'
  | 'deliveries'
  | 'sent'
  | 'delivered'
  | 'read'
  | 'failed'
  | 'skipped'
  | 'expired'
  | 'cancelled'
>;

/** Counters and latencies of one group, as stored in a row of analytics_daily. */
export type AnalyticsCounts = AnalyticsCounters & Pick<AnalyticsDailyRow, 'avgDeliveryMs' | 'p95DeliveryMs'>;

/** Counters summed over several stored rows (days), with the latency combination described at readSeries. */
export interface CombinedCounts extends AnalyticsCounts {
  /** How many rows with a latency went into p95DeliveryMs: with more than one it is an approximation. */
  p95Parts: number;
}

/** A UTC day (YYYY-MM-DD) as the instant it starts. */
const dayStart = (day: string) => sql`(${day}::date)::timestamp at time zone 'UTC'`;

/**
 * The cube of [fromDay, toDay) (days as YYYY-MM-DD, end exclusive) for one tenant, straight from notifications
 * and deliveries. Columns: day, topic_key, platform and the counters of AnalyticsCounts (snake_case).
 * With topicId only that topic's notifications are read (its '*' topic rows then equal its own rows).
 *
 * - notifications: created that day; in a platform's rows, those with at least one delivery to the platform.
 * - deliveries: every delivery of those notifications, whatever its state.
 * - sent: accepted by FCM (sent, delivered or read); delivered: delivered or read; read: read;
 *   failed: failed for good (failed or dead); skipped, expired, cancelled: withheld by a delivery control.
 *   Pending, waiting and retrying deliveries are in none of these.
 * - delivery time: delivered_at - sent_at of delivered deliveries, at least 0 (a receipt may overtake our own
 *   record of the send by a few milliseconds), averaged and its 95th percentile (continuous).
 */
function cube(tenantId: string, fromDay: string, toDay: string, topicId?: string): SQL {
  return sql`select day,
      case when grouping(topic_key) = 1 then ${ALL} else topic_key end as topic_key,
      case when grouping(platform) = 1 then ${ALL} else platform end as platform,
      count(distinct notification_id)::int as notifications,
      count(delivery_id)::int as deliveries,
      (count(*) filter (where status in ('sent', 'delivered', 'read')))::int as sent,
      (count(*) filter (where status in ('delivered', 'read')))::int as delivered,
      (count(*) filter (where status = 'read'))::int as read,
      (count(*) filter (where status in ('failed', 'dead')))::int as failed,
      (count(*) filter (where status = 'skipped'))::int as skipped,
      (count(*) filter (where status = 'expired'))::int as expired,
      (count(*) filter (where status = 'cancelled'))::int as cancelled,
      avg(ms) as avg_delivery_ms,
      percentile_cont(0.95) within group (order by ms) as p95_delivery_ms
    from (
      select (n.created_at at time zone 'UTC')::date as day, coalesce(n.topic_id::text, '') as topic_key,
        n.id as notification_id, dl.id as delivery_id, dl.platform, dl.status,
        case when dl.status in ('delivered', 'read')
          then greatest(0, extract(epoch from dl.delivered_at - dl.sent_at) * 1000)::float8 end as ms
      from notifications n
      left join deliveries dl on dl.notification_id = n.id and dl.api_client_id = n.api_client_id
      where n.api_client_id = ${tenantId}
        and n.created_at >= ${dayStart(fromDay)} and n.created_at < ${dayStart(toDay)}
        ${topicId === undefined ? sql`` : sql`and n.topic_id = ${topicId}`}
    ) src
    group by grouping sets ((day, topic_key, platform), (day, topic_key), (day, platform), (day))
    having grouping(platform) = 1 or platform is not null`;
}

/**
 * Recomputes one tenant's day in one statement (so atomically): every cube row is upserted, and the day's
 * rows whose group has no data any more (its notifications moved or deleted) are deleted. Running it again
 * gives the same rows.
 */
export async function rollUpDay(
  ex: Executor,
  tenantId: string,
  day: string,
): Promise<{ written: number; deleted: number }> {
  const [row] = await query<{ written: number; deleted: number }>(
    ex,
    sql`with agg as (${cube(tenantId, day, addDays(day, 1))}),
      up as (
        insert into analytics_daily (day, api_client_id, topic_key, platform, notifications, deliveries, sent,
          delivered, read, failed, skipped, expired, cancelled, avg_delivery_ms, p95_delivery_ms, updated_at)
        select day, ${tenantId}, topic_key, platform, notifications, deliveries, sent, delivered, read, failed,
          skipped, expired, cancelled, avg_delivery_ms, p95_delivery_ms, now()
        from agg
        on conflict (day, api_client_id, topic_key, platform) do update set
          notifications = excluded.notifications, deliveries = excluded.deliveries, sent = excluded.sent,
          delivered = excluded.delivered, read = excluded.read, failed = excluded.failed,
          skipped = excluded.skipped, expired = excluded.expired, cancelled = excluded.cancelled,
          avg_delivery_ms = excluded.avg_delivery_ms, p95_delivery_ms = excluded.p95_delivery_ms,
          updated_at = excluded.updated_at
        returning topic_key, platform
      ),
      gone as (
        delete from analytics_daily a
        where a.api_client_id = ${tenantId} and a.day = ${day}::date
          and not exists (select 1 from up where up.topic_key = a.topic_key and up.platform = a.platform)
        returning 1
      )
      select (select count(*) from up)::int as written, (select count(*) from gone)::int as deleted`,
  );
  return { written: row?.written ?? 0, deleted: row?.deleted ?? 0 };
}

/** A page of tenant ids (keyset by id): the job walks every tenant, a page at a time. */
export async function listTenantIds(ex: Executor, after: string | null, limit: number): Promise<string[]> {
  const rows = await query<{ id: string }>(
    ex,
    sql`select id from api_clients ${after === null ? sql`` : sql`where id > ${after}`} order by id limit ${limit}`,
  );
  return rows.map((r) => r.id);
}

/** Which stored and live rows a read covers. Days are YYYY-MM-DD, both ends inclusive. */
export interface RangeQuery {
  from: string;
  to: string;
  /** Days from this one on are aggregated live from deliveries; earlier days are read from analytics_daily. */
  liveFrom: string;
  /** A topic id, or ALL. */
  topicKey: string;
  /** A platform, or ALL. */
  platform: string;
}

/** The stored and live cube rows of the range that satisfy `where` (over the columns topic_key and platform). */
function rowsOf(tenantId: string, q: RangeQuery, where: SQL): SQL {
  // from <= to, so at least one of the two parts is there.
  const storedEnd = earlierDay(q.liveFrom, addDays(q.to, 1));
  const liveStart = laterDay(q.liveFrom, q.from);
  const parts: SQL[] = [];
  if (q.from < storedEnd) {
    parts.push(sql`select day, topic_key, platform, notifications, deliveries, sent, delivered, read, failed,
        skipped, expired, cancelled, avg_delivery_ms, p95_delivery_ms
      from analytics_daily
      where api_client_id = ${tenantId} and day >= ${q.from}::date and day < ${storedEnd}::date and (${where})`);
  }
  if (liveStart <= q.to) {
    const topicId = q.topicKey === ALL ? undefined : q.topicKey;
    parts.push(
      sql`select * from (${cube(tenantId, liveStart, addDays(q.to, 1), topicId)}) live where (${where})`,
    );
  }
  return sql.join(parts, sql` union all `);
}

/**
 * Counters summed over rows of several days. Averages combine exactly (weighted by delivered, the deliveries
 * they are over); a 95th percentile cannot be combined from daily ones, so several are averaged weighted by
 * delivered, an approximation that p95_parts reports.
 */
const combined = sql`sum(notifications)::float8 as notifications, sum(deliveries)::float8 as deliveries,
  sum(sent)::float8 as sent, sum(delivered)::float8 as delivered, sum(read)::float8 as read,
  sum(failed)::float8 as failed, sum(skipped)::float8 as skipped, sum(expired)::float8 as expired,
  sum(cancelled)::float8 as cancelled,
  (sum(avg_delivery_ms * delivered) / nullif(sum(delivered) filter (where avg_delivery_ms is not null), 0))::float8
    as avg_delivery_ms,
  (sum(p95_delivery_ms * delivered) / nullif(sum(delivered) filter (where p95_delivery_ms is not null), 0))::float8
    as p95_delivery_ms,
  (count(*) filter (where p95_delivery_ms is not null))::int as p95_parts`;

interface CombinedRow extends AnalyticsCounters {
  avg_delivery_ms: number | null;
  p95_delivery_ms: number | null;
  p95_parts: number;
}

const toCombined = (r: CombinedRow): CombinedCounts => ({
  notifications: Number(r.notifications),
  deliveries: Number(r.deliveries),
  sent: Number(r.sent),
  delivered: Number(r.delivered),
  read: Number(r.read),
  failed: Number(r.failed),
  skipped: Number(r.skipped),
  expired: Number(r.expired),
  cancelled: Number(r.cancelled),
  avgDeliveryMs: r.avg_delivery_ms === null ? null : Number(r.avg_delivery_ms),
  p95DeliveryMs: r.p95_delivery_ms === null ? null : Number(r.p95_delivery_ms),
  p95Parts: Number(r.p95_parts),
});

export type Bucket = 'day' | 'week' | 'month';

const bucketOf: Record<Bucket, SQL> = {
  day: sql`day`,
  week: sql`date_trunc('week', day::timestamp)::date`,
  month: sql`date_trunc('month', day::timestamp)::date`,
};

/** The filtered numbers per day, ISO week (Monday) or month, only for periods with rows, oldest first. */
export async function readSeries(
  ex: Executor,
  tenantId: string,
  q: RangeQuery,
  bucket: Bucket,
): Promise<(CombinedCounts & { periodStart: string })[]> {
  const rows = await query<CombinedRow & { period_start: string }>(
    ex,
    sql`select to_char(${bucketOf[bucket]}, 'YYYY-MM-DD') as period_start, ${combined}
      from (${rowsOf(tenantId, q, sql`topic_key = ${q.topicKey} and platform = ${q.platform}`)}) r
      group by 1 order by 1`,
  );
  return rows.map((r) => ({ periodStart: r.period_start, ...toCombined(r) }));
}

/**
 * The range's numbers per (topic_key, platform) for the overview: the filtered totals (topicKey, platform),
 * per platform (topicKey, each platform) and per topic (each topic key, platform), with topic names.
 */
export async function readBreakdown(
  ex: Executor,
  tenantId: string,
  q: RangeQuery,
): Promise<(CombinedCounts & { topicKey: string; platform: string; topicName: string | null })[]> {
  const topicMatches = q.topicKey === ALL ? sql`true` : sql`topic_key = ${q.topicKey}`;
  const platformMatches = q.platform === ALL ? sql`true` : sql`platform = ${q.platform}`;
  const where = sql`(topic_key = ${q.topicKey} and platform = ${q.platform})
    or (topic_key = ${q.topicKey} and platform <> ${ALL} and ${platformMatches})
    or (platform = ${q.platform} and topic_key <> ${ALL} and ${topicMatches})`;
  const rows = await query<CombinedRow & { topic_key: string; platform: string; topic_name: string | null }>(
    ex,
    sql`select g.*, t.name as topic_name from (
        select topic_key, platform, ${combined} from (${rowsOf(tenantId, q, where)}) r group by topic_key, platform
      ) g
      left join topics t on t.api_client_id = ${tenantId} and t.id::text = g.topic_key`,
  );
  return rows.map((r) => ({
    topicKey: r.topic_key,
    platform: r.platform,
    topicName: r.topic_name,
    ...toCombined(r),
  }));
}
