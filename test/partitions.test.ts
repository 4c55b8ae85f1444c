/**
 * Time partitioning of deliveries, events and webhook_deliveries (migration 0007): the weekly partitions the
 * migration and the maintenance job create, where a send's deliveries land, and retention dropping whole
 * weeks while keeping one that still holds a delivery in flight.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsFolder, query } from '../src/db/client.ts';
import { listPartitions, partitionName, WEEK_MS, weekStart } from '../src/db/partitions.repository.ts';
import { uuidv7 } from '../src/lib/ids.ts';
import { ensurePartitions, runRetention } from '../src/services/maintenance.service.ts';
import { startTestServer, type Tenant, type TestServer, waitForNotification } from './helpers.ts';

let server: TestServer;
let shop: Tenant;

beforeAll(async () => {
  server = await startTestServer(
    {},
    process.env.DEBUG_LOG ? { logger: (await import('../src/logger.ts')).createLogger('warn') } : {},
  );
  shop = await server.tenant('parts');
});
afterAll(() => server?.close());

const rows = <T>(statement: SQL) => query<T>(server.runtime.deps.db, statement);
const names = async (table: 'deliveries' | 'events' | 'webhook_deliveries') =>
  (await listPartitions(server.runtime.deps.db, table)).map((p) => p.name);
const DAY = 86_400_000;

async function register(token: string): Promise<string> {
  const response = await server.app.inject({
    method: 'POST',
    url: '/api/v1/devices/',
    headers: shop.headers,
    payload: { platform: 'android', token },
  });
  expect(response.statusCode, response.body).toBeLessThan(300);
  return response.json().id;
}

describe('partitions', () => {
  it('has a default partition and one per week from this week to four weeks ahead, for each table', async () => {
    const start = weekStart(new Date());
    const weeks = [0, 1, 2, 3, 4].map((w) => new Date(start.getTime() + w * WEEK_MS));
    for (const table of ['deliveries', 'events', 'webhook_deliveries'] as const) {
      expect(await names(table)).toEqual(
        expect.arrayContaining([`${table}_default`, ...weeks.map((w) => partitionName(table, w))]),
      );
    }
    expect(weekStart(new Date('2026-12-13T23:59:59Z')).toISOString()).toBe('2026-12-07T00:00:00.000Z');
    // Already there: nothing to create.
    expect(await ensurePartitions(server.runtime.deps)).toEqual([]);
  });

  it("puts a send's deliveries in its week's partition, with the notification's created_at", async () => {
    const devices = [await register(`part-a-${Date.now()}`), await register(`part-b-${Date.now()}`)];
    const response = await server.app.inject({
      method: 'POST',
      url: '/api/v1/notify/',
      headers: shop.headers,
      payload: { device_ids: devices, title: 'Partitioned' },
    });
    expect(response.statusCode, response.body).toBe(202);
    const id = response.json().notification_id as string;
    expect((await waitForNotification(server, shop, id)).status).toBe('completed');
    const placed = await rows<{ partition: string; same: boolean }>(
      sql`select d.tableoid::regclass::text as partition, d.created_at = n.created_at as same
        from deliveries d join notifications n on n.id = d.notification_id where n.id = ${id}`,
    );
    expect(placed).toEqual(
      devices.map(() => ({ partition: partitionName('deliveries', weekStart(new Date())), same: true })),
    );
    // A lookup by delivery id alone still works (it probes each partition's primary key).
    const status = await server.app.inject({
      method: 'GET',
      url: `/api/v1/notifications/${id}/status`,
      headers: shop.headers,
    });
    expect(status.statusCode, status.body).toBe(200);
  });

  it('moves rows out of the default partition into a week created later, and retention drops whole expired weeks', async () => {
    const { db } = server.runtime.deps;
    const tenant = shop.clientId;
    const devices = [await register(`part-c-${Date.now()}`), await register(`part-d-${Date.now()}`)];
    const notification = async (daysAgo: number, status: string) => {
      const at = new Date(Date.now() - daysAgo * DAY).toISOString();
      const id = uuidv7(Date.now() - daysAgo * DAY);
      await db.execute(sql`insert into notifications (id, api_client_id, target, content, status, fanout_done, created_at)
        values (${id}, ${tenant}, '{}', '{}', ${status}, true, ${at})`);
      await db.execute(sql`insert into deliveries (notification_id, api_client_id, device_id, platform, status, created_at)
        select ${id}, ${tenant}, value::uuid, 'android', 'sent', ${at}
        from jsonb_array_elements_text(${JSON.stringify(devices)}::jsonb)`);
      return id;
    };
    const partitionOf = async (id: string) =>
      (
        await rows<{ p: string }>(
          sql`select distinct tableoid::regclass::text as p from deliveries where notification_id = ${id}`,
        )
      ).map((r) => r.p);

    // 130 days ago: no weekly partition yet, so the rows wait in the default one.
    const expired = await notification(130, 'completed');
    expect(await partitionOf(expired)).toEqual(['deliveries_default']);
    const oldWeek = weekStart(new Date(Date.now() - 130 * DAY));
    const inFlightWeek = weekStart(new Date(Date.now() - 110 * DAY));
    const created = await ensurePartitions(server.runtime.deps, { now: oldWeek, weeksAhead: 0 });
    expect(created).toContain(partitionName('deliveries', oldWeek));
    expect(await partitionOf(expired)).toEqual([partitionName('deliveries', oldWeek)]);

    await ensurePartitions(server.runtime.deps, { now: inFlightWeek, weeksAhead: 0 });
    const inFlight = await notification(110, 'sending');
    expect(await partitionOf(inFlight)).toEqual([partitionName('deliveries', inFlightWeek)]);
    const eventAt = new Date(Date.now() - 110 * DAY).toISOString();
    await db.execute(sql`insert into events (event_id, api_client_id, type, payload, dispatched_at, created_at)
      values (${`evt_part_${uuidv7()}`}, ${tenant}, 'test.partitions', '{}', ${eventAt}, ${eventAt})`);

    const report = await runRetention(server.runtime.deps);
    expect(report.dropped_partitions).toEqual(
      expect.arrayContaining([partitionName('deliveries', oldWeek), partitionName('events', inFlightWeek)]),
    );
    // The week holding a delivery of a notification still sending stays, with its rows.
    expect(report.dropped_partitions).not.toContain(partitionName('deliveries', inFlightWeek));
    expect(await names('deliveries')).not.toContain(partitionName('deliveries', oldWeek));
    expect(await partitionOf(inFlight)).toEqual([partitionName('deliveries', inFlightWeek)]);
    // The finished notification whose deliveries went with their week is deleted as before.
    expect(report.notifications).toBe(1);
    const count = async (id: string) =>
      (await rows<{ n: number }>(sql`select count(*)::int as n from notifications where id = ${id}`))[0]!.n;
    expect(await count(expired)).toBe(0);
    expect(
      (
        await rows<{ n: number }>(sql`select count(*)::int as n from events where type = 'test.partitions'`)
      )[0]!.n,
    ).toBe(0);

    // Once it finishes, its week goes too.
    await db.execute(sql`update notifications set status = 'completed' where id = ${inFlight}`);
    expect((await runRetention(server.runtime.deps)).dropped_partitions).toEqual([
      partitionName('deliveries', inFlightWeek),
    ]);
    expect(await count(inFlight)).toBe(0);
    expect(await count(expired)).toBe(0);
  });
});

describe('upgrading to partitioned tables (migration 0010_partition_by_week)', () => {
  it('keeps the rows of a populated installation in a legacy partition, without copying them', async () => {
    const db = new PGlite();
    const files = readdirSync(migrationsFolder)
      .filter((f) => /^\d{4}_.*\.sql$/.test(f))
      .sort();
    const apply = async (file: string) => {
      for (const statement of readFileSync(join(migrationsFolder, file), 'utf8').split(
        '--> statement-breakpoint',
      ))
        await db.exec(statement);
    };
    const partitioning = files.find((f) => f.endsWith('_partition_by_week.sql'))!;
    for (const file of files.filter((f) => f < partitioning)) await apply(file);
    await db.exec(`insert into api_clients (id, name, token_hash, scopes)
        values ('00000000-0000-7000-8000-000000000001', 'x', 'h', '{}');
      insert into devices (id, api_client_id, token_ciphertext, token_hash, platform)
        select ('00000000-0000-7000-8000-00000000000' || g)::uuid, '00000000-0000-7000-8000-000000000001',
          'c', 'h' || g, 'android' from generate_series(1, 3) g;
      insert into notifications (id, api_client_id, target, content)
        values ('00000000-0000-7000-8000-000000000009', '00000000-0000-7000-8000-000000000001', '{}', '{}');
      insert into deliveries (notification_id, api_client_id, device_id, platform)
        select '00000000-0000-7000-8000-000000000009', '00000000-0000-7000-8000-000000000001', id, 'android'
        from devices;`);
    await apply(partitioning);
    const where = await db.query<{ p: string; n: number }>(
      'select tableoid::regclass::text as p, count(*)::int as n from deliveries group by 1',
    );
    expect(where.rows).toEqual([{ p: 'deliveries_legacy', n: 3 }]);
    // The next id continues the old sequence; a row of next week goes to its weekly partition.
    const next = await db.query<{ id: number; p: string }>(`insert into deliveries
        (notification_id, api_client_id, device_id, platform, created_at)
      values ('00000000-0000-7000-8000-000000000009', '00000000-0000-7000-8000-000000000001',
        '00000000-0000-7000-8000-000000000001', 'android', now() + interval '8 days')
      returning id::int, tableoid::regclass::text as p`);
    expect(next.rows).toEqual([
      { id: 4, p: partitionName('deliveries', weekStart(new Date(Date.now() + 8 * DAY))) },
    ]);
    // An empty table (events here) is not kept as a legacy partition.
    const events = await db.query<{ relname: string }>(
      "select relname from pg_class where relname = 'events_legacy'",
    );
    expect(events.rows).toEqual([]);
    await db.close();
  });
});
