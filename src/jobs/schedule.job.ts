/**
 * The scheduler: every SCHEDULER_INTERVAL_MS, fires the schedules that are due. Any number may run (one per
 * worker process): claims skip rows another scheduler holds, and an occurrence has one notification at most.
 */
import type { ServiceDeps } from '../services/deps.ts';
import { runDueSchedules } from '../services/schedules.service.ts';

export interface Scheduler {
  /** Stops ticking and waits for a tick in progress to finish. */
  stop(): Promise<void>;
}

export function startScheduler(deps: ServiceDeps): Scheduler {
  const { intervalMs, batch } = deps.config.scheduler;
  const log = deps.logger.child({ component: 'scheduler' });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = async () => {
    let delay = intervalMs;
    try {
      const result = await runDueSchedules(deps, { batch });
      // A full batch means more are due: go again at once rather than a tick later.
      if (result.schedules === batch) delay = 0;
    } catch (error) {
      log.error({ err: error }, 'scheduler tick failed');
      deps.errors.capture(error, { component: 'scheduler' });
    }
    if (!stopped) timer = setTimeout(() => (running = tick()), delay).unref();
  };

  timer = setTimeout(() => (running = tick()), 0).unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
