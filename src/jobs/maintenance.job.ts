/**
 * The periodic maintenance jobs: cron schedules (one firing across every worker process) for the stale-device
 * sweep and retention (which first creates the weekly partitions ahead, then drops the expired ones). The work itself is in services/maintenance.service.ts.
 */
import { QUEUES } from '../queue/contract.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { backfillTokenSuffixes } from '../services/devices.service.ts';
import { deactivateStaleDevices, ensurePartitions, runRetention } from '../services/maintenance.service.ts';
import { runJob } from './job-runner.ts';

/** Hourly, at minutes that keep the two apart (UTC). */
const TASKS = [
  {
    queue: QUEUES.staleDevices,
    cron: '23 * * * *',
    run: async (deps: ServiceDeps) => {
      const deactivated = await deactivateStaleDevices(deps);
      if (deactivated > 0) deps.logger.info({ deactivated }, 'stale devices deactivated');
      await backfillSuffixes(deps);
    },
  },
  {
    queue: QUEUES.retention,
    cron: '41 * * * *',
    run: async (deps: ServiceDeps) => {
      const started = Date.now();
      const created = await ensurePartitions(deps);
      if (created.length > 0) deps.logger.info({ created }, 'weekly partitions created ahead');
      const deleted = await runRetention(deps);
      deps.logger.info({ deleted, ms: Date.now() - started }, 'retention run finished');
    },
  },
] as const;

/** Devices stored before token_suffix existed get it (the token must be decrypted: no SQL can). */
async function backfillSuffixes(deps: ServiceDeps): Promise<void> {
  const filled = await backfillTokenSuffixes(deps);
  if (filled > 0) deps.logger.info({ filled }, 'device token suffixes backfilled');
}

export async function startMaintenanceJobs(deps: ServiceDeps): Promise<void> {
  // Once at start, without holding the start up; the hourly sweep repeats it until none is left.
  backfillSuffixes(deps).catch((error: unknown) =>
    deps.logger.warn({ err: error }, 'token suffix backfill failed; the hourly sweep retries'),
  );
  for (const task of TASKS) {
    await deps.queue.work(task.queue, { concurrency: 1, pollingIntervalSeconds: 30 }, (job) =>
      runJob(deps, task.queue, job, task.run),
    );
    await deps.queue.schedule(task.queue, task.cron);
  }
}
