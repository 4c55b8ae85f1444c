/**
 * Crash safety (PostgreSQL): a 10,000-delivery send (3,000 with FAULT_SCALE=ci) while the worker process is
 * SIGKILLed at random moments, at least three times, and restarted. Nothing accepted may be lost; a batch in
 * flight at a kill may be sent again (at-least-once), so duplicates at the emulator are bounded by one batch
 * per kill, and reported.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../../src/db/client.ts';
import { startTestServer, storageMode, type Tenant, type TestServer } from '../helpers.ts';
import { scaled, seedDevices, sleep, spawnWorker, until, type WorkerProcess } from './fault-tools.ts';

const DEVICES = scaled(10_000, 3_000);
const KILLS = Number(process.env.FAULT_KILLS ?? scaled(4, 3));
/** Smaller batches at CI's size, so that a batch stranded by a kill leaves others to send while it waits. */
const BATCH = scaled(500, 200);
/**
 * Messages the worker sends between two kills: at least MIN, plus up to SPREAD more, chosen at random. The
 * counts include the re-sent batches, and a worker sends on while the test polls, so at CI's size they stay
 * small beside the send, or it could finish before the third kill.
 */
const KILL_MIN = scaled(300, 30);
const KILL_SPREAD = scaled(1500, 150);
/** FCM's answer time: longer at CI's size, so that a worker sends fewer batches between two polls. */
const LATENCY_MS = scaled(15, 50);

let server: TestServer;
let tenant: Tenant;
let worker: WorkerProcess | undefined;

describe.skipIf(storageMode() !== 'postgres')(
  `worker killed with SIGKILL during a ${DEVICES}-delivery send`,
  () => {
    beforeAll(async () => {
      // This process is the API (and supervises the queue); the workers are child processes. The API makes the
      // first batch of a send to a person as it accepts it: the same batch size as the workers'.
      server = await startTestServer({ SEND_BATCH_SIZE: String(BATCH) }, { worker: false });
      tenant = await server.tenant('crash');
      server.emulator.setFaults({ latencyMs: LATENCY_MS });
    });
    afterAll(async () => {
      worker?.child.kill('SIGKILL');
      await server?.close();
    });

    it('loses nothing; duplicates stay within one batch per kill', async () => {
      const profile = await server.app.inject({
        method: 'POST',
        url: '/api/v1/profiles/',
        headers: tenant.headers,
        payload: { external_id: 'crash-audience' },
      });
      const tokens = await seedDevices(server, tenant.clientId, profile.json().id, DEVICES);
      const accepted = await server.app.inject({
        method: 'POST',
        url: '/api/v1/notify/',
        headers: tenant.headers,
        payload: { profile_id: profile.json().id, title: 'crash test' },
      });
      expect(accepted.statusCode).toBe(202);
      const id = accepted.json().notification_id as string;
      const received = () => server.emulator.received({ projectId: tenant.account.project_id }).length;

      // One job in flight at a time, so "one in-flight batch per kill" is the bound.
      const env = { SEND_CONCURRENCY: '1', SEND_BATCH_SIZE: String(BATCH) };
      const kills: { at: number; receivedBefore: number }[] = [];
      const started = Date.now();
      for (let k = 0; k < KILLS; k++) {
        worker = spawnWorker(server, env);
        const target = received() + KILL_MIN + Math.floor(Math.random() * KILL_SPREAD);
        await until(() => received() >= target || received() >= DEVICES, 120_000, `worker ${k} to send`);
        if (received() >= DEVICES) break;
        await sleep(Math.floor(Math.random() * 200));
        kills.push({ at: Date.now() - started, receivedBefore: received() });
        worker.child.kill('SIGKILL');
        await worker.exited;
      }
      worker = spawnWorker(server, env);
      await until(
        async () => {
          const [row] = await query<{ status: string }>(
            server.runtime.deps.db,
            sql`select status from notifications where id = ${id}`,
          );
          return (
            row?.status === 'completed' || row?.status === 'partially_failed' || row?.status === 'failed'
          );
        },
        300_000,
        `the notification to finish (worker output: ${worker.output().slice(-2000)})`,
      );

      const statuses = await query<{ status: string; n: number }>(
        server.runtime.deps.db,
        sql`select status, count(*)::int as n from deliveries where notification_id = ${id} group by status`,
      );
      const perToken = new Map<string, number>();
      for (const r of server.emulator.received({ projectId: tenant.account.project_id })) {
        if (r.status === 200)
          perToken.set(r.message.token as string, (perToken.get(r.message.token as string) ?? 0) + 1);
      }
      const duplicates = [...perToken.values()].reduce((n, c) => n + c - 1, 0);
      const summary = {
        devices: DEVICES,
        kills: kills.length,
        killTimesMs: kills.map((k) => k.at),
        deliveries: Object.fromEntries(statuses.map((s) => [s.status, s.n])),
        uniqueTokensReceived: perToken.size,
        duplicates,
        duplicateBound: kills.length * BATCH,
        seconds: Math.round((Date.now() - started) / 1000),
      };
      console.info(`crash run: ${JSON.stringify(summary)}`);

      expect(kills.length).toBeGreaterThanOrEqual(3);
      expect(summary.deliveries).toEqual({ sent: DEVICES });
      expect(perToken.size).toBe(DEVICES);
      for (const token of tokens) expect(perToken.has(token)).toBe(true);
      expect(duplicates).toBeLessThanOrEqual(kills.length * BATCH);
    });
  },
);
