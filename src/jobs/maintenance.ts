/**
 * The periodic maintenance jobs: pg-boss cron schedules (one firing across every worker process) for the
 * stale-device sweep and retention. The work itself is in services/maintenance.service.ts.
 */
import type { ServiceDeps } from '../services/deps.ts';
import { deactivateStaleDevices, runRetention } from '../services/maintenance.service.ts';
import { runJob } from './run-job.ts';

export const MAINTENANCE_QUEUES = {
  staleDevices: 'maintenance-stale-devices',
  retention: 'maintenance-retention',
} as const;

/** Hourly, at minutes that keep the two apart (UTC). */
const CRON = {
  [MAINTENANCE_QUEUES.staleDevices]: '23 * * * *',
  [MAINTENANCE_QUEUES.retention]: '41 * * * *',
} as const;

const TASKS: Record<string, (deps: ServiceDeps) => Promise<void>> = {
  [MAINTENANCE_QUEUES.staleDevices]: async (deps) => {
    const deactivated = await deactivateStaleDevices(deps);
    if (deactivated > 0) deps.logger.info({ deactivated }, 'stale devices deactivated');
  },
  [MAINTENANCE_QUEUES.retention]: async (deps) => {
    const started = Date.now();
    const deleted = await runRetention(deps);
    deps.logger.info({ deleted, ms: Date.now() - started }, 'retention run finished');
  },
};

export async function startMaintenance(deps: ServiceDeps): Promise<void> {
  const { boss } = deps.queue;
  for (const name of Object.values(MAINTENANCE_QUEUES)) {
    // exclusive: one queued-or-active run at a time, so a slow run never piles up behind itself.
    await boss.createQueue(name, {
      policy: 'exclusive',
      expireInSeconds: 3600,
      retryLimit: 2,
      retryDelay: 60,
    });
    await boss.work(name, { localConcurrency: 1, pollingIntervalSeconds: 30 }, async ([job]) => {
      if (!job) return;
      await runJob(deps, name, job, TASKS[name]!);
    });
    await boss.schedule(name, CRON[name], null, { tz: 'UTC' });
  }
}
