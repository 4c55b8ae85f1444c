/**
 * The timing controls of a send resolved when it is accepted: local-time delivery, quiet hours and throttle,
 * with the tenant's defaults then in force (docs/delivery-controls.md). Null when none applies, so the fan-out
 * keeps its plain path.
 */
import type { Executor } from '../db/client.ts';
import {
  type PageParams,
  type PageTiming,
  pageTimingGroups,
  releaseWaiting,
  type TimingGroup,
} from '../db/deliveries.repository.ts';
import { findSendDefaults } from '../db/tenant-settings.repository.ts';
import type { QuietHoursWindow, SendTiming } from '../domain/timing.ts';
import { invalid } from '../lib/errors.ts';
import { QUEUES, type SendJob } from '../queue/contract.ts';
import { localDeliveryInstant, quietIntervals } from '../scheduling/local-time.ts';
import type { ServiceDeps } from './deps.ts';
import type { ContentInput, ControlInput } from './send-request.ts';

/** The zone whose clock is last to reach a wall time (UTC-12): a date past there is past everywhere. */
const LAST_ZONE = 'Etc/GMT+12';

/**
 * Whether a send respects quiet hours: as asked; otherwise not for priority "high" nor for silent
 * (data-only) sends, and yes for the rest.
 */
export function respectsQuietHours(body: ControlInput & ContentInput): boolean {
  if (body.respect_quiet_hours !== undefined) return body.respect_quiet_hours;
  return body.priority !== 'high' && body.silent !== true;
}

/**
 * Resolves a send's timing at `now`. A deliver_on whose time has passed in every zone is refused for a request
 * made now (nothing could be on time); a schedule's stored request re-read at an occurrence keeps it.
 */
export async function resolveTiming(
  ex: Executor,
  tenantId: string,
  body: ControlInput & ContentInput,
  now: Date,
  options: { stored: boolean },
): Promise<SendTiming | null> {
  const { deliver_at_local: at, deliver_on: on } = body;
  if (at !== undefined && on !== undefined && !options.stored) {
    if (localDeliveryInstant(at, on, LAST_ZONE, now.getTime()) < now.getTime()) {
      throw invalid('deliver_on and deliver_at_local have passed in every time zone', [
        { field: 'deliver_on', message: 'must not be in the past' },
      ]);
    }
  }
  const settings = await findSendDefaults(ex, tenantId);
  const timing: SendTiming = { start: now.toISOString(), defaultZone: settings.defaultTimeZone ?? 'UTC' };
  let applies = false;
  if (at !== undefined) {
    timing.localTime = { at, ...(on !== undefined ? { on } : {}) };
    applies = true;
  }
  const throttle = body.throttle_per_minute ?? settings.throttlePerMinute ?? undefined;
  if (throttle !== undefined) {
    timing.throttlePerMinute = throttle;
    applies = true;
  }
  if (respectsQuietHours(body)) {
    const window = settings.quietHours;
    if (window !== null || settings.anyProfileQuietHours) {
      timing.quietHours = { window, action: body.quiet_hours_action ?? 'hold' };
      applies = true;
    }
  }
  return applies ? timing : null;
}

const DAY_MS = 86_400_000;

/**
 * The timing of a notification's next fan-out page: its devices grouped by (zone, quiet hours), each group's
 * local-time instant and quiet-hours intervals computed here (DST rules in one place), the per-device rest
 * (throttle rank, which interval holds it) set-based in the insert. Undefined when the send has no timing.
 */
export async function pageTiming(
  ex: Executor,
  notification: { timing: Record<string, unknown> | null; totalCount: number },
  page: PageParams,
  now: Date,
): Promise<PageTiming | undefined> {
  if (notification.timing === null) return undefined;
  const timing = notification.timing as unknown as SendTiming;
  const keys = {
    defaultZone: timing.defaultZone,
    tenantQuietHours: timing.quietHours
      ? timing.quietHours.window === null
        ? null
        : JSON.stringify(timing.quietHours.window)
      : undefined,
  };
  const start = Date.parse(timing.start);
  const rate = timing.throttlePerMinute;
  // The last throttle slot this page can reach, so the quiet-hours intervals cover every instant of it.
  const lastSlot =
    rate === undefined ? start : start + ((notification.totalCount + page.limit) / rate) * 60_000;
  const groups: TimingGroup[] = [];
  for (const group of await pageTimingGroups(ex, page, keys)) {
    const local = timing.localTime
      ? localDeliveryInstant(timing.localTime.at, timing.localTime.on, group.zone, start)
      : null;
    const window = group.quiet === null ? null : (JSON.parse(group.quiet) as QuietHoursWindow);
    const latest = Math.max(lastSlot, local ?? start, now.getTime());
    const intervals = window ? quietIntervals(window, group.zone, start, latest + 2 * DAY_MS) : [];
    groups.push({
      zone: group.zone,
      quiet: group.quiet,
      local_at: local === null ? null : new Date(local).toISOString(),
      intervals: intervals.map(([a, b]) => [new Date(a).toISOString(), new Date(b).toISOString()]),
    });
  }
  return {
    ...keys,
    now,
    start: new Date(start),
    groups,
    quietAction: timing.quietHours?.action ?? 'hold',
    throttlePerMinute: rate,
    rankBase: notification.totalCount,
  };
}

/** Most waiting deliveries one release round moves to pending. */
export const RELEASE_LIMIT = 5000;

/**
 * The release poll's round: waiting deliveries due by the injected clock become pending, and their send jobs
 * are enqueued in the same transaction, one batch per notification, zone and minute (split at the FCM batch
 * size). Returns how many were released (a full round means more are due).
 */
export async function releaseDue(deps: ServiceDeps): Promise<number> {
  const now = deps.clock.now();
  const batchSize = deps.config.send.batchSize;
  return deps.db.transaction(async (tx) => {
    const released = await releaseWaiting(tx, now, RELEASE_LIMIT);
    const jobs: SendJob[] = [];
    for (const { notificationId, deliveryIds } of released) {
      for (let i = 0; i < deliveryIds.length; i += batchSize) {
        // `since`: SEND_MAX_AGE_SECONDS counts from the release, not from when the send was accepted.
        jobs.push({
          notificationId,
          deliveryIds: deliveryIds.slice(i, i + batchSize),
          attempt: 1,
          since: now.toISOString(),
        });
      }
    }
    if (jobs.length > 0) await deps.queue.enqueueMany(tx, QUEUES.send, jobs);
    return released.reduce((sum, b) => sum + b.deliveryIds.length, 0);
  });
}
