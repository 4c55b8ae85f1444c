/**
 * A background loop for work found by polling (due schedules, undispatched webhook events): run a round, wait
 * the delay the round asks for (0 when it left work behind), again, until stopped. stop() waits for the round in
 * progress, so a shutdown never cuts one in half. Timers are unref'd: a loop alone does not keep a process up.
 */

export interface PollLoop {
  stop(): Promise<void>;
}

/**
 * Starts `round` on the next tick. It answers how long to wait before the next one and handles its own errors
 * (a throw would end the loop); `stopped()` lets a round that drains in several steps end early.
 */
export function startPollLoop(round: (stopped: () => boolean) => Promise<number>): PollLoop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const isStopped = () => stopped;
  const run = async () => {
    const delay = await round(isStopped);
    if (!stopped) timer = setTimeout(() => (running = run()), delay).unref();
  };
  timer = setTimeout(() => (running = run()), 0).unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
