/**
 * The fan-out job: a notification's target → delivery rows → send jobs of at most one FCM batch each. It works
 * page by page (src/services/fanout.service.ts), each page in one transaction with its send jobs and the saved
 * cursor, so a fan-out killed halfway resumes where it stopped and enqueues nothing twice.
 */
import { findNotificationById, lockFanout } from '../db/notifications.repository.ts';
import { type FanoutJob, fanoutPayload, QUEUES } from '../queue/contract.ts';
import { logCompleted } from '../services/delivery.service.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { FANOUT_PAGE_BATCHES, type FanoutCaps, makeFanoutPage } from '../services/fanout.service.ts';
import { runJob } from './job-runner.ts';

/** Creates the deliveries of a notification page by page (keyset over device ids) and their send jobs. */
export async function fanOut(deps: ServiceDeps, job: FanoutJob): Promise<void> {
  const limit = deps.config.send.batchSize * FANOUT_PAGE_BATCHES;
  const caps: FanoutCaps = {};
  let pages = 0;
  for (;;) {
    const page = await deps.db.transaction(async (tx) => {
      // The fan-out lock, not the row's: send jobs keep recording outcomes on the counters while a page is made.
      await lockFanout(tx, job.notificationId);
      const notification = await findNotificationById(tx, job.notificationId);
      if (!notification || notification.fanoutDone) return undefined;
      return makeFanoutPage(deps, tx, notification, job.requestId, { limit, caps });
    });
    if (page === undefined) return;
    pages += page.pages;
    if (!page.done) continue;
    // After the commit: the log tells what happened, not what a rolled-back transaction meant to do.
    // `pages` counts this run's; a fan-out resumed after a crash did the earlier ones before.
    deps.logger.info({ deliveries: page.deliveries, pages }, 'fan-out done');
    if (page.finished) logCompleted(deps.logger, page.finished);
    return;
  }
}

/** Consumes the fan-out queue: jobs are validated here, since a job can outlive the code that enqueued it. */
export async function startFanoutJob(deps: ServiceDeps): Promise<void> {
  await deps.queue.work(
    QUEUES.fanout,
    { concurrency: 2, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 1 },
    (job) => runJob(deps, QUEUES.fanout, job, (jobDeps) => fanOut(jobDeps, fanoutPayload.parse(job.data))),
  );
}
