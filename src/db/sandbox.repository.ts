/**
 * SQL for the sandbox inbox: which of the messages the in-process emulator received belong to a tenant. The
 * emulator knows device tokens only; a token is the tenant's when the blind index of one of the tenant's live
 * devices matches, and a message carrying a delivery id must also be that tenant's delivery to that device
 * (two tenants may register the same token: each sees only the messages it sent).
 */
import { type SQL, sql } from 'drizzle-orm';
import type { Platform } from '../domain/platform.ts';
import { type Executor, query } from './client.ts';

/** One message to attribute: its position, a blind index of its token, and its delivery id when it has one. */
export interface SandboxCandidate {
  seq: number;
  tokenHash: string;
  /** The fcms_delivery_id receipt key, when it is a delivery id at all (digits). */
  deliveryId: string | null;
}

export interface SandboxMatch {
  seq: number;
  deviceId: string;
  platform: Platform;
  notificationId: string | null;
}

export interface SandboxFilter {
  deviceId?: string | undefined;
  notificationId?: string | undefined;
}

/** The candidates that are the tenant's (and pass the filter), in one statement. */
export async function matchSandboxMessages(
  ex: Executor,
  tenantId: string,
  candidates: SandboxCandidate[],
  filter: SandboxFilter,
): Promise<SandboxMatch[]> {
  if (candidates.length === 0) return [];
  const payload = JSON.stringify(
    candidates.map((c) => ({ seq: c.seq, token_hash: c.tokenHash, delivery_id: c.deliveryId })),
  );
  const conditions: SQL[] = [sql`(m.delivery_id is null or dl.id is not null)`];
  if (filter.deviceId !== undefined) conditions.push(sql`d.id = ${filter.deviceId}`);
  if (filter.notificationId !== undefined)
    conditions.push(sql`dl.notification_id = ${filter.notificationId}`);
  const rows = await query<{
    seq: string;
    device_id: string;
    platform: Platform;
    notification_id: string | null;
  }>(
    ex,
    sql`select distinct on (m.seq) m.seq::text as seq, d.id as device_id, d.platform, dl.notification_id
      from jsonb_to_recordset(${payload}::jsonb) as m(seq bigint, token_hash text, delivery_id bigint)
      join devices d
        on d.api_client_id = ${tenantId} and d.deleted_at is null and d.token_hash = m.token_hash
      left join deliveries dl
        on dl.id = m.delivery_id and dl.api_client_id = ${tenantId} and dl.device_id = d.id
      where ${sql.join(conditions, sql` and `)}
      order by m.seq desc`,
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    deviceId: r.device_id,
    platform: r.platform,
    notificationId: r.notification_id,
  }));
}
