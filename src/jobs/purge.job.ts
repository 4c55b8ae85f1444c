/**
 * The purge job: pg-boss fires it once a day (one firing across all processes) and it hard-deletes the
 * profiles and devices deleted longer ago than SOFT_DELETE_RETENTION_DAYS, in bounded batches.
 */

import { QUEUES } from '../queue/contract.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { purgeSoftDeleted } from '../services/retention.service.ts';
import { runJob } from './job-runner.ts';

/** When the purge runs (UTC): once a day, at a quiet hour. */
export const PURGE_CRON = '17 3 * * *';

export async function startPurgeJob(deps: ServiceDeps): Promise<void> {
  await deps.queue.work(QUEUES.purge, { concurrency: 1, pollingIntervalSeconds: 10 }, (job) =>
    runJob(deps, QUEUES.purge, job, async (jobDeps) => {
      const started = Date.now();
      const purged = await purgeSoftDeleted(jobDeps, {
        retentionDays: jobDeps.config.softDeleteRetentionDays,
      });
      jobDeps.logger.info(
        { ...purged, ms: Date.now() - started },
        'purged soft-deleted profiles and devices',
      );
    }),
  );
  await deps.queue.schedule(QUEUES.purge, PURGE_CRON);
}
