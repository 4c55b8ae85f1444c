/**
 * The analytics roll-up job: pg-boss fires it on ANALYTICS_CRON (one firing across all processes) and it
 * rewrites the stored daily rows of the last ANALYTICS_LOOKBACK_DAYS days for every tenant.
 */
import { rollUpRecentDays } from '../services/analytics.service.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { QUEUES } from './queue.ts';
import { runJob } from './run-job.ts';

export async function startAnalyticsJob(deps: ServiceDeps): Promise<void> {
  const { boss } = deps.queue;
  await boss.work(QUEUES.analytics, { localConcurrency: 1, pollingIntervalSeconds: 10 }, async ([job]) => {
    if (!job) return;
    await runJob(deps, QUEUES.analytics, job, async (jobDeps) => {
      const started = Date.now();
      const result = await rollUpRecentDays(jobDeps);
      jobDeps.logger.info({ ...result, ms: Date.now() - started }, 'analytics rolled up');
    });
  });
  await boss.schedule(QUEUES.analytics, deps.config.analytics.cron, null, { tz: 'UTC' });
}
