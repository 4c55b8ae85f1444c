/** SQL for deliveries (one per notification × device): the fan-out insert, the send batch, outcomes and receipts. */
import { type SQL, sql } from 'drizzle-orm';
import type { Platform } from '../domain/platform.ts';
import type { VersionConstraint } from '../lib/versions.ts';
import { type Executor, query } from './client.ts';
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
  /** Ids of the deliveries created (as strings: they are bigints). */
  deliveryIds: string[];
}

/**
 * Creates the deliveries for the next page of the source in one statement (keyset pagination, never one giant
 * query), keeping the devices that are active and match the filters, and returns their ids for the send jobs.
 * A device reached twice (two bulk targets, say) gets one delivery: the first recipient's. A delivery's
 * created_at is its notification's: deliveries are partitioned by it, so a notification's deliveries share one
 * partition and the unique (notification_id, device_id, created_at) still means one delivery per device.
 */
export async function insertDeliveryPage(
  ex: Executor,
  params: {
    notificationId: string;
    tenantId: string;
    source: DeviceSource;
    filters?: DeviceFilters | undefined;
    after: string | null;
    limit: number;
  },
): Promise<FanoutPage> {
  const { notificationId, tenantId } = params;
  const [row] = await query<{ cursor: string | null; ids: unknown }>(
    ex,
    sql`with src as (${sourcePage(params.source, tenantId, notificationId, params.after, params.limit)}),
      page as (
        select distinct on (d.id) d.id, d.platform, src.seq from src join devices d on d.id = src.device_id
        where d.api_client_id = ${tenantId} and d.is_active and d.deleted_at is null
          and ${filterConditions(params.filters)}
        order by d.id, src.seq
      ), ins as (
        insert into deliveries (notification_id, api_client_id, device_id, platform, recipient_seq, created_at)
        select ${notificationId}, ${tenantId}, id, platform, seq,
          (select created_at from notifications where id = ${notificationId}) from page
        on conflict (notification_id, device_id, created_at) do nothing
        returning id
      )
      select (select key::text from src order by key desc limit 1) as cursor,
             (select json_agg(id::text) from ins) as ids`,
  );
  return { cursor: row?.cursor ?? null, deliveryIds: jsonArray<string>(row?.ids) };
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
 * A pruning hint for lookups of deliveries by id: a delivery is never created before its notification (and
 * since migration 0007 carries its created_at), so `created_at >= the notification's` keeps the planner off
 * every older weekly partition instead of probing each partition's primary key.
 */
const createdSince = (since: Date | undefined) =>
  since === undefined ? sql`` : sql`and dl.created_at >= ${since.toISOString()}`;

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
      where dl.id in (select value::bigint from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))
        and dl.status in ('pending', 'retrying') and dl.attempts < ${attempt} ${createdSince(since)}
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
  const payload = JSON.stringify(
    outcomes.map((o) => ({
      id: o.id,
      status: o.status,
      message_id: o.messageId ?? null,
      error_code: o.errorCode ?? null,
      error_message: o.errorMessage?.slice(0, 1000) ?? null,
      next_attempt_at: o.nextAttemptAt?.toISOString() ?? null,
    })),
  );
  const rows = await query<{ id: string; status: string }>(
    ex,
    sql`update deliveries dl set
        status = case when u.status = 'sent'
          then (case when dl.read_at is not null then 'read' when dl.delivered_at is not null then 'delivered' else 'sent' end)
          else u.status end,
        attempts = ${attempt},
        fcm_message_id = coalesce(u.message_id, dl.fcm_message_id),
        error_code = u.error_code,
        error_message = u.error_message,
        sent_at = case when u.status = 'sent' then now() else dl.sent_at end,
        failed_at = case when u.status in ('failed', 'dead') then now() else dl.failed_at end,
        next_attempt_at = u.next_attempt_at,
        updated_at = now()
      from jsonb_to_recordset(${payload}::jsonb)
        as u(id bigint, status text, message_id text, error_code text, error_message text, next_attempt_at timestamptz)
      where dl.id = u.id and dl.status in ('pending', 'retrying') and dl.attempts < ${attempt} ${createdSince(since)}
      returning dl.id::text as id, u.status`,
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
      where dl.id = u.id and dl.status = 'cancelled' and dl.attempts < ${attempt}
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
}

export async function countDeliveries(
  ex: Executor,
  tenantId: string,
  notificationId: string,
): Promise<StatusCount[]> {
  return query<StatusCount>(
    ex,
    sql`select status, platform, count(*)::int as count from deliveries
      where notification_id = ${notificationId} and api_client_id = ${tenantId}
      group by status, platform order by status, platform`,
  );
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
        sent_at, delivered_at, read_at, failed_at, next_attempt_at
      from deliveries
      where notification_id = ${notificationId} and api_client_id = ${tenantId}
        ${afterId === undefined ? sql`` : sql`and id > ${afterId}::bigint`}
        ${filter.status === undefined ? sql`` : sql`and status = ${filter.status}`}
      order by id limit ${limit + 1}`,
  );
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? last.id : null };
}

export interface ReceiptResult {
  notificationId: string;
  tenantId: string;
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
    status: DeliveryStatus;
    newly_delivered: boolean;
    newly_read: boolean;
  }>(
    ex,
    sql`with before as (
        select id, notification_id, api_client_id, status, delivered_at, read_at from deliveries
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
      select before.notification_id, before.api_client_id,
        coalesce((select status from upd), before.status) as status,
        (exists (select 1 from upd) and before.delivered_at is null) as newly_delivered,
        (exists (select 1 from upd) and ${read} and before.read_at is null) as newly_read
      from before`,
  );
  if (!row) return undefined;
  return {
    notificationId: row.notification_id,
    tenantId: row.api_client_id,
    status: row.status,
    newlyDelivered: row.newly_delivered,
    newlyRead: row.newly_read,
  };
}
