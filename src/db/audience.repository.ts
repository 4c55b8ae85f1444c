/** SQL that resolves who a send reaches before it is accepted: bulk targets, topic names, reachable devices. */
import { sql } from 'drizzle-orm';
import { type Executor, query } from './client.ts';
import { type DeviceFilters, filterConditions } from './deliveries.repository.ts';

export interface ProfileKeyRow {
  id: string;
  phone_number: string | null;
  external_id: string | null;
  /** Active devices of the profile that match the send's filters. */
  reachable: number;
}

const list = (values: readonly string[]) => JSON.stringify(values);

/**
 * The tenant's live profiles having any of these phone numbers, external ids or ids, each with the number of
 * its devices the send would reach. One statement for the whole bulk request.
 */
export async function findProfilesForTargets(
  ex: Executor,
  tenantId: string,
  keys: { phoneNumbers: string[]; externalIds: string[]; ids: string[] },
  filters: DeviceFilters | undefined,
): Promise<ProfileKeyRow[]> {
  if (keys.phoneNumbers.length + keys.externalIds.length + keys.ids.length === 0) return [];
  return query<ProfileKeyRow>(
    ex,
    sql`select p.id, p.phone_number, p.external_id,
        (select count(*)::int from devices d where d.profile_id = p.id and d.api_client_id = ${tenantId}
          and d.is_active and d.deleted_at is null and ${filterConditions(filters)}) as reachable
      from profiles p
      where p.api_client_id = ${tenantId} and p.deleted_at is null and (
        p.phone_number in (select jsonb_array_elements_text(${list(keys.phoneNumbers)}::jsonb))
        or p.external_id in (select jsonb_array_elements_text(${list(keys.externalIds)}::jsonb))
        or p.id in (select value::uuid from jsonb_array_elements_text(${list(keys.ids)}::jsonb)))`,
  );
}

/** Which of these device ids are the tenant's, and whether the send would reach each (active, filters). */
export async function findDevicesForTargets(
  ex: Executor,
  tenantId: string,
  ids: string[],
  filters: DeviceFilters | undefined,
): Promise<{ id: string; reachable: boolean }[]> {
  if (ids.length === 0) return [];
  return query<{ id: string; reachable: boolean }>(
    ex,
    sql`select d.id, (d.is_active and ${filterConditions(filters)}) as reachable from devices d
      where d.api_client_id = ${tenantId} and d.deleted_at is null
        and d.id in (select value::uuid from jsonb_array_elements_text(${list(ids)}::jsonb))`,
  );
}

export async function findTopicId(ex: Executor, tenantId: string, name: string): Promise<string | undefined> {
  const [row] = await query<{ id: string }>(
    ex,
    sql`select id from topics where api_client_id = ${tenantId} and name = ${name}`,
  );
  return row?.id;
}

export interface RecipientRow {
  seq: number;
  profileId: string | null;
  deviceId: string | null;
  contents: Record<string, Record<string, unknown>> | null;
}

/** Stores a bulk send's resolved targets, in multi-row statements of at most 1,000 rows. */
export async function insertRecipients(
  ex: Executor,
  notificationId: string,
  rows: RecipientRow[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    const payload = JSON.stringify(
      rows.slice(i, i + 1000).map((r) => ({
        seq: r.seq,
        profile_id: r.profileId,
        device_id: r.deviceId,
        contents: r.contents,
      })),
    );
    await ex.execute(sql`insert into notification_recipients (notification_id, seq, profile_id, device_id, contents)
      select ${notificationId}, seq, profile_id, device_id, contents
      from jsonb_to_recordset(${payload}::jsonb) as r(seq int, profile_id uuid, device_id uuid, contents jsonb)`);
  }
}
