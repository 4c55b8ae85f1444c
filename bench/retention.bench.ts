/**
 * What a day's retention of deliveries costs, before and after time partitioning (migration 0010), on
 * PostgreSQL: N deliveries (default 10,000,000) created on one day past the 90-day window, plus N/10 recent
 * ones, generated with generate_series in SQL, in two throwaway databases on a loopback server:
 * - before: the schema of the migrations before partitioning (one heap); retention is the bounded DELETE the maintenance job
 *   ran (deleteOldDeliveries, 5,000 rows a statement) until nothing is left, then VACUUM of the table;
 * - after: the current schema (weekly partitions); retention drops the expired week's partition.
 * It also reports bytes per delivery (heap + TOAST + indexes) in each, and how long migration 0010 takes on
 * the before database's remaining (recent) rows, which is what upgrading costs. Results: docs/benchmarks.md.
 *
 *   node bench/retention.bench.ts [--rows N] [--phases before,after] [--timeout-s N]
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { migrationsFolder, openDatabase, query } from '../src/db/client.ts';
import { deleteOldDeliveries } from '../src/db/maintenance.repository.ts';
import { dropPartition, listPartitions, weekStart } from '../src/db/partitions.repository.ts';
import { ensurePartitions } from '../src/services/maintenance.service.ts';

const DEFAULT_DATABASE_URL = 'postgres://root@127.0.0.1:5432/test';
const DAY_MS = 86_400_000;
const BATCH = 5000;
const DELIVERIES_PER_NOTIFICATION = 1000;

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    phases: { type: 'string', default: 'before,after' },
    'timeout-s': { type: 'string', default: '3600' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(
    'usage: node bench/retention.bench.ts [--rows N] [--phases before,after] [--timeout-s N]\n' +
      'PostgreSQL: DATABASE_URL (loopback only), or postgres://root@127.0.0.1:5432/test; two fresh databases are\n' +
      'created and dropped.',
  );
  process.exit(0);
}
const rows = Number(values.rows);
if (!Number.isInteger(rows) || rows < DELIVERIES_PER_NOTIFICATION) throw new Error('--rows must be ≥ 1000');
const adminUrl = new URL(process.env.DATABASE_URL || DEFAULT_DATABASE_URL);
if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(adminUrl.hostname))
  throw new Error(`loopback PostgreSQL only, not ${adminUrl.hostname}`);
const timer = setTimeout(() => {
  console.error(`stopped: over --timeout-s ${values['timeout-s']}`);
  process.exit(2);
}, Number(values['timeout-s']) * 1000);
timer.unref();

const expiredAt = new Date(Date.now() - 100 * DAY_MS);
const recentAt = new Date(Date.now() - 3_600_000);
const cutoff = new Date(Date.now() - 90 * DAY_MS);

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl.href });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** The migration that partitions the tables by week. */
const PARTITIONING = readdirSync(migrationsFolder).find((f) => f.endsWith('_partition_by_week.sql'))!;

/** The migration files in order, each split into its statements: those before partitioning, or it alone. */
function migrationStatements(which: 'before' | 'partitioning'): string[][] {
  return readdirSync(migrationsFolder)
    .filter((f) => /^\d{4}_.*\.sql$/.test(f) && (which === 'before' ? f < PARTITIONING : f === PARTITIONING))
    .sort()
    .map((f) => readFileSync(join(migrationsFolder, f), 'utf8').split('--> statement-breakpoint'));
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  const ms = performance.now() - started;
  console.log(`  ${label}: ${(ms / 1000).toFixed(2)} s`);
  return { ms, value };
}

/** One tenant, 1,000 devices, a completed notification per 1,000 deliveries at `at`, and their deliveries. */
function seed(client: pg.Client, count: number, at: Date, tag: string): Promise<unknown> {
  const notifications = count / DELIVERIES_PER_NOTIFICATION;
  return client.query(
    `with n as (
       insert into notifications (id, api_client_id, target, content, status, fanout_done, total_count,
         sent_count, created_at, completed_at)
       select (lpad(to_hex($3::bigint), 12, '0') || '70008' || lpad(to_hex(g), 15, '0'))::uuid,
         '00000000-0000-7000-8000-000000000001', '{"topic":"news"}', '{"title":"Hello"}', 'completed', true,
         ${DELIVERIES_PER_NOTIFICATION}, ${DELIVERIES_PER_NOTIFICATION}, $1, $1
       from generate_series(1, $2::int) g returning id),
     na as (select array_agg(id order by id) a from n),
     da as (select array_agg(id order by id) a from devices)
     insert into deliveries (notification_id, api_client_id, device_id, platform, status, attempts,
       fcm_message_id, sent_at, delivered_at, created_at, updated_at)
     select na.a[g / ${DELIVERIES_PER_NOTIFICATION} + 1], '00000000-0000-7000-8000-000000000001',
       da.a[g % ${DELIVERIES_PER_NOTIFICATION} + 1], 'android', 'delivered', 1,
       'projects/bench-${tag}/messages/0:' || (1700000000000000 + g), $1, $1, $1, $1
     from na, da, generate_series(0, $2::int * ${DELIVERIES_PER_NOTIFICATION} - 1) g`,
    [at.toISOString(), notifications, at.getTime() + (tag === 'recent' ? 1 : 0)],
  );
}

async function load(url: string, partitioned: boolean): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`insert into api_clients (id, name, token_hash, scopes)
      values ('00000000-0000-7000-8000-000000000001', 'bench', 'bench', '{}')`);
    await client.query(`insert into devices (id, api_client_id, platform, token_ciphertext, token_hash)
      select ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
        '00000000-0000-7000-8000-000000000001', 'android', 'c' || g, 'h' || g
      from generate_series(1, ${DELIVERIES_PER_NOTIFICATION}) g`);
    await timed(`load ${rows.toLocaleString('en')} expired deliveries`, () =>
      seed(client, rows, expiredAt, 'old'),
    );
    const recent = Math.max(DELIVERIES_PER_NOTIFICATION, Math.round(rows / 10 / 1000) * 1000);
    await timed(`load ${recent.toLocaleString('en')} recent deliveries`, () =>
      seed(client, recent, recentAt, 'recent'),
    );
    await client.query('vacuum analyze deliveries');
    const size = partitioned
      ? `select sum(pg_total_relation_size(inhrelid))::bigint as b from pg_inherits where inhparent = 'deliveries'::regclass`
      : `select pg_total_relation_size('deliveries')::bigint as b`;
    const { rows: r } = await client.query<{ b: string }>(size);
    const bytes = Number(r[0]!.b) / (rows + recent);
    console.log(`  bytes per delivery (heap + TOAST + indexes): ${bytes.toFixed(1)}`);
    return bytes;
  } finally {
    await client.end();
  }
}

const summary: Record<string, number> = { rows };
const seconds = (ms: number) => +(ms / 1000).toFixed(3);

/** Before: one heap (the migrations before it), the bounded DELETE the retention job ran, then VACUUM. */
async function beforePhase(url: string): Promise<void> {
  console.log('before (one heap, the migrations before it):');
  const before = await openDatabase({ url, migrate: false, poolSize: 2 });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const file of migrationStatements('before')) for (const s of file) await client.query(s);
    summary.bytes_per_delivery_before = Math.round(await load(url, false));
    const deleted = await timed('DELETE (5,000 rows a statement)', async () => {
      let total = 0;
      for (;;) {
        const n = await deleteOldDeliveries(before.db, 'deliveries', cutoff, BATCH);
        total += n;
        if (n < BATCH) return total;
      }
    });
    const vacuum = await timed('VACUUM deliveries', () => client.query('vacuum deliveries'));
    const { rows: left } = await client.query<{ n: string }>('select count(*)::text as n from deliveries');
    console.log(`  deleted ${deleted.value.toLocaleString('en')}, ${left[0]!.n} left`);
    const upgrade = await timed(
      `the partitioning migration (0010) on the ${left[0]!.n} rows left`,
      async () => {
        await client.query('begin');
        for (const s of migrationStatements('partitioning')[0]!) await client.query(s);
        await client.query('commit');
      },
    );
    Object.assign(summary, {
      before_delete_s: seconds(deleted.ms),
      before_vacuum_s: seconds(vacuum.ms),
      upgrade_migration_s: seconds(upgrade.ms),
    });
  } finally {
    await client.end();
    await before.close();
  }
}

/** After: weekly partitions (the current schema); the expired day is in one week, dropped whole. */
async function afterPhase(url: string): Promise<void> {
  console.log('after (weekly partitions, current schema):');
  const after = await openDatabase({ url, poolSize: 2 });
  try {
    await ensurePartitions(after, { now: expiredAt, weeksAhead: 0 });
    summary.bytes_per_delivery_after = Math.round(await load(url, true));
    const week = (await listPartitions(after.db, 'deliveries')).find(
      (p) => p.range?.from?.getTime() === weekStart(expiredAt).getTime(),
    )!;
    const drop = await timed(`DROP of ${week.name}`, () => dropPartition(after.db, 'deliveries', week.name));
    const [left] = await query<{ n: number }>(after.db, sql`select count(*)::int as n from deliveries`);
    console.log(`  ${left!.n} left`);
    summary.after_drop_s = seconds(drop.ms);
  } finally {
    await after.close();
  }
}

async function main(): Promise<void> {
  console.log(
    `retention bench: ${rows.toLocaleString('en')} expired deliveries, PostgreSQL at ${adminUrl.host}, ` +
      `${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  );
  const suffix = randomBytes(4).toString('hex');
  const urlOf = (name: string) => Object.assign(new URL(adminUrl.href), { pathname: `/${name}` }).href;
  const phases = { before: beforePhase, after: afterPhase };
  for (const phase of values.phases.split(',') as (keyof typeof phases)[]) {
    if (!phases[phase]) throw new Error(`unknown phase ${phase}`);
    const name = `bench_ret_${phase}_${suffix}`;
    await admin(`create database ${name}`);
    try {
      await phases[phase](urlOf(name));
    } finally {
      await admin(`drop database if exists ${name} with (force)`);
    }
  }
  console.log('\nsummary (PostgreSQL 15, shared machine):');
  console.log(JSON.stringify(summary, null, 2));
}

await main();
