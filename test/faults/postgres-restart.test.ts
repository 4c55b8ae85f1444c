/**
 * PostgreSQL stopped and started again under load (PostgreSQL mode; run as a user allowed to run
 * pg_ctlcluster, as CI's machine is; see localCluster). While it is down the API answers 503 in the error
 * format; everything it accepted (202) before or after is sent once it is back.
 */
import { execFileSync } from 'node:child_process';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { query } from '../../src/db/client.ts';
import { startTestServer, storageMode, type Tenant, type TestServer } from '../helpers.ts';
import { scaled, seedDevices, sleep, until } from './fault-tools.ts';

const DOWN_MS = Number(process.env.FAULT_PG_DOWN_MS ?? scaled(4000, 2000));
const DEVICES_PER_PROFILE = scaled(400, 100);

/**
 * The local cluster that serves the run's database (Debian's pg_lsclusters: online, on the URL's port), which
 * pg_ctlcluster can stop and start. Without one (PostgreSQL in a container, as on GitHub's runners) the run is
 * skipped. On a shared machine, point DATABASE_URL at a private cluster so that the others keep theirs.
 */
function localCluster(): { version: string; name: string } | undefined {
  const url = inject('databaseUrl');
  if (!url) return undefined;
  let listing: string;
  try {
    listing = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
  const port = new URL(url).port || '5432';
  for (const line of listing.trim().split('\n')) {
    const [version, name, clusterPort, status] = line.split(/\s+/);
    if (version && name && clusterPort === port && status === 'online') return { version, name };
  }
  return undefined;
}

const cluster = localCluster();

function pgCluster(action: 'stop' | 'start' | 'status') {
  const stopFast = action === 'stop' ? ['-m', 'fast'] : [];
  execFileSync(
    'pg_ctlcluster',
    ['--skip-systemctl-redirect', cluster!.version, cluster!.name, action, ...stopFast],
    {
      stdio: action === 'status' ? 'ignore' : 'inherit',
    },
  );
}

let server: TestServer;
let tenant: Tenant;

describe.skipIf(storageMode() !== 'postgres' || !cluster)('PostgreSQL restarted mid-load', () => {
  beforeAll(async () => {
    // The load below sends 10/s for longer than the send limit (100/min) allows.
    server = await startTestServer({ RATE_LIMIT_ENABLED: 'false' });
    tenant = await server.tenant('pg-restart');
    server.emulator.setFaults({ latencyMs: 10 });
  });
  afterAll(async () => {
    try {
      pgCluster('status');
    } catch {
      pgCluster('start');
    }
    await server?.close();
  });

  it('answers 503 while it is down, loses nothing accepted, and completes everything after', async () => {
    const profiles: string[] = [];
    for (let i = 0; i < 5; i++) {
      const profile = await server.app.inject({
        method: 'POST',
        url: '/api/v1/profiles/',
        headers: tenant.headers,
        payload: { external_id: `restart-${i}` },
      });
      profiles.push(profile.json().id);
      await seedDevices(server, tenant.clientId, profile.json().id, DEVICES_PER_PROFILE);
    }

    const accepted: string[] = [];
    const unavailable: { status: number; code: string }[] = [];
    let stopAt = 0;
    let startAt = 0;
    let sending = true;
    const load = (async () => {
      for (let i = 0; sending; i++) {
        const response = await server.app.inject({
          method: 'POST',
          url: '/api/v1/notify/',
          headers: tenant.headers,
          payload: { profile_id: profiles[i % profiles.length], title: `load ${i}` },
        });
        if (response.statusCode === 202) accepted.push(response.json().notification_id);
        else unavailable.push({ status: response.statusCode, code: response.json().error?.code });
        await sleep(100);
      }
    })();

    await sleep(1500);
    stopAt = Date.now();
    pgCluster('stop');
    await sleep(DOWN_MS);
    pgCluster('start');
    startAt = Date.now();
    await until(() => accepted.length > 0 && Date.now() - startAt > 3000, 60_000, 'load after the restart');
    sending = false;
    await load;

    console.info(
      `postgres restart: down ${startAt - stopAt} ms; ${accepted.length} accepted, ${unavailable.length} refused ` +
        `(${JSON.stringify([...new Set(unavailable.map((u) => `${u.status} ${u.code}`))])})`,
    );
    expect(unavailable.length).toBeGreaterThan(0);
    for (const refusal of unavailable) expect(refusal).toEqual({ status: 503, code: 'service_unavailable' });

    await until(
      async () => {
        const [row] = await query<{ open: number; total: number }>(
          server.runtime.deps.db,
          sql`select count(*) filter (where status in ('queued', 'sending'))::int as open, count(*)::int as total
            from notifications where api_client_id = ${tenant.clientId}`,
        ).catch(() => [{ open: 1, total: 0 }]);
        return row!.open === 0 && row!.total >= accepted.length;
      },
      240_000,
      'every accepted notification to finish',
    );
    const rows = await query<{ id: string; status: string; sent_count: number; total_count: number }>(
      server.runtime.deps.db,
      sql`select id, status, sent_count, total_count from notifications where api_client_id = ${tenant.clientId}`,
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of accepted) {
      expect(byId.get(id), id).toMatchObject({
        status: 'completed',
        sent_count: DEVICES_PER_PROFILE,
        total_count: DEVICES_PER_PROFILE,
      });
    }
  });
});
