/** Topics: named groups of the tenant's devices (FCM topic-name alphabet) that devices and profiles subscribe to. */
import {
  countSubscribers,
  deleteSubscriptions,
  deleteTopic as deleteTopicRow,
  findTopic,
  insertSubscriptions,
  insertTopic,
  listSubscribers,
  listTopics,
  lockTopic,
  resolveDevices,
  type SubscriberRow,
  type TopicFilter,
  type TopicRow,
  updateTopic,
} from '../db/topics.repository.ts';
import type { Platform } from '../domain/platform.ts';
import { AppError, notFound } from '../lib/errors.ts';
import { uuidv7 } from '../lib/ids.ts';
import type { ServiceDeps } from './deps.ts';
import { type PageView, pageView } from './views.ts';

export interface TopicView {
  id: string;
  name: string;
  description: string | null;
  subscriber_count: number;
  created_at: string;
  updated_at: string;
}

function toView(row: TopicRow, subscriberCount: number): TopicView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    subscriber_count: subscriberCount,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export interface TopicInput {
  name: string;
  description?: string | null | undefined;
}

const topicExists = () =>
  new AppError('topic_exists', 409, 'a topic with this name already exists', [
    { field: 'name', message: 'already in use' },
  ]);

export async function createTopic(
  deps: ServiceDeps,
  tenantId: string,
  input: TopicInput,
): Promise<TopicView> {
  const row = await insertTopic(deps.db, {
    id: uuidv7(),
    apiClientId: tenantId,
    name: input.name,
    description: input.description ?? null,
  });
  if (!row) throw topicExists();
  return toView(row, 0);
}

export async function getTopic(deps: ServiceDeps, tenantId: string, id: string): Promise<TopicView> {
  const row = await findTopic(deps.db, tenantId, id);
  if (!row) throw notFound('topic');
  const counts = await countSubscribers(deps.db, tenantId, [id]);
  return toView(row, counts.get(id) ?? 0);
}

export async function listTopicPage(
  deps: ServiceDeps,
  tenantId: string,
  filter: TopicFilter,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<TopicView>> {
  const page = await listTopics(deps.db, tenantId, filter, limit, cursor);
  const counts = await countSubscribers(
    deps.db,
    tenantId,
    page.items.map((t) => t.id),
  );
  return pageView(page, (row) => toView(row, counts.get(row.id) ?? 0));
}

/** Replaces name and description (a description not given is cleared). */
export async function replaceTopic(
  deps: ServiceDeps,
  tenantId: string,
  id: string,
  input: TopicInput,
): Promise<TopicView> {
  const result = await updateTopic(deps.db, tenantId, id, {
    name: input.name,
    description: input.description ?? null,
  });
  if (result === 'not_found') throw notFound('topic');
  if (result === 'name_taken') throw topicExists();
  const counts = await countSubscribers(deps.db, tenantId, [id]);
  return toView(result, counts.get(id) ?? 0);
}

export async function deleteTopic(deps: ServiceDeps, tenantId: string, id: string): Promise<void> {
  if (!(await deleteTopicRow(deps.db, tenantId, id))) throw notFound('topic');
}

export interface MemberInput {
  device_ids?: string[] | undefined;
  profile_ids?: string[] | undefined;
}

export interface NotFoundIds {
  device_ids: string[];
  profile_ids: string[];
}

export interface SubscribeResult {
  subscribed: number;
  already_subscribed: number;
  not_found: NotFoundIds;
  inactive_device_ids: string[];
}

export interface UnsubscribeResult {
  unsubscribed: number;
  not_subscribed: number;
  not_found: NotFoundIds;
}

const given = (input: MemberInput) => ({
  deviceIds: input.device_ids ?? [],
  profileIds: input.profile_ids ?? [],
});

/**
 * Subscribes the given devices and the active devices of the given profiles. Unknown ids (or another
 * tenant's) are reported, not an error; deactivated devices are reported and not subscribed.
 */
export async function subscribe(
  deps: ServiceDeps,
  tenantId: string,
  topicId: string,
  input: MemberInput,
): Promise<SubscribeResult> {
  return deps.db.transaction(async (tx) => {
    if (!(await lockTopic(tx, tenantId, topicId))) throw notFound('topic');
    const resolved = await resolveDevices(tx, tenantId, given(input), true);
    const subscribed = await insertSubscriptions(tx, tenantId, topicId, resolved.deviceIds);
    return {
      subscribed,
      already_subscribed: resolved.deviceIds.length - subscribed,
      not_found: { device_ids: resolved.missingDeviceIds, profile_ids: resolved.missingProfileIds },
      inactive_device_ids: resolved.inactiveDeviceIds,
    };
  });
}

/**
 * Unsubscribes the given devices and all not-deleted devices of the given profiles, deactivated ones
 * included, so a device that comes back does not receive the topic again.
 */
export async function unsubscribe(
  deps: ServiceDeps,
  tenantId: string,
  topicId: string,
  input: MemberInput,
): Promise<UnsubscribeResult> {
  return deps.db.transaction(async (tx) => {
    if (!(await findTopic(tx, tenantId, topicId))) throw notFound('topic');
    const resolved = await resolveDevices(tx, tenantId, given(input), false);
    const unsubscribed = await deleteSubscriptions(tx, tenantId, topicId, resolved.deviceIds);
    return {
      unsubscribed,
      not_subscribed: resolved.deviceIds.length - unsubscribed,
      not_found: { device_ids: resolved.missingDeviceIds, profile_ids: resolved.missingProfileIds },
    };
  });
}

export interface SubscriberView {
  device_id: string;
  profile_id: string | null;
  platform: Platform;
  subscribed_at: string;
}

const toSubscriberView = (row: SubscriberRow): SubscriberView => ({
  device_id: row.id,
  profile_id: row.profileId,
  platform: row.platform,
  subscribed_at: row.subscribedAt.toISOString(),
});

/** The devices a send to the topic reaches: subscribed, active and not deleted. */
export async function listSubscriberPage(
  deps: ServiceDeps,
  tenantId: string,
  topicId: string,
  limit: number,
  cursor: string | undefined,
): Promise<PageView<SubscriberView>> {
  if (!(await findTopic(deps.db, tenantId, topicId))) throw notFound('topic');
  const page = await listSubscribers(deps.db, tenantId, topicId, limit, cursor);
  return pageView(page, toSubscriberView);
}
