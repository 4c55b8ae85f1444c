/**
 * The scheduler: every SCHEDULER_INTERVAL_MS, fires the schedules that are due. Any number may run (one per
 * worker process): claims skip rows another scheduler holds, and an occurrence has one notification at most.
 */
import { type PollLoop, startPollLoop } from '../lib/poll-loop.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { runDueSchedules } from '../services/schedules.service.ts';

/** Ticks until stop(), which waits for a tick in progress to finish. */
export function startScheduler(deps: ServiceDeps): PollLoop {
  const { intervalMs, batch } = deps.config.scheduler;
  const log = deps.logger.child({ component: 'scheduler' });
  return startPollLoop(async () => {
    try {
      const result = await runDueSchedules(deps, { batch });
      // A full batch means more are due: go again at once rather than a tick later.
      return result.schedules === batch ? 0 : intervalMs;
    } catch (error) {
      log.error({ err: error }, 'scheduler tick failed');
      deps.errors.capture(error, { component: 'scheduler' });
      return intervalMs;
    }
  });
}
