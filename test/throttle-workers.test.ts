/**
 * Throttling shared by two worker runtimes on one PostgreSQL database (each with its own pool, queue workers
 * and release poll, as two worker processes have): 20,000 devices at 4,000 per minute, the clock moved one
 * minute at a time, and every minute's count at the emulator within ±10% of the rate. The database is the one
 * schedule both read; neither runtime's memory is.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { type Runtime, startRuntime } from '../src/runtime.ts';
import {
  ManualClock,
  seedDevices,
  startTestServer,
  storageMode,
  type Tenant,
  type TestServer,
  waitFor,
  waitForNotification,
} from './helpers.ts';

const MINUTE = 60_000;
const DEVICES = 20_000;
const RATE = 4_000;

/** A debug logger that counts the lines with each message, to tell which runtime did the work. */
function countingLogger() {
  const counts = new Map<string, number>();
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) {
        if (!line) continue;
        const msg = (JSON.parse(line) as { msg?: string }).msg ?? '';
        counts.set(msg, (counts.get(msg) ?? 0) + 1);
      }
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), counts };
}

const onPostgres = storageMode() === 'postgres';

describe.skipIf(!onPostgres)('throttle with two worker runtimes', () => {
  let server: TestServer;
  let second: Runtime;
  let tenant: Tenant;
  const clock = new ManualClock('2026-03-11T10:00:00Z');
  const first = countingLogger();
  const other = countingLogger();

  beforeAll(async () => {
    server = await startTestServer(
      { RATE_LIMIT_ENABLED: 'false', SCHEDULER_INTERVAL_MS: '200', SEND_BATCH_SIZE: '500' },
      { clock, logger: first.logger },
    );
    const { config } = server.runtime.deps;
    second = await startRuntime({
      config,
      logger: other.logger,
      roles: { api: false, worker: true },
      database: await openDatabase({ url: server.databaseUrl!, poolSize: 10, migrate: false }),
      emulator: server.emulator,
      clock,
    });
    tenant = await server.tenant('throttle-workers');
  }, 120_000);
  afterAll(async () => {
    await second?.close();
    await server?.close();
  });

  it('keeps every minute within ±10% of throttle_per_minute, with both runtimes sending', async () => {
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
      clock.set(new Date(start + minute * MINUTE));
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
    // Both runtimes released and sent part of it.
    for (const { counts } of [first, other]) {
      expect(counts.get('waiting deliveries released') ?? 0).toBeGreaterThan(0);
      expect(counts.get('send batch recorded') ?? 0).toBeGreaterThan(0);
    }
  }, 600_000);
});
