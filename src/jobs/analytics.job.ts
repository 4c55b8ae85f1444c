/**
 * The analytics roll-up job: pg-boss fires it on ANALYTICS_CRON (one firing across all processes) and it
 * rewrites the stored daily rows of the last ANALYTICS_LOOKBACK_DAYS days for every tenant.
 */
import { rollUpRecentDays } from '../services/analytics.service.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { QUEUES } from './queue.ts';

export async function startAnalyticsJob(deps: ServiceDeps): Promise<void> {
  const { boss } = deps.queue;
  const log = deps.logger.child({ component: 'analytics' });
  await boss.work(QUEUES.analytics, { localConcurrency: 1, pollingIntervalSeconds: 10 }, async ([job]) => {
    if (!job) return;
    const started = Date.now();
    const result = await rollUpRecentDays(deps);
    log.info({ job_id: job.id, ...result, ms: Date.now() - started }, 'analytics rolled up');
  });
  await boss.schedule(QUEUES.analytics, deps.config.analytics.cron, null, { tz: 'UTC' });
}
