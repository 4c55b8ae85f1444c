/**
 * FCM misbehaving for a whole send: 30% of requests answer UNAVAILABLE and, every few seconds, a burst answers
 * QUOTA_EXCEEDED (429; the send starts inside one), both with Retry-After. Every delivery must end sent or dead
 * with a reason, and no request for a token may arrive before the Retry-After of that token's previous answer
 * (the emulator records arrival times). Runs on the run's storage mode (PGlite or PostgreSQL).
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../../src/db/client.ts';
import { startTestServer, type Tenant, type TestServer } from '../helpers.ts';
import { scaled, seedDevices, sleep, until } from './fault-tools.ts';

const DEVICES = Number(process.env.FAULT_DEVICES ?? scaled(2000, 1000));
const RETRY_AFTER_S = 1;
/** Calm between two bursts of 429: shorter at CI's size, whose smaller send could end between two bursts. */
const CALM_MS = scaled(1500, 600);

let server: TestServer;
let tenant: Tenant;

describe('30% UNAVAILABLE and bursts of 429, both with Retry-After', () => {
  beforeAll(async () => {
    server = await startTestServer({
      SEND_MAX_ATTEMPTS: '8',
      SEND_RETRY_BASE_MS: '200',
      SEND_RETRY_MAX_MS: '2000',
    });
    tenant = await server.tenant('flaky');
  });
  afterAll(() => server?.close());

  it('ends every delivery sent or dead with a reason, never retrying before Retry-After', async () => {
    const profile = await server.app.inject({
      method: 'POST',
      url: '/api/v1/profiles/',
      headers: tenant.headers,
      payload: { external_id: 'flaky-audience' },
    });
    await seedDevices(server, tenant.clientId, profile.json().id, DEVICES);
    const steady = { rates: { UNAVAILABLE: 0.3 }, retryAfter: RETRY_AFTER_S, latencyMs: 5 } as const;
    const burst = { ...steady, rates: { QUOTA_EXCEEDED: 1 } } as const;
    // The send starts inside a burst, so it meets 429 whatever its pace; later bursts come between calm spells.
    server.emulator.setFaults(burst);

    const accepted = await server.app.inject({
      method: 'POST',
      url: '/api/v1/notify/',
      headers: tenant.headers,
      payload: { profile_id: profile.json().id, title: 'flaky' },
    });
    const id = accepted.json().notification_id as string;
    const finished = async () => {
      const [row] = await query<{ status: string }>(
        server.runtime.deps.db,
        sql`select status from notifications where id = ${id}`,
      );
      return !['queued', 'sending'].includes(row!.status);
    };
    const started = Date.now();
    const throttled = () =>
      server.emulator
        .received({ projectId: tenant.account.project_id })
        .some((r) => r.errorCode === 'QUOTA_EXCEEDED');
    await until(throttled, 60_000, 'the first answer of the opening burst');
    server.emulator.setFaults(steady);
    let bursts = 1;
    while (!(await finished()) && Date.now() - started < 240_000) {
      await sleep(CALM_MS);
      server.emulator.setFaults(burst);
      bursts++;
      await sleep(400);
      server.emulator.setFaults(steady);
    }
    await until(finished, 60_000, 'the send to finish');

    const statuses = await query<{ status: string; error_code: string | null; n: number }>(
      server.runtime.deps.db,
      sql`select status, error_code, count(*)::int as n from deliveries where notification_id = ${id}
        group by status, error_code order by status`,
    );
    const received = server.emulator.received({ projectId: tenant.account.project_id });
    const early: string[] = [];
    const lastAnswer = new Map<string, { at: number; retryAfterMs: number }>();
    for (const r of [...received].sort((a, b) => a.receivedAt - b.receivedAt)) {
      const token = r.message.token as string;
      const previous = lastAnswer.get(token);
      if (previous && r.receivedAt < previous.at + previous.retryAfterMs) {
        early.push(
          `${token}: ${r.receivedAt - previous.at} ms after a Retry-After of ${previous.retryAfterMs} ms`,
        );
      }
      const throttled = r.errorCode === 'UNAVAILABLE' || r.errorCode === 'QUOTA_EXCEEDED';
      lastAnswer.set(token, { at: r.receivedAt, retryAfterMs: throttled ? RETRY_AFTER_S * 1000 : 0 });
    }
    const byCode = new Map<string, number>();
    for (const r of received) byCode.set(r.errorCode ?? 'OK', (byCode.get(r.errorCode ?? 'OK') ?? 0) + 1);
    console.info(
      `flaky FCM: ${DEVICES} deliveries, ${received.length} requests ${JSON.stringify(Object.fromEntries(byCode))}, ` +
        `${bursts} bursts of 429, outcome ${JSON.stringify(statuses)}, ${Math.round((Date.now() - started) / 1000)} s`,
    );

    expect(early).toEqual([]);
    const total = statuses.reduce((n, s) => n + s.n, 0);
    expect(total).toBe(DEVICES);
    for (const s of statuses) {
      expect(['sent', 'dead']).toContain(s.status);
      if (s.status === 'dead') expect(s.error_code).toMatch(/UNAVAILABLE|QUOTA_EXCEEDED/);
    }
    expect(byCode.get('QUOTA_EXCEEDED') ?? 0).toBeGreaterThan(0);
  });
});
