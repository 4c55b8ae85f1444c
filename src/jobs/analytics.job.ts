/**
 * The analytics roll-up job: pg-boss fires it on ANALYTICS_CRON (one firing across all processes) and it
 * rewrites the stored daily rows of the last ANALYTICS_LOOKBACK_DAYS days for every tenant.
 */

import { QUEUES } from '../queue/contract.ts';
import { rollUpRecentDays } from '../services/analytics.service.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { runJob } from './job-runner.ts';

export async function startAnalyticsJob(deps: ServiceDeps): Promise<void> {
  await deps.queue.work(QUEUES.analytics, { concurrency: 1, pollingIntervalSeconds: 10 }, (job) =>
    runJob(deps, QUEUES.analytics, job, async (jobDeps) => {
      const started = Date.now();
      const result = await rollUpRecentDays(jobDeps);
      jobDeps.logger.info({ ...result, ms: Date.now() - started }, 'analytics rolled up');
    }),
  );
  await deps.queue.schedule(QUEUES.analytics, deps.config.analytics.cron);
}
