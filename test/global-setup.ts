/**
 * Builds one migrated database template per test run, so each test file gets a fresh database in a fraction
 * of a second: a PostgreSQL template database (DATABASE_URL set) or a PGlite data-dir image (embedded mode).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { buildDashboard } from '../scripts/build-dashboard.ts';
import { openDatabase } from '../src/db/client.ts';
import { startQueue } from '../src/queue/pg-boss.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A Redis the tests may use, or undefined when none answers (REQUIRE_REDIS=1 makes that an error). */
    redisUrl: string | undefined;
    databaseUrl: string | undefined;
    templateDatabase: string | undefined;
    pgliteImage: string | undefined;
  }
}

export function databaseUrlFor(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Whether something answers PING at the Redis URL within half a second. */
async function redisAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export default async function setup(project: TestProject) {
  // The dashboard the tests serve is the current source's, built once here (well under a second) before any
  // test file starts a server: a build during a run would pull files from under a serving test.
  await buildDashboard();

  // Redis is optional: its tests run when one answers (CI starts one and sets REQUIRE_REDIS=1).
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = await redisAnswers(redisUrl);
  if (!redis && process.env.REQUIRE_REDIS === '1')
    throw new Error(`REQUIRE_REDIS=1 but no Redis answers at ${redisUrl}`);
  project.provide('redisUrl', redis ? redisUrl : undefined);

  const url = process.env.DATABASE_URL || undefined;
  if (url) {
    const template = `fcm_tpl_${process.pid}`;
    const connect = async () => {
      // Short-lived connections: the PostgreSQL restart fault run stops the server in between.
      const admin = new pg.Client({ connectionString: url });
      admin.on('error', () => {});
      await admin.connect();
      return admin;
    };
    const admin = await connect();
    await admin.query(`drop database if exists ${template}`);
    await admin.query(`create database ${template}`);
    await admin.end();
    const handle = await openDatabase({ url: databaseUrlFor(url, template) });
    const queue = await startQueue(handle, { supervise: false });
    await queue.stop({ graceful: false });
    await handle.close();
    project.provide('databaseUrl', url);
    project.provide('templateDatabase', template);
    project.provide('pgliteImage', undefined);
    return async () => {
      const admin = await connect();
      const leftovers = await admin.query<{ datname: string }>(
        `select datname from pg_database where datname like 'fcm_t_${process.pid}_%' or datname = $1`,
        [template],
      );
      for (const { datname } of leftovers.rows) {
        await admin.query(`drop database if exists ${datname} with (force)`);
      }
      await admin.end();
    };
  }
  const handle = await openDatabase({ dataDir: 'memory://' });
  const queue = await startQueue(handle, { supervise: false });
  await queue.stop({ graceful: false });
  const image = await handle.pglite!.dumpDataDir('none');
  await handle.close();
  const dir = mkdtempSync(join(tmpdir(), 'fcm-test-'));
  const file = join(dir, 'pglite-image.tar');
  writeFileSync(file, Buffer.from(await image.arrayBuffer()));
  project.provide('databaseUrl', undefined);
  project.provide('templateDatabase', undefined);
  project.provide('pgliteImage', file);
  return () => rmSync(dir, { recursive: true, force: true });
}
