/**
 * The release poll: every SCHEDULER_INTERVAL_MS, waiting deliveries (local time, end of quiet hours, throttle
 * slot) that are due by the injected clock become pending and get their send jobs. Any number may run (one per
 * worker process): a release skips rows another one holds.
 */
import { type PollLoop, startPollLoop } from '../lib/poll-loop.ts';
import type { ServiceDeps } from '../services/deps.ts';
import { RELEASE_LIMIT, releaseDue } from '../services/send-timing.ts';

/** Ticks until stop(), which waits for a round in progress to finish. */
export function startReleasePoll(deps: ServiceDeps): PollLoop {
  const { intervalMs } = deps.config.scheduler;
  const log = deps.logger.child({ component: 'release' });
  return startPollLoop(async () => {
    try {
      const released = await releaseDue(deps);
      if (released > 0) log.debug({ released }, 'waiting deliveries released');
      // A full round means more are due: go again at once rather than a tick later.
      return released >= RELEASE_LIMIT ? 0 : intervalMs;
    } catch (error) {
      log.error({ err: error }, 'release round failed');
      deps.errors.capture(error, { component: 'release' });
      return intervalMs;
    }
  });
}
