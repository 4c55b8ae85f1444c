/**
 * Analytics: the daily roll-up the periodic job writes, and the overview and day/week/month series the API
 * reads. Days are UTC days; a notification's numbers all belong to the day it was created (docs/analytics.md).
 * Today and yesterday are always aggregated live from deliveries, so they are never stale; older days come
 * from analytics_daily, which the job last rewrote after the day had ended.
 */
import {
  ALL,
  type AnalyticsCounters,
  type Bucket,
  type CombinedCounts,
  listTenantIds,
  type RangeQuery,
  readBreakdown,
  readSeries,
  rollUpDay,
} from '../db/analytics.repository.ts';
import type { Platform } from '../domain/platform.ts';
import {
  addDays,
  dayOf,
  daysBetween,
  earlierDay,
  isoWeek,
  monthEnd,
  monthStart,
  weekStart,
} from '../lib/days.ts';
import { invalidQuery } from '../lib/errors.ts';
import type { ServiceDeps } from './deps.ts';

/**
 * Days computed live at read time: today and yesterday. ANALYTICS_LOOKBACK_DAYS (at least 2) makes the job
 * rewrite a day once more after it ended, before it stops being live.
 */
const LIVE_DAYS = 2;
export const MAX_RANGE_DAYS = 366;
const DEFAULT_RANGE_DAYS = 7;
const TENANT_PAGE = 100;

export interface AnalyticsQuery {
  from?: string | undefined;
  to?: string | undefined;
  topic_id?: string | undefined;
  platform?: Platform | undefined;
}

export interface StatsView extends AnalyticsCounters {
  /** delivered / sent */
  delivery_rate: number | null;
  /** read / delivered */
  read_rate: number | null;
  avg_delivery_ms: number | null;
  p95_delivery_ms: number | null;
  /** False when p95_delivery_ms combines several days' percentiles (a delivered-weighted mean of them). */
  p95_exact: boolean;
}

export interface OverviewView {
  from: string;
  to: string;
  timezone: 'UTC';
  totals: StatsView;
  by_platform: (StatsView & { platform: Platform })[];
  by_topic: (StatsView & { topic_id: string | null; topic_name: string | null })[];
}

export interface PeriodView extends StatsView {
  /** 2026-11-24, 2026-W48 or 2026-11. */
  period: string;
  /** The period's first and last day inside the requested range. */
  start: string;
  end: string;
}

export interface SeriesView {
  from: string;
  to: string;
  timezone: 'UTC';
  items: PeriodView[];
}

const round = (value: number, places: number) => Math.round(value * 10 ** places) / 10 ** places;
const ratio = (part: number, whole: number) => (whole === 0 ? null : round(part / whole, 4));

const EMPTY: CombinedCounts = {
  notifications: 0,
  deliveries: 0,
  sent: 0,
  delivered: 0,
  read: 0,
  failed: 0,
  skipped: 0,
  expired: 0,
  cancelled: 0,
  avgDeliveryMs: null,
  p95DeliveryMs: null,
  p95Parts: 0,
};

function toStats(c: CombinedCounts): StatsView {
  return {
    notifications: c.notifications,
    deliveries: c.deliveries,
    sent: c.sent,
    delivered: c.delivered,
    read: c.read,
    failed: c.failed,
    skipped: c.skipped,
    expired: c.expired,
    cancelled: c.cancelled,
    delivery_rate: ratio(c.delivered, c.sent),
    read_rate: ratio(c.read, c.delivered),
    avg_delivery_ms: c.avgDeliveryMs === null ? null : round(c.avgDeliveryMs, 1),
    p95_delivery_ms: c.p95DeliveryMs === null ? null : round(c.p95DeliveryMs, 1),
    p95_exact: c.p95Parts <= 1,
  };
}

/** Validates the query and applies the defaults: the last 7 days up to today (UTC). */
function resolveRange(q: AnalyticsQuery, now: Date): RangeQuery {
  const today = dayOf(now);
  const to = q.to ?? today;
  const from = q.from ?? addDays(to, -(DEFAULT_RANGE_DAYS - 1));
  if (from > to)
    throw invalidQuery('from is after to', [{ field: 'query.from', message: 'must not be after to' }]);
  if (daysBetween(from, to) + 1 > MAX_RANGE_DAYS) {
    throw invalidQuery(`the range is longer than ${MAX_RANGE_DAYS} days`, [
      { field: 'query.from', message: `from and to may be at most ${MAX_RANGE_DAYS - 1} days apart` },
    ]);
  }
  return {
    from,
    to,
    liveFrom: addDays(today, -(LIVE_DAYS - 1)),
    topicKey: q.topic_id ?? ALL,
    platform: q.platform ?? ALL,
  };
}

/** Totals of the range, and the same numbers per platform and per topic (sends not to a topic: topic_id null). */
export async function getOverview(
  deps: ServiceDeps,
  tenantId: string,
  query: AnalyticsQuery,
  now: Date = deps.clock.now(),
): Promise<OverviewView> {
  const range = resolveRange(query, now);
  const rows = await readBreakdown(deps.db, tenantId, range);
  const totals = rows.find((r) => r.topicKey === range.topicKey && r.platform === range.platform) ?? EMPTY;
  const byPlatform = rows
    .filter((r) => r.topicKey === range.topicKey && r.platform !== ALL)
    .sort((a, b) => a.platform.localeCompare(b.platform))
    .map((r) => ({ platform: r.platform as Platform, ...toStats(r) }));
  const byTopic = rows
    .filter((r) => r.platform === range.platform && r.topicKey !== ALL)
    .sort(
      (a, b) =>
        Number(a.topicKey !== '') - Number(b.topicKey !== '') ||
        b.deliveries - a.deliveries ||
        b.notifications - a.notifications ||
        a.topicKey.localeCompare(b.topicKey),
    )
    .map((r) => ({ topic_id: r.topicKey || null, topic_name: r.topicName, ...toStats(r) }));
  return {
    from: range.from,
    to: range.to,
    timezone: 'UTC',
    totals: toStats(totals),
    by_platform: byPlatform,
    by_topic: byTopic,
  };
}

export type Period = 'daily' | 'weekly' | 'monthly';

const bucketOf: Record<Period, Bucket> = { daily: 'day', weekly: 'week', monthly: 'month' };

interface PeriodSlot {
  /** The period's first calendar day, as the SQL buckets it. */
  key: string;
  period: string;
  start: string;
  end: string;
}

/** Every period touching [from, to], oldest first, with its days inside the range. */
function periodsOf(period: Period, from: string, to: string): PeriodSlot[] {
  const slots: PeriodSlot[] = [];
  for (let day = from; day <= to; ) {
    const key = period === 'daily' ? day : period === 'weekly' ? weekStart(day) : monthStart(day);
    const last = period === 'daily' ? day : period === 'weekly' ? addDays(key, 6) : monthEnd(day);
    const end = earlierDay(last, to);
    const label = period === 'daily' ? day : period === 'weekly' ? isoWeek(day) : day.slice(0, 7);
    slots.push({ key, period: label, start: day, end });
    day = addDays(end, 1);
  }
  return slots;
}

/** One row per day, ISO week (Monday start) or month of the range, zero-filled, oldest first. */
export async function getSeries(
  deps: ServiceDeps,
  tenantId: string,
  period: Period,
  query: AnalyticsQuery,
  now: Date = deps.clock.now(),
): Promise<SeriesView> {
  const range = resolveRange(query, now);
  const rows = await readSeries(deps.db, tenantId, range, bucketOf[period]);
  const byKey = new Map(rows.map((r) => [r.periodStart, r]));
  return {
    from: range.from,
    to: range.to,
    timezone: 'UTC',
    items: periodsOf(period, range.from, range.to).map((p) => ({
      period: p.period,
      start: p.start,
      end: p.end,
      ...toStats(byKey.get(p.key) ?? EMPTY),
    })),
  };
}

export interface RollUpResult {
  tenants: number;
  written: number;
  deleted: number;
}

/**
 * Rewrites the stored rows of the given days, for one tenant or for every tenant (a page of tenants at a time,
 * one statement per tenant and day, so the work of one step stays bounded).
 */
export async function rollUpDays(
  deps: ServiceDeps,
  days: string[],
  tenantId?: string,
): Promise<RollUpResult> {
  const result: RollUpResult = { tenants: 0, written: 0, deleted: 0 };
  const rollUpTenant = async (id: string) => {
    result.tenants += 1;
    for (const day of days) {
      const { written, deleted } = await rollUpDay(deps.db, id, day);
      result.written += written;
      result.deleted += deleted;
    }
  };
  if (tenantId !== undefined) {
    await rollUpTenant(tenantId);
    return result;
  }
  for (let after: string | null = null; ; ) {
    const ids = await listTenantIds(deps.db, after, TENANT_PAGE);
    for (const id of ids) await rollUpTenant(id);
    if (ids.length < TENANT_PAGE) return result;
    after = ids[ids.length - 1]!;
  }
}

/** The periodic job: re-aggregates the last ANALYTICS_LOOKBACK_DAYS days (today included) for every tenant. */
export async function rollUpRecentDays(
  deps: ServiceDeps,
  now: Date = deps.clock.now(),
): Promise<RollUpResult & { days: string[] }> {
  const today = dayOf(now);
  const days = Array.from({ length: deps.config.analytics.lookbackDays }, (_, i) => addDays(today, -i));
  return { days, ...(await rollUpDays(deps, days)) };
}
