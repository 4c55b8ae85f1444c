/** SQL for topics (named groups of devices) and their subscriptions. Every statement is scoped to the tenant. */

import { and, asc, eq, inArray, isNull, type SQL, sql } from 'drizzle-orm';
import type { Platform } from '../domain/platform.ts';
import { countChanged, type Executor, isUniqueViolation, query } from './client.ts';
import { afterCursor, type Page, toPage } from './pagination.ts';
import { devices, topicSubscriptions, topics } from './schema.ts';

export type TopicRow = typeof topics.$inferSelect;

const ofTenant = (tenantId: string, id: string) => and(eq(topics.apiClientId, tenantId), eq(topics.id, id));

/** A list of ids as one bound jsonb parameter, expanded by jsonb_array_elements_text (any length, one statement). */
const idArray = (ids: string[]) => sql`${JSON.stringify(ids)}::jsonb`;

/** Inserts a topic; undefined when the tenant already has a topic with that name. */
export async function insertTopic(
  ex: Executor,
  row: typeof topics.$inferInsert,
): Promise<TopicRow | undefined> {
  const [created] = await ex
    .insert(topics)
    .values(row)
    .onConflictDoNothing({ target: [topics.apiClientId, topics.name] })
    .returning();
  return created;
}

export async function findTopic(ex: Executor, tenantId: string, id: string): Promise<TopicRow | undefined> {
  const [row] = await ex.select().from(topics).where(ofTenant(tenantId, id));
  return row;
}

/** Locks the topic against deletion until the transaction ends; false when the tenant has no such topic. */
export async function lockTopic(ex: Executor, tenantId: string, id: string): Promise<boolean> {
  const rows = await ex.select({ id: topics.id }).from(topics).where(ofTenant(tenantId, id)).for('key share');
  return rows.length > 0;
}

export interface TopicFilter {
  namePrefix?: string | undefined;
}

export async function listTopics(
  ex: Executor,
  tenantId: string,
  filter: TopicFilter,
  limit: number,
  cursor: string | undefined,
): Promise<Page<TopicRow>> {
  const conditions: (SQL | undefined)[] = [
    eq(topics.apiClientId, tenantId),
    afterCursor(topics.id, cursor, false),
  ];
  if (filter.namePrefix) conditions.push(sql`starts_with(${topics.name}, ${filter.namePrefix})`);
  const rows = await ex
    .select()
    .from(topics)
    .where(and(...conditions))
    .orderBy(asc(topics.id))
    .limit(limit + 1);
  return toPage(rows, limit);
}

/** A subscription of the tenant whose device (joined as `devices`) is active and not deleted. */
const liveSubscription = (tenantId: string) =>
  and(
    eq(topicSubscriptions.apiClientId, tenantId),
    eq(devices.apiClientId, tenantId),
    eq(devices.isActive, true),
    isNull(devices.deletedAt),
  );

/** Active, not-deleted subscribed devices per topic, in one grouped query; topics without any are absent. */
export async function countSubscribers(
  ex: Executor,
  tenantId: string,
  topicIds: string[],
): Promise<Map<string, number>> {
  if (topicIds.length === 0) return new Map();
  const rows = await ex
    .select({ topicId: topicSubscriptions.topicId, count: sql<number>`count(*)::int` })
    .from(topicSubscriptions)
    .innerJoin(devices, eq(devices.id, topicSubscriptions.deviceId))
    .where(and(liveSubscription(tenantId), inArray(topicSubscriptions.topicId, topicIds)))
    .groupBy(topicSubscriptions.topicId);
  return new Map(rows.map((r) => [r.topicId, r.count]));
}

/** Replaces name and description: the row, 'not_found', or 'name_taken' when another topic has the name. */
export async function updateTopic(
  ex: Executor,
  tenantId: string,
  id: string,
  values: Pick<TopicRow, 'name' | 'description'>,
): Promise<TopicRow | 'not_found' | 'name_taken'> {
  try {
    const [row] = await ex
      .update(topics)
      .set({ ...values, updatedAt: new Date() })
      .where(ofTenant(tenantId, id))
      .returning();
    return row ?? 'not_found';
  } catch (error) {
    if (isUniqueViolation(error, 'topics_name_idx')) return 'name_taken';
    throw error;
  }
}

/** Deletes the topic (its subscriptions go with it, by cascade). */
export async function deleteTopic(ex: Executor, tenantId: string, id: string): Promise<boolean> {
  const rows = await ex.delete(topics).where(ofTenant(tenantId, id)).returning({ id: topics.id });
  return rows.length > 0;
}

/** The devices a request names, directly or through their profiles, sorted out in one statement. */
export interface ResolvedDevices {
  /** Distinct device ids to act on. */
  deviceIds: string[];
  /** Given device ids the tenant does not have (or that are deleted). */
  missingDeviceIds: string[];
  /** Given profile ids the tenant does not have (or that are deleted). */
  missingProfileIds: string[];
  /** Given device ids that exist but are deactivated (only when `activeOnly`: they are then not in deviceIds). */
  inactiveDeviceIds: string[];
}

type ResolvedKind = 'device' | 'missing_device' | 'missing_profile' | 'inactive_device';

/**
 * Resolves device ids and profile ids (expanded to the profile's not-deleted devices, only the active ones
 * when `activeOnly`) within the tenant. Ids of other tenants are reported missing, exactly like unknown ones.
 */
export async function resolveDevices(
  ex: Executor,
  tenantId: string,
  given: { deviceIds: string[]; profileIds: string[] },
  activeOnly: boolean,
): Promise<ResolvedDevices> {
  const usable = activeOnly ? sql`d.is_active` : sql`true`;
  const rows = await query<{ kind: ResolvedKind; id: string }>(
    ex,
    sql`with given_devices as (
        select distinct value::uuid as id from jsonb_array_elements_text(${idArray(given.deviceIds)})
      ), given_profiles as (
        select distinct value::uuid as id from jsonb_array_elements_text(${idArray(given.profileIds)})
      ), found_devices as (
        select d.id, d.is_active from devices d
        where d.api_client_id = ${tenantId} and d.deleted_at is null and d.id in (select id from given_devices)
      ), found_profiles as (
        select p.id from profiles p
        where p.api_client_id = ${tenantId} and p.deleted_at is null and p.id in (select id from given_profiles)
      )
      select 'device' as kind, d.id from found_devices d where ${usable}
      union
      select 'device', d.id from devices d
        where d.api_client_id = ${tenantId} and d.deleted_at is null and ${usable}
          and d.profile_id in (select id from found_profiles)
      union
      select 'inactive_device', d.id from found_devices d where not ${usable}
      union
      select 'missing_device', g.id from given_devices g where not exists (select 1 from found_devices f where f.id = g.id)
      union
      select 'missing_profile', g.id from given_profiles g where not exists (select 1 from found_profiles f where f.id = g.id)
      order by kind, id`,
  );
  const of = (kind: ResolvedKind) => rows.filter((r) => r.kind === kind).map((r) => r.id);
  return {
    deviceIds: of('device'),
    missingDeviceIds: of('missing_device'),
    missingProfileIds: of('missing_profile'),
    inactiveDeviceIds: of('inactive_device'),
  };
}

/** Subscribes devices (already resolved within the tenant) in one statement; returns how many were new. */
export async function insertSubscriptions(
  ex: Executor,
  tenantId: string,
  topicId: string,
  deviceIds: string[],
): Promise<number> {
  if (deviceIds.length === 0) return 0;
  return countChanged(
    ex,
    sql`insert into topic_subscriptions (topic_id, device_id, api_client_id)
      select ${topicId}::uuid, value::uuid, ${tenantId}::uuid from jsonb_array_elements_text(${idArray(deviceIds)})
      on conflict (topic_id, device_id) do nothing
      returning 1`,
  );
}

/** Removes the devices' subscriptions to the topic in one statement; returns how many there were. */
export async function deleteSubscriptions(
  ex: Executor,
  tenantId: string,
  topicId: string,
  deviceIds: string[],
): Promise<number> {
  if (deviceIds.length === 0) return 0;
  return countChanged(
    ex,
    sql`delete from topic_subscriptions
      where api_client_id = ${tenantId} and topic_id = ${topicId}
        and device_id in (select value::uuid from jsonb_array_elements_text(${idArray(deviceIds)}))
      returning 1`,
  );
}

export interface SubscriberRow {
  /** The device's id (also the page cursor). */
  id: string;
  profileId: string | null;
  platform: Platform;
  subscribedAt: Date;
}

/** The topic's active, not-deleted subscribed devices, keyset-paginated over device id. */
export async function listSubscribers(
  ex: Executor,
  tenantId: string,
  topicId: string,
  limit: number,
  cursor: string | undefined,
): Promise<Page<SubscriberRow>> {
  const rows = await ex
    .select({
      id: topicSubscriptions.deviceId,
      profileId: devices.profileId,
      platform: devices.platform,
      subscribedAt: topicSubscriptions.createdAt,
    })
    .from(topicSubscriptions)
    .innerJoin(devices, eq(devices.id, topicSubscriptions.deviceId))
    .where(
      and(
        liveSubscription(tenantId),
        eq(topicSubscriptions.topicId, topicId),
        afterCursor(topicSubscriptions.deviceId, cursor, false),
      ),
    )
    .orderBy(asc(topicSubscriptions.deviceId))
    .limit(limit + 1);
  return toPage(rows, limit);
}
