/**
 * Throttling shared by two worker processes on one PostgreSQL database: this test's server (API and workers) and
 * a second OS process running only the workers (test/worker-process.ts), each with its own pool, queue workers
 * and release poll. 20,000 devices at 4,000 per minute, the clock (the test's, set in both processes) moved one
 * minute at a time, and every minute's count at the emulator within ±10% of the rate. The database is the one
 * schedule both read; neither process's memory is.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countingLogger } from './counting-logger.ts';
import {
  ManualClock,
  seedDevices,
  startTestServer,
  storageMode,
  TEST_ENCRYPTION_KEY,
  type Tenant,
  type TestServer,
  waitFor,
  waitForNotification,
} from './helpers.ts';
import type { FromWorker, ToWorker } from './worker-process.ts';

const MINUTE = 60_000;
const DEVICES = 20_000;
const RATE = 4_000;

const onPostgres = storageMode() === 'postgres';

/** The second worker process: one request, one answer over IPC. */
class WorkerProcess {
  readonly child: ChildProcess;
  readonly #answers: FromWorker[] = [];
  #waiting: ((message: FromWorker) => void) | undefined;

  constructor(env: Record<string, string>) {
    const entry = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
    this.child = fork(entry, [], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: FromWorker) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting(message);
      else this.#answers.push(message);
    });
  }

  next(): Promise<FromWorker> {
    const queued = this.#answers.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  async call(message: ToWorker): Promise<FromWorker> {
    this.child.send(message);
    return this.next();
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

describe.skipIf(!onPostgres)('throttle with two worker processes', () => {
  let server: TestServer;
  let second: WorkerProcess;
  let tenant: Tenant;
  const clock = new ManualClock('2026-03-11T10:00:00Z');
  const first = countingLogger();
  const env = { RATE_LIMIT_ENABLED: 'false', SCHEDULER_INTERVAL_MS: '200', SEND_BATCH_SIZE: '500' };
  /** Moves the clock in both processes. */
  const setClock = async (at: Date) => {
    clock.set(at);
    expect(await second.call({ type: 'clock', at: at.toISOString() })).toEqual({ type: 'clock-set' });
  };

  beforeAll(async () => {
    server = await startTestServer(env, { clock, logger: first.logger });
    second = new WorkerProcess({
      ...env,
      NODE_ENV: 'test',
      DATABASE_URL: server.databaseUrl!,
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      FCM_EMULATOR: 'false',
      FCM_BASE_URL: server.emulator.url,
      VALIDATE_TOKENS_ON_REGISTER: 'false',
      TEST_CLOCK_START: clock.now().toISOString(),
    });
    expect(await second.next()).toEqual({ type: 'ready' });
    tenant = await server.tenant('throttle-workers');
  }, 120_000);
  afterAll(async () => {
    if (second) {
      await Promise.race([second.call({ type: 'close' }), new Promise((r) => setTimeout(r, 20_000))]);
      second.kill();
    }
    await server?.close();
  });

  it('keeps every minute within ±10% of throttle_per_minute, with both processes sending', async () => {
    await seedDevices(server, tenant, 'tw', DEVICES);
    const received = () => server.emulator.received({ projectId: tenant.account.project_id }).length;
    const start = clock.now().getTime();
    const response = await server.as(tenant, 'POST', '/api/v1/notify/', {
      all_devices: true,
      title: 'Spread over five minutes',
      throttle_per_minute: RATE,
    });
    expect(response.statusCode).toBe(202);
    const id = response.json().notification_id;
    const status = (url: string) => server.as(tenant, 'GET', url).then((r) => r.json());
    const statusUrl = `/api/v1/notifications/${id}/status/?limit=1`;
    await waitFor(
      async () => ((await status(statusUrl)).notification.counts.total === DEVICES ? true : undefined),
      120_000,
      'the fan-out',
    );
    expect((await status(statusUrl)).expected_completion_at).toBe(
      new Date(start + ((DEVICES - 1) / RATE) * MINUTE).toISOString(),
    );
    // Every minute: everything due by then has been sent before the clock moves on.
    let before = received();
    const perMinute: number[] = [];
    for (let minute = 1; minute <= DEVICES / RATE; minute++) {
      await setClock(new Date(start + minute * MINUTE));
      const due = Math.min(DEVICES, Math.floor(minute * RATE + 1));
      await waitFor(async () => (received() >= due ? true : undefined), 180_000, `minute ${minute}'s sends`);
      // Nothing beyond the schedule: a few more release rounds add nothing.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = received();
      perMinute.push(now - before);
      before = now;
    }
    for (const count of perMinute) {
      expect(count, `per minute: ${perMinute.join(', ')}`).toBeGreaterThanOrEqual(RATE * 0.9);
      expect(count, `per minute: ${perMinute.join(', ')}`).toBeLessThanOrEqual(RATE * 1.1);
    }
    const done = await waitForNotification(server, tenant, id);
    expect(done.counts).toMatchObject({ total: DEVICES, sent: DEVICES, failed: 0 });
    expect(received()).toBe(DEVICES);
    // Both processes released and sent part of it.
    const answer = await second.call({ type: 'counts' });
    const other = answer.type === 'counts' ? answer.counts : {};
    for (const counts of [first.counts, other]) {
      expect(counts['waiting deliveries released'] ?? 0).toBeGreaterThan(0);
      expect(counts['send batch recorded'] ?? 0).toBeGreaterThan(0);
    }
  }, 600_000);
});
