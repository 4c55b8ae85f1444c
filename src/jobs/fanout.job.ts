/**
 * The fan-out job: a notification's target → delivery rows → send jobs of at most one FCM batch each. It works
 * page by page, each page in one transaction with its send jobs and the saved cursor, so a fan-out killed
 * halfway resumes where it stopped and enqueues nothing twice.
 */
import type { Executor } from '../db/client.ts';
import { insertDeliveryPage, type SkippedDelivery } from '../db/deliveries.repository.ts';
import { type AppliedCap, capsForNotification, lockTenantCaps } from '../db/frequency-caps.repository.ts';
import {
  addOutcomeCounts,
  advanceFanout,
  findNotificationById,
  finishFanout,
  lockFanout,
  type NotificationRow,
} from '../db/notifications.repository.ts';
import { type FanoutJob, fanoutPayload, QUEUES, type SendJob } from '../queue/contract.ts';
import { deviceFilters, type StoredTarget, sourceOf } from '../services/audience.ts';
import { completedEvent, logCompleted, skippedEvents } from '../services/delivery.service.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { emitEvents } from '../services/events.ts';
import { pageTiming } from '../services/send-timing.ts';
import { runJob } from './job-runner.ts';

/** Rows per fan-out transaction: several send jobs' worth, to keep round trips few. */
const FANOUT_PAGE_BATCHES = 10;

/**
 * The frequency caps a page is decided by; undefined when none applies (a transactional send, or a tenant
 * without caps), so the page is the plain insert. With caps, the tenant's capped pages are serialized first
 * (see lockTenantCaps): the page then counts every delivery committed before it.
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

/** Creates the deliveries of a notification page by page (keyset over device ids) and their send jobs. */
export async function fanOut(deps: ServiceDeps, job: FanoutJob): Promise<void> {
  const batchSize = deps.config.send.batchSize;
  let pages = 0;
  let caps: AppliedCap[] | undefined;
  for (;;) {
    const done = await deps.db.transaction(async (tx) => {
      // The fan-out lock, not the row's: send jobs keep recording outcomes on the counters while a page is made.
      await lockFanout(tx, job.notificationId);
      const notification = await findNotificationById(tx, job.notificationId);
      if (!notification || notification.fanoutDone) return true;
      const target = notification.target as unknown as StoredTarget;
      caps ??= notification.bypassFrequencyCap
        ? []
        : await capsForNotification(tx, notification.apiClientId, notification);
      const params = {
        notificationId: notification.id,
        tenantId: notification.apiClientId,
        source: sourceOf(target),
        filters: deviceFilters(target.filters),
        after: notification.fanoutCursor,
        limit: batchSize * FANOUT_PAGE_BATCHES,
      };
      const now = deps.clock.now();
      const timing = await pageTiming(tx, notification, params, now);
      const page = await insertDeliveryPage(tx, {
        ...params,
        timing,
        now,
        caps: await capsOfPage(tx, notification, caps),
      });
      if (page.cursor !== null) {
        const jobs: SendJob[] = [];
        for (let i = 0; i < page.deliveryIds.length; i += batchSize) {
          jobs.push({
            notificationId: notification.id,
            deliveryIds: page.deliveryIds.slice(i, i + batchSize),
            attempt: 1,
            requestId: job.requestId,
          });
        }
        await deps.queue.enqueueMany(tx, QUEUES.send, jobs);
        // Last, so the notification's row is locked only for the commit.
        await advanceFanout(tx, notification.id, page.cursor, page.created);
        await recordSkipped(tx, notification, page.skipped, job.requestId);
        // A short page is the last: finishing here saves a transaction that would find nothing (most sends to a
        // person or a few devices are one page).
        if (!page.last) return false;
      }
      const deliveries = notification.totalCount + page.created;
      const finished = await finishFanout(tx, notification.id, deliveries === 0 ? 'no_active_devices' : null);
      if (finished) await emitEvents(tx, [completedEvent(finished, job.requestId)]);
      return { deliveries, finished, pages: page.cursor === null ? 0 : 1 };
    });
    if (done === false) {
      pages += 1;
      continue;
    }
    // After the commit: the log tells what happened, not what a rolled-back transaction meant to do.
    if (done !== true) {
      // `pages` counts this run's; a fan-out resumed after a crash did the earlier ones before.
      deps.logger.info({ deliveries: done.deliveries, pages: pages + done.pages }, 'fan-out done');
      if (done.finished) logCompleted(deps.logger, done.finished);
    }
    return;
  }
}

/** Deliveries a page withheld as it made them (quiet hours with "drop"): counted, and told as events. */
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

/** Consumes the fan-out queue: jobs are validated here, since a job can outlive the code that enqueued it. */
export async function startFanoutJob(deps: ServiceDeps): Promise<void> {
  await deps.queue.work(
    QUEUES.fanout,
    { concurrency: 2, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 1 },
    (job) => runJob(deps, QUEUES.fanout, job, (jobDeps) => fanOut(jobDeps, fanoutPayload.parse(job.data))),
  );
}
