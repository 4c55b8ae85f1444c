/**
 * Opens the database in either storage mode (embedded PGlite or PostgreSQL), applies migrations, and gives
 * every other module the same Drizzle handle and raw-SQL helpers.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { schema } from './schema.ts';

type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema>;
/** Anything that can run a query: the database or an open transaction. Repositories accept either. */
export type Executor = Db | Tx;

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

export interface DatabaseHandle {
  kind: 'pglite' | 'postgres';
  db: Db;
  /** The PGlite instance (embedded mode only): pg-boss runs on it through its PGlite adapter. */
  pglite?: PGlite;
  /** PostgreSQL connection string (server mode only): pg-boss opens its own pool on it. */
  url?: string;
  close(): Promise<void>;
}

/** Runs a raw statement and returns its rows, the same way for both drivers. */
export async function query<T>(executor: Executor, statement: SQL): Promise<T[]> {
  const result = (await executor.execute(statement)) as unknown as { rows: T[] };
  return result.rows;
}

/**
 * Runs a data-changing statement that ends in `returning 1` and answers how many rows it changed, in one round
 * trip (the rows themselves never leave the database).
 */
export async function countChanged(executor: Executor, statement: SQL): Promise<number> {
  const [row] = await query<{ count: number }>(
    executor,
    sql`with changed as (${statement}) select count(*)::int as count from changed`,
  );
  return row?.count ?? 0;
}

/** Whether a statement failed on the unique index `constraint` (both drivers; Drizzle wraps the error in `cause`). */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  const found = (cause ?? {}) as { code?: unknown; constraint?: unknown };
  return found.code === '23505' && found.constraint === constraint;
}

export interface OpenOptions {
  url?: string | undefined;
  dataDir?: string;
  poolSize?: number;
  /** Load an already-migrated data dir image (tests): skips initdb and migrations. */
  pgliteImage?: Blob;
  /** Run migrations (default true). */
  migrate?: boolean;
}

/** Opens PostgreSQL when a URL is given, the embedded PGlite in dataDir otherwise (memory when dataDir is 'memory://'). */
export async function openDatabase(options: OpenOptions): Promise<DatabaseHandle> {
  return options.url ? openPostgres(options.url, options) : openPglite(options);
}

async function openPostgres(url: string, options: OpenOptions): Promise<DatabaseHandle> {
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 20 });
  // An idle client losing its connection (PostgreSQL restarting) must not crash the process.
  pool.on('error', () => {});
  // A checked-out client whose server goes away between two queries emits 'error' with no pool listener
  // attached, which would crash the process; the query in hand (if any) fails on its own and becomes a 503.
  pool.on('connect', (client) => client.on('error', () => {}));
  if (options.migrate !== false) await migratePostgres(url);
  const db = drizzleNodePg(pool, { schema }) as unknown as Db;
  return {
    kind: 'postgres',
    db,
    url,
    close: () => pool.end(),
  };
}

/** Applies migrations under an advisory lock, so several processes starting at once migrate exactly once. */
export async function migratePostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  // A connection lost mid-migration fails the query in hand; without a listener it would also crash the process.
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('select pg_advisory_lock(7361029)');
    await migrateNodePg(drizzleNodePg(client, { schema }), { migrationsFolder });
  } finally {
    await client.query('select pg_advisory_unlock(7361029)').catch(() => {});
    await client.end();
  }
}

async function openPglite(options: OpenOptions): Promise<DatabaseHandle> {
  const dataDir = options.dataDir ?? './data';
  const inMemory = dataDir.startsWith('memory://');
  const release = inMemory ? () => {} : acquireDataDirLock(dataDir);
  try {
    const pglite = await PGlite.create({
      dataDir: inMemory ? dataDir : join(resolve(dataDir), 'pgdata'),
      ...(options.pgliteImage ? { loadDataDir: options.pgliteImage } : {}),
    });
    const db = drizzlePglite(pglite, { schema }) as unknown as Db;
    if (options.migrate !== false && !options.pgliteImage) {
      await migratePglite(drizzlePglite(pglite, { schema }), { migrationsFolder });
    }
    return {
      kind: 'pglite',
      db,
      pglite,
      close: async () => {
        await pglite.close();
        release();
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}

/**
 * PGlite has no locking between processes (two processes on one data dir lose committed rows), so the
 * embedded mode owns its data dir exclusively through a lock file holding the owner's pid.
 */
export function acquireDataDirLock(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lockFile = join(dataDir, 'server.lock');
  if (existsSync(lockFile)) {
    const pid = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
    if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) {
      throw new Error(
        `The embedded database in ${resolve(dataDir)} is in use by process ${pid}. ` +
          'Stop that process, or set DATABASE_URL to use PostgreSQL, which allows many processes.',
      );
    }
    rmSync(lockFile, { force: true });
  }
  const fd = openSync(lockFile, 'wx');
  writeFileSync(fd, String(process.pid));
  closeSync(fd);
  return () => rmSync(lockFile, { force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `select 1`: readiness checks and tests. */
export async function ping(db: Db): Promise<void> {
  await db.execute(sql`select 1`);
}

/** Escapes LIKE's wildcards (and its escape character) so a user's text matches only itself. */
export const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);
