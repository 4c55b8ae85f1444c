/**
 * What a notification's stored target means to the fan-out: where its devices come from and which segment
 * filters narrow them. The target is stored as JSON on the notification, so it is read defensively (rows
 * written by older versions have no `kind`).
 */
import type { DeviceFilters, DeviceSource } from '../db/deliveries.repository.ts';
import { durationSeconds } from '../lib/durations.ts';
import { parseVersionRange } from '../lib/versions.ts';
import type { SegmentFilters } from './send-request.ts';

/** The target as stored on a notification: what the request named, resolved to ids. */
export type StoredTarget =
  | {
      kind: 'profile';
      profile_id: string;
      phone_number?: string;
      external_id?: string;
      filters?: SegmentFilters;
    }
  | { kind: 'devices'; device_ids: string[]; filters?: SegmentFilters }
  | { kind: 'topic'; topic: string; topic_id: string; filters?: SegmentFilters }
  | { kind: 'all'; filters?: SegmentFilters }
  | { kind: 'bulk'; targets: number; filters?: SegmentFilters };

type LegacyTarget = { kind?: undefined; profile_id?: string; device_ids?: string[] };

export function sourceOf(target: StoredTarget | LegacyTarget): DeviceSource {
  switch (target.kind) {
    case 'profile':
      return { kind: 'profile', profileId: target.profile_id };
    case 'devices':
      return { kind: 'devices', deviceIds: target.device_ids };
    case 'topic':
      return { kind: 'topic', topicId: target.topic_id };
    case 'all':
      return { kind: 'all' };
    case 'bulk':
      return { kind: 'bulk' };
    default:
      if (target.device_ids) return { kind: 'devices', deviceIds: target.device_ids };
      if (target.profile_id) return { kind: 'profile', profileId: target.profile_id };
      throw new Error('notification target names no devices');
  }
}

/** The API's segment filters in storage terms (already validated by the request schema). */
export function deviceFilters(filters: SegmentFilters | undefined): DeviceFilters | undefined {
  if (!filters) return undefined;
  const window = filters.last_seen_within;
  return {
    platforms: filters.platforms,
    versions: filters.app_version === undefined ? undefined : parseVersionRange(filters.app_version),
    lastSeenWithinSeconds: window === undefined ? undefined : durationSeconds(window),
    tagsAny: filters.tags_any,
    tagsAll: filters.tags_all,
    timezones: filters.timezones,
    locales: filters.locales,
  };
}
