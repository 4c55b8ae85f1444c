/**
 * Fan-out pages: a notification's target → delivery rows → send jobs of at most one FCM batch each. The fan-out
 * job (src/jobs/fanout.job.ts) makes a notification's pages one transaction each, resuming from the saved cursor.
 * A send to a person or to a few named devices makes its first page in the transaction that accepts it instead
 * (notify.service.ts): most such sends are one short page, and the fan-out job's own round trips (fetching and
 * completing the job, the lock, reading the notification back) cost more than the page itself.
 */
import type { Executor } from '../db/client.ts';
import { insertDeliveryPage, type SkippedDelivery } from '../db/deliveries.repository.ts';
import { type AppliedCap, capsForNotification, lockTenantCaps } from '../db/frequency-caps.repository.ts';
import {
  addOutcomeCounts,
  advanceFanout,
  finishFanout,
  type NotificationRow,
} from '../db/notifications.repository.ts';
import { QUEUES, type SendJob } from '../queue/contract.ts';
import { deviceFilters, type StoredTarget, sourceOf } from './audience.ts';
import { completedEvent, skippedEvents } from './delivery.service.ts';
import type { ServiceDeps } from './deps.ts';
import { emitEvents } from './events.ts';
import { pageTiming } from './send-timing.ts';

/** Rows per fan-out page in the fan-out job: several send jobs' worth, to keep round trips few. */
export const FANOUT_PAGE_BATCHES = 10;

/** What one page did. */
export interface FanoutPageResult {
  /** The fan-out is over: this page was its last (or the notification has no devices at all). */
  done: boolean;
  /** Deliveries the notification has so far, this page's included. */
  deliveries: number;
  /** The notification, when this page finished it (no device at all, or every delivery skipped). */
  finished: NotificationRow | undefined;
  /** Whether this page made deliveries (1) or found the source exhausted (0). */
  pages: 0 | 1;
}

/**
 * The frequency caps a fan-out is decided by, read once for all its pages: none for a transactional send
 * (bypass_frequency_cap) or a tenant without caps, so its pages are the plain insert.
 */
export interface FanoutCaps {
  caps?: AppliedCap[];
}

/**
 * Makes one page of a notification's deliveries, from its saved cursor, in the caller's transaction: the
 * deliveries, their send jobs, the cursor and counters, the skipped ones' events; and, on the last page, the
 * end of the fan-out. The caller serializes pages of one notification (the fan-out lock, or a notification not
 * yet committed).
 */
export async function makeFanoutPage(
  deps: ServiceDeps,
  tx: Executor,
  notification: NotificationRow,
  requestId: string | undefined,
  page: {
    limit: number;
    caps: FanoutCaps;
    /** The notification was inserted by this transaction (a send fanned out as it is accepted). */
    uncommitted?: boolean;
  },
): Promise<FanoutPageResult> {
  const batchSize = deps.config.send.batchSize;
  const target = notification.target as unknown as StoredTarget;
  page.caps.caps ??= notification.bypassFrequencyCap
    ? []
    : await capsForNotification(tx, notification.apiClientId, notification);
  const params = {
    notificationId: notification.id,
    tenantId: notification.apiClientId,
    source: sourceOf(target),
    filters: deviceFilters(target.filters),
    after: notification.fanoutCursor,
    limit: page.limit,
  };
  const now = deps.clock.now();
  const timing = await pageTiming(tx, notification, params, now);
  const made = await insertDeliveryPage(tx, {
    ...params,
    timing,
    now,
    caps: await capsOfPage(tx, notification, page.caps.caps),
  });
  const deliveries = notification.totalCount + made.created;
  if (made.cursor !== null) {
    const jobs: SendJob[] = [];
    for (let i = 0; i < made.deliveryIds.length; i += batchSize) {
      jobs.push({
        notificationId: notification.id,
        deliveryIds: made.deliveryIds.slice(i, i + batchSize),
        attempt: 1,
        requestId,
      });
    }
    await deps.queue.enqueueMany(tx, QUEUES.send, jobs);
    // A short page is the last: no page after it would find a device, so the fan-out ends with it.
    if (!made.last) {
      // Last, so the notification's row is locked only for the commit.
      await advanceFanout(tx, notification.id, made.cursor, made.created);
      await recordSkipped(tx, notification, made.skipped, requestId);
      return { done: false, deliveries, finished: undefined, pages: 1 };
    }
  }
  const finished = await finishFanout(
    tx,
    notification.id,
    deliveries === 0 ? 'no_active_devices' : null,
    made.cursor === null
      ? undefined
      : { cursor: made.cursor, added: made.created, skipped: made.skipped.length },
    page.uncommitted,
  );
  const events = made.cursor === null ? [] : skippedEvents(notification, made.skipped, requestId);
  if (finished) events.push(completedEvent(finished, requestId));
  await emitEvents(tx, events);
  return { done: true, deliveries, finished, pages: made.cursor === null ? 0 : 1 };
}

/**
 * The caps a page is decided by; undefined when none applies, so the page is the plain insert. With caps, the
 * tenant's capped pages are serialized first (see lockTenantCaps): the page then counts every delivery
 * committed before it.
 */
async function capsOfPage(
  tx: Executor,
  notification: NotificationRow,
  caps: AppliedCap[],
): Promise<AppliedCap[] | undefined> {
  if (caps.length === 0) return undefined;
  await lockTenantCaps(tx, notification.apiClientId);
  return caps;
}

/** Deliveries a page withheld as it made them (quiet hours with "drop", a cap): counted, and told as events. */
async function recordSkipped(
  tx: Executor,
  notification: NotificationRow,
  skipped: SkippedDelivery[],
  requestId: string | undefined,
): Promise<void> {
  if (skipped.length === 0) return;
  await addOutcomeCounts(tx, notification.id, { sent: 0, failed: 0, skipped: skipped.length });
  await emitEvents(tx, skippedEvents(notification, skipped, requestId));
}
