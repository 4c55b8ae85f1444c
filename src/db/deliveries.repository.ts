/** SQL for deliveries (one per notification × device): the fan-out insert, the send batch, outcomes and receipts. */
import { type SQL, sql } from 'drizzle-orm';
import type { Platform } from '../domain/platform.ts';
import type { VersionConstraint } from '../lib/versions.ts';
import { type Executor, query } from './client.ts';
import { type AppliedCap, cappedDevices } from './frequency-caps.repository.ts';
import type { DeliveryStatus } from './schema.ts';

/** Where a notification's devices come from. Always combined with the tenant and "active, not deleted". */
export type DeviceSource =
  | { kind: 'profile'; profileId: string }
  | { kind: 'devices'; deviceIds: string[] }
  | { kind: 'topic'; topicId: string }
  | { kind: 'all' }
  /** The notification's bulk recipients (notification_recipients), paged by seq. */
  | { kind: 'bulk' };

/** Segment filters in storage terms; every given one must hold. */
export interface DeviceFilters {
  platforms?: Platform[] | undefined;
  versions?: VersionConstraint[] | undefined;
  lastSeenWithinSeconds?: number | undefined;
  tagsAny?: string[] | undefined;
  tagsAll?: string[] | undefined;
  timezones?: string[] | undefined;
  locales?: string[] | undefined;
}

const jsonList = (values: readonly unknown[]) =>
  sql`(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb))`;
const textArray = (values: readonly string[]) => sql`array${jsonList(values)}`;

/** The filters as SQL over the devices alias `d`. Operators come from a fixed set, values are parameters. */
export function filterConditions(filters: DeviceFilters | undefined): SQL {
  const parts: SQL[] = [sql`true`];
  if (!filters) return parts[0]!;
  if (filters.platforms) parts.push(sql`d.platform in ${jsonList(filters.platforms)}`);
  for (const { op, key } of filters.versions ?? []) {
    parts.push(sql`d.app_version_key ${sql.raw(op)} array[${key[0]}::int, ${key[1]}::int, ${key[2]}::int]`);
  }
  if (filters.lastSeenWithinSeconds !== undefined) {
    parts.push(sql`d.last_seen_at >= now() - make_interval(secs => ${filters.lastSeenWithinSeconds})`);
  }
  if (filters.tagsAny) parts.push(sql`d.tags && ${textArray(filters.tagsAny)}`);
  if (filters.tagsAll) parts.push(sql`d.tags @> ${textArray(filters.tagsAll)}`);
  if (filters.timezones) parts.push(sql`d.timezone in ${jsonList(filters.timezones)}`);
  if (filters.locales) {
    // "pt" matches "pt", "pt-BR" and "pt_BR"; "pt-BR" matches only itself (in either spelling).
    const wanted = filters.locales.map((l) => l.toLowerCase().replace(/_/g, '-'));
    parts.push(sql`exists (select 1 from jsonb_array_elements_text(${JSON.stringify(wanted)}::jsonb) w(v)
      where lower(replace(d.locale, '_', '-')) = w.v or lower(replace(d.locale, '_', '-')) like w.v || '-%')`);
  }
  return sql.join(parts, sql` and `);
}

/**
 * One keyset page of the source as (key, device_id, seq): `key` is what the cursor remembers (a device id, or
 * a recipient seq for bulk sends), so a page whose devices are all filtered out still advances.
 */
function sourcePage(
  source: DeviceSource,
  tenantId: string,
  notificationId: string,
  after: string | null,
  limit: number,
): SQL {
  if (source.kind === 'bulk') {
    return sql`select r.seq as key, d.id as device_id, r.seq from (
        select seq, profile_id, device_id from notification_recipients
        where notification_id = ${notificationId} ${after === null ? sql`` : sql`and seq > ${Number(after)}::int`}
        order by seq limit ${limit}) r
      left join devices d on d.api_client_id = ${tenantId}
        and (d.id = r.device_id or (r.device_id is null and d.profile_id = r.profile_id))`;
  }
  if (source.kind === 'topic') {
    return sql`select device_id as key, device_id, null::int as seq from topic_subscriptions
      where topic_id = ${source.topicId} ${after === null ? sql`` : sql`and device_id > ${after}::uuid`}
      order by device_id limit ${limit}`;
  }
  const which =
    source.kind === 'profile'
      ? sql`and profile_id = ${source.profileId}`
      : source.kind === 'devices'
        ? sql`and id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(source.deviceIds)}::jsonb))`
        : sql``;
  return sql`select id as key, id as device_id, null::int as seq from devices
    where api_client_id = ${tenantId} ${which} ${after === null ? sql`` : sql`and id > ${after}::uuid`}
    order by id limit ${limit}`;
}

function jsonArray<T>(value: unknown): T[] {
  if (value === null || value === undefined) return [];
  return (typeof value === 'string' ? JSON.parse(value) : value) as T[];
}

export interface FanoutPage {
  /** The keyset cursor after this page, null when the source is exhausted. */
  cursor: string | null;
  /** The source had fewer rows than a page left: no page after this one would find any. */
  last: boolean;
  /** Ids of the deliveries created pending, to send now (as strings: they are bigints). */
  deliveryIds: string[];
  /** Deliveries created in all (pending, waiting and skipped). */
  created: number;
  /** Of them, those skipped as they were made (quiet hours with "drop", a frequency cap), with the reason. */
  skipped: SkippedDelivery[];
}

/** A delivery a timing control or a frequency cap ended at once: skipped, with its reason in error_code. */
export interface SkippedDelivery {
  delivery_id: string;
  device_id: string;
  platform: Platform;
  status: 'skipped';
  error_code: string;
}

/** Where a fan-out page starts: the notification, its tenant, source, filters and keyset position. */
export interface PageParams {
  notificationId: string;
  tenantId: string;
  source: DeviceSource;
  filters?: DeviceFilters | undefined;
  after: string | null;
  limit: number;
}

/**
 * The CTEs `src` (the source's next keyset page) and `page` (its devices that are active and match the
 * filters, one row per device, with the zone and profile the timing controls read).
 */
function pageCtes(params: PageParams): SQL {
  const { notificationId, tenantId } = params;
  return sql`src as (${sourcePage(params.source, tenantId, notificationId, params.after, params.limit)}),
      page as (
        -- Lateral: one primary-key lookup per source row (a page is at most a few thousand), where a plain join
        -- hashed the tenant's whole devices table for every page (95 ms a page at 100,000 devices).
        select distinct on (d.id) d.id, d.platform, src.seq, d.timezone, d.profile_id
        from src cross join lateral (
          select d.id, d.platform, d.timezone, d.profile_id from devices d
          where d.id = src.device_id and d.api_client_id = ${tenantId} and d.is_active and d.deleted_at is null
            and ${filterConditions(params.filters)}
        ) d
        order by d.id, src.seq
      )`;
}

/** What a page's timing controls read per device: its zone (else the default) and its quiet hours. */
export interface TimingKeys {
  defaultZone: string;
  /** The quiet hours to apply when the device's profile has none (JSON), or null; undefined: not respected. */
  tenantQuietHours?: string | null | undefined;
}

/** The device's zone, as the timing groups key it. */
const zoneOf = (keys: TimingKeys) => sql`coalesce(page.timezone, ${keys.defaultZone})`;

/** The device's quiet hours (its profile's, else the tenant's) as jsonb text; null when none or not respected. */
function quietOf(keys: TimingKeys): SQL {
  if (keys.tenantQuietHours === undefined) return sql`null::text`;
  return sql`coalesce(p.quiet_hours, ${keys.tenantQuietHours}::jsonb)::text`;
}

/** The distinct (zone, quiet hours) of the next fan-out page: the groups its timing is computed for. */
export async function pageTimingGroups(
  ex: Executor,
  params: PageParams,
  keys: TimingKeys,
): Promise<{ zone: string; quiet: string | null; devices: number }[]> {
  return query<{ zone: string; quiet: string | null; devices: number }>(
    ex,
    sql`with ${pageCtes(params)}
      select ${zoneOf(keys)} as zone, ${quietOf(keys)} as quiet, count(*)::int as devices
      from page left join profiles p on p.id = page.profile_id
      group by 1, 2`,
  );
}

/** One (zone, quiet hours) group of a page, with its instants computed: see pageTimingGroups. */
export interface TimingGroup {
  zone: string;
  quiet: string | null;
  /** When a local-time send reaches the zone (ISO), or null. */
  local_at: string | null;
  /** The quiet-hours intervals [start, end) (ISO) around the page's instants. */
  intervals: [string, string][];
}

/** The timing of a fan-out page: the groups' instants and the send's throttle, read against `now`. */
export interface PageTiming extends TimingKeys {
  now: Date;
  /** When the send was accepted: the earliest instant, and where throttle slots count from. */
  start: Date;
  groups: TimingGroup[];
  quietAction: 'hold' | 'drop';
  throttlePerMinute?: number | undefined;
  /** Deliveries made by earlier pages: this page's throttle ranks follow them. */
  rankBase: number;
}

/**
 * The rows a timed page inserts: each device's earliest instant t0 (the send's start, its zone's local time,
 * its throttle slot: `rank / rate` minutes after the start), then the end of the quiet-hours interval holding
 * t0, if one does. Kept apart from the insert so other controls can add their own columns.
 */
function timedRows(timing: PageTiming): SQL {
  const start = sql`${timing.start.toISOString()}::timestamptz`;
  const now = sql`${timing.now.toISOString()}::timestamptz`;
  const slot =
    timing.throttlePerMinute === undefined
      ? sql`null::timestamptz`
      : sql`${start} + make_interval(secs => (${timing.rankBase}::bigint + page.rank - 1) * 60.0 / ${timing.throttlePerMinute}::int)`;
  const drop = sql.raw(timing.quietAction === 'drop' ? 'true' : 'false');
  return sql`timed as (
        select page.id, page.platform, page.seq, g.intervals, greatest(${start}, g.local_at, ${slot}) as t0
        from (select page.*, row_number() over (order by page.id) as rank from page) page
        left join profiles p on p.id = page.profile_id
        join jsonb_to_recordset(${JSON.stringify(timing.groups)}::jsonb)
          as g(zone text, quiet text, local_at timestamptz, intervals jsonb)
          on g.zone = ${zoneOf(timing)} and g.quiet is not distinct from ${quietOf(timing)}
      ), held as (
        select timed.*, (select (q->>1)::timestamptz from jsonb_array_elements(timed.intervals) q
          where timed.t0 >= (q->>0)::timestamptz and timed.t0 < (q->>1)::timestamptz limit 1) as quiet_end
        from timed
      ), rows as (
        select id, platform, seq,
          case when quiet_end is not null and ${drop} then 'skipped'
            when coalesce(quiet_end, t0) > ${now} then 'waiting' else 'pending' end as status,
          case when quiet_end is not null and ${drop} then null
            when coalesce(quiet_end, t0) > ${now} then coalesce(quiet_end, t0) end as not_before,
          case when quiet_end is not null and ${drop} then 'quiet_hours' end as error_code
        from held
      )`;
}

/**
 * The rows to insert, `final`: the timing's rows, where a frequency cap then skips (reason frequency_cap) the
 * deliveries of the devices in the `capped` CTE that were not skipped already. Without caps, the rows as they
 * are, with no extra cost. A hash join with the capped devices (materialized once), not an exists per row.
 */
function cappedRows(
  caps: AppliedCap[] | undefined,
  tenantId: string,
  notificationId: string,
  now: Date,
): SQL {
  if (!caps || caps.length === 0) return sql`final as (select * from rows)`;
  const capped = sql`capped.id is not null and rows.status <> 'skipped'`;
  return sql`${cappedDevices(caps, tenantId, notificationId, now)},
      final as (
        select rows.id, rows.platform, rows.seq,
          case when ${capped} then 'skipped' else rows.status end as status,
          case when ${capped} then null else rows.not_before end as not_before,
          case when ${capped} then 'frequency_cap' else rows.error_code end as error_code
        from rows left join capped on capped.id = rows.id
      )`;
}

/** The plain rows of a page: every delivery pending, to send now. */
const plainRows = sql`rows as (
        select id, platform, seq, 'pending' as status, null::timestamptz as not_before, null as error_code
        from page
      )`;

/**
 * Creates the deliveries for the next page of the source in one statement (keyset pagination, never one giant
 * query), keeping the devices that are active and match the filters, and returns the ids of those to send now
 * (the rest wait for their time, or were skipped). A device reached twice (two bulk targets, say) gets one
 * delivery: the first recipient's. A delivery's created_at is its notification's: deliveries are partitioned by
 * it, so a notification's deliveries share one partition and the unique (notification_id, device_id,
 * created_at) still means one delivery per device.
 */
export async function insertDeliveryPage(
  ex: Executor,
  params: PageParams & {
    timing?: PageTiming | undefined;
    /** The injected clock's instant: where the frequency caps' windows end. */
    now: Date;
    /** The frequency caps that apply to this notification (none: no cap fragment at all). */
    caps?: AppliedCap[] | undefined;
  },
): Promise<FanoutPage> {
  const { notificationId, tenantId, now } = params;
  const [row] = await query<{
    cursor: string | null;
    scanned: number;
    ids: unknown;
    created: number;
    skipped: unknown;
  }>(
    ex,
    sql`with ${pageCtes(params)},
      ${params.timing ? timedRows(params.timing) : plainRows},
      ${cappedRows(params.caps, tenantId, notificationId, now)},
      ins as (
        insert into deliveries (notification_id, api_client_id, device_id, platform, recipient_seq, status,
          not_before, error_code, created_at)
        select ${notificationId}, ${tenantId}, id, platform, seq, status, not_before, error_code,
          (select created_at from notifications where id = ${notificationId})
        from final
        on conflict (notification_id, device_id, created_at) do nothing
        returning id, status, device_id, platform, error_code
      )
      select (select key::text from src order by key desc limit 1) as cursor,
             (select count(*)::int from src) as scanned,
             (select json_agg(id::text) from ins where status = 'pending') as ids,
             (select count(*)::int from ins) as created,
             (select json_agg(json_build_object('delivery_id', id::text, 'device_id', device_id,
                'platform', platform, 'status', status, 'error_code', error_code) order by id)
              from ins where status = 'skipped') as skipped`,
  );
  return {
    cursor: row?.cursor ?? null,
    last: (row?.scanned ?? 0) < params.limit,
    deliveryIds: jsonArray<string>(row?.ids),
    created: row?.created ?? 0,
    skipped: jsonArray<SkippedDelivery>(row?.skipped),
  };
}

/** A batch of waiting deliveries released at once: one notification, one zone, one minute. */
export interface ReleasedBatch {
  notificationId: string;
  deliveryIds: string[];
}

/**
 * Moves up to `limit` waiting deliveries due at `now` (the injected clock's instant) to pending, and returns
 * them grouped by notification, device zone and minute of release. Rows another worker is releasing are
 * skipped, so any number of workers release each delivery once.
 */
export async function releaseWaiting(ex: Executor, now: Date, limit: number): Promise<ReleasedBatch[]> {
  const rows = await query<{ notification_id: string; ids: unknown }>(
    ex,
    sql`with due as (
        select dl.id, dl.created_at, dl.notification_id, coalesce(dv.timezone, '') as zone,
          date_trunc('minute', dl.not_before) as minute
        from deliveries dl join devices dv on dv.id = dl.device_id
        where dl.status = 'waiting' and dl.not_before <= ${now.toISOString()}::timestamptz
        order by dl.not_before limit ${limit}
        for update of dl skip locked
      ), released as (
        update deliveries dl set status = 'pending', updated_at = now()
        from due where dl.id = due.id and dl.created_at = due.created_at
        returning dl.id
      )
      select due.notification_id, json_agg(due.id::text order by due.id) as ids
      from due join released on released.id = due.id
      group by due.notification_id, due.zone, due.minute
      order by min(due.minute)`,
  );
  return rows.map((r) => ({ notificationId: r.notification_id, deliveryIds: jsonArray<string>(r.ids) }));
}

export interface DeliveryToSend {
  id: string;
  deviceId: string;
  platform: Platform;
  attempts: number;
  tokenCiphertext: string;
  deviceActive: boolean;
  /** The device's locale, which picks a template's locale variant. */
  locale: string | null;
  /** A bulk recipient's own contents (locale → content), when it had its own variables or data. */
  contents: Record<string, Record<string, unknown>> | null;
}

/**
 * Ids as one bigint[] parameter, for `id = any(…)`: the planner then looks the rows up by primary key, estimating
 * as many rows as ids. Joined to a set-returning function (jsonb_to_recordset, estimated at 100 rows) alone, a
 * partition whose statistics are not yet up to date (a fan-out has just filled it) was estimated at one row and
 * scanned once per id: 4 s for a batch of 500 instead of a few milliseconds.
 */
const bigintArray = (ids: readonly string[]) => sql`${`{${ids.join(',')}}`}::bigint[]`;

/**
 * A pruning hint for lookups of deliveries by id: a delivery carries its notification's created_at (migration
 * 0010 made that true of the deliveries still open when it ran), so `created_at = the notification's` narrows
 * the lookup to that week's partition instead of probing every partition's primary key (a range, `>=`, still
 * probed every later week and the default partition: about a fifth of the send path's throughput).
 */
const createdSince = (since: Date | undefined) => {
  if (since === undefined) return sql``;
  // Within a millisecond either side: the database keeps microseconds, a Date milliseconds.
  const at = sql`${since.toISOString()}::timestamptz`;
  return sql`and dl.created_at between ${at} - interval '1 millisecond' and ${at} + interval '1 millisecond'`;
};

/**
 * The deliveries of a send job that are still open for this attempt (a job that runs twice finds none).
 * `since`: the notification's created_at (the pruning hint above).
 */
export async function loadOpenDeliveries(
  ex: Executor,
  ids: string[],
  attempt: number,
  since?: Date,
): Promise<DeliveryToSend[]> {
  const rows = await query<{
    id: string;
    device_id: string;
    platform: Platform;
    attempts: number;
    token_ciphertext: string;
    is_active: boolean;
    deleted_at: Date | null;
    locale: string | null;
    contents: unknown;
  }>(
    ex,
    sql`select dl.id::text as id, dl.device_id, dl.platform, dl.attempts, dv.token_ciphertext, dv.is_active,
        dv.deleted_at, dv.locale, r.contents
      from deliveries dl join devices dv on dv.id = dl.device_id
      left join notification_recipients r on r.notification_id = dl.notification_id and r.seq = dl.recipient_seq
      where dl.id = any(${bigintArray(ids)}) and dl.status in ('pending', 'retrying') and dl.attempts < ${attempt}
        ${createdSince(since)}
      order by dl.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    deviceId: r.device_id,
    platform: r.platform,
    attempts: r.attempts,
    tokenCiphertext: r.token_ciphertext,
    deviceActive: r.is_active && r.deleted_at === null,
    locale: r.locale,
    contents: (typeof r.contents === 'string'
      ? JSON.parse(r.contents)
      : r.contents) as DeliveryToSend['contents'],
  }));
}

export interface DeliveryOutcome {
  id: string;
  status: 'sent' | 'retrying' | 'failed' | 'dead' | 'expired' | 'cancelled';
  messageId?: string | undefined;
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  nextAttemptAt?: Date | undefined;
}

/** What recordOutcomes changed: the counters to add to the notification, and which deliveries changed. */
export interface RecordedOutcomes {
  sent: number;
  failed: number;
  expired: number;
  /**
   * Deliveries the job found cancelled (its notification was), less the cancelled ones FCM had already accepted
   * when the cancel came (now sent, no longer cancelled): may be negative.
   */
  cancelled: number;
  changed: Set<string>;
}

/**
 * Records a batch of outcomes in one UPDATE. Only rows still open for this attempt change, so a repeated job
 * cannot count twice. A delivery cancelled while its batch was with FCM, and that FCM accepted, was sent: a
 * second statement (only then) records it as sent and takes it off the cancelled count, so no delivery is
 * counted both cancelled and sent. Returns the counts and which rows changed. `since`: the notification's
 * created_at (the pruning hint of loadOpenDeliveries).
 */
export async function recordOutcomes(
  ex: Executor,
  attempt: number,
  outcomes: DeliveryOutcome[],
  since?: Date,
): Promise<RecordedOutcomes> {
  const recorded: RecordedOutcomes = { sent: 0, failed: 0, expired: 0, cancelled: 0, changed: new Set() };
  if (outcomes.length === 0) return recorded;
  // Keyed by id, read per row (`m -> id`): no join for the planner to get wrong (see bigintArray).
  const payload = JSON.stringify(
    Object.fromEntries(
      outcomes.map((o) => [
        o.id,
        {
          status: o.status,
          message_id: o.messageId ?? null,
          error_code: o.errorCode ?? null,
          error_message: o.errorMessage?.slice(0, 1000) ?? null,
          next_attempt_at: o.nextAttemptAt?.toISOString() ?? null,
        },
      ]),
    ),
  );
  const field = (name: string) => sql.raw(`(p.m -> dl.id::text ->> '${name}')`);
  const status = field('status');
  const rows = await query<{ id: string; status: string }>(
    ex,
    sql`update deliveries dl set
        status = case when ${status} = 'sent'
          then (case when dl.read_at is not null then 'read' when dl.delivered_at is not null then 'delivered' else 'sent' end)
          else ${status} end,
        attempts = ${attempt},
        fcm_message_id = coalesce(${field('message_id')}, dl.fcm_message_id),
        error_code = ${field('error_code')},
        error_message = ${field('error_message')},
        sent_at = case when ${status} = 'sent' then now() else dl.sent_at end,
        failed_at = case when ${status} in ('failed', 'dead') then now() else dl.failed_at end,
        next_attempt_at = ${field('next_attempt_at')}::timestamptz,
        updated_at = now()
      from (select ${payload}::jsonb as m) p
      where dl.id = any(${bigintArray(outcomes.map((o) => o.id))})
        and dl.status in ('pending', 'retrying') and dl.attempts < ${attempt} ${createdSince(since)}
      returning dl.id::text as id, ${status} as status`,
  );
  for (const r of rows) {
    recorded.changed.add(r.id);
    if (r.status === 'sent') recorded.sent++;
    else if (r.status === 'failed' || r.status === 'dead') recorded.failed++;
    else if (r.status === 'expired') recorded.expired++;
    else if (r.status === 'cancelled') recorded.cancelled++;
  }
  const sentButUnrecorded = outcomes.filter((o) => o.status === 'sent' && !recorded.changed.has(o.id));
  if (sentButUnrecorded.length > 0) {
    const reclaimed = await recordSentAfterCancel(ex, attempt, sentButUnrecorded);
    for (const id of reclaimed) recorded.changed.add(id);
    recorded.sent += reclaimed.length;
    recorded.cancelled -= reclaimed.length;
  }
  return recorded;
}

/** Cancelled deliveries FCM accepted anyway (their batch was in flight): sent, as they were. */
async function recordSentAfterCancel(
  ex: Executor,
  attempt: number,
  outcomes: DeliveryOutcome[],
): Promise<string[]> {
  const payload = JSON.stringify(outcomes.map((o) => ({ id: o.id, message_id: o.messageId ?? null })));
  const rows = await query<{ id: string }>(
    ex,
    sql`update deliveries dl set
        status = case when dl.read_at is not null then 'read' when dl.delivered_at is not null then 'delivered' else 'sent' end,
        attempts = ${attempt}, fcm_message_id = u.message_id,
        error_code = null, error_message = null, sent_at = now(), updated_at = now()
      from jsonb_to_recordset(${payload}::jsonb) as u(id bigint, message_id text)
      where dl.id = u.id and dl.id = any(${bigintArray(outcomes.map((o) => o.id))})
        and dl.status = 'cancelled' and dl.attempts < ${attempt}
      returning dl.id::text as id`,
  );
  return rows.map((r) => r.id);
}

/**
 * Cancels a notification's deliveries not sent yet (pending, waiting, retrying) in one statement; returns how
 * many. Rows a send job is recording at this moment are skipped, not waited for: waiting could deadlock with it
 * (it locks deliveries, then the notification), and whatever it leaves open, its next job finds the
 * notification cancelled. A delivery whose batch is with FCM may still come back sent (see recordOutcomes).
 */
export async function cancelOpenDeliveries(ex: Executor, notificationId: string): Promise<number> {
  const [row] = await query<{ count: number }>(
    ex,
    sql`with open as (
        select id from deliveries
        where notification_id = ${notificationId} and status in ('pending', 'waiting', 'retrying')
        for update skip locked
      ), cancelled as (
        update deliveries dl set status = 'cancelled', error_code = 'cancelled', error_message = null,
          next_attempt_at = null, updated_at = now()
        from open where dl.id = open.id
        returning 1
      ) select count(*)::int as count from cancelled`,
  );
  return row?.count ?? 0;
}

export interface StatusCount {
  status: DeliveryStatus;
  platform: Platform;
  count: number;
  /** The group's last release instant (its timed deliveries'), null when none waits for a time. */
  lastNotBefore: Date | null;
}

/** A notification's deliveries counted by status and platform, each group with its last release instant. */
export async function countDeliveries(
  ex: Executor,
  tenantId: string,
  notificationId: string,
): Promise<StatusCount[]> {
  const rows = await query<{
    status: DeliveryStatus;
    platform: Platform;
    count: number;
    last_not_before: Date | string | null;
  }>(
    ex,
    sql`select status, platform, count(*)::int as count, max(not_before) as last_not_before from deliveries
      where notification_id = ${notificationId} and api_client_id = ${tenantId}
      group by status, platform order by status, platform`,
  );
  return rows.map((r) => ({
    status: r.status,
    platform: r.platform,
    count: r.count,
    lastNotBefore: r.last_not_before === null ? null : new Date(r.last_not_before),
  }));
}

/** Given limit+1 rows keyed by a bigint id: the page, and the id of its last row as cursor when there is more. */
function idPage<T extends { id: string }>(
  rows: T[],
  limit: number,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? last.id : null };
}

export interface DeliveryView {
  id: string;
  device_id: string;
  platform: Platform;
  status: DeliveryStatus;
  attempts: number;
  fcm_message_id: string | null;
  error_code: string | null;
  error_message: string | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  read_at: Date | null;
  failed_at: Date | null;
  next_attempt_at: Date | null;
  not_before: Date | null;
}

export async function listDeliveries(
  ex: Executor,
  tenantId: string,
  notificationId: string,
  filter: { status?: DeliveryStatus | undefined },
  limit: number,
  afterId: string | undefined,
): Promise<{ items: DeliveryView[]; nextCursor: string | null }> {
  const rows = await query<DeliveryView>(
    ex,
    sql`select id::text as id, device_id, platform, status, attempts, fcm_message_id, error_code, error_message,
        sent_at, delivered_at, read_at, failed_at, next_attempt_at, not_before
      from deliveries
      where notification_id = ${notificationId} and api_client_id = ${tenantId}
        ${afterId === undefined ? sql`` : sql`and id > ${afterId}::bigint`}
        ${filter.status === undefined ? sql`` : sql`and status = ${filter.status}`}
      order by id limit ${limit + 1}`,
  );
  return idPage(rows, limit);
}

export interface DeviceDeliveryView extends DeliveryView {
  notification_id: string;
  created_at: Date;
}

/** A device's deliveries, newest first; the cursor is the last id of the previous page. */
export async function listDeviceDeliveries(
  ex: Executor,
  tenantId: string,
  deviceId: string,
  limit: number,
  beforeId: string | undefined,
): Promise<{ items: DeviceDeliveryView[]; nextCursor: string | null }> {
  const rows = await query<DeviceDeliveryView>(
    ex,
    sql`select id::text as id, notification_id, device_id, platform, status, attempts, fcm_message_id, error_code,
        error_message, sent_at, delivered_at, read_at, failed_at, next_attempt_at, not_before, created_at
      from deliveries
      where device_id = ${deviceId} and api_client_id = ${tenantId}
        ${beforeId === undefined ? sql`` : sql`and id < ${beforeId}::bigint`}
      order by id desc limit ${limit + 1}`,
  );
  return idPage(rows, limit);
}

export interface ReceiptResult {
  notificationId: string;
  tenantId: string;
  deviceId: string;
  status: DeliveryStatus;
  newlyDelivered: boolean;
  newlyRead: boolean;
}

/**
 * Applies a device receipt. Timestamps are set once and state only moves forward (a late "delivered" after
 * "read" changes nothing). A receipt that overtakes our own "sent" record (FCM is fast) still counts.
 * Returns undefined for an unknown delivery, and the current status (unchanged) for a failed one.
 */
export async function applyReceipt(
  ex: Executor,
  deliveryId: string,
  kind: 'delivered' | 'read',
): Promise<ReceiptResult | undefined> {
  const read = kind === 'read';
  const [row] = await query<{
    notification_id: string;
    api_client_id: string;
    device_id: string;
    status: DeliveryStatus;
    newly_delivered: boolean;
    newly_read: boolean;
  }>(
    ex,
    sql`with before as (
        select id, notification_id, api_client_id, device_id, status, delivered_at, read_at from deliveries
        where id = ${deliveryId}::bigint for update
      ), upd as (
        update deliveries dl set
          delivered_at = coalesce(dl.delivered_at, now()),
          read_at = case when ${read} then coalesce(dl.read_at, now()) else dl.read_at end,
          status = case when dl.status in ('sent', 'delivered', 'read')
            then (case when ${read} or dl.read_at is not null then 'read' else 'delivered' end)
            else dl.status end,
          updated_at = now()
        from before where dl.id = before.id and before.status not in ('failed', 'dead', 'skipped', 'expired')
        returning dl.status
      )
      select before.notification_id, before.api_client_id, before.device_id,
        coalesce((select status from upd), before.status) as status,
        (exists (select 1 from upd) and before.delivered_at is null) as newly_delivered,
        (exists (select 1 from upd) and ${read} and before.read_at is null) as newly_read
      from before`,
  );
  if (!row) return undefined;
  return {
    notificationId: row.notification_id,
    tenantId: row.api_client_id,
    deviceId: row.device_id,
    status: row.status,
    newlyDelivered: row.newly_delivered,
    newlyRead: row.newly_read,
  };
}
