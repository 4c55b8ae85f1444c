/** SQL for deliveries (one per notification × device): the fan-out insert, the send batch, outcomes and receipts. */
import { type SQL, sql } from 'drizzle-orm';
import type { Platform } from '../push/push-provider.ts';
import { type Executor, query } from './client.ts';
import type { DeliveryStatus } from './schema.ts';

/** Which devices a notification goes to. Always combined with the tenant and "active, not deleted". */
export type DeviceSelector = { profileId: string } | { deviceIds: string[] };

function selectorCondition(selector: DeviceSelector): SQL {
  if ('profileId' in selector) return sql`d.profile_id = ${selector.profileId}`;
  return sql`d.id in (select value::uuid from jsonb_array_elements_text(${JSON.stringify(selector.deviceIds)}::jsonb))`;
}

function jsonArray<T>(value: unknown): T[] {
  if (value === null || value === undefined) return [];
  return (typeof value === 'string' ? JSON.parse(value) : value) as T[];
}

export interface FanoutPage {
  /** Last device id of the page (the next keyset cursor), null when the page was empty. */
  lastDeviceId: string | null;
  /** Ids of the deliveries created (as strings: they are bigints). */
  deliveryIds: string[];
}

/**
 * Creates the deliveries for the next page of target devices in one statement (keyset pagination over device
 * ids, never one giant query), and returns their ids for the send jobs.
 */
export async function insertDeliveryPage(
  ex: Executor,
  params: {
    notificationId: string;
    tenantId: string;
    selector: DeviceSelector;
    afterDeviceId: string | null;
    limit: number;
  },
): Promise<FanoutPage> {
  const after = params.afterDeviceId === null ? sql`true` : sql`d.id > ${params.afterDeviceId}`;
  const [row] = await query<{ last_device_id: string | null; ids: unknown }>(
    ex,
    sql`with page as (
        select d.id, d.platform from devices d
        where d.api_client_id = ${params.tenantId} and d.is_active and d.deleted_at is null
          and ${selectorCondition(params.selector)} and ${after}
        order by d.id limit ${params.limit}
      ), ins as (
        insert into deliveries (notification_id, api_client_id, device_id, platform)
        select ${params.notificationId}, ${params.tenantId}, id, platform from page
        on conflict (notification_id, device_id) do nothing
        returning id
      )
      select (select id::text from page order by id desc limit 1) as last_device_id,
             (select json_agg(id::text) from ins) as ids`,
  );
  return { lastDeviceId: row?.last_device_id ?? null, deliveryIds: jsonArray<string>(row?.ids) };
}

export interface DeliveryToSend {
  id: string;
  deviceId: string;
  platform: Platform;
  attempts: number;
  tokenCiphertext: string;
  deviceActive: boolean;
}

/** The deliveries of a send job that are still open for this attempt (a job that runs twice finds none). */
export async function loadOpenDeliveries(
  ex: Executor,
  ids: string[],
  attempt: number,
): Promise<DeliveryToSend[]> {
  const rows = await query<{
    id: string;
    device_id: string;
    platform: Platform;
    attempts: number;
    token_ciphertext: string;
    is_active: boolean;
    deleted_at: Date | null;
  }>(
    ex,
    sql`select dl.id::text as id, dl.device_id, dl.platform, dl.attempts, dv.token_ciphertext, dv.is_active, dv.deleted_at
      from deliveries dl join devices dv on dv.id = dl.device_id
      where dl.id in (select value::bigint from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb))
        and dl.status in ('pending', 'retrying') and dl.attempts < ${attempt}
      order by dl.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    deviceId: r.device_id,
    platform: r.platform,
    attempts: r.attempts,
    tokenCiphertext: r.token_ciphertext,
    deviceActive: r.is_active && r.deleted_at === null,
  }));
}

export interface DeliveryOutcome {
  id: string;
  status: 'sent' | 'retrying' | 'failed' | 'dead';
  messageId?: string | undefined;
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  nextAttemptAt?: Date | undefined;
}

/**
 * Records a batch of outcomes in one UPDATE. Only rows still open for this attempt change, so a repeated job
 * cannot count twice. Returns how many became sent and how many failed for good.
 */
export async function recordOutcomes(
  ex: Executor,
  attempt: number,
  outcomes: DeliveryOutcome[],
): Promise<{ sent: number; failed: number }> {
  if (outcomes.length === 0) return { sent: 0, failed: 0 };
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
  const rows = await query<{ status: string }>(
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
      where dl.id = u.id and dl.status in ('pending', 'retrying') and dl.attempts < ${attempt}
      returning u.status`,
  );
  let sent = 0;
  let failed = 0;
  for (const r of rows) {
    if (r.status === 'sent') sent++;
    else if (r.status === 'failed' || r.status === 'dead') failed++;
  }
  return { sent, failed };
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
        from before where dl.id = before.id and before.status not in ('failed', 'dead')
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
