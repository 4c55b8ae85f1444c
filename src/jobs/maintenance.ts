/**
 * The periodic maintenance jobs: pg-boss cron schedules (one firing across every worker process) for the
 * stale-device sweep and retention. The work itself is in services/maintenance.service.ts.
 */
import type { ServiceDeps } from '../services/deps.ts';
import { deactivateStaleDevices, runRetention } from '../services/maintenance.service.ts';

export const MAINTENANCE_QUEUES = {
  staleDevices: 'maintenance-stale-devices',
  retention: 'maintenance-retention',
} as const;

/** Hourly, at minutes that keep the two apart. */
const CRON = {
  [MAINTENANCE_QUEUES.staleDevices]: '23 * * * *',
  [MAINTENANCE_QUEUES.retention]: '41 * * * *',
} as const;

export async function startMaintenance(deps: ServiceDeps): Promise<void> {
  const { boss } = deps.queue;
  const log = deps.logger.child({ component: 'maintenance' });
  for (const name of Object.values(MAINTENANCE_QUEUES)) {
    // exclusive: one queued-or-active run at a time, so a slow run never piles up behind itself.
    await boss.createQueue(name, {
      policy: 'exclusive',
      expireInSeconds: 3600,
      retryLimit: 2,
      retryDelay: 60,
    });
    await boss.schedule(name, CRON[name]);
  }
  await boss.work(MAINTENANCE_QUEUES.staleDevices, { pollingIntervalSeconds: 30 }, async () => {
    const deactivated = await deactivateStaleDevices(deps);
    if (deactivated > 0) log.info({ deactivated }, 'stale devices deactivated');
  });
  await boss.work(MAINTENANCE_QUEUES.retention, { pollingIntervalSeconds: 30 }, async () => {
    const deleted = await runRetention(deps);
    log.info({ deleted }, 'retention run finished');
  });
}
