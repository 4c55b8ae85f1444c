/**
 * A worker process for tests that need a second OS process on the same PostgreSQL database
 * (test/throttle-workers.test.ts): the workers of `fcm-server worker`, wired by startRuntime from the environment
 * the parent forks it with, on a clock the parent sets over IPC (a test's manual clock, shared by both
 * processes). It counts its own log lines by message, so the parent can tell that this process did work.
 *
 * Messages from the parent: {type: 'clock', at} → {type: 'clock-set'}; {type: 'counts'} → {type: 'counts',
 * counts}; {type: 'close'} → {type: 'closed'}, then it exits. It says {type: 'ready'} once it runs.
 */
import { loadConfig } from '../src/config/index.ts';
import type { Clock } from '../src/lib/clock.ts';
import { startRuntime } from '../src/runtime.ts';
import { countingLogger } from './counting-logger.ts';

export type ToWorker = { type: 'clock'; at: string } | { type: 'counts' } | { type: 'close' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'clock-set' }
  | { type: 'counts'; counts: Record<string, number> }
  | { type: 'closed' };

let now = Date.parse(process.env.TEST_CLOCK_START ?? new Date().toISOString());
const clock: Clock = { now: () => new Date(now) };

const { logger, counts } = countingLogger();

const send = (message: FromWorker) => process.send?.(message);
const runtime = await startRuntime({
  config: loadConfig(process.env),
  logger,
  roles: { api: false, worker: true },
  clock,
});
process.on('message', (message: ToWorker) => {
  if (message.type === 'clock') {
    now = Date.parse(message.at);
    send({ type: 'clock-set' });
  } else if (message.type === 'counts') {
    send({ type: 'counts', counts: { ...counts } });
  } else {
    void runtime.close().then(() => {
      send({ type: 'closed' });
      process.exit(0);
    });
  }
});
// The parent going away must not leave a worker running.
process.on('disconnect', () => process.exit(1));
send({ type: 'ready' });
