/** Starts everything a worker process runs: the job consumers, the cron jobs, the scheduler and the webhooks. */
import type { ServiceDeps } from '../services/deps.ts';
import { startAnalyticsJob } from './analytics.job.ts';
import { startFanoutJob } from './fanout.job.ts';
import { startMaintenanceJobs } from './maintenance.job.ts';
import { startPurgeJob } from './purge.job.ts';
import { startReleasePoll } from './release.job.ts';
import { startScheduler } from './schedule.job.ts';
import { startSendJob } from './send.job.ts';
import { startWebhookWorkers } from './webhooks.job.ts';

export interface Workers {
  /**
   * Stops the loops of this process (webhook dispatch and delivery, the scheduler) and waits for their work in
   * hand; the queue's own workers stop with the queue.
   */
  stop(): Promise<void>;
}

export async function startWorkers(deps: ServiceDeps): Promise<Workers> {
  await startFanoutJob(deps);
  await startSendJob(deps);
  await startAnalyticsJob(deps);
  await startMaintenanceJobs(deps);
  await startPurgeJob(deps);
  const webhooks = await startWebhookWorkers(deps);
  const scheduler = startScheduler(deps);
  const release = startReleasePoll(deps);
  return {
    async stop() {
      await webhooks.stop();
      await scheduler.stop();
      await release.stop();
    },
  };
}
